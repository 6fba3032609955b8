import assert from "node:assert/strict";
import { PendingWrites } from "./pending_writes.ts";
import { SeededRandom } from "../random.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A map whose callbacks write what happened into `events`. */
function recorded() {
  const pending = new PendingWrites();
  const events: string[] = [];
  const register = (id: string, deadlineMs: number, partition = 0) =>
    pending.register(
      id,
      partition,
      deadlineMs,
      (reply) => events.push(`${id} settled ${text(reply)}`),
      () => events.push(`${id} expired`),
    );
  return { pending, events, register };
}

Deno.test("register() then deliver() settles the write once; later replies find nobody", () => {
  const { pending, events, register } = recorded();
  register("a", 100);
  assert.equal(pending.size, 1);
  assert.equal(pending.deliver("a", bytes("+OK")), true);
  assert.equal(pending.deliver("a", bytes("+OK")), false);
  assert.deepEqual(events, ["a settled +OK"]);
  assert.equal(pending.size, 0);
  assert.equal(pending.runs, 0, "no empty run is kept");
  pending.checkInvariants();
});

Deno.test("register() refuses an op id already waiting, and a deadline that is not a number", () => {
  const { pending, register } = recorded();
  register("a", 100);
  assert.throws(() => register("a", 200), /Op "a" is already waiting/);
  assert.throws(() => register("b", NaN), /Op "b" has no deadline/);
  assert.equal(pending.size, 1);
  pending.checkInvariants();
});

Deno.test("placed() records the offset for reply recovery; unknown ids are ignored", () => {
  const { pending, register } = recorded();
  register("a", 100, 2);
  register("b", 100);
  pending.placed("a", 41);
  pending.placed("gone", 7);
  const placed = [...pending.placedWrites()];
  assert.deepEqual(placed.map((w) => [w.id, w.partition, w.offset]), [["a", 2, 41]]);
  pending.checkInvariants();
  pending.deliver("a", bytes(":1"));
  assert.deepEqual([...pending.placedWrites()], [], "an answered write leaves the placed set");
  pending.checkInvariants();
});

Deno.test("expire() gives up on writes at or past their deadline, and on no other", () => {
  const { pending, events, register } = recorded();
  register("a", 10);
  register("b", 20);
  register("c", 30);
  pending.placed("b", 0);
  pending.expire(9);
  assert.deepEqual(events, []);
  pending.expire(20);
  assert.deepEqual(events, ["a expired", "b expired"]);
  assert.equal(pending.deliver("b", bytes("+late")), false, "an expired write is not settled");
  assert.deepEqual([...pending.placedWrites()], []);
  assert.equal(pending.size, 1);
  pending.checkInvariants();
});

Deno.test("forget() drops a write without calling it back", () => {
  const { pending, events, register } = recorded();
  register("a", 10);
  pending.placed("a", 3);
  pending.forget("a");
  pending.forget("a");
  pending.expire(100);
  assert.deepEqual(events, []);
  assert.equal(pending.size, 0);
  pending.checkInvariants();
});

Deno.test("a lowered write timeout (a reload) still expires every write on time, in deadline order", () => {
  const { pending, events, register } = recorded();
  // Timeout 10 s from t=0 and t=1 s, then lowered to 1 s at t=2 s and t=3 s.
  register("old1", 10_000);
  register("old2", 11_000);
  register("new1", 3_000);
  register("new2", 4_000);
  assert.equal(pending.runs, 2, "the lowered timeout starts a second run");
  pending.checkInvariants();
  pending.expire(3_000);
  assert.deepEqual(events, ["new1 expired"], "a short deadline behind a long one is not missed");
  pending.expire(10_500);
  assert.deepEqual(events, ["new1 expired", "new2 expired", "old1 expired"]);
  assert.equal(pending.runs, 1, "the drained run is dropped");
  // Raised again: later deadlines join the run that is left.
  register("raised", 20_000);
  assert.equal(pending.runs, 1);
  pending.expire(Infinity);
  assert.deepEqual(events.slice(3), ["old2 expired", "raised expired"]);
  pending.checkInvariants();
});

Deno.test("any order of deadlines: expire() matches a model, and the invariants hold after each step", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const random = new SeededRandom(seed);
    const { pending, events, register } = recorded();
    const model = new Map<string, number>();
    let now = 0;
    for (let step = 0; step < 300; step++) {
      const roll = random.next();
      if (roll < 0.5) {
        const id = `op${step}`;
        // A few timeouts, changed now and then, as reloads would.
        const deadline = now + random.pick([1_000, 3_000, 10_000]) + random.int(0, 5);
        register(id, deadline);
        model.set(id, deadline);
      } else if (roll < 0.6 && model.size > 0) {
        const id = random.pick([...model.keys()]);
        pending.forget(id);
        model.delete(id);
      } else if (roll < 0.7 && model.size > 0) {
        const id = random.pick([...model.keys()]);
        pending.deliver(id, bytes("+OK"));
        model.delete(id);
        assert.equal(events.pop(), `${id} settled +OK`);
      } else {
        now += random.int(0, 2_000);
        pending.expire(now);
        const due = [...model].filter(([, d]) => d <= now).sort((a, b) => a[1] - b[1]);
        const expired = events.splice(0).map((e) => e.replace(/ expired$/, ""));
        assert.deepEqual(
          expired.map((id) => model.get(id)),
          due.map(([, d]) => d),
          `seed ${seed} step ${step}: expired in deadline order, every due one`,
        );
        assert.deepEqual(new Set(expired), new Set(due.map(([id]) => id)));
        for (const [id] of due) model.delete(id);
      }
      pending.checkInvariants();
      assert.equal(pending.size, model.size, `seed ${seed} step ${step}`);
      assert.ok(pending.runs <= 3 * 6, `seed ${seed}: ${pending.runs} runs`);
    }
  }
});
