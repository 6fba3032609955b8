/**
 * A node's identity, kept in its data folder (`node.json`) the way Kafka keeps
 * `meta.properties`: its id, its rack, the log it belongs to and where in the
 * rack's Redis its metadata lives. The first start writes it; every later
 * start reads it, fills in what the flags left out, and refuses flags that
 * contradict it, naming both values and the way forward. So a node restarted
 * on another port is still the same node (same Raft identity, same rack
 * leadership), and a data folder is never reused by a node of another world.
 */

import { join } from "node:path";
import { writeFileAtomic } from "../storage/files.ts";

/** The file in the data folder. */
export const IDENTITY_FILE = "node.json";
const LOCK_FILE = "node.lock";

const FORMAT = "pylon-node";
const VERSION = 1;

/** What a data folder records about its node. */
export interface NodeIdentity {
  nodeId: string;
  rack: string;
  /** The log's id ({@linkcode OpLog.id}). */
  logId: string;
  /** The log as configured at the first start, for messages. */
  log: string;
  /** The Redis db holding Pylon's metadata in the rack's Redis. */
  metaDb: number;
}

/** A start that contradicts what the data folder records, or a folder that cannot be read. */
export class IdentityError extends Error {
  override name = "IdentityError";
}

/**
 * Takes the data folder for this process (an flock held until it exits or
 * {@linkcode Deno.FsFile.close}): two nodes on one folder would share one
 * identity and one Raft log.
 */
export async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dataDir, { recursive: true });
  const file = await Deno.open(join(dataDir, LOCK_FILE), { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new IdentityError(
      `The data folder ${dataDir} is in use by another Pylon process. Stop that one, or give ` +
        `this node a --data-dir of its own.`,
    );
  }
  return file;
}

/** Reads the identity a data folder records; undefined for a new folder. */
export async function readNodeIdentity(dataDir: string): Promise<NodeIdentity | undefined> {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new IdentityError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new IdentityError(`${path} is not valid JSON (${(error as Error).message})`);
  }
  if (data.format !== FORMAT || data.version !== VERSION) {
    throw new IdentityError(
      `${path} is not a Pylon node identity of version ${VERSION} (format '${data.format}', ` +
        `version '${data.version}')`,
    );
  }
  const { nodeId, rack, logId, log, metaDb } = data;
  if (
    typeof nodeId !== "string" || typeof rack !== "string" || typeof logId !== "string" ||
    typeof log !== "string" || typeof metaDb !== "number" || !Number.isInteger(metaDb)
  ) {
    throw new IdentityError(`${path} is damaged: a field is missing or of the wrong type`);
  }
  return { nodeId, rack, logId, log, metaDb };
}

/** Records `identity` in the data folder (whole or not at all). */
export async function writeNodeIdentity(dataDir: string, identity: NodeIdentity): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true });
  const record = { format: FORMAT, version: VERSION, ...identity };
  await writeFileAtomic(
    dataDir,
    IDENTITY_FILE,
    new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n"),
  );
}

/** What the flags say about identity (undefined: not given). */
export interface GivenIdentity {
  nodeId: string | undefined;
  rack: string | undefined;
  metaDb: number | undefined;
}

/** Node id and rack for this start, from the flags and what the folder records. */
export function chooseNameAndRack(
  given: GivenIdentity,
  recorded: NodeIdentity | undefined,
  dataDir: string,
  newNodeId: () => string,
): { nodeId: string; rack: string } {
  if (recorded === undefined) {
    return { nodeId: given.nodeId ?? newNodeId(), rack: given.rack ?? "default" };
  }
  const where = join(dataDir, IDENTITY_FILE);
  if (given.nodeId !== undefined && given.nodeId !== recorded.nodeId) {
    throw new IdentityError(
      `The data folder belongs to node '${recorded.nodeId}' (recorded in ${where}), but this ` +
        `start names node '${given.nodeId}' (--node-id). Start with --node-id ` +
        `${recorded.nodeId} (or leave it out), or give another --data-dir for a new node.`,
    );
  }
  if (given.rack !== undefined && given.rack !== recorded.rack) {
    throw new IdentityError(
      `Node '${recorded.nodeId}' belongs to rack '${recorded.rack}' (recorded in ${where}), but ` +
        `this start names rack '${given.rack}' (--rack). A node cannot change racks: start with ` +
        `--rack ${recorded.rack} (or leave it out), or give another --data-dir for a new node.`,
    );
  }
  if (given.metaDb !== undefined && given.metaDb !== recorded.metaDb) {
    throw new IdentityError(
      `Node '${recorded.nodeId}' keeps Pylon's metadata in db ${recorded.metaDb} of its rack's ` +
        `Redis (recorded in ${where}), but this start names --meta-db ${given.metaDb}. The ` +
        `metadata does not move: start with --meta-db ${recorded.metaDb} (or leave it out).`,
    );
  }
  return { nodeId: recorded.nodeId, rack: recorded.rack };
}

/** Refuses a log other than the one the folder records. */
export function checkLog(
  recorded: NodeIdentity | undefined,
  logId: string,
  log: string,
  dataDir: string,
): void {
  if (recorded === undefined || recorded.logId === logId) return;
  throw new IdentityError(
    `Node '${recorded.nodeId}' belongs to the log ${recorded.logId} (${recorded.log}, recorded in ` +
      `${join(dataDir, IDENTITY_FILE)}), but --log ${log} is the log ${logId}. Give the node ` +
      `its own log again, or another --data-dir for a node of this log.`,
  );
}

/** A new node's default id: the host's name and a random suffix, not tied to any port. */
export function newNodeId(hostname: string, random: Uint8Array): string {
  const host = hostname.replace(/[^A-Za-z0-9.-]/g, "-").slice(0, 48) || "pylon";
  const suffix = [...random.slice(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${host}-${suffix}`;
}
