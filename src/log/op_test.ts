import assert from "node:assert/strict";
import { decodeOp, encodeOp, type Op, OpFormatError, opOf } from "./op.ts";
import { SeededRandom } from "../random.ts";

function sample(random: SeededRandom): Op {
  return {
    id: "01JD5Y8Z3K4M5N6P7Q8R9S0T1V",
    origin: `node-${random.int(0, 99)}`,
    rack: random.pick(["east", "west", "ünïcode"]),
    db: random.int(0, 15),
    protocol: random.pick([2, 3] as const),
    transaction: random.chance(0.2),
    acceptedAtMs: 1_795_000_000_000 + random.int(0, 1e6),
    commands: Array.from(
      { length: random.int(1, 3) },
      () => Array.from({ length: random.int(1, 6) }, () => random.bytes(random.int(0, 100))),
    ),
  };
}

Deno.test("encodeOp/decodeOp round-trip binary-safe ops", () => {
  const random = new SeededRandom(4);
  for (let i = 0; i < 500; i++) {
    const op = sample(random);
    const decoded = decodeOp(encodeOp(op));
    const plain = (o: Op) => ({
      ...o,
      commands: o.commands.map((argv) => argv.map((a) => [...a])),
    });
    assert.deepEqual(plain(decoded), plain(op));
  }
});

Deno.test("decodeOp refuses truncated, padded and unknown-version records", () => {
  const bytes = encodeOp(sample(new SeededRandom(1)));
  for (const cut of [0, 1, 10, 30, bytes.length - 1]) {
    assert.throws(() => decodeOp(bytes.subarray(0, cut)), OpFormatError, `cut at ${cut}`);
  }
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  assert.throws(() => decodeOp(padded), /trailing bytes/);
  const future = bytes.slice();
  future[0] = 9;
  assert.throws(() => decodeOp(future), /Unknown op version 9/);
});

Deno.test("a transaction's watch block round-trips, and ops without one are unchanged", () => {
  const base = {
    id: "01HZX3Y5V8Q2W4E6R8T0Y2U4I6",
    origin: "n1",
    rack: "east",
    db: 0,
    protocol: 2 as const,
    transaction: true,
    acceptedAtMs: 1,
    commands: [[new TextEncoder().encode("INCR"), new TextEncoder().encode("k")]],
  };
  const watched = {
    ...base,
    watch: { db: 3, from: 1234, keys: [new TextEncoder().encode("k"), new Uint8Array([0, 255])] },
  };
  const back = decodeOp(encodeOp(watched));
  assert.deepEqual(back.watch, watched.watch);
  assert.equal(decodeOp(encodeOp(base)).watch, undefined);
  assert.equal(encodeOp(base)[1 + 26 + 1 + 2 + 1 + 4 + 2 + 1], 1, "flags: transaction only");
});

Deno.test("opOf takes back the op encoded here and decodes any other array", () => {
  const op = sample(new SeededRandom(9));
  const bytes = encodeOp(op);
  assert.equal(opOf(bytes), op);
  const copy = opOf(bytes.slice());
  assert.notEqual(copy, op);
  assert.equal(copy.id, op.id);
  assert.deepEqual(
    copy.commands.map((argv) => argv.map((a) => [...a])),
    op.commands.map((argv) => argv.map((a) => [...a])),
  );
});

Deno.test("a watch's expiries round-trip (none as NaN), and a tick is an op with no command", () => {
  const watched: Op = {
    id: "01HZX3Y5V8Q2W4E6R8T0Y2U4I6",
    origin: "n1",
    rack: "east",
    db: 0,
    protocol: 2,
    transaction: true,
    acceptedAtMs: 1,
    commands: [[new TextEncoder().encode("INCR"), new TextEncoder().encode("k")]],
    watch: {
      db: 0,
      from: 7,
      keys: [new TextEncoder().encode("a"), new TextEncoder().encode("b")],
      expiries: { watchedAtMs: 1_795_000_000_000, at: [undefined, 1_795_000_000_500] },
    },
  };
  assert.deepEqual(decodeOp(encodeOp(watched)).watch, watched.watch);
  const bytes = encodeOp(watched);
  assert.equal(
    bytes[1 + 26 + 1 + 2 + 1 + 4 + 2 + 1],
    1 | 2 | 4,
    "flags: transaction, watch, expiries",
  );
  assert.throws(
    () =>
      encodeOp({ ...watched, watch: { ...watched.watch!, expiries: { watchedAtMs: 0, at: [] } } }),
    /one expiry per key/,
  );
  const tick: Op = { ...watched, transaction: false, commands: [] };
  delete tick.watch;
  assert.deepEqual(decodeOp(encodeOp(tick)).commands, []);
});

Deno.test("a script budget round-trips, with or without a watch, and ops without one have none", () => {
  const random = new SeededRandom(9);
  const op = { ...sample(random), scriptBudgetSteps: 250_000_000 };
  assert.equal(decodeOp(encodeOp(op)).scriptBudgetSteps, 250_000_000);
  const watched: Op = {
    ...op,
    watch: { db: 1, from: 7, keys: [new Uint8Array([1])], expiries: { watchedAtMs: 5, at: [9] } },
  };
  const decoded = decodeOp(encodeOp(watched));
  assert.equal(decoded.scriptBudgetSteps, 250_000_000);
  assert.deepEqual(decoded.watch?.expiries, { watchedAtMs: 5, at: [9] });
  assert.equal("scriptBudgetSteps" in decodeOp(encodeOp(sample(random))), false);
  const bad = encodeOp({ ...op, scriptBudgetSteps: 1.5 });
  assert.throws(() => decodeOp(bad.slice()), OpFormatError);
});
