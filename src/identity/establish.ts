/**
 * Who this node is, settled at start before anything is served or applied:
 * node id and rack (flags, else the data folder's record, else new), the log
 * (must be the recorded one), and the db of the rack's Redis that holds
 * Pylon's metadata (flag, else recorded, else the last db as Redis reports it
 * now — which needs Redis, so a first start waits for it). The rack's Redis
 * is checked against its marker when it can be reached; the applier checks it
 * again at every (re)connection, and claims it when it is empty.
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { describeLog } from "../config/describe.ts";
import type { OpLog } from "../log/op_log.ts";
import { RedisClient, ReplyError, replyText } from "../redis/client.ts";
import { describe } from "../net/address.ts";
import type { Upstream } from "../redis/upstream.ts";
import { PipelineConnection } from "../redis/pipeline_connection.ts";
import {
  checkLog,
  chooseNameAndRack,
  IdentityError,
  lockDataDir,
  newNodeId,
  type NodeIdentity,
  readNodeIdentity,
  writeNodeIdentity,
} from "./node_identity.ts";
import { checkRackRedis, LAYOUT_VERSION, type RackMarker } from "./rack_marker.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";
import { trimmed } from "../rebuild/judge.ts";

const log = getLogger(["pylon", "identity"]);

/** Node id and rack, settled before the log is opened (the log's client id names the node). */
export interface Naming {
  nodeId: string;
  rack: string;
  recorded: NodeIdentity | undefined;
  /** The data folder's lock, held while the node runs. */
  lock: Deno.FsFile;
}

/** Takes the data folder, reads its record and settles this node's id and rack. */
export async function settleNaming(config: Config, hostname: string): Promise<Naming> {
  const lock = await lockDataDir(config.dataDir);
  try {
    const recorded = await readNodeIdentity(config.dataDir);
    const { nodeId, rack } = chooseNameAndRack(
      config,
      recorded,
      config.dataDir,
      () => newNodeId(hostname, crypto.getRandomValues(new Uint8Array(4))),
    );
    return { nodeId, rack, recorded, lock };
  } catch (error) {
    lock.close();
    throw error;
  }
}

/** The marker this node expects in its rack's Redis. */
export function markerFor(opLog: OpLog): RackMarker {
  return { layout: LAYOUT_VERSION, log: opLog.id };
}

/** Delays between attempts to ask the rack's Redis how many dbs it has (a first start waits for it). */
const META_DB_RETRY = backoffSchedule("learning the metadata db", [100, 200, 500, 1_000, 2_000]);

/**
 * Settles the rest of the identity once the log is open: checks the log is
 * the recorded one, settles the metadata db, checks the rack's Redis (when it
 * can be reached) and records the identity on a first start.
 */
export async function settleIdentity(
  config: Config,
  naming: Naming,
  opLog: OpLog,
  upstream: Upstream,
  signal: AbortSignal,
): Promise<NodeIdentity> {
  const { recorded } = naming;
  checkLog(recorded, opLog.id, describeLog(config.log), config.dataDir);
  const metaDb = config.metaDb ?? recorded?.metaDb ?? await learnMetaDb(upstream, signal);
  const identity: NodeIdentity = {
    nodeId: naming.nodeId,
    rack: naming.rack,
    logId: opLog.id,
    log: describeLog(config.log),
    metaDb,
  };
  await checkReachableRedis(upstream, markerFor(opLog), metaDb, opLog);
  if (recorded === undefined) {
    await writeNodeIdentity(config.dataDir, identity);
    log.info("recorded node {nodeId} of rack {rack} (log {logId}, metadata in db {metaDb})", {
      ...identity,
    });
  }
  return identity;
}

/**
 * The last db of the rack's Redis, from `CONFIG GET databases`. Waits for
 * Redis as long as it takes (a first start cannot know without it); a Redis
 * that refuses `CONFIG` (renamed, as managed services do) is refused: the
 * operator must say where the metadata goes.
 */
async function learnMetaDb(upstream: Upstream, signal: AbortSignal): Promise<number> {
  const backoff = new Backoff(META_DB_RETRY);
  let reported = "";
  while (true) {
    signal.throwIfAborted();
    const address = upstream.address;
    let failure: string;
    if (address === undefined) {
      failure = "no Redis master known yet";
    } else {
      let client: RedisClient | undefined;
      try {
        client = await upstream.connectClient(address, {
          connectTimeoutMs: 2_000,
          callTimeoutMs: 5_000,
        });
        const reply = await client.command("CONFIG", "GET", "databases");
        const value = reply.type === "array" ? reply.value?.[1] : undefined;
        const count = value === undefined ? NaN : Number(replyText(value));
        if (!Number.isInteger(count) || count < 1) {
          throw new IdentityError(
            `Redis at ${describe(address)} answered CONFIG GET databases with ` +
              `no number; give --meta-db <n> to say where Pylon's metadata goes`,
          );
        }
        return count - 1;
      } catch (error) {
        if (error instanceof IdentityError) throw error;
        if (error instanceof ReplyError) {
          throw new IdentityError(
            `Redis at ${describe(address)} refuses CONFIG GET databases (${error.message}), so ` +
              `Pylon cannot tell which db is the last: give --meta-db <n> (a db only Pylon uses)`,
          );
        }
        failure = `${describe(address)}: ${(error as Error).message}`;
      } finally {
        client?.close();
      }
    }
    if (failure !== reported) {
      log.warning(
        "waiting for the rack's Redis to decide where Pylon's metadata goes ({failure}); " +
          "--meta-db lets a first start go on without it",
        { failure },
      );
      reported = failure;
    }
    const delay = backoff.next()!;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/**
 * Checks the marker of the rack's Redis now if it answers; the applier checks
 * it again. Data without a marker is refused here only while the log still
 * holds every op: past that, the rack is rebuilt from a peer instead
 * (src/rebuild/judge.ts).
 */
async function checkReachableRedis(
  upstream: Upstream,
  marker: RackMarker,
  metaDb: number,
  opLog: OpLog,
): Promise<void> {
  const address = upstream.address;
  if (address === undefined) return;
  let connection: PipelineConnection | undefined;
  try {
    connection = await upstream.connectPipeline(address);
  } catch (error) {
    log.info("the rack's Redis at {address} is not reachable yet ({error}); checked later", {
      address: describe(address),
      error: (error as Error).message,
    });
    return;
  }
  try {
    const found = await checkRackRedis(connection, marker, metaDb, describe(address), {
      claim: false,
      unmarked: "report",
    });
    if (found.kind === "unmarked") {
      const bounds = await Promise.all(
        Array.from({ length: opLog.partitions }, (_, p) => opLog.bounds(p)),
      );
      if (!trimmed(bounds)) throw new IdentityError(found.reason);
      log.warning("the rack's Redis at {address}: {reason}; it will be rebuilt from a peer", {
        address: describe(address),
        reason: found.reason,
      });
    }
  } finally {
    connection.close();
  }
}
