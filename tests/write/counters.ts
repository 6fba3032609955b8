/**
 * Counter clients for exactly-once tests: each INCRs shared counters through
 * Pylon and tallies what it was told. A reply is an acknowledged increment;
 * an error that says the write was applied counts as applied; an error that
 * says it may or may not be applied, or a dropped connection, is in doubt.
 */

import { delay, RawClient } from "../harness/mod.ts";

/** Per-counter tallies. */
export interface Tally {
  acked: number[];
  appliedWithoutReply: number[];
  inDoubt: number[];
  refused: number[];
  /** The longest an acknowledged increment waited for its reply, in ms. */
  slowestAckMs: number;
}

/** Running counter clients. */
export interface CounterLoad {
  tally: Tally;
  /** Total acknowledged increments so far. */
  acked(): number;
  /** Stops the clients after their current request. */
  stop(): Promise<void>;
}

/**
 * Starts `clients` connections INCRing `counters` counters named
 * `counter:<i>` through `port` (or spread over several ports; a client whose
 * connection breaks moves on to the next port).
 */
export function startCounters(
  port: number | number[],
  clients: number,
  counters: number,
): CounterLoad {
  const ports = typeof port === "number" ? [port] : port;
  const tally: Tally = {
    acked: new Array(counters).fill(0),
    appliedWithoutReply: new Array(counters).fill(0),
    inDoubt: new Array(counters).fill(0),
    refused: new Array(counters).fill(0),
    slowestAckMs: 0,
  };
  let stopped = false;
  const run = async (id: number) => {
    let client: RawClient | undefined;
    let i = 0;
    let portIndex = id % ports.length;
    while (!stopped) {
      if (client === undefined) {
        try {
          client = await RawClient.connect(ports[portIndex]!);
        } catch {
          portIndex = (portIndex + 1) % ports.length;
          await delay(50);
          continue;
        }
      }
      const k = (id + i++) % counters;
      try {
        const sentAt = performance.now();
        await client.command("INCR", `counter:${k}`);
        const reply = await client.read(30_000);
        if (reply.type === "integer") {
          tally.acked[k]!++;
          tally.slowestAckMs = Math.max(tally.slowestAckMs, performance.now() - sentAt);
        } else if (reply.type === "error" && /was applied/.test(reply.value)) {
          tally.appliedWithoutReply[k]!++;
        } else if (reply.type === "error" && /may or may not/.test(reply.value)) {
          tally.inDoubt[k]!++;
        } else tally.refused[k]!++;
      } catch {
        // The connection broke with the INCR possibly logged.
        tally.inDoubt[k]!++;
        client.close();
        client = undefined;
        portIndex = (portIndex + 1) % ports.length;
        await delay(50);
      }
    }
    client?.close();
  };
  const running = Array.from({ length: clients }, (_, id) => run(id));
  return {
    tally,
    acked: () => tally.acked.reduce((a, b) => a + b, 0),
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** Checks every counter against its tallies; returns a one-line summary per counter. */
export function verifyCounters(values: number[], tally: Tally): string[] {
  return values.map((value, k) => {
    const low = tally.acked[k]! + tally.appliedWithoutReply[k]!;
    const high = low + tally.inDoubt[k]!;
    if (value < low || value > high) {
      throw new Error(
        `counter:${k} is ${value}, outside [${low}, ${high}] (acked ${tally.acked[k]}, ` +
          `applied without reply ${tally.appliedWithoutReply[k]}, in doubt ${tally.inDoubt[k]})`,
      );
    }
    return `counter:${k}=${value} acked=${tally.acked[k]} applied-no-reply=${
      tally.appliedWithoutReply[k]
    } ` +
      `in-doubt=${tally.inDoubt[k]} (of which applied ${value - low}) refused=${tally.refused[k]}`;
  });
}
