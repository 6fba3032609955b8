import assert from "node:assert/strict";
import { commandKeys, commandReply, route } from "./mod.ts";

const encoder = new TextEncoder();

Deno.test("the public interface routes a request, finds its keys and answers COMMAND", () => {
  const argv = ["ZUNIONSTORE", "dest", "2", "a", "b"].map((arg) => encoder.encode(arg));
  const routed = route(argv);
  assert.equal(routed.kind, "write");
  if (routed.kind !== "write") return;
  assert.equal(routed.reply, "data");
  assert.equal(routed.command.name, "zunionstore");
  assert.deepEqual(commandKeys(routed.command, argv), [1, 3, 4]);
  assert.equal(commandReply([encoder.encode("COMMAND"), encoder.encode("COUNT")]).type, "integer");
});
