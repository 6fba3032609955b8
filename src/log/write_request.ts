/**
 * A write as the parts that accept them see it (the gateway's router, the
 * peer service for writes forwarded from other racks), and the one thing they
 * need of the write path: submit it and get its reply. Defined here, below the
 * write path (src/write/), so those parts depend on this interface only.
 */

import type { CommandSpec } from "../command/mod.ts";
import type { Protocol } from "../resp/value.ts";
import type { Placement } from "./op_log.ts";

/** One command of a write, as the gateway routed it. */
export interface WriteCommand {
  argv: Uint8Array[];
  command: CommandSpec;
  reply: "constant" | "data";
}

/** A write to submit: one command, or a client transaction. */
export interface WriteRequest {
  commands: WriteCommand[];
  /** A client transaction (MULTI .. EXEC): one op, one array reply. */
  transaction: boolean;
  db: number;
  protocol: Protocol;
  /**
   * A transaction's WATCH: the keys, the db they were watched in, and per
   * partition the position the client's rack had applied then.
   */
  watch?: {
    db: number;
    keys: Uint8Array[];
    from: readonly (number | undefined)[];
    /** When the keys were watched, and each key's expiry then (src/log/op.ts, OpWatch). */
    expiries?: { watchedAtMs: number; at: (number | undefined)[] };
  };
  /** Linearizable: answered once a quorum of racks applied it (src/write/answer_policy.ts). */
  strong?: boolean;
  /**
   * Called once the write is handed to the log (in the order of the log's
   * appends) or answered without it: a connection holds its later writes
   * until then when this one is handed over late (a watch checked first).
   */
  handedOver?: () => void;
  /** Told the op's id when this node logs it (a blocking pop's try: its claim's name). */
  opId?: (id: string) => void;
}

/** What accepts writes: the write path. */
export interface WriteSubmitter {
  /**
   * Submits one write; `reply` is called exactly once with the bytes for the
   * client. Resolves once the write is settled, with where the log put it
   * when the log said so.
   */
  submit(request: WriteRequest, reply: (bytes: Uint8Array) => void): Promise<Placement | undefined>;
}
