import assert from "node:assert/strict";
import { CROSSSLOT_ERROR, partitionFor, slotPartition } from "./partition.ts";
import { keyHashSlot } from "./slot.ts";
import { findCommand } from "./table.ts";

const encoder = new TextEncoder();

function place(partitions: number, ...args: string[]) {
  const parts = args[0]!.split("|");
  const command = findCommand(args[0]!);
  assert.ok(command !== undefined, args[0]);
  return partitionFor(
    command,
    [...parts, ...args.slice(1)].map((a) => encoder.encode(a)),
    partitions,
  );
}

Deno.test("partitionFor() puts everything in partition 0 when there is one", () => {
  assert.deepEqual(place(1, "set", "k", "v"), { partition: 0 });
  assert.deepEqual(place(1, "flushall"), { partition: 0 });
  assert.deepEqual(place(1, "mset", "a", "1", "b", "2"), { partition: 0 });
});

Deno.test("slotPartition() splits the slots into even ranges", () => {
  assert.equal(slotPartition(0, 4), 0);
  assert.equal(slotPartition(4095, 4), 0);
  assert.equal(slotPartition(4096, 4), 1);
  assert.equal(slotPartition(16383, 4), 3);
  assert.equal(slotPartition(16383, 16384), 16383);
  const sizes = new Map<number, number>();
  for (let slot = 0; slot < 16384; slot++) {
    const partition = slotPartition(slot, 3);
    sizes.set(partition, (sizes.get(partition) ?? 0) + 1);
  }
  assert.deepEqual([...sizes.keys()], [0, 1, 2]);
  assert.ok(Math.max(...sizes.values()) - Math.min(...sizes.values()) <= 1);
});

Deno.test("partitionFor() places keyed writes by their keys' slot", () => {
  const slot = keyHashSlot(encoder.encode("foo"));
  assert.deepEqual(place(4, "set", "foo", "v"), { partition: slotPartition(slot, 4) });
  assert.deepEqual(place(4, "mset", "{u}a", "1", "{u}b", "2"), {
    partition: slotPartition(keyHashSlot(encoder.encode("u")), 4),
  });
  assert.deepEqual(place(4, "xgroup|create", "foo", "g", "$"), {
    partition: slotPartition(slot, 4),
  });
});

Deno.test("partitionFor() refuses keys in different partitions with CROSSSLOT", () => {
  // foo is slot 12182 (partition 2 of 3), bar slot 5061 (partition 0 of 3).
  assert.deepEqual(place(3, "mset", "foo", "1", "bar", "2"), { error: CROSSSLOT_ERROR });
  assert.deepEqual(place(3, "rename", "foo", "bar"), { error: CROSSSLOT_ERROR });
  assert.deepEqual(place(3, "zunionstore", "foo", "1", "bar"), { error: CROSSSLOT_ERROR });
  // Different slots in one partition are fine.
  assert.deepEqual(place(2, "mset", "foo", "1", "a", "2"), {
    partition: slotPartition(keyHashSlot(encoder.encode("a")), 2),
  });
});

Deno.test("partitionFor() places PUBLISH and SPUBLISH by their channel's slot", () => {
  const slot = keyHashSlot(encoder.encode("news"));
  assert.deepEqual(place(8, "publish", "news", "hi"), { partition: slotPartition(slot, 8) });
  assert.deepEqual(place(8, "spublish", "news", "hi"), { partition: slotPartition(slot, 8) });
});

Deno.test("partitionFor() refuses world-wide writes when there are several partitions", () => {
  for (const request of [["flushall"], ["flushdb", "ASYNC"], ["swapdb", "0", "1"]]) {
    const placed = place(2, ...request);
    assert.ok("error" in placed, request.join(" "));
    assert.match(placed.error, new RegExp(`^ERR command '${request[0]}' .*one partition`));
  }
});

Deno.test("partitionFor() puts keyed requests whose keys cannot be found in partition 0", () => {
  // A numkeys Redis will refuse: no keys can be named, and Redis answers an error anyway.
  assert.deepEqual(place(4, "zunionstore", "foo", "x", "bar"), { partition: 0 });
  assert.throws(() => place(0, "set", "k", "v"), RangeError);
  assert.throws(() => place(16385, "set", "k", "v"), RangeError);
});

Deno.test("partitionFor() refuses SORT with BY or GET patterns when there are several partitions", () => {
  for (
    const request of [
      ["sort", "k", "BY", "w_*", "STORE", "d"],
      ["sort", "k", "GET", "o_*", "STORE", "d"],
      ["sort_ro", "k", "by", "h_*->f"],
    ]
  ) {
    const placed = place(2, ...request);
    assert.ok("error" in placed, request.join(" "));
    assert.match(placed.error, /BY and GET patterns read other keys/);
    assert.ok(!("error" in place(1, ...request)), "one partition orders every key");
  }
  for (const request of [["sort", "k", "BY", "nosort", "GET", "#", "STORE", "{k}d"]]) {
    assert.ok(!("error" in place(2, ...request)), request.join(" "));
  }
});
