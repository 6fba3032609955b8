/** A stranger on the peer port gets nowhere: wrong secret, garbage, and frames out of turn are refused. */

import assert from "node:assert/strict";
import { encodeFrame, FrameType, PayloadWriter } from "../../src/cluster/peer_protocol.ts";
import { freePort, RawClient, startPylon, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import { info } from "./world.ts";

Deno.test("a node with the wrong world secret is refused, and so is garbage; the node carries on", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 1 });
  const target = world.racks[0]!;
  // An impostor that knows the address and id but not the secret.
  await using impostor = await startPylon({
    redis: { url: (target.redis as { url: string }).url },
    args: [
      "--node-id",
      "impostor",
      "--rack",
      "elsewhere",
      "--applier",
      "off",
      "--log",
      `kafka://${kafka.brokers.join(",")}/${world.topic}`,
      "--world-secret",
      "not-the-world-secret!",
      "--peer-listen",
      `127.0.0.1:${freePort()}`,
      "--peer",
      `${target.nodeId}@${target.name}@127.0.0.1:${target.peerPort}`,
    ],
  });
  await waitFor(
    "the impostor's link to be refused",
    async () =>
      /state=down.*last_error=refused: authentication failed/.test(
          await impostor.call("PYLON", "INFO"),
        )
        ? true
        : undefined,
  );

  // Garbage, and a frame that skips the handshake.
  for (
    const bytes of [
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      encodeFrame(FrameType.Write, 1, new PayloadWriter().u16(0).u8(2).u8(0).u32(0).finish()),
      new Uint8Array(64).fill(0xff),
    ]
  ) {
    await using stranger = await RawClient.connect(target.peerPort);
    await stranger.send(bytes);
    await waitFor("the stranger to be cut off", async () => {
      try {
        await stranger.readUntilClosed(3_000);
      } catch {
        // the decoder may choke on peer frames; only the close matters
      }
      return true;
    });
  }
  const i = await info(target);
  assert.ok(Number(i.get("peer_links_refused")) >= 4, `refused: ${i.get("peer_links_refused")}`);
  assert.equal(i.get("peer_links_accepted"), "0");
  assert.equal(await target.pylon.call("SET", "still", "fine"), "OK");
  assert.equal(await target.pylon.call("GET", "still"), "fine");
});
