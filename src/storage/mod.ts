/**
 * What makes bytes on disk trustworthy, shared by the segment log and the Raft
 * storage: the checksummed record frame, the directory lock, cutting a torn
 * tail, and crash-safe file writes.
 */

export * from "./crc32c.ts";
export * from "./directory_lock.ts";
export * from "./files.ts";
export * from "./record.ts";
export * from "./torn_tail.ts";
