/**
 * `deno task chaos`: runs the chaos suite from the command line.
 *
 *   deno task chaos [--seed n] [--duration s] [--brokers 1|3] [--ack apply|log]
 *                   [--clients n] [--time-clients n] [--queue-clients n] [--faults a,b,..] [--in-turn]
 *                   [--runs n] [--history file]
 *
 * Each run prints its seed, what the nemesis did, the checker's figures and
 * any anomaly, and the history file; `--seed` replays a run's schedule. With
 * `--runs n` the runs follow one another with seeds seed, seed+1, ...; the
 * exit status is 1 if any run found an anomaly. `--time-clients` adds clients
 * of keys with expiries, streams, SPOP and scripts (tests/chaos/time_clients.ts),
 * `--queue-clients` producers and blocking consumers (tests/chaos/queue_clients.ts);
 * `--in-turn` takes the faults in the order given instead of at random.
 */

import { parseArgs } from "node:util";
import { provision } from "../harness/provision.ts";
import { type Fault, FAULTS } from "./nemesis.ts";
import { runChaos } from "./run.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    duration: { type: "string", default: "60" },
    brokers: { type: "string", default: "1" },
    ack: { type: "string", default: "apply" },
    clients: { type: "string", default: "12" },
    "time-clients": { type: "string", default: "4" },
    "queue-clients": { type: "string", default: "8" },
    faults: { type: "string", default: FAULTS.join(",") },
    "in-turn": { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
    history: { type: "string" },
  },
});
const v = args.values;
const faults = v.faults!.split(",").map((f) => f.trim()) as Fault[];
for (const f of faults) {
  if (!(FAULTS as readonly string[]).includes(f)) {
    console.error(`chaos: unknown fault '${f}' (known: ${FAULTS.join(", ")})`);
    Deno.exit(2);
  }
}
if (v.brokers !== "1" && v.brokers !== "3") {
  console.error("chaos: --brokers is 1 or 3");
  Deno.exit(2);
}
if (v.ack !== "apply" && v.ack !== "log") {
  console.error("chaos: --ack is apply or log");
  Deno.exit(2);
}
await provision(["redis", "kafka", ...(faults.includes("redis-version") ? ["redis-6.2"] : [])]);
const first = v.seed === undefined
  ? crypto.getRandomValues(new Uint32Array(1))[0]!
  : Number(v.seed);
let failed = 0;
for (let i = 0; i < Number(v.runs); i++) {
  const result = await runChaos({
    seed: first + i,
    durationMs: Number(v.duration) * 1000,
    brokers: Number(v.brokers) as 1 | 3,
    ackLog: v.ack === "log",
    clients: Number(v.clients),
    timeClients: Number(v["time-clients"]),
    queueClients: Number(v["queue-clients"]),
    faults,
    inTurn: v["in-turn"] === true,
    ...(v.history === undefined ? {} : { historyPath: v.history }),
  });
  console.log(result.summary);
  if (!result.ok) failed++;
}
Deno.exit(failed === 0 ? 0 : 1);
