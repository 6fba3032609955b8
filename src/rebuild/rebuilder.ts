/**
 * Rebuilding a rack from a peer rack's snapshot, on the rack leader: when
 * the applier finds its Redis lacks ops the log no longer holds
 * (src/rebuild/judge.ts), automatically (`--rebuild auto`, the default), or
 * when an admin runs `PYLON REBUILD FROM <rack>`.
 *
 * One attempt, in phases (`PYLON INFO rebuild`, `/metrics`, a log line every
 * few seconds):
 *
 * - `snapshot`: picks the source (the named rack, else the fastest peer rack
 *   that serves reads; there, its leader), holds this node's applier
 *   stopped, opens a link of its own to the source node (authenticated, TLS
 *   as configured) and asks for the snapshot; the source's Redis forks.
 * - `transfer`: the RDB streams over the link within the credit this node
 *   grants (src/rebuild/credit.ts) and is loaded as it comes, key by key,
 *   into this rack's Redis master (src/rebuild/loader.ts: emptied and marked
 *   first, in one transaction).
 * - `load`: the last keys, then the checks, then the mark goes.
 * - `catch-up`: the applier is released and applies the log from the
 *   positions the snapshot carried, until it reaches the log's end as it was.
 *
 * Exactly once: the snapshot's positions are those of its data (one instant
 * of the source's Redis, where data and positions change in the same
 * MULTI/EXEC), so applying from them repeats and misses nothing; a rack is
 * applied to only once the whole snapshot is in (the mark). An attempt that
 * fails anywhere (the source killed, the link cut, this rack's Redis
 * restarted, leadership lost) leaves the rack refusing to apply, with its
 * reason in `PYLON INFO`, and is retried after a bounded backoff in auto
 * mode (from the same rack if one was named).
 */

import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../net/address.ts";
import { describe } from "../net/address.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import type { OpLog } from "../log/op_log.ts";
import type { PartitionStatus } from "../applier/applier.ts";
import type { RackMarker } from "../identity/rack_marker.ts";
import type { Frame } from "../cluster/peer_protocol.ts";
import { FrameType, PayloadReader } from "../cluster/peer_protocol.ts";
import type { PeerClient } from "../cluster/peer_client.ts";
import type { PeerStatus } from "../cluster/peers.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";
import { RdbSplitter } from "./rdb.ts";
import { SnapshotLoader } from "./loader.ts";
import {
  decodeData,
  decodeEnd,
  encodeCancel,
  encodeCredit,
  encodeRequest,
  type SnapshotData,
  type SnapshotHeader,
} from "./frames.ts";
import { creditToGrant, SNAPSHOT_WINDOW_BYTES } from "./credit.ts";
import { TransferProgress } from "./progress.ts";

const log = getLogger(["pylon", "rebuild"]);

/** `--rebuild`: rebuild by itself, or only when an admin says so. */
export type RebuildMode = "auto" | "manual";

/** Where a rebuild stands. */
export type RebuildPhase =
  | "idle"
  | "needed"
  | "snapshot"
  | "transfer"
  | "load"
  | "catch-up"
  | "done"
  | "failed";

/** Delays between attempts of a rebuild that failed (auto mode). */
export const REBUILD_RETRY = backoffSchedule("rebuild", [1_000, 2_000, 5_000, 10_000, 30_000]);

/** How long the link to the source may take to come up. */
const LINK_UP_MS = 10_000;

/** The source sent nothing (not even a keepalive) for this long: the attempt fails. */
export const STALL_MS = 30_000;

/** A progress line in the log this often while a rebuild runs. */
const LOG_EVERY_MS = 5_000;

/** How often the catch-up phase looks at the applier. */
const CATCH_UP_POLL_MS = 250;

