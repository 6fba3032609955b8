/**
 * The world's contract for a rack's Redis: the settings that would make an
 * op's outcome depend on the rack that applies it. Every rack applies the
 * same ops; they end equal only if their Redis answer them alike. The
 * contract is recorded once with the world (the world group's state, shown
 * by `PYLON WORLD`), from the first rack that reports its Redis, and each
 * rack's applier checks its own Redis against it when it connects and every
 * few seconds after; a Redis that does not meet it is never applied to (the
 * applier pauses, naming the setting, its value and the world's). Rack
 * administration through Pylon cannot change these settings
 * (src/auth/rack_admin.ts).
 *
 * What it holds, and why each changes an outcome:
 * - the Redis version floor: ops use only the syntax of the commands Pylon's
 *   table describes; an older Redis refuses some of them (a rolling upgrade
 *   from 6.2 would apply `PEXPIREAT .. NX` on one rack and refuse it on another);
 * - every command of that table present (not renamed, not disabled);
 * - `maxmemory-policy noeviction`: an evicting Redis deletes keys by itself, on
 *   its rack only (out of memory is a rack condition: the applier pauses);
 * - one value world-wide for `databases` and the metadata db (`SELECT`, `MOVE`,
 *   `COPY .. DB` are checked against it before logging);
 * - one value world-wide for the limits and encodings an outcome depends on:
 *   `proto-max-bulk-len` (`SETRANGE`/`APPEND` past it fail), `sanitize-dump-payload`
 *   (`RESTORE` of a payload that fails the deep check), `stream-node-max-entries`
 *   and `stream-node-max-bytes` (`XTRIM`/`XADD` with `~` trim whole nodes),
 *   `hll-sparse-max-bytes` (the bytes of a HyperLogLog key, read by `GET`).
 *
 * Settings that change no outcome are left out: encodings of the other types
 * (the determinism wrapper sorts what scripts read of hash tables), `hz` and
 * active expiry (expiry is applied in log order), `lua-time-limit` (a script
 * op is bounded by Pylon's own budget), `maxmemory` (a rack condition).
 */

/** The lowest Redis version whose commands Pylon's table describes (src/command/table.ts). */
export const REDIS_VERSION_FLOOR = "7.0.0";

/** Settings that must hold one value on every rack. */
export const SAME_EVERYWHERE = [
  "databases",
  "proto-max-bulk-len",
  "sanitize-dump-payload",
  "stream-node-max-entries",
  "stream-node-max-bytes",
  "hll-sparse-max-bytes",
] as const;

/** A setting of {@linkcode SAME_EVERYWHERE}. */
export type SharedSetting = typeof SAME_EVERYWHERE[number];

/** The only eviction policy a rack may run. */
export const EVICTION_POLICY = "noeviction";

/** The contract as the world records it. */
export interface RackContract {
  /** `major.minor.patch`: a rack's Redis must be at least this. */
  redisVersionFloor: string;
  /** The db of every rack's Redis that holds Pylon's metadata. */
  metaDb: number;
  /** Each of {@linkcode SAME_EVERYWHERE}, as `CONFIG GET` answers it. */
  settings: Record<SharedSetting, string>;
}

/** What a rack's Redis reports of itself (src/redis/rack_settings.ts reads it). */
export interface RackSettings {
  redisVersion: string;
  /**
   * `CONFIG GET` values by name, for the shared settings and `maxmemory-policy`;
   * undefined when the Redis refuses `CONFIG` (renamed, as managed services do).
   */
  config: Record<string, string> | undefined;
  /** Commands of Pylon's table this Redis does not have (renamed or disabled), when read. */
  missingCommands?: string[];
}

/** One way a rack's Redis breaks the contract. */
export interface Violation {
  setting: string;
  value: string;
  world: string;
}

/**
 * The contract a world founded by a rack with `settings` and `metaDb`
 * records; undefined when that rack's Redis does not show its settings.
 */
export function contractFrom(settings: RackSettings, metaDb: number): RackContract | undefined {
  const config = settings.config;
  if (config === undefined) return undefined;
  const shared = {} as Record<SharedSetting, string>;
  for (const name of SAME_EVERYWHERE) shared[name] = normalized(name, config[name] ?? "");
  return { redisVersionFloor: REDIS_VERSION_FLOOR, metaDb, settings: shared };
}

/** How a rack's Redis with `settings`, keeping Pylon's metadata in `metaDb`, breaks `contract`. */
export function judgeRack(
  contract: RackContract,
  settings: RackSettings,
  metaDb: number,
): Violation[] {
  const violations: Violation[] = [];
  if (compareVersions(settings.redisVersion, contract.redisVersionFloor) < 0) {
    violations.push({
      setting: "redis_version",
      value: settings.redisVersion,
      world: `${contract.redisVersionFloor} or later`,
    });
  }
  const config = settings.config;
  // Settings a Redis does not show cannot be judged: the applier says so (unverified).
  if (config !== undefined) {
    const policy = config["maxmemory-policy"] ?? "";
    if (policy !== EVICTION_POLICY) {
      violations.push({ setting: "maxmemory-policy", value: policy, world: EVICTION_POLICY });
    }
    for (const name of SAME_EVERYWHERE) {
      const value = normalized(name, config[name] ?? "");
      if (value !== contract.settings[name]) {
        violations.push({ setting: name, value, world: contract.settings[name] });
      }
    }
  }
  if (metaDb !== contract.metaDb) {
    violations.push({
      setting: "metadata db",
      value: String(metaDb),
      world: String(contract.metaDb),
    });
  }
  const missing = settings.missingCommands ?? [];
  if (missing.length > 0) {
    violations.push({
      setting: "commands",
      value: `${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""} missing`,
      world: "every command Pylon's table describes (none renamed or disabled)",
    });
  }
  return violations;
}

/** The text of a refusal: each setting, its value here and the world's. */
export function describeViolations(violations: readonly Violation[]): string {
  return "this rack's Redis does not meet the world's contract: " +
    violations.map((v) => `${v.setting} is '${v.value}', the world's is '${v.world}'`).join("; ");
}

/** `yes` and `clients` both sanitize what clients (the applier is one) restore. */
function normalized(name: string, value: string): string {
  if (name === "sanitize-dump-payload") return value === "no" ? "no" : "yes";
  return value;
}

/** Compares `a.b.c` versions numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0 && Number.isFinite(d)) return Math.sign(d);
  }
  return 0;
}

/** Whether `value` is a contract as encoded in the world's state. */
export function isRackContract(value: unknown): value is RackContract {
  const c = value as RackContract;
  return typeof c === "object" && c !== null && typeof c.redisVersionFloor === "string" &&
    typeof c.metaDb === "number" && typeof c.settings === "object" && c.settings !== null &&
    SAME_EVERYWHERE.every((name) => typeof c.settings[name] === "string");
}
