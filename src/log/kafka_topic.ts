/**
 * Creating the world's topic: kafkajs's `waitForLeaders` gives up when a
 * KRaft broker answers "does not host this topic-partition" during metadata
 * propagation, so Pylon creates the topic and then polls its metadata itself.
 */

import type { Admin } from "kafkajs";

/** What the topic must look like. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Replication factor; -1 takes the broker's default. */
  replicationFactor?: number;
  /** Topic-level settings such as `min.insync.replicas`. */
  config?: Record<string, string>;
}

/** Raised when the topic exists with a shape Pylon cannot use, or never gets leaders. */
export class TopicError extends Error {
  override name = "TopicError";
}

/**
 * Creates `spec.topic` if missing and waits, up to `timeoutMs`, until every
 * partition has a leader. An existing topic must have the same partition
 * count: ops are routed by partition, so a different count would reorder keys.
 */
export async function ensureTopic(
  admin: Admin,
  spec: TopicSpec,
  timeoutMs = 30_000,
): Promise<void> {
  const existing = await admin.listTopics();
  if (!existing.includes(spec.topic)) {
    try {
      await admin.createTopics({
        waitForLeaders: false,
        topics: [{
          topic: spec.topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor ?? -1,
          configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({
            name,
            value,
          })),
        }],
      });
    } catch (error) {
      // Another node may have created it first; the shape check below decides.
      if (!(error instanceof Error) || !/already exists/i.test(error.message)) throw error;
    }
  }

  const deadline = performance.now() + timeoutMs;
  let last = "no metadata yet";
  while (performance.now() < deadline) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [spec.topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.length !== spec.partitions) {
        throw new TopicError(
          `Topic '${spec.topic}' has ${partitions.length} partitions but Pylon is configured for ` +
            `${spec.partitions}`,
        );
      }
      const leaderless = partitions.filter((p) => p.leader < 0).length;
      if (partitions.length === spec.partitions && leaderless === 0) return;
      last = `${partitions.length} partitions, ${leaderless} without a leader`;
    } catch (error) {
      if (error instanceof TopicError) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new TopicError(
    `Topic '${spec.topic}' has no leader for every partition after ${timeoutMs} ms (${last})`,
  );
}
