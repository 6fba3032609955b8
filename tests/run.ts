/**
 * The suite runner behind `deno task test`: provisions Redis and Kafka, starts
 * the one Kafka broker the suite shares, runs `deno test`, then stops the
 * broker and kills any server a test left behind (reporting it as a failure).
 *
 * Arguments are passed to `deno test` (e.g. `deno task test tests/smoke/`).
 */

import { join } from "node:path";
import { provision, ProvisionError } from "./harness/provision.ts";
import { SHARED_KAFKA_ENV, startKafka } from "./harness/kafka.ts";
import { TEST_ROOT_ENV } from "./harness/service.ts";

/** The whole suite must end within this, or it is stopped and fails. */
const SUITE_TIMEOUT_MS = 45 * 60_000;

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

async function killLeftovers(root: string): Promise<string[]> {
  const left: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(join(root, "pids"))];
  } catch {
    return left;
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    const name = (await Deno.readTextFile(join(root, "pids", entry.name)).catch(() => "?")).trim();
    try {
      Deno.kill(pid, "SIGKILL");
      left.push(`${name} (pid ${pid})`);
    } catch {
      // already gone
    }
  }
  return left;
}

async function main(): Promise<number> {
  const started = performance.now();
  try {
    await provision(["redis", "kafka", "redis-py", "frameworks", "faketime"]);
  } catch (error) {
    if (error instanceof ProvisionError) {
      console.error(`test: ${error.message}`);
      return 1;
    }
    throw error;
  }
  try {
    // Only the version test and the chaos runs (fault redis-version) need it: if it cannot be
    // built, they fail saying why; the rest run.
    await provision(["redis-6.2"]);
  } catch (error) {
    if (!(error instanceof ProvisionError)) throw error;
    console.error(
      `test: ${error.message} (tests/contract/version_test.ts and tests/chaos/chaos_test.ts will fail)`,
    );
  }
  console.error(`test: provisioning took ${elapsed(started)}`);

  const root = await Deno.makeTempDir({ prefix: "pylon-test-" });
  Deno.env.set(TEST_ROOT_ENV, root);

  const kafkaStarted = performance.now();
  const kafka = await startKafka();
  console.error(
    `test: shared Kafka broker ${kafka.brokers.join(",")} ready in ${elapsed(kafkaStarted)}`,
  );

  let code = 1;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", ...Deno.args],
    env: { [SHARED_KAFKA_ENV]: kafka.brokers.join(","), [TEST_ROOT_ENV]: root },
    stdin: "null",
  }).spawn();
  const onSignal = () => child.kill("SIGTERM");
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const timer = setTimeout(() => {
    console.error(`test: the suite ran past ${SUITE_TIMEOUT_MS / 60_000} minutes; stopping it`);
    child.kill("SIGKILL");
  }, SUITE_TIMEOUT_MS);
  try {
    code = (await child.status).code;
  } finally {
    clearTimeout(timer);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await kafka[Symbol.asyncDispose]();
    const left = await killLeftovers(root);
    if (left.length > 0) {
      console.error(`test: tests left servers running (killed now): ${left.join(", ")}`);
      if (code === 0) code = 1;
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  console.error(`test: suite finished in ${elapsed(started)} with exit code ${code}`);
  return code;
}

Deno.exit(await main());
