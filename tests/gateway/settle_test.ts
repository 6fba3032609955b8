/**
 * Every reply slot settles: a write whose submission throws or rejects, and an
 * admin command whose answer rejects, each get an error reply, and the
 * connection's later replies still flow (a slot left empty would hold them
 * all). The gateway runs in-process on a real socket with a backend that
 * fails on purpose.
 */

import assert from "node:assert/strict";
import { Gateway } from "../../src/gateway/server.ts";
import { RawClient } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

Deno.test("a write or an admin command that fails outside its path still gets a reply, in order", async () => {
  let writes = 0;
  const gateway = new Gateway({
    read: (_read, sink) => sink(new TextEncoder().encode("$1\r\nv\r\n")),
    write: () => {
      writes++;
      if (writes === 1) throw new Error("thrown while submitting");
      return Promise.reject(new Error("rejected after submitting"));
    },
    databases: () => 16,
    reservedDb: 15,
    admin: () => Promise.reject(new Error("the world could not answer")),
    pylonInfo: () => "",
  }, { listen: { host: "127.0.0.1", port: 0 } });
  const { port } = await gateway.listen();
  try {
    await using client = await RawClient.connect(port);
    await client.send(
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n" +
        "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n" +
        "*3\r\n$5\r\nPYLON\r\n$5\r\nWORLD\r\n$1\r\nx\r\n" +
        "*2\r\n$5\r\nPYLON\r\n$5\r\nWORLD\r\n" +
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" +
        "*1\r\n$4\r\nPING\r\n",
    );
    const replies: RespValue[] = [];
    for (let i = 0; i < 6; i++) replies.push(await client.read(5_000));
    const text = (i: number) => {
      const r = replies[i]!;
      return "value" in r ? String(r.value) : r.type;
    };
    assert.deepEqual(replies.map((r) => r.type), [
      "error",
      "error",
      "error",
      "error",
      "bulk",
      "simple",
    ]);
    assert.match(
      text(0),
      /lost track of this write.*thrown while submitting.*may or may not be applied/,
    );
    assert.match(text(1), /rejected after submitting/);
    assert.match(text(3), /the world could not answer/);
    assert.equal(text(5), "PONG");
  } finally {
    await gateway.close();
  }
});
