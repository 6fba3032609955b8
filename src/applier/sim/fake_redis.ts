/**
 * A scripted Redis for the applier simulation: the few commands the applier,
 * the rack-marker check and the simulated clients send (SELECT, GET, SET with
 * NX/GET/PX, RPUSH, DEL, INFO keyspace, HELLO, MULTI/EXEC/DISCARD, WATCH/
 * UNWATCH), with Redis's replies and transaction rules, behind the
 * {@linkcode CommandRunner} interface. Every reply arrives after a delay on the
 * simulation's clock; faults are set by the simulation: out of memory, a
 * restart (keeping its data, losing it, or back at its last save), and
 * connections cut before a group is processed or after it, with its replies
 * lost.
 */

import { EXPIRE_DUE } from "../../determinism/expiry.ts";
import type { Clock } from "../../clock.ts";
import type { SeededRandom } from "../../random.ts";
import type { CommandRunner } from "../../redis/command_runner.ts";
import { RequestDecoder } from "../../resp/request_decoder.ts";

/** A key's value: Redis strings and lists are all the simulation needs. */
export type FakeValue = string | string[];

type Db = Map<string, FakeValue>;

const DATABASES = 16;
const OOM = "-OOM command not allowed when used memory > 'maxmemory'.";
const WRITES = new Set(["set", "rpush", "del"]);

/** What the simulation can make go wrong, as probabilities per group of commands. */
export interface FakeRedisFaults {
  /** The connection is cut before the group is processed. */
  cutBefore: number;
  /** The group is processed, then the connection is cut and its replies lost. */
  cutAfter: number;
}

/** One simulated Redis server. */
export class FakeRedis {
  readonly name: string;
  /** Writes are refused with Redis's OOM error while true. */
  oom = false;
  faults: FakeRedisFaults = { cutBefore: 0, cutAfter: 0 };
  #dbs: Db[] = freshDbs();
  #saved: Db[] = freshDbs();
  /** Bumped on every change of a key (`db:key`), for WATCH. */
  #versions = new Map<string, number>();
  #version = 0;
  #connections = new Set<FakeConnection>();
  #clock: Clock;
  #random: SeededRandom;
  #latencyMs: [number, number];

  constructor(
    name: string,
    env: { clock: Clock; random: SeededRandom; latencyMs?: [number, number] },
  ) {
    this.name = name;
    this.#clock = env.clock;
    this.#random = env.random;
    this.#latencyMs = env.latencyMs ?? [0, 3];
  }

  /** A new client connection. */
  connect(): FakeConnection {
    const connection = new FakeConnection(this);
    this.#connections.add(connection);
    return connection;
  }

  /** Cuts every client connection (a restart, a network cut). */
  cutConnections(): void {
    for (const connection of [...this.#connections]) connection.close();
  }

  /** Restarts: `keep` its data, `empty`, or back at its `lastSave` (an RDB snapshot). */
  restart(data: "keep" | "empty" | "lastSave"): void {
    this.cutConnections();
    if (data === "empty") this.#dbs = freshDbs();
    if (data === "lastSave") this.#dbs = copyDbs(this.#saved);
    this.#touchAll();
  }

  /** Takes a snapshot that a later `restart("lastSave")` comes back to. */
  save(): void {
    this.#saved = copyDbs(this.#dbs);
  }

  /** The keys and values of `db` (an independent look, not through Pylon). */
  contents(db: number): ReadonlyMap<string, FakeValue> {
    return this.#dbs[db]!;
  }

  /** @internal */
  forget(connection: FakeConnection): void {
    this.#connections.delete(connection);
  }

  /** @internal A delay for one group's replies. */
  latency(): number {
    return this.#random.int(this.#latencyMs[0], this.#latencyMs[1]);
  }

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  /** @internal */
  chance(p: number): boolean {
    return p > 0 && this.#random.chance(p);
  }

  /** @internal */
  version(db: number, key: string): number {
    return this.#versions.get(`${db}:${key}`) ?? 0;
  }

  /** @internal Runs one command for `connection`, outside or at EXEC of a transaction. */
  execute(connection: FakeConnection, argv: string[]): string {
    const name = argv[0]!.toLowerCase();
    if (this.oom && WRITES.has(name)) return OOM;
    const db = this.#dbs[connection.db]!;
    const key = argv[1] ?? "";
    switch (name) {
      case "select": {
        const n = Number(argv[1]);
        if (!Number.isInteger(n) || n < 0 || n >= DATABASES) return "-ERR DB index is out of range";
        connection.db = n;
        return "+OK";
      }
      case "hello":
        return "*0";
      case "get": {
        const value = db.get(key);
        if (Array.isArray(value)) return wrongType();
        return bulk(value);
      }
      case "set": {
        const options = argv.slice(3).map((o) => o.toLowerCase());
        const old = db.get(key);
        if (options.includes("get") && Array.isArray(old)) return wrongType();
        if (options.includes("nx") && old !== undefined) return "$-1";
        db.set(key, argv[2]!);
        this.#touch(connection.db, key);
        return options.includes("get") ? bulk(old as string | undefined) : "+OK";
      }
      case "rpush": {
        const list = db.get(key) ?? [];
        if (!Array.isArray(list)) return wrongType();
        list.push(...argv.slice(2));
        db.set(key, list);
        this.#touch(connection.db, key);
        return `:${list.length}`;
      }
      case "del": {
        let removed = 0;
        for (const k of argv.slice(1)) {
          if (db.delete(k)) {
            removed++;
            this.#touch(connection.db, k);
          }
        }
        return `:${removed}`;
      }
      case "eval":
        // The applier's expiry step: no key here has an expiry, so none is due.
        return argv[1] === EXPIRE_DUE
          ? ":0"
          : `-ERR the fake Redis runs no script but Pylon's expiry step`;
      case "info": {
        const lines = ["# Keyspace"];
        this.#dbs.forEach((d, i) => {
          if (d.size > 0) lines.push(`db${i}:keys=${d.size},expires=0,avg_ttl=0`);
        });
        return bulk(lines.join("\r\n") + "\r\n");
      }
      default:
        return `-ERR unknown command '${argv[0]}'`;
    }
  }

