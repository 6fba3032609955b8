import assert from "node:assert/strict";
import { findCommand } from "../command/mod.ts";
import type { WriteCommand, WriteRequest } from "../log/write_request.ts";
import { answerWhen } from "./answer_policy.ts";

const command = (name: string, reply: "constant" | "data"): WriteCommand => ({
  argv: [new TextEncoder().encode(name)],
  command: findCommand(name)!,
  reply,
});

function request(commands: WriteCommand[], more: Partial<WriteRequest> = {}): WriteRequest {
  return { commands, transaction: false, db: 0, protocol: 2, ...more };
}

Deno.test("a single constant-reply command the operator listed is answered once logged", () => {
  const ackLog = new Set(["set"]);
  assert.equal(answerWhen(request([command("set", "constant")]), ackLog), "logged");
  assert.equal(answerWhen(request([command("set", "data")]), ackLog), "applied", "SET NX");
  assert.equal(answerWhen(request([command("mset", "constant")]), ackLog), "applied", "not listed");
  assert.equal(
    answerWhen(request([command("set", "constant")], { transaction: true }), ackLog),
    "applied",
    "a transaction's reply is EXEC's array",
  );
});

Deno.test("a strong write is answered once a quorum applied it, whatever ack-log says", () => {
  const ackLog = new Set(["set"]);
  assert.equal(
    answerWhen(request([command("set", "constant")], { strong: true }), ackLog),
    "quorum",
  );
  assert.equal(answerWhen(request([command("incr", "data")], { strong: true }), ackLog), "quorum");
});
