/**
 * Exactly once, in log order, across faults: counters INCRed by 20 clients
 * equal the acknowledged increments (plus at most the in-doubt ones) after
 * Pylon is killed, Redis restarts from its AOF, Sentinel fails over, and a
 * second applier races the first.
 */

import assert from "node:assert/strict";
import {
  type PylonProcess,
  startPylon,
  startRack,
  uniqueTopic,
  useKafka,
  waitFor,
} from "../harness/mod.ts";
import { startCounters, verifyCounters } from "./counters.ts";

const CLIENTS = 20;
const COUNTERS = 4;

/** Waits until Pylon has applied everything it logged and no write waits for a reply. */
export async function waitDrained(pylon: PylonProcess): Promise<void> {
  await waitFor("Pylon to apply everything it logged", async () => {
    const info = await pylon.call("PYLON", "INFO");
    const lag = /partition_0_lag_ops:(\d+)/.exec(info)?.[1];
    const waiting = /writes_waiting:(\d+)/.exec(info)?.[1];
    const end = Number(/partition_0_log_end:(\d+)/.exec(info)?.[1]);
    const applied = Number(/partition_0_applied:(\d+)/.exec(info)?.[1]);
    return lag === "0" && waiting === "0" && end === applied ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 });
}

Deno.test("20 clients' INCRs are applied exactly once across a Pylon kill -9, a Redis restart and a failover", async () => {
  await using kafka = await useKafka();
  // down-after 5 s: the master restart below must not look like a failure to Sentinel.
  await using rack = await startRack({ redis: { appendonly: "everysec" }, downAfterMs: 5_000 });
  const args = [
    "--log",
    `kafka://${kafka.brokers.join(",")}/${uniqueTopic("counter")}`,
    "--write-timeout-ms",
    "20000",
  ];
  await using pylon = await startPylon({
    redis: { sentinels: rack.sentinelList, master: rack.masterName },
    args,
  });
  const load = startCounters(pylon.port, CLIENTS, COUNTERS);
  const progress = async (what: string, more: number) => {
    const target = load.acked() + more;
    await waitFor(what, () => load.acked() >= target ? true : undefined, {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
  };
  try {
    await progress("writes to flow", 300);
    await pylon.kill();
    await pylon.restart();
    await progress("writes to flow after Pylon's restart", 300);

    const master = await rack.master();
    await master.kill();
    await master.restart();
    await progress("writes to flow after Redis restarted from its AOF", 300);

    await rack.failover();
    await progress("writes to flow after the failover", 300);
  } finally {
    await load.stop();
  }
  await waitDrained(pylon);
  const master = await rack.master();
  const values = await Promise.all(
    Array.from(
      { length: COUNTERS },
      async (_, k) => Number(await master.call("GET", `counter:${k}`)),
    ),
  );
  const summary = verifyCounters(values, load.tally);
  console.log(summary.join("\n"));
  const inDoubt = load.tally.inDoubt.reduce((a, b) => a + b, 0);
  assert.ok(load.acked() >= 1_200, `acknowledged ${load.acked()}`);
  assert.ok(
    inDoubt <= CLIENTS * 3,
    `in doubt ${inDoubt}: only requests in flight at a fault may be`,
  );
});

Deno.test("a second applier racing the first never applies an op twice", async () => {
  await using kafka = await useKafka();
  await using rack = await startRack();
  const redis = { sentinels: rack.sentinelList, master: rack.masterName };
  const log = `kafka://${kafka.brokers.join(",")}/${uniqueTopic("race")}`;
  await using first = await startPylon({ redis, args: ["--log", log, "--node-id", "first"] });
  await using second = await startPylon({ redis, args: ["--log", log, "--node-id", "second"] });
  const load = startCounters(first.port, CLIENTS, COUNTERS);
  try {
    await waitFor("both appliers to apply ops", async () => {
      const applied = await Promise.all([first, second].map(async (p) => {
        const info = await p.call("PYLON", "INFO");
        return Number(/partition_0_applied_ops:(\d+)/.exec(info)?.[1] ?? 0);
      }));
      return applied.every((n) => n >= 200) && load.acked() >= 2_000 ? true : undefined;
    }, { timeoutMs: 90_000, intervalMs: 200 });
  } finally {
    await load.stop();
  }
  await waitDrained(first);
  await waitDrained(second);
  const master = await rack.master();
  const values = await Promise.all(
    Array.from(
      { length: COUNTERS },
      async (_, k) => Number(await master.call("GET", `counter:${k}`)),
    ),
  );
  console.log(verifyCounters(values, load.tally).join("\n"));
  for (const p of [first, second]) {
    console.log((await p.call("PYLON", "INFO")).match(/partition_0_applied_ops:\d+/)?.[0]);
  }
});