/** Everything `PYLON INFO` and `/metrics` show of rebuilds. */
export interface RebuildStatus {
  mode: RebuildMode;
  phase: RebuildPhase;
  /** Why this rack's Redis needs a rebuild, as the applier last said. */
  reason: string | undefined;
  /** The rack an admin named, if any. */
  requested: string | undefined;
  /** `rack/node` of the current (or last) source. */
  source: string | undefined;
  /** Attempts of the current rebuild so far. */
  attempts: number;
  lastError: string | undefined;
  /** Milliseconds until the next attempt, while one is waited for. */
  retryInMs: number | undefined;
  /** Since the current rebuild began, and the current phase. */
  elapsedMs: number;
  phaseElapsedMs: number;
  bytes: number;
  /** The payload's size, when the source's Redis said it (disk-based sync). */
  bytesTotal: number | undefined;
  keys: number;
  /** Keys the source's Redis held when the snapshot began. */
  keysTotal: number | undefined;
  bytesPerSecond: number;
  keysPerSecond: number;
  secondsLeft: number | undefined;
  /** Ops left to apply in the catch-up phase. */
  catchUpOps: number | undefined;
  completed: number;
  failed: number;
  lastDurationMs: number | undefined;
}

/** What a rebuilder works with. */
export interface RebuilderParts {
  nodeId: string;
  rack: string;
  metaDb: number;
  mode: RebuildMode;
  marker: RackMarker;
  log: OpLog;
  /** This node's applier, held stopped while the Redis is replaced. */
  applier: {
    hold(): Promise<void>;
    release(): void;
    liveStatus(): readonly Readonly<PartitionStatus>[] | undefined;
  };
  /** The other nodes; undefined on a node without peer links (no rebuild is possible). */
  peers: {
    status(): PeerStatus[];
    dedicated(id: string, purpose: string): PeerClient | undefined;
  } | undefined;
  /** The node that leads `rack`, as the world knows it. */
  rackLeader(rack: string): string | undefined;
  /** The rack's Redis master now, and a connection to it. */
  master(): HostPort | undefined;
  connect(address: HostPort): Promise<CommandRunner>;
  /** `databases` of the rack's Redis. */
  databases(): number;
  /** The rack's applied positions as reads know them: forgotten once the Redis is replaced. */
  invalidatePositions(): void;
}

/** A rebuild that cannot go on (this attempt). */
export class RebuildError extends Error {
  override name = "RebuildError";
}

