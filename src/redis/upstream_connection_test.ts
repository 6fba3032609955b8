import assert from "node:assert/strict";
import { encodeCommand } from "../resp/encoder.ts";
import { QUEUED_REQUESTS_MAX, UpstreamConnection, UpstreamError } from "./upstream_connection.ts";

/** A loopback server that reads requests and answers `+OK` only when told to. */
function quietRedis() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  return {
    address: { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    /** Answers `n` requests. */
    async answer(n: number) {
      const conn = await accepted;
      await conn.write(new TextEncoder().encode("+OK\r\n".repeat(n)));
    },
    async close() {
      listener.close();
      (await accepted).close();
    },
  };
}

const PING = encodeCommand(["PING"]);

Deno.test("UpstreamConnection's queue bound has its documented default", () => {
  assert.equal(QUEUED_REQUESTS_MAX, 100_000);
  assert.throws(
    () =>
      new UpstreamConnection({ host: "127.0.0.1", port: 1 }, {
        protocol: 2,
        connectTimeoutMs: 1_000,
        onClose: () => {},
        queuedRequestsMax: 3,
      }),
    /queuedRequestsMax "3" must be a whole number, 4 or more/,
  );
});

Deno.test("UpstreamConnection refuses requests past queuedRequestsMax, keeps serving the rest, and takes more once answered", async () => {
  const redis = quietRedis();
  const closed = Promise.withResolvers<void>();
  const connection = new UpstreamConnection(redis.address, {
    protocol: 2,
    connectTimeoutMs: 2_000,
    onClose: () => closed.resolve(),
    queuedRequestsMax: 4,
  });
  const replies: string[] = [];
  const sink = (i: number) => (reply: Uint8Array | UpstreamError) => {
    replies.push(
      reply instanceof UpstreamError
        ? `${i}: ${reply.message}`
        : `${i}: ${new TextDecoder().decode(reply).trim()}`,
    );
  };
  try {
    for (let i = 0; i < 4; i++) connection.send(PING, 0, sink(i));
    assert.equal(connection.pending, 4);
    connection.send(PING, 0, sink(4));
    assert.equal(connection.pending, 4, "the fifth request was not queued");
    assert.equal(replies.length, 1);
    assert.match(replies[0]!, /^4: .*4 requests are waiting .*queuedRequestsMax 4\); not sent$/);
    // A request in another db needs room for its SELECT too.
    await redis.answer(1);
    await waitUntil(() => connection.pending === 3);
    connection.send(PING, 5, sink(5));
    assert.match(
      replies.at(-1)!,
      /^5: .*queuedRequestsMax 4/,
      "SELECT and request need two places",
    );
    connection.send(PING, 0, sink(6));
    assert.equal(connection.pending, 4);
    await redis.answer(4);
    await waitUntil(() => connection.pending === 0);
    assert.deepEqual(replies.filter((r) => r.endsWith("+OK")), [
      "0: +OK",
      "1: +OK",
      "2: +OK",
      "3: +OK",
      "6: +OK",
    ]);
    assert.equal(connection.closed, false, "a refusal does not close the connection");
  } finally {
    connection.fail("test over");
    await closed.promise;
    await redis.close();
  }
});

async function waitUntil(done: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
