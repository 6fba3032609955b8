/**
 * Building and describing Raft messages: one constructor that fills the
 * fields a message type does not use, and a one-line description used by
 * test transcripts and simulation traces.
 */

import type { Entry, Message } from "./types.ts";

/** The fields every message names; the rest default to zero, empty or false. */
export type MessageInit = Pick<Message, "type" | "from" | "to" | "term"> & Partial<Message>;

/** A complete message from the fields that matter to its type. */
export function newMessage(init: MessageInit): Message {
  return {
    type: init.type,
    from: init.from,
    to: init.to,
    term: init.term,
    index: init.index ?? 0,
    logTerm: init.logTerm ?? 0,
    entries: init.entries ?? [],
    commit: init.commit ?? 0,
    reject: init.reject ?? false,
    rejectHint: init.rejectHint ?? 0,
    snapshot: init.snapshot,
    transfer: init.transfer ?? false,
  };
}

/** An entry as `term/index`, marked when it is a conf entry or the leader's no-op. */
export function describeEntry(entry: Entry): string {
  const at = `${entry.term}/${entry.index}`;
  if (entry.type === "conf") return `${at} conf`;
  return entry.data.length === 0 ? `${at} noop` : at;
}

/** A message on one line, e.g. `n1->n2 append term=2 prev=1/3 commit=3 entries=[2/4]`. */
export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "preVote":
    case "vote":
      return `${head} last=${m.logTerm}/${m.index}${m.transfer ? " transfer" : ""}`;
    case "preVoteResponse":
    case "voteResponse":
      return `${head} ${m.reject ? "rejected" : "granted"}`;
    case "append":
      return `${head} prev=${m.logTerm}/${m.index} commit=${m.commit} entries=[${
        m.entries.map(describeEntry).join(", ")
      }]`;
    case "appendResponse":
      return m.reject
        ? `${head} rejected index=${m.index} hint=${m.logTerm}/${m.rejectHint}`
        : `${head} index=${m.index}`;
    case "heartbeat":
      return `${head} commit=${m.commit}`;
    case "snapshot":
      return `${head} snapshot=${m.snapshot?.term ?? 0}/${m.snapshot?.index ?? 0}`;
    case "heartbeatResponse":
    case "timeoutNow":
      return head;
  }
}
