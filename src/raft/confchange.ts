/**
 * Membership changes: their encoding in conf entries, their effect on a
 * {@linkcode ConfState}, and which changes the leader accepts.
 *
 * Each change sets the role of one node (voter, learner, or gone), so
 * applying a sequence of changes is idempotent over any prefix of itself:
 * replaying conf entries on top of a membership that already includes some of
 * them gives the same result. The core relies on that after a restart.
 *
 * A new group starts from conf entries too: {@linkcode bootstrapEntries}
 * begin the log of every initial member, so a node that joins later with an
 * empty log learns the whole membership history from the log (or from a
 * snapshot) — never from configuration it was started with.
 *
 * Encoding of a conf entry's data: one byte for the type (1 addVoter,
 * 2 addLearner, 3 removeNode), then the node id in UTF-8.
 */

import type { ConfChange, ConfState, Entry, NodeId } from "./types.ts";

const TYPE_CODES: Record<ConfChange["type"], number> = {
  addVoter: 1,
  addLearner: 2,
  removeNode: 3,
};
const CODE_TYPES: readonly (ConfChange["type"] | undefined)[] = [
  undefined,
  "addVoter",
  "addLearner",
  "removeNode",
];
/** The longest node id a conf entry carries, in UTF-8 bytes. */
export const NODE_ID_BYTES_MAX = 255;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A conf entry's data. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const id = encoder.encode(change.node);
  if (id.length === 0 || id.length > NODE_ID_BYTES_MAX) {
    throw new RangeError(`Node id "${change.node}" must be 1 to ${NODE_ID_BYTES_MAX} bytes`);
  }
  const out = new Uint8Array(1 + id.length);
  out[0] = TYPE_CODES[change.type];
  out.set(id, 1);
  return out;
}

/** The change a conf entry's data encodes; throws on anything else. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const type = CODE_TYPES[data[0] ?? 0];
  if (type === undefined || data.length < 2 || data.length > 1 + NODE_ID_BYTES_MAX) {
    throw new RangeError(`Conf entry data of ${data.length} bytes does not decode`);
  }
  return { type, node: decoder.decode(data.subarray(1)) };
}

/** True when `id` votes in `conf`. */
export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

/** True when `id` is a learner in `conf`. */
export function isLearner(conf: ConfState, id: NodeId): boolean {
  return conf.learners.includes(id);
}

/** A copy of `conf`. */
export function copyConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

/** `conf` after `change` (a new object; `conf` is left alone). */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== change.node);
  const learners = conf.learners.filter((id) => id !== change.node);
  if (change.type === "addVoter") voters.push(change.node);
  else if (change.type === "addLearner") learners.push(change.node);
  return { voters, learners };
}

/**
 * Why a leader with membership `conf` refuses `change`, or undefined when it
 * accepts it. Every accepted change adds or removes at most one voter, so the
 * majorities of the old and new membership always overlap.
 */
export function refuseConfChange(conf: ConfState, change: ConfChange): string | undefined {
  if (change.node === "") return "the node id is empty";
  const voter = isVoter(conf, change.node);
  const learner = isLearner(conf, change.node);
  switch (change.type) {
    case "addVoter":
      return voter ? `"${change.node}" is already a voter` : undefined;
    case "addLearner":
      if (learner) return `"${change.node}" is already a learner`;
      return voter && conf.voters.length === 1 ? "it would leave no voter" : undefined;
    case "removeNode":
      if (!voter && !learner) return `"${change.node}" is not a member`;
      return voter && conf.voters.length === 1 ? "it would leave no voter" : undefined;
  }
}

/** Term of the bootstrap entries; the first election is for the term after it. */
export const BOOTSTRAP_TERM = 1;

/**
 * The entries that begin the log of every initial member of a new group, all
 * committed: one conf entry per voter, then per learner (term
 * {@linkcode BOOTSTRAP_TERM}, indexes from 1). Each initial member persists
 * them with hard state `{ term: BOOTSTRAP_TERM, vote: "", commit: <their count> }`
 * on a fresh, empty membership; members added later start empty.
 */
export function bootstrapEntries(conf: ConfState): Entry[] {
  if (conf.voters.length === 0) throw new RangeError("A group needs at least one voter");
  const changes: ConfChange[] = [
    ...conf.voters.map((node): ConfChange => ({ type: "addVoter", node })),
    ...conf.learners.map((node): ConfChange => ({ type: "addLearner", node })),
  ];
  return changes.map((change, i) => ({
    index: i + 1,
    term: BOOTSTRAP_TERM,
    type: "conf",
    data: encodeConfChange(change),
  }));
}
