/**
 * The read service's decisions, on scripted parts (a Redis that answers from
 * a map of positions, peers that record what they are asked): where a read
 * is served, what it waits for, and what a forwarded read may be.
 */

import assert from "node:assert/strict";
import { RackProgress } from "../applier/rack_progress.ts";
import type { Peers } from "../cluster/peers.ts";
import type { RackHealth } from "../cluster/rack_health.ts";
import type { Upstream } from "../redis/upstream.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import type { ScriptRunner } from "../redis/script_runner.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { type Read, ReadService } from "./read_service.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bulk = (value: string) => new TextEncoder().encode(`$${value.length}\r\n${value}\r\n`);

/** A rack whose Redis has applied `applied` (partition 0) and answers every read with "v". */
function rack(
  options: {
    applied: number;
    servesReads?: boolean;
    lacksData?: boolean;
    peers?: string[];
    diverged?: string;
  },
) {
  const state = { applied: options.applied, redisReads: 0, peerReads: [] as string[] };
  const upstream = {
    send: (_request: Uint8Array, _db: number, _protocol: number, sink: (r: Uint8Array) => void) => {
      state.redisReads++;
      sink(bulk("v"));
    },
    sendTogether: (
      checks: unknown[],
      _request: Uint8Array,
      _db: number,
      _protocol: number,
      sink: (r: Uint8Array[]) => void,
    ) => {
      state.redisReads++;
      sink([...checks.map(() => bulk(String(state.applied))), bulk("v")]);
    },
  } as unknown as Upstream;
  const progress = new RackProgress(1, () => Promise.resolve(state.applied));
  const health: RackHealth = {
    servesReads: () => options.servesReads ?? true,
    applies: () => true,
    lacksData: () => options.lacksData ?? false,
  };
  const peers = options.peers === undefined ? undefined : {
    canForwardReads: () => options.peers!.length > 0,
    forwardRead: (_db: number, _protocol: number, request: Uint8Array) => {
      state.peerReads.push(text(request));
      return Promise.resolve(bulk("from-peer"));
    },
  } as unknown as Peers;
  const scripts = {
    run: () => Promise.resolve(bulk("script")),
  } as unknown as ScriptRunner;
  const reads = new ReadService({
    rack: "here",
    upstream,
    progress,
    metaDb: 15,
    scripts,
    health,
    peers,
    diverged: () => options.diverged,
  });
  return { reads, state };
}

function read(need: [number, number][] = [], more: Partial<Read> = {}): Read {
  return {
    request: encodeCommand(["GET", "k"]),
    db: 0,
    protocol: 2,
    need: new Map(need),
    script: false,
    localOnly: false,
    ...more,
  };
}

function serve(reads: ReadService, r: Read): Promise<string> {
  return new Promise((resolve) => {
    reads.serve(
      r,
      (reply) => resolve(reply instanceof UpstreamError ? `error: ${reply.message}` : text(reply)),
    );
  });
}

Deno.test("a read this rack can serve is served here, checked against what it must see", async () => {
  const { reads, state } = rack({ applied: 10, peers: ["b"] });
  assert.equal(await serve(reads, read()), "$1\r\nv\r\n");
  assert.equal(await serve(reads, read([[0, 10]])), "$1\r\nv\r\n");
  assert.equal(state.redisReads, 2);
  assert.deepEqual(state.peerReads, []);
});

Deno.test("a rack that does not serve reads sends them to a peer, with what they must see", async () => {
  const { reads, state } = rack({ applied: 10, servesReads: false, peers: ["b"] });
  assert.equal(await serve(reads, read([[0, 4]])), "$9\r\nfrom-peer\r\n");
  assert.equal(state.redisReads, 0);
  assert.equal(reads.stats().readsForwarded, 1);
});

