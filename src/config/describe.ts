/** One-line descriptions of where a node's Redis and op log are, for its logs (never a password). */

import { describe } from "../net/address.ts";
import type { RedisAccess } from "../redis/access.ts";
import type { LogTarget, RedisTarget } from "./types.ts";

/** A one-line description of where the rack's Redis is (never its password). */
export function describeRedis(target: RedisTarget): string {
  const user = (access: RedisAccess) =>
    access.password === undefined ? "" : `${access.username ?? ""}:***@`;
  return target.kind === "direct"
    ? `redis${target.access.tls === undefined ? "" : "s"}://${
      user(target.access)
    }${target.host}:${target.port}`
    : `sentinel ${target.sentinelAccess.tls === undefined ? "" : "(tls) "}${
      target.sentinels.map(describe).join(",")
    } master '${target.master}'`;
}

/** A one-line description of the op log. */
export function describeLog(target: LogTarget): string {
  return target.kind === "local"
    ? `local:${target.dir}`
    : `kafka://${target.brokers.map(describe).join(",")}/${target.topic}`;
}
