/**
 * redis-py, unmodified, on two racks: `lock()` (SET NX PX to acquire,
 * EVALSHA scripts to extend and release) guards a read-modify-write counter,
 * and `transaction()` (WATCH / GET / MULTI / SET / EXEC, retried on a
 * WatchError) increments another. Both counters end exact in every rack's
 * Redis: the lock excluded every other rack, and no update was lost.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startWorld, useKafka } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";
import { ensureRedisPy } from "../harness/provision.ts";

const SCRIPT = fileURLToPath(new URL("./redis_py_check.py", import.meta.url));

async function redisPy(mode: string, ports: number[], threads: number, rounds: number) {
  const python = await ensureRedisPy();
  const child = new Deno.Command(python, {
    args: [SCRIPT, mode, ports.join(","), String(threads), String(rounds)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  const output = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(output.stdout).trim();
  assert.ok(output.success, `redis-py ${mode}: ${new TextDecoder().decode(output.stderr)}`);
  return JSON.parse(text) as {
    value: number;
    lock_left: number;
    errors: string[];
    released: number;
    aborted: number;
  };
}

Deno.test("redis-py lock() and transaction() on two racks: exact counters, every lock released", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const ports = world.racks.map((rack) => rack.pylon.port);

  const locked = await redisPy("lock", ports, 6, 5);
  assert.deepEqual(locked.errors, []);
  assert.equal(locked.released, 30, "every acquire was released");
  assert.equal(locked.value, 30, "the lock excluded every other client on both racks");
  assert.equal(locked.lock_left, 0);

  const transactions = await redisPy("transaction", ports, 20, 5);
  assert.deepEqual(transactions.errors, []);
  assert.equal(transactions.value, 100, "no increment lost");

  await waitConverged(world.racks);
  for (const rack of world.racks) {
    const master = await world.master(rack);
    assert.equal(await master.call("GET", "ctr"), "30", `rack ${rack.name}`);
    assert.equal(await master.call("GET", "tctr"), "100", `rack ${rack.name}`);
    assert.equal(await master.call("EXISTS", "lock:ctr"), "0", `rack ${rack.name}`);
  }
  console.log(
    `redis-py: 30 lock rounds on 2 racks exact; 100 transaction() increments exact, ${transactions.aborted} aborted and retried`,
  );
});
