/** The OpLog contract against the embedded segment log, in temp dirs that are always removed. */

import { SegmentLog, type SegmentLogOptions } from "../../src/log/segment_log.ts";
import { opLogContract } from "./contract.ts";

function openIn(options: Omit<SegmentLogOptions, "partitions">) {
  return async () => {
    const dir = await Deno.makeTempDir({ prefix: "pylon-segment-log-" });
    try {
      const log = await SegmentLog.open(dir, { partitions: 2, ...options });
      return {
        log,
        async [Symbol.asyncDispose]() {
          try {
            await log.close();
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        },
      };
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
  };
}

opLogContract("SegmentLog", openIn({}));

// Small segments and a dense index: every test also crosses segment boundaries.
opLogContract(
  "SegmentLog (4 KiB segments)",
  openIn({ segmentBytes: 4096, indexIntervalRecords: 4 }),
);
