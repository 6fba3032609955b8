/**
 * A linearizability checker: Wing and Gong's search, with the pruning of
 * Lowe and of Porcupine — a cache of (operations linearized, model state)
 * already tried — run per key, since operations on different keys are
 * independent (P-compositionality).
 *
 * An operation has an invocation and a completion time and an output. One
 * whose outcome is unknown (a timeout, an error after the request may have
 * reached the log) has no completion: it may take effect at any time after
 * its invocation, or never, which is the same as taking effect after every
 * other operation. A read whose outcome is unknown constrains nothing and is
 * left out.
 */

/** A sequential specification: what each operation does to the state. */
export interface Model<State, Input, Output> {
  init(): State;
  /** The next state if `input` can produce `output` in `state` (`output` undefined: unknown). */
  step(state: State, input: Input, output: Output | undefined): State | undefined;
  /** A key equal for equal states (for the search's cache). */
  key(state: State): string;
  /** Whether an operation only reads (one with an unknown output is then dropped). */
  readOnly(input: Input): boolean;
}

/** One operation of a history. */
export interface Operation<Input, Output> {
  client: number;
  input: Input;
  /** Undefined: the outcome is unknown. */
  output: Output | undefined;
  /** Milliseconds, any origin shared by the whole history. */
  call: number;
  /** Infinity when the outcome is unknown. */
  ret: number;
}

/** The verdict on one history. */
export interface Verdict {
  linearizable: boolean;
  /** Operations checked (unknown reads left out). */
  operations: number;
  /** For a history that is not: the longest prefix linearized, and the operations it could not place. */
  stuckAt?: { linearized: number; pending: string[] };
  /** The search gave up (the budget of steps ran out): no verdict. */
  gaveUp?: boolean;
}

interface Entry {
  kind: "call" | "ret";
  op: number;
  time: number;
  prev: Entry | undefined;
  next: Entry | undefined;
  match: Entry | undefined;
}

/** Checks one history (one key's operations) against `model`. */
export function checkHistory<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  budget = 5_000_000,
): Verdict {
  const ops = history.filter((op) => !(op.output === undefined && model.readOnly(op.input)));
  const events: { kind: "call" | "ret"; op: number; time: number }[] = [];
  ops.forEach((op, i) => {
    events.push({ kind: "call", op: i, time: op.call });
    events.push({ kind: "ret", op: i, time: op.output === undefined ? Infinity : op.ret });
  });
  // Ties: calls first, so operations that touch in time count as concurrent (never a false alarm).
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? 0 : a.kind === "call" ? -1 : 1));
  const head: Entry = {
    kind: "call",
    op: -1,
    time: -Infinity,
    prev: undefined,
    next: undefined,
    match: undefined,
  };
  let last = head;
  const calls = new Map<number, Entry>();
  for (const event of events) {
    const entry: Entry = { ...event, prev: last, next: undefined, match: undefined };
    last.next = entry;
    last = entry;
    if (event.kind === "call") calls.set(event.op, entry);
    else {
      const call = calls.get(event.op)!;
      call.match = entry;
      entry.match = call;
    }
  }

  const linearized = new Uint8Array(ops.length);
  const seen = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let best = 0;
  let bestPending: string[] = [];
  let steps = 0;

  const lift = (call: Entry) => {
    call.prev!.next = call.next;
    if (call.next !== undefined) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next !== undefined) ret.next.prev = ret.prev;
  };
  const unlift = (call: Entry) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next !== undefined) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next !== undefined) call.next.prev = call;
  };

  while (head.next !== undefined) {
    if (++steps > budget) return { linearizable: false, operations: ops.length, gaveUp: true };
    if (entry === undefined) throw new Error("the search ran off the history");
    if (entry.kind === "call") {
      const op = ops[entry.op]!;
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        linearized[entry.op] = 1;
        const key = `${linearized.join("")}|${model.key(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          if (stack.length > best) best = stack.length;
          continue;
        }
        linearized[entry.op] = 0;
      }
      entry = entry.next;
      continue;
    }
    // A completion reached: every operation before it must already be placed. Back up.
    if (stack.length === best) {
      bestPending = [];
      for (
        let e: Entry | undefined = head.next;
        e !== undefined && bestPending.length < 8;
        e = e.next
      ) {
        if (e.kind === "call") bestPending.push(JSON.stringify(ops[e.op]).slice(0, 300));
      }
    }
    const top = stack.pop();
    if (top === undefined) {
      return {
        linearizable: false,
        operations: ops.length,
        stuckAt: { linearized: best, pending: bestPending },
      };
    }
    state = top.state;
    linearized[top.entry.op] = 0;
    unlift(top.entry);
    entry = top.entry.next;
  }
  return { linearizable: true, operations: ops.length };
}

// --- Models -------------------------------------------------------------------

/** A register: SET writes a value, GET reads it (null before any write). */
export type RegisterInput = { kind: "write"; value: string } | { kind: "read" };
export const registerModel: Model<string | null, RegisterInput, string | null> = {
  init: () => null,
  step(state, input, output) {
    if (input.kind === "write") return input.value;
    return output === state ? state : undefined;
  },
  key: (state) => state ?? "\u0000nil",
  readOnly: (input) => input.kind === "read",
};

/** A counter: INCR answers the new value, GET reads it (null before the first INCR). */
export type CounterInput = { kind: "incr" } | { kind: "read" };
export const counterModel: Model<number, CounterInput, number | null> = {
  init: () => 0,
  step(state, input, output) {
    if (input.kind === "incr") {
      return output === undefined || output === state + 1 ? state + 1 : undefined;
    }
    return (output === null ? 0 : output) === state ? state : undefined;
  },
  key: (state) => String(state),
  readOnly: (input) => input.kind === "read",
};

/** A set: SADD adds a member (answering 1 if it was new), SMEMBERS reads them all. */
export type SetInput = { kind: "add"; member: string } | { kind: "read" };
export const setModel: Model<readonly string[], SetInput, number | readonly string[]> = {
  init: () => [],
  step(state, input, output) {
    if (input.kind === "add") {
      const has = state.includes(input.member);
      if (output !== undefined && output !== (has ? 0 : 1)) return undefined;
      return has ? state : [...state, input.member].sort();
    }
    if (!Array.isArray(output)) return undefined;
    const read = [...(output as readonly string[])].sort();
    return read.length === state.length && read.every((m, i) => m === state[i]) ? state : undefined;
  },
  key: (state) => state.join("\u0000"),
  readOnly: (input) => input.kind === "read",
};
