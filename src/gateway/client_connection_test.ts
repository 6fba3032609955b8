/**
 * The connection does what the command table says, for every command the
 * table knows: its kind decides where it goes (a read to the read service, a
 * write to the write path, rack administration to this rack's Redis alone, a
 * local command to Pylon, a subscription to the client's own subscribed
 * connection, a refusal to an error), and whether MULTI queues it. Derived
 * from the table, so a special case added in the gateway shows up here as a
 * command whose handling differs from its entry.
 *
 * A unit test: a scripted socket and a scripted node around a real
 * ClientConnection (no Redis, no network).
 */

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type * as net from "node:net";
import { allCommands, type CommandSpec, route, transactionStep } from "../command/mod.ts";
import { PYLON_COMMANDS } from "../command/pylon_commands.ts";
import { findAnyCommand } from "../command/table.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import { encodeCommand } from "../resp/encoder.ts";
import type { RespValue } from "../resp/value.ts";
import { Users } from "../auth/users.ts";
import { AuthLimiter } from "../auth/auth_limiter.ts";
import { ClientConnection, type ConnectionHost } from "./client_connection.ts";
import { KeyWaiters } from "../write/key_waiters.ts";
import { MemoryBudget } from "./memory_budget.ts";
import { answerLocal, type LocalContext } from "./local_commands.ts";
import type { ConsistencyGate } from "../consistency/gate.ts";

/** A socket the test writes requests into and reads replies from. */
class ScriptedSocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 50_000;
  localAddress = "127.0.0.1";
  localPort = 6380;
  writableLength = 0;
  written: Uint8Array[] = [];
  destroyed = false;
  setNoDelay(): void {}
  pause(): void {}
  resume(): void {}
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes.slice());
    return true;
  }
  end(done?: () => void): void {
    done?.();
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Every reply written so far, decoded. */
  replies(): RespValue[] {
    const decoder = new ReplyDecoder();
    for (const bytes of this.written) decoder.push(bytes);
    const out: RespValue[] = [];
    for (let value = decoder.next(); value !== undefined; value = decoder.next()) out.push(value);
    return out;
  }
}

/** Where a request went: the node's part the connection handed it to, if any. */
type Went = "read" | "rack-admin" | "write" | "local" | "pubsub" | "wait" | "none";

const OK = new TextEncoder().encode("+OK\r\n");