/** The rebuilds of this node's rack. */
export class Rebuilder {
  #parts: RebuilderParts;
  #leading = false;
  #stopped = false;
  /** The rebuild running (its attempts and waits), if any. */
  #running: Promise<void> | undefined;
  /** Stops the running rebuild (leadership lost, the node stops). */
  #abort: AbortController | undefined;
  #backoff = new Backoff(REBUILD_RETRY);
  #status: Omit<RebuildStatus, "elapsedMs" | "phaseElapsedMs" | "retryInMs"> & {
    startedAt: number;
    phaseAt: number;
    retryAt: number | undefined;
  };
  #progress = new TransferProgress();
  #logTimer: ReturnType<typeof setInterval> | undefined;
  /** Closes what the current attempt holds open (its link, its Redis connection). */
  #closeAttempt: (() => void) | undefined;

  constructor(parts: RebuilderParts) {
    this.#parts = parts;
    this.#status = {
      mode: parts.mode,
      phase: "idle",
      reason: undefined,
      requested: undefined,
      source: undefined,
      attempts: 0,
      lastError: undefined,
      bytes: 0,
      bytesTotal: undefined,
      keys: 0,
      keysTotal: undefined,
      bytesPerSecond: 0,
      keysPerSecond: 0,
      secondsLeft: undefined,
      catchUpOps: undefined,
      completed: 0,
      failed: 0,
      lastDurationMs: undefined,
      startedAt: performance.now(),
      phaseAt: performance.now(),
      retryAt: undefined,
    };
  }

  /** Where rebuilds stand (a copy). */
  status(): RebuildStatus {
    const { startedAt, phaseAt, retryAt, ...s } = this.#status;
    const now = performance.now();
    const active = this.#running !== undefined;
    if (s.phase === "transfer" || s.phase === "snapshot") {
      const figures = this.#progress.figures(now, { bytes: s.bytesTotal, keys: s.keysTotal });
      s.bytesPerSecond = figures.bytesPerSecond;
      s.keysPerSecond = figures.keysPerSecond;
      s.secondsLeft = figures.secondsLeft;
    }
    return {
      ...s,
      elapsedMs: active ? now - startedAt : 0,
      phaseElapsedMs: now - phaseAt,
      retryInMs: retryAt === undefined ? undefined : Math.max(0, retryAt - now),
    };
  }

  /**
   * Whether this node is replacing its rack's Redis now (from asking for the
   * snapshot to removing the mark): nothing may read it meanwhile.
   */
  get rebuilding(): boolean {
    const phase = this.#status.phase;
    return this.#running !== undefined &&
      (phase === "snapshot" || phase === "transfer" || phase === "load");
  }

  /** Rack leadership changed: a node that stops leading stops its rebuild. */
  lead(leading: boolean): void {
    this.#leading = leading;
    if (!leading) this.#cancel("this node no longer leads its rack");
  }

  /** The applier found the rack's Redis lacks ops the log no longer holds. */
  needed(_partition: number, reason: string): void {
    if (this.#stopped) return;
    if (this.#status.reason !== reason) this.#status.reason = reason;
    if (this.#running !== undefined) return;
    if (this.#status.phase === "idle" || this.#status.phase === "done") this.#phase("needed");
    if (this.#parts.mode === "auto" && this.#leading) this.#start(undefined);
    else if (this.#status.phase === "needed") {
      this.#status.lastError = this.#parts.mode === "manual"
        ? "waiting for PYLON REBUILD FROM <rack> (--rebuild manual)"
        : this.#status.lastError;
    }
  }

  /**
   * `PYLON REBUILD FROM <rack>`: starts rebuilding this rack from `rack`;
   * the reply text, or an error text (starting `ERR`).
   */
  request(rack: string): { ok: string } | { error: string } {
    if (this.#stopped) return { error: "ERR this node is stopping" };
    if (!this.#leading) {
      const leader = this.#parts.rackLeader(this.#parts.rack);
      return {
        error: `ERR this node does not lead its rack; run it on '${leader || "the rack leader"}'`,
      };
    }
    if (rack === this.#parts.rack) return { error: "ERR a rack cannot be rebuilt from itself" };
    if (this.#parts.peers === undefined) {
      return { error: "ERR this node has no peer links: there is no other rack to rebuild from" };
    }
    const known = this.#parts.peers.status().some((p) => p.rack === rack);
    if (!known) return { error: `ERR no rack '${rack}' among this node's peers` };
    if (this.#running !== undefined) {
      return {
        error: `ERR a rebuild of this rack is already running (phase ${this.#status.phase}` +
          `${this.#status.source === undefined ? "" : `, from ${this.#status.source}`})`,
      };
    }
    this.#start(rack);
    return {
      ok: `Rebuilding rack '${this.#parts.rack}' from rack '${rack}'; PYLON INFO rebuild shows ` +
        `its progress`,
    };
  }

  /** Stops what runs (the node stops). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel("the node is stopping");
    await this.#running;
  }

  #start(requested: string | undefined): void {
    const abort = new AbortController();
    this.#abort = abort;
    this.#backoff.reset();
    Object.assign(this.#status, {
      requested,
      attempts: 0,
      lastError: undefined,
      startedAt: performance.now(),
      retryAt: undefined,
    });
    this.#logTimer = setInterval(() => this.#logProgress(), LOG_EVERY_MS);
    this.#running = this.#run(requested, abort.signal).finally(() => {
      clearInterval(this.#logTimer);
      this.#running = undefined;
      if (this.#abort === abort) this.#abort = undefined;
    });
  }

  #cancel(why: string): void {
    if (this.#abort === undefined) return;
    this.#abort.abort(new RebuildError(why));
    this.#closeAttempt?.();
  }

  /** Attempts until one succeeds, the mode says stop, or the rebuild is cancelled. */
  async #run(requested: string | undefined, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#status.attempts++;
      const began = performance.now();
      try {
        await this.#attempt(requested, signal);
        this.#status.completed++;
        this.#status.lastDurationMs = performance.now() - this.#status.startedAt;
        this.#status.lastError = undefined;
        this.#status.reason = undefined;
        this.#phase("done");
        log.info(
          "rebuilt rack {rack} from {source} in {seconds} s ({keys} keys, {bytes} bytes; " +
            "attempt {attempt}); the applier applies from the snapshot's positions",
          {
            rack: this.#parts.rack,
            source: this.#status.source,
            seconds: ((performance.now() - this.#status.startedAt) / 1000).toFixed(1),
            keys: this.#status.keys,
            bytes: this.#status.bytes,
            attempt: this.#status.attempts,
          },
        );
        return;
      } catch (error) {
        const message = signal.aborted
          ? (signal.reason as Error).message
          : (error as Error).message;
        this.#status.failed++;
        this.#status.lastError = message;
        this.#phase("failed");
        const retry = !signal.aborted && this.#parts.mode === "auto";
        log.error(
          "rebuild of rack {rack} from {source} failed after {seconds} s: {error}; {next}",
          {
            rack: this.#parts.rack,
            source: this.#status.source ?? "(no source)",
            seconds: ((performance.now() - began) / 1000).toFixed(1),
            error: message,
            next: signal.aborted
              ? "stopped"
              : retry
              ? "retrying"
              : "run PYLON REBUILD FROM <rack> again (--rebuild manual)",
          },
        );
        if (!retry) return;
        const delay = this.#backoff.next()!;
        this.#status.retryAt = performance.now() + delay;
        try {
          await sleep(delay, signal);
        } catch {
          return; // cancelled while waiting
        } finally {
          this.#status.retryAt = undefined;
        }
      }
    }
  }

  /** One attempt, from choosing the source to the end of the catch-up. */
  async #attempt(requested: string | undefined, signal: AbortSignal): Promise<void> {
    Object.assign(this.#status, {
      bytes: 0,
      bytesTotal: undefined,
      keys: 0,
      keysTotal: undefined,
      catchUpOps: undefined,
      source: undefined,
    });
    this.#progress.reset();
    this.#phase("snapshot");
    const source = this.#chooseSource(requested);
    this.#status.source = `${source.rack}/${source.id}`;
    const peers = this.#parts.peers!;
    await this.#parts.applier.hold();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#parts.invalidatePositions();
      this.#parts.applier.release();
    };
    const link = peers.dedicated(source.id, "a rebuild's snapshot");
    if (link === undefined) {
      release();
      throw new RebuildError(`node ${source.id} is no longer known`);
    }
    let target: CommandRunner | undefined;
    this.#closeAttempt = () => {
      link.stop();
      target?.close();
    };
    try {
      signal.throwIfAborted();
      await waitUp(link, signal);
      const address = this.#parts.master();
      if (address === undefined) throw new RebuildError("no Redis master of this rack is known");
      target = await this.#parts.connect(address);
      signal.throwIfAborted();
      log.info(
        "rebuilding rack {rack} (Redis at {address}) from rack {source} (node {node}): {why}",
        {
          rack: this.#parts.rack,
          address: describe(address),
          source: source.rack,
          node: source.id,
          why: this.#status.reason ?? `asked by an admin`,
        },
      );
      await this.#transfer(link, target, signal);
    } finally {
      this.#closeAttempt = undefined;
      link.stop();
      target?.close();
      release();
    }
    this.#phase("catch-up");
    await this.#catchUp(signal);
  }

  /** The source: the named rack, else the fastest that serves reads; there, its leader if up. */
  #chooseSource(requested: string | undefined): PeerStatus {
    const peers = this.#parts.peers;
    if (peers === undefined) {
      throw new RebuildError("this node has no peer links: there is no other rack to rebuild from");
    }
    const candidates = peers.status().filter((p) =>
      p.up && p.rack !== this.#parts.rack && p.servesReads &&
      (requested === undefined || p.rack === requested)
    );
    if (candidates.length === 0) {
      throw new RebuildError(
        requested === undefined
          ? "no other rack is up and serving reads to take a snapshot from"
          : `no node of rack '${requested}' is up and serving reads`,
      );
    }
    // status() lists the fastest first.
    const rack = candidates[0]!.rack;
    const leader = this.#parts.rackLeader(rack);
    return candidates.find((p) => p.rack === rack && p.id === leader) ?? candidates[0]!;
  }

  /** Streams the snapshot from `link` into `target` (phases snapshot, transfer and load). */
  async #transfer(link: PeerClient, target: CommandRunner, signal: AbortSignal): Promise<void> {
    const queue: SnapshotData[] = [];
    let queuedBytes = 0;
    let wake: (() => void) | undefined;
    let lastFrameAt = performance.now();
    let requestId: number | undefined;
    let answer: Frame | undefined;
    let failure: Error | undefined;
    const poke = () => {
      wake?.();
      wake = undefined;
    };
    const onData = (frame: Frame) => {
      requestId = frame.id;
      lastFrameAt = performance.now();
      try {
        const data = decodeData(frame.payload);
        if (data.kind === "bytes") queuedBytes += data.bytes.length;
        queue.push(data);
      } catch (error) {
        failure ??= error as Error;
      }
      poke();
    };
    const request = encodeRequest({
      node: this.#parts.nodeId,
      rack: this.#parts.rack,
      creditBytes: SNAPSHOT_WINDOW_BYTES,
    });
    // The answer comes when the whole payload was sent; a broken link rejects it at once.
    link.request(FrameType.SnapshotRequest, request, 2 ** 31 - 1, onData).then(
      (frame) => {
        answer = frame;
        poke();
      },
      (error: Error) => {
        failure ??= error;
        poke();
      },
    );
    const abort = () => poke();
    signal.addEventListener("abort", abort);
    const stallTimer = setInterval(poke, 1_000);
    const splitter = new RdbSplitter();
    let loader: SnapshotLoader | undefined;
    let header: SnapshotHeader | undefined;
    let granted = SNAPSHOT_WINDOW_BYTES;
    let received = 0;
    const loadItems = async () => {
      for (let item = splitter.next(); item !== undefined; item = splitter.next()) {
        await loader!.add(item);
      }
      this.#status.keys = loader!.keys;
    };
    try {
      while (true) {
        signal.throwIfAborted();
        if (failure !== undefined) throw failure;
        const data = queue.shift();
        if (data === undefined) {
          if (answer !== undefined) break;
          if (performance.now() - lastFrameAt > STALL_MS) {
            throw new RebuildError(`the source sent nothing for ${STALL_MS / 1000} s`);
          }
          await new Promise<void>((resolve) => wake = resolve);
          continue;
        }
        switch (data.kind) {
          case "header": {
            header = data;
            this.#status.keysTotal = data.keys;
            loader = new SnapshotLoader(target, {
              metaDb: this.#parts.metaDb,
              sourceMetaDb: data.metaDb,
              databases: this.#parts.databases(),
              partitions: this.#parts.log.partitions,
              marker: this.#parts.marker,
            });
            // From here on this rack's Redis is the snapshot's, or marked as incomplete.
            await loader.begin(JSON.stringify({
              from: `${data.rack}/${data.node}`,
              by: this.#parts.nodeId,
              startedAt: new Date().toISOString(),
            }));
            break;
          }
          case "start":
            this.#status.bytesTotal = data.bytesTotal;
            this.#phase("transfer");
            break;
          case "keepalive":
            break;
          case "bytes": {
            if (loader === undefined) {
              throw new RebuildError("the source sent data before its header");
            }
            queuedBytes -= data.bytes.length;
            received += data.bytes.length;
            splitter.push(data.bytes);
            await loadItems();
            this.#status.bytes = received;
            this.#progress.sample(performance.now(), received, loader.keys);
            const more = creditToGrant({
              granted,
              received,
              unconsumed: queuedBytes + splitter.bufferedBytes,
              needed: splitter.neededBytes,
            });
            if (more > 0 && requestId !== undefined) {
              granted += more;
              link.send(FrameType.SnapshotCredit, encodeCredit(requestId, more));
            }
            break;
          }
        }
      }
      const sent = parseAnswer(answer!);
      if (loader === undefined || header === undefined) {
        throw new RebuildError("the source ended without sending a snapshot");
      }
      if (sent !== received) {
        throw new RebuildError(`the source sent ${sent} bytes, ${received} arrived`);
      }
      splitter.end();
      await loadItems();
      if (!splitter.done) throw new RebuildError("the snapshot ended before its RDB did");
      this.#phase("load");
      const bounds = await Promise.all(
        Array.from({ length: this.#parts.log.partitions }, (_, p) => this.#parts.log.bounds(p)),
      );
      const loaded = await loader.finish(bounds);
      this.#status.keys = loaded.keys;
      log.info(
        "rack {rack} holds the snapshot of rack {source}: {keys} keys, {functions} function " +
          "libraries, {bytes} bytes; positions {positions}",
        {
          rack: this.#parts.rack,
          source: `${header.rack}/${header.node}`,
          keys: loaded.keys,
          functions: loader.functions,
          bytes: received,
          positions: loaded.positions.map((p, i) => `${i}:${p ?? "-"}`).join(" "),
        },
      );
    } catch (error) {
      if (requestId !== undefined && link.up) {
        link.send(FrameType.SnapshotCancel, encodeCancel(requestId));
      }
      throw error;
    } finally {
      clearInterval(stallTimer);
      signal.removeEventListener("abort", abort);
    }
  }

  /** Waits until the applier has applied the log up to where it ended when it started. */
  async #catchUp(signal: AbortSignal): Promise<void> {
    while (true) {
      signal.throwIfAborted();
      const partitions = this.#parts.applier.liveStatus();
      if (partitions !== undefined && partitions.length > 0) {
        const rebuild = partitions.find((p) => p.state === "rebuild");
        if (rebuild !== undefined) {
          throw new RebuildError(`the applier refuses the loaded Redis: ${rebuild.lastError}`);
        }
        if (partitions.every((p) => !p.catchingUp && p.state !== "starting")) return;
        const ends = await Promise.all(partitions.map((p) => this.#parts.log.bounds(p.partition)));
        this.#status.catchUpOps = partitions.reduce(
          (sum, p, i) => sum + Math.max(0, ends[i]!.end - (p.position ?? 0)),
          0,
        );
      }
      await sleep(CATCH_UP_POLL_MS, signal);
    }
  }

  #phase(phase: RebuildPhase): void {
    this.#status.phase = phase;
    this.#status.phaseAt = performance.now();
  }

  #logProgress(): void {
    const s = this.status();
    if (s.phase === "failed" && s.retryInMs !== undefined) return;
    log.info(
      "rebuild of rack {rack} from {source}: {phase} (attempt {attempt}), {mib} MiB and {keys} " +
        "keys loaded{of}, {rate} MiB/s, {left}",
      {
        rack: this.#parts.rack,
        source: s.source ?? "(choosing)",
        phase: s.phase,
        attempt: s.attempts,
        mib: (s.bytes / 1024 / 1024).toFixed(1),
        keys: s.keys,
        of: s.keysTotal === undefined ? "" : ` (of about ${s.keysTotal})`,
        rate: (s.bytesPerSecond / 1024 / 1024).toFixed(1),
        left: s.phase === "catch-up"
          ? `${s.catchUpOps ?? "?"} ops to catch up`
          : s.secondsLeft === undefined
          ? "time left unknown"
          : `about ${Math.ceil(s.secondsLeft)} s left`,
      },
    );
  }
}

/** The bytes a snapshot's Reply says were sent, or its error. */
function parseAnswer(frame: Frame): number {
  const r = new PayloadReader(frame.payload);
  const status = r.u8();
  const bytes = r.bytes();
  if (status !== 0) {
    throw new RebuildError(`the source refused or failed: ${new TextDecoder().decode(bytes)}`);
  }
  return decodeEnd(bytes);
}

/** Waits until `link` is up (authenticated), at most {@linkcode LINK_UP_MS}. */
async function waitUp(link: PeerClient, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + LINK_UP_MS;
  while (!link.up) {
    signal.throwIfAborted();
    if (performance.now() > deadline) {
      throw new RebuildError(
        `no link to node ${link.peer.id} within ${LINK_UP_MS / 1000} s` +
          (link.lastError === undefined ? "" : ` (${link.lastError})`),
      );
    }
    await sleep(50, signal);
  }
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
