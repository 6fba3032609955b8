import assert from "node:assert/strict";
import client from "prom-client";
import { LatencyHistogram, turnNow } from "./latency_histogram.ts";

Deno.test("LatencyHistogram prints cumulative buckets, sum and count in prom-client's text format", async () => {
  const registry = new client.Registry();
  const histogram = new LatencyHistogram(
    { name: "t_seconds", help: "a test", label: "stage", buckets: [0.001, 0.01] },
    registry,
  );
  const logged = histogram.labels("logged");
  logged.observe(0.0005);
  logged.observe(0.001); // on a bound: counted in it, as Prometheus's `le` says
  logged.observe(0.005);
  logged.observe(3);
  histogram.labels("answered").observe(0.02);
  const text = await registry.metrics();
  const lines = text.trim().split("\n");
  assert.deepEqual(lines, [
    "# HELP t_seconds a test",
    "# TYPE t_seconds histogram",
    't_seconds_bucket{stage="logged",le="0.001"} 2',
    't_seconds_bucket{stage="logged",le="0.01"} 3',
    't_seconds_bucket{stage="logged",le="+Inf"} 4',
    't_seconds_sum{stage="logged"} 3.0065',
    't_seconds_count{stage="logged"} 4',
    't_seconds_bucket{stage="answered",le="0.001"} 0',
    't_seconds_bucket{stage="answered",le="0.01"} 0',
    't_seconds_bucket{stage="answered",le="+Inf"} 1',
    't_seconds_sum{stage="answered"} 0.02',
    't_seconds_count{stage="answered"} 1',
  ]);
});

Deno.test("LatencyHistogram without a label prints plain series", async () => {
  const registry = new client.Registry();
  const histogram = new LatencyHistogram({ name: "u_seconds", help: "h", buckets: [1] }, registry);
  histogram.observe(2);
  assert.match(await registry.metrics(), /^u_seconds_bucket\{le="1"\} 0$/m);
  assert.match(await registry.metrics(), /^u_seconds_count 1$/m);
});

Deno.test("turnNow is one reading per turn of the event loop", async () => {
  const first = turnNow();
  const busyUntil = performance.now() + 2;
  while (performance.now() < busyUntil) { /* same turn */ }
  assert.equal(turnNow(), first);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(turnNow() > first);
});