/** A connection around a scripted socket and node, recording where each request goes. */
function connect(users = new Users({ requirepass: undefined, users: [], worldSecret: undefined })) {
  const socket = new ScriptedSocket();
  const went: Went[] = [];
  const context: LocalContext = {
    users,
    authLimiter: new AuthLimiter(),
    selectable: (db) => db >= 0 && db < 15,
    clients: () => [],
    pylonInfo: () => "# Pylon\r\n",
    admin: () => Promise.resolve({ type: "simple", value: "OK" }),
  };
  const gate = {
    isStrong: () => false,
    waitRacks: () => {
      went.push("wait");
      return Promise.resolve(1);
    },
  } as unknown as ConsistencyGate;
  const host: ConnectionHost = {
    read: (read, sink) => {
      went.push(read.localOnly ? "rack-admin" : "read");
      sink(OK);
    },
    write: (_request, reply) => {
      went.push("write");
      reply(OK);
      return Promise.resolve(undefined);
    },
    local: (connection, argv, command) => {
      went.push("local");
      return answerLocal(context, connection, argv, command);
    },
    served: () => {},
    users,
    budget: new MemoryBudget(1024 ** 3),
    closed: () => {},
    appliedPositions: () => [0],
    gate,
    selectable: context.selectable,
    subscriberTarget: { address: () => undefined, access: {} },
    subscriberSlot: () => {
      went.push("pubsub");
      return undefined;
    },
    filters: { info: () => ({ metaDb: 15, pylonSection: undefined }) },
    blocking: {
      write: (_request, reply) => {
        went.push("write");
        reply(OK);
        return Promise.resolve(undefined);
      },
      read: (_request, _options, sink) => {
        went.push("read");
        sink(OK);
      },
      waiters: new KeyWaiters(() => 0),
      appliedPosition: () => 0,
    },
  };
  const connection = new ClientConnection(socket as unknown as net.Socket, {
    id: 1,
    host,
    limits: { pendingRequestsMax: 1024, outputBytesMax: 64 * 1024 * 1024, resp: {} },
  });
  return {
    connection,
    socket,
    went,
    send: async (...argv: string[]) => {
      socket.emit("data", encodeCommand(argv));
      // Replies that wait for a promise (a local answer, a write) come a few turns later.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

/** Every command and subcommand of the table, Pylon's own included. */
function everyCommand(): CommandSpec[] {
  const redis = allCommands().flatMap((c) => c.subcommands.length > 0 ? c.subcommands : [c]);
  const own = PYLON_COMMANDS.filter((c) => c.name.includes("|")).map((c) =>
    findAnyCommand(c.name)!
  );
  return [...redis, ...own];
}

/** A request for `command` with as many placeholder arguments as its arity asks for. */
function requestFor(command: CommandSpec): string[] {
  const words = command.name.split("|");
  const argc = Math.abs(command.arity);
  // WAIT's arguments are numbers; every other command is routed whatever its arguments say.
  while (words.length < argc) words.push(command.name === "wait" ? "0" : "x");
  return words;
}

/** Where the table says a request goes. */
function expected(argv: string[]): Went {
  const r = route(argv.map((a) => new TextEncoder().encode(a)));
  switch (r.kind) {
    case "read":
      return "read";
    case "write":
      return "write";
    case "rack-admin":
      return "rack-admin";
    case "local":
      return "local";
    case "wait":
      return "wait";
    case "world-admin":
      return "local";
    case "pubsub":
      return "pubsub";
    case "transaction":
      // WATCH reads the watched keys' expiries from the rack (EXEC aborts if one expires).
      return r.command.name === "watch" ? "read" : "none";
    case "blocking":
      // Placeholder arguments make a wrong timeout: Redis's error, answered at once.
      return "none";
    case "refused":
    case "error":
      return "none";
  }
}

Deno.test("every command goes where its table entry says, and nowhere else", async () => {
  const users = new Users({ requirepass: "pw", users: [], worldSecret: undefined });
  let checked = 0;
  for (const command of everyCommand()) {
    const argv = requestFor(command);
    const { send, went, socket } = connect(users);
    // A proven password: access is not what this test looks at (world changes need one).
    await send("AUTH", "pw");
    went.length = 0;
    await send(...argv);
    const want = expected(argv);
    assert.deepEqual(went, want === "none" ? [] : [want], `${argv.join(" ")}: ${command.class}`);
    const reply = socket.replies()[1];
    const r = route(argv.map((a) => new TextEncoder().encode(a)));
    if (r.kind === "refused") {
      assert.equal(reply?.type, "error", argv.join(" "));
    }
    checked++;
  }
  assert.ok(checked > 350, `${checked} commands`);
});

Deno.test("inside MULTI every command is queued or refused as its table entry says", async () => {
  const users = new Users({ requirepass: "pw", users: [], worldSecret: undefined });
  let queued = 0;
  let refused = 0;
  for (const command of everyCommand()) {
    if (command.class === "transaction") continue;
    const argv = requestFor(command);
    const { send, went, socket } = connect(users);
    await send("AUTH", "pw");
    await send("MULTI");
    went.length = 0;
    await send(...argv);
    const step = transactionStep(route(argv.map((a) => new TextEncoder().encode(a))));
    const reply = socket.replies()[2];
    if (step === "queue") {
      queued++;
      assert.deepEqual(reply, { type: "simple", value: "QUEUED" }, argv.join(" "));
    } else {
      refused++;
      assert.deepEqual(reply, { type: "error", value: step.refusal }, argv.join(" "));
    }
    // Nothing leaves the connection before EXEC.
    assert.deepEqual(went, [], argv.join(" "));
  }
  assert.ok(queued > 150 && refused > 50, `${queued} queued, ${refused} refused`);
});

Deno.test("the transaction commands answer as Redis does, in and out of MULTI", async () => {
  const { send, socket, went } = connect();
  await send("EXEC");
  await send("WATCH", "k");
  await send("MULTI");
  await send("MULTI");
  await send("WATCH", "k");
  await send("GET", "k");
  await send("EXEC");
  await send("DISCARD");
  const replies = socket.replies();
  assert.deepEqual(replies, [
    { type: "error", value: "ERR EXEC without MULTI" },
    { type: "simple", value: "OK" },
    { type: "simple", value: "OK" },
    { type: "error", value: "ERR MULTI calls can not be nested" },
    { type: "error", value: "ERR WATCH inside MULTI is not allowed" },
    { type: "simple", value: "QUEUED" },
    { type: "simple", value: "OK" },
    { type: "error", value: "ERR DISCARD without MULTI" },
  ]);
  assert.deepEqual(
    went,
    ["read", "write"],
    "WATCH reads the key's expiry; EXEC submits the transaction as one write",
  );
});

Deno.test("world changes need a proven password even where the default user may run everything", async () => {
  const { send, socket, went } = connect();
  await send("PYLON", "NODE", "REMOVE", "n1");
  await send("CONFIG", "SET", "list-max-listpack-size", "4");
  assert.match(
    (socket.replies()[0] as { value: string }).value,
    /^NOPERM changing the world's membership or a rack's data needs an authenticated user/,
  );
  assert.deepEqual(went, ["rack-admin"], "rack administration follows Redis's default user");
});
