/**
 * Commands Pylon refuses because it cannot serve them safely (a blocking
 * command, a choice each rack would make differently, ...), made visible to
 * the operator: counted per command for `PYLON INFO` (section `Refusals`) and
 * `/metrics` (`pylon_refused_commands_total{command}`), and logged once per
 * command and client address, so a framework that dies on a refusal at start
 * shows what it asked for and from where.
 */

import client from "prom-client";
import { getLogger } from "@logtape/logtape";
import { registry } from "./metrics.ts";

const log = getLogger(["pylon", "gateway"]);

/** Pairs of command and client address logged so far; past this, new pairs are counted, not logged. */
const LOGGED_PAIRS_MAX = 10_000;

const counter = new client.Counter({
  name: "pylon_refused_commands_total",
  help: "Commands Pylon refused as unsafe to serve, by command",
  labelNames: ["command"] as const,
  registers: [registry],
});

const counts = new Map<string, number>();
const logged = new Set<string>();

/** Counts and (once per command and client host) logs a refused command with its reason. */
export function commandRefused(command: string, clientAddress: string, message: string): void {
  counts.set(command, (counts.get(command) ?? 0) + 1);
  counter.inc({ command });
  const host = hostOf(clientAddress);
  const pair = `${command} ${host}`;
  if (logged.has(pair) || logged.size >= LOGGED_PAIRS_MAX) return;
  logged.add(pair);
  log.warning(
    `refused ${command} from ${host} (counted in PYLON INFO refused_${
      command.replace("|", "_")
    }; logged once per command and client): {message}`,
    { message },
  );
}

/** Refusals by command, for `PYLON INFO`. */
export function refusedCommandCounts(): [string, number][] {
  return [...counts].sort(([a], [b]) => a.localeCompare(b));
}

/** The host part of `host:port` (IPv6 included). */
function hostOf(address: string): string {
  const colon = address.lastIndexOf(":");
  return colon < 0 ? address : address.slice(0, colon);
}