  #touch(db: number, key: string): void {
    this.#versions.set(`${db}:${key}`, ++this.#version);
  }

  #touchAll(): void {
    this.#dbs.forEach((d, i) => {
      for (const key of d.keys()) this.#touch(i, key);
    });
  }
}

/** A client connection to a {@linkcode FakeRedis}. */
export class FakeConnection implements CommandRunner {
  db = 0;
  #server: FakeRedis;
  #closed = false;
  #queued: string[][] | undefined;
  #aborted = false;
  #watched = new Map<string, number>();
  /** Groups sent and not yet answered, answered in order. */
  #inFlight: { reject: (error: Error) => void }[] = [];
  /** When the last group sent is processed: a connection's groups are processed in order. */
  #readyAt = 0;

  constructor(server: FakeRedis) {
    this.#server = server;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.forget(this);
    for (const group of this.#inFlight.splice(0)) {
      group.reject(new Error(`${this.#server.name}: connection closed`));
    }
  }

  run(commands: Uint8Array[]): Promise<Uint8Array[]> {
    if (this.#closed) return Promise.reject(new Error(`${this.#server.name}: connection closed`));
    const argvs = commands.map(decodeCommand);
    return new Promise((resolve, reject) => {
      const group = { reject };
      this.#inFlight.push(group);
      const clock = this.#server.clock;
      this.#readyAt = Math.max(this.#readyAt, clock.now() + this.#server.latency());
      clock.after(this.#readyAt - clock.now(), () => {
        if (this.#closed) return;
        if (this.#server.chance(this.#server.faults.cutBefore)) {
          this.close();
          return;
        }
        const replies = argvs.map((argv) => this.#command(argv));
        if (this.#server.chance(this.#server.faults.cutAfter)) {
          this.close();
          return;
        }
        this.#inFlight.splice(this.#inFlight.indexOf(group), 1);
        resolve(replies.map((r) => new TextEncoder().encode(`${r}\r\n`)));
      });
    });
  }

  #command(argv: string[]): string {
    const name = argv[0]!.toLowerCase();
    switch (name) {
      case "multi":
        if (this.#queued !== undefined) return "-ERR MULTI calls can not be nested";
        this.#queued = [];
        this.#aborted = false;
        return "+OK";
      case "discard":
        if (this.#queued === undefined) return "-ERR DISCARD without MULTI";
        this.#queued = undefined;
        this.#watched.clear();
        return "+OK";
      case "watch":
        if (this.#queued !== undefined) return "-ERR WATCH inside MULTI is not allowed";
        for (const key of argv.slice(1)) {
          this.#watched.set(`${this.db}:${key}`, this.#server.version(this.db, key));
        }
        return "+OK";
      case "unwatch":
        this.#watched.clear();
        return "+OK";
      case "exec":
        return this.#exec();
    }
    if (this.#queued !== undefined) {
      // Redis refuses a write at queue time when out of memory, and EXEC then aborts.
      if (this.#server.oom && WRITES.has(name)) {
        this.#aborted = true;
        return OOM;
      }
      this.#queued.push(argv);
      return "+QUEUED";
    }
    return this.#server.execute(this, argv);
  }

  #exec(): string {
    const queued = this.#queued;
    if (queued === undefined) return "-ERR EXEC without MULTI";
    this.#queued = undefined;
    const watched = [...this.#watched];
    this.#watched.clear();
    if (this.#aborted) return "-EXECABORT Transaction discarded because of previous errors.";
    for (const [dbKey, version] of watched) {
      const at = dbKey.indexOf(":");
      if (this.#server.version(Number(dbKey.slice(0, at)), dbKey.slice(at + 1)) !== version) {
        return "*-1";
      }
    }
    const replies = queued.map((argv) => this.#server.execute(this, argv));
    return [`*${replies.length}`, ...replies].join("\r\n");
  }
}

function decodeCommand(bytes: Uint8Array): string[] {
  const decoder = new RequestDecoder();
  decoder.push(bytes);
  const argv = decoder.next();
  if (argv === undefined) throw new Error("a command that does not decode");
  return argv.map((a) => new TextDecoder().decode(a));
}

function bulk(value: string | undefined): string {
  if (value === undefined) return "$-1";
  return `$${new TextEncoder().encode(value).length}\r\n${value}`;
}

function wrongType(): string {
  return "-WRONGTYPE Operation against a key holding the wrong kind of value";
}

function freshDbs(): Db[] {
  return Array.from({ length: DATABASES }, () => new Map());
}

function copyDbs(dbs: Db[]): Db[] {
  return dbs.map((db) =>
    new Map([...db].map(([k, v]) => [k, Array.isArray(v) ? [...v] : v] as [string, FakeValue]))
  );
}