Deno.test("a rack that lacks ops the log no longer holds never serves a read, even with no peer", async () => {
  const lone = rack({ applied: 10, servesReads: false, lacksData: true });
  assert.match(await serve(lone.reads, read()), /^error: .*waiting for a rebuild from a peer/);
  assert.equal(lone.state.redisReads, 0);
  assert.equal(lone.reads.servesHere(), false);
  const peered = rack({ applied: 10, servesReads: false, lacksData: true, peers: ["b"] });
  assert.equal(await serve(peered.reads, read()), "$9\r\nfrom-peer\r\n");
  // Its own administration still reaches its own Redis.
  assert.equal(await serve(lone.reads, read([], { localOnly: true })), "$1\r\nv\r\n");
});

Deno.test("rack administration is served by this rack alone, never by a peer", async () => {
  const { reads, state } = rack({ applied: 10, servesReads: false, peers: ["b"] });
  assert.equal(await serve(reads, read([], { localOnly: true })), "$1\r\nv\r\n");
  assert.deepEqual(state.peerReads, []);
});

Deno.test("a read for another rack: only reads, only from a rack that serves them, never forwarded again", async () => {
  const { reads, state } = rack({ applied: 10, peers: ["b"] });
  const forPeer = (request: Uint8Array, need: [number, number][] = []) =>
    reads.forPeer(0, 2, request, new Map(need));
  assert.deepEqual(await forPeer(encodeCommand(["GET", "k"])), { reply: bulk("v") });
  assert.match(
    (await forPeer(encodeCommand(["SET", "k", "v"])) as { error: string }).error,
    /'set' is not a read/,
  );
  assert.match(
    (await forPeer(encodeCommand(["CONFIG", "SET", "maxmemory", "1"])) as { error: string }).error,
    /never run for another rack/,
  );
  assert.deepEqual(
    await forPeer(encodeCommand(["NOSUCH"])),
    {
      reply: new TextEncoder().encode(
        "-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
      ),
    },
  );
  assert.deepEqual(
    await forPeer(new TextEncoder().encode("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n")),
    { error: "a forwarded read must be one whole request" },
  );
  // An empty request asks only whether this rack has applied the need.
  assert.deepEqual(await forPeer(new Uint8Array(0), [[0, 10]]), {
    reply: new TextEncoder().encode("+OK\r\n"),
  });
  assert.deepEqual(state.peerReads, [], "never forwarded again");
  const down = rack({ applied: 10, servesReads: false, peers: ["b"] });
  assert.match(
    (await down.reads.forPeer(0, 2, encodeCommand(["GET", "k"]), new Map()) as { error: string })
      .error,
    /cannot serve reads now/,
  );
});

Deno.test("a script read runs as the script user once the rack has applied what it must see", async () => {
  const { reads, state } = rack({ applied: 10 });
  assert.equal(await serve(reads, read([[0, 9]], { script: true })), "$6\r\nscript\r\n");
  assert.equal(state.redisReads, 0, "not through the pooled connections");
});

Deno.test("a rack that diverged serves no read from its Redis: a peer serves it, or it fails", async () => {
  const { reads, state } = rack({ applied: 10, peers: ["b"], diverged: "op 1 differs" });
  assert.equal(reads.servesHere(), false);
  assert.equal(await serve(reads, read()), "$9\r\nfrom-peer\r\n");
  assert.equal(state.redisReads, 0);
  assert.equal(await serve(reads, read([], { localOnly: true })), "$1\r\nv\r\n", "administration");
  assert.match(
    (await reads.forPeer(0, 2, encodeCommand(["GET", "k"]), new Map()) as { error: string }).error,
    /cannot serve reads now/,
  );
  const alone = rack({ applied: 10, peers: [], diverged: "op 1 differs" });
  assert.match(
    await serve(alone.reads, read()),
    /^error: rack 'here' diverged from the world and no other rack can serve the read now \(op 1 differs\)$/,
  );
  assert.equal(alone.state.redisReads, 0);
});
