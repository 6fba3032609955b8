/** Structured logging setup: one console sink, text or JSON lines, level per run. */

import { configure, getConsoleSink, getJsonLinesFormatter, type LogLevel } from "@logtape/logtape";

/** How log records are written. */
export type LogFormat = "text" | "json";

/** Configures logging for the whole process; call once, early. */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      console: format === "json"
        ? getConsoleSink({ formatter: getJsonLinesFormatter() })
        : getConsoleSink(),
    },
    loggers: [
      { category: ["pylon"], lowestLevel: level, sinks: ["console"] },
      // kafkajs is chatty at INFO about routine reconnects.
      { category: ["pylon", "kafka"], lowestLevel: level === "debug" ? "debug" : "warning" },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
