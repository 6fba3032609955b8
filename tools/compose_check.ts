/**
 * `deno task compose-check`: builds the image and brings docker-compose.yml's
 * world up with podman-compose (two racks on one Kafka), writes through one
 * rack and reads through the other, restarts the Kafka container, writes
 * again, then checks every acknowledged key in both racks' Redis directly,
 * and tears everything down (containers, volumes, network, image).
 *
 * Needs podman and podman-compose, and the base images the compose file
 * names available locally (nothing is pulled): on these machines, built by
 * the stand-in recipe the README's Containers section points to. Exit 0: every
 * check passed; 1: a check failed; 2: cannot run here.
 */

import { join } from "node:path";

const PROJECT = Deno.env.get("PYLON_COMPOSE_PROJECT") ?? "pyloncheck";
const PASSWORD = "change-me";
const EAST = 6380;
const WEST = 6381;
const KEYS = 200;

const started = performance.now();
const say = (line: string) =>
  console.error(
    `compose-check ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s: ${line}`,
  );

async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; quiet?: boolean } = {},
): Promise<{ ok: boolean; out: string }> {
  const child = new Deno.Command(cmd, {
    args,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
  }).spawn();
  const result = await child.output();
  const out = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  if (!result.success && !options.quiet) {
    say(`${cmd} ${args.join(" ")} failed:\n${out.slice(-2000)}`);
  }
  return { ok: result.success, out };
}

async function redis(port: number, ...args: string[]): Promise<string> {
  const { out } = await run(
    "redis-cli",
    ["-h", "127.0.0.1", "-p", String(port), "-a", PASSWORD, "--no-auth-warning", ...args],
    { timeoutMs: 20_000, quiet: true },
  );
  return out.trim();
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

async function main(): Promise<number> {
  for (const tool of ["podman", "podman-compose", "redis-cli"]) {
    if (!(await run("sh", ["-c", `command -v ${tool}`], { quiet: true })).ok) {
      say(`${tool} is not installed (see the README's Containers section)`);
      return 2;
    }
  }
  for (
    const image of [
      "docker.io/denoland/deno:2.9.6",
      "docker.io/library/redis:7.0",
      "docker.io/apache/kafka:3.9.1",
    ]
  ) {
    if (!(await run("podman", ["image", "exists", image], { quiet: true })).ok) {
      say(`image ${image} is not here and is never pulled (see the README's Containers section)`);
      return 2;
    }
  }
  // A copy of what git tracks, so the build context is exactly the checkout.
  const root = new URL("..", import.meta.url).pathname;
  const copy = await Deno.makeTempDir({ prefix: "pylon-compose-" });
  const files = (await run("git", ["ls-files"], { cwd: root })).out.split("\n").filter((f) => f);
  for (const file of files) {
    await Deno.mkdir(join(copy, file, ".."), { recursive: true });
    await Deno.copyFile(join(root, file), join(copy, file));
  }
  const compose = (args: string[], timeoutMs = 900_000) =>
    run("podman-compose", [
      "-p",
      PROJECT,
      "--podman-build-args=--pull=never",
      "--podman-run-args=--pull=never",
      ...args,
    ], { cwd: copy, timeoutMs });
  let failed = false;
  try {
    say("building the image and starting the world");
    if (!(await compose(["up", "-d", "--build"])).ok) return 1;
    for (const port of [EAST, WEST]) {
      await until(
        `Pylon on ${port} answering`,
        240_000,
        async () => (await redis(port, "PING")) === "PONG" ? true : undefined,
      );
    }
    say("both racks answer; writing through east, reading through west");
    const acknowledged: string[] = [];
    const write = async (port: number, prefix: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const key = `${prefix}:${i}`;
        if ((await redis(port, "SET", key, key)) === "OK") acknowledged.push(key);
      }
    };
    const visible = async (port: number, keys: string[]) => {
      await until(`${keys.length} keys visible through ${port}`, 120_000, async () => {
        for (const key of keys) if ((await redis(port, "GET", key)) !== key) return undefined;
        return true;
      });
    };
    await write(EAST, "east", KEYS);
    await visible(WEST, acknowledged);
    await write(WEST, "west", KEYS / 2);
    await visible(EAST, acknowledged);

    say("restarting the Kafka container");
    if (!(await run("podman", ["restart", `${PROJECT}_kafka_1`], { timeoutMs: 180_000 })).ok) {
      return 1;
    }
    const before = acknowledged.length;
    await until(
      "a write through east after the Kafka restart",
      240_000,
      async () =>
        (await redis(EAST, "SET", "after-restart", "after-restart")) === "OK" ? true : undefined,
    );
    acknowledged.push("after-restart");
    await write(EAST, "again", KEYS / 2);
    say(`${acknowledged.length - before} writes acknowledged after the restart`);
    await visible(WEST, acknowledged);

    // The independent look: each rack's own Redis, inside its container.
    for (const rack of ["east", "west"]) {
      const script = acknowledged.map((k) => `GET ${k}`).join("\n");
      const { out } = await run("podman", [
        "exec",
        `${PROJECT}_redis-${rack}_1`,
        "sh",
        "-c",
        `printf '%s\\n' '${script.replaceAll("\n", "' '")}' | redis-cli`,
      ], { timeoutMs: 60_000 });
      const values = out.trim().split("\n");
      const missing = acknowledged.filter((k, i) => values[i] !== k);
      if (missing.length > 0) {
        say(
          `FAIL: rack ${rack}'s Redis lacks ${missing.length} acknowledged keys, e.g. ${
            missing.slice(0, 3)
          }`,
        );
        failed = true;
      } else say(`rack ${rack}'s Redis holds all ${acknowledged.length} acknowledged keys`);
    }
    return failed ? 1 : 0;
  } catch (error) {
    say(`FAIL: ${error instanceof Error ? error.message : String(error)}`);
    for (const service of ["pylon-east", "pylon-west", "kafka"]) {
      say(
        `--- ${service} log tail ---\n${
          (await run("podman", ["logs", "--tail", "30", `${PROJECT}_${service}_1`], {
            quiet: true,
          })).out
        }`,
      );
    }
    return 1;
  } finally {
    say("tearing down");
    const ids = (await run(
      "podman",
      ["ps", "-aq", "--filter", `label=io.podman.compose.project=${PROJECT}`],
      { quiet: true },
    )).out.split("\n").filter((x) => x);
    // podman-compose's `down -v` leaves the images' anonymous volumes: note them first.
    const anonymous: string[] = [];
    for (const id of ids) {
      const { out } = await run("podman", [
        "inspect",
        "--format",
        '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}',
        id,
      ], { quiet: true });
      anonymous.push(...out.split(/\s+/).filter((name) => /^[0-9a-f]{64}$/.test(name)));
    }
    await compose(["down", "-v"], 300_000);
    for (const id of ids) await run("podman", ["rm", "-f", "-v", id], { quiet: true });
    for (const volume of anonymous) await run("podman", ["volume", "rm", volume], { quiet: true });
    await run("podman", ["network", "rm", `${PROJECT}_default`], { quiet: true });
    await run("podman", [
      "rmi",
      `localhost/${PROJECT}_pylon-east`,
      `localhost/${PROJECT}_pylon-west`,
    ], { quiet: true });
    await Deno.remove(copy, { recursive: true });
    say("done");
  }
}

Deno.exit(await main());
