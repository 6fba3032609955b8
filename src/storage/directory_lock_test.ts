import assert from "node:assert/strict";
import { DirectoryInUseError, lockDirectory } from "./directory_lock.ts";

Deno.test("a store directory is held by one opener until it lets go", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await lockDirectory(`${dir}/store`, "The store");
    await assert.rejects(
      lockDirectory(`${dir}/store`, "The store"),
      DirectoryInUseError,
      `The store in "${dir}/store" is already open`,
    );
    first.close();
    (await lockDirectory(`${dir}/store`, "The store")).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
