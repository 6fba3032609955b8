/** The durable storage contract against the file storage and the in-memory one. */

import { FileStorage } from "../../../src/raft/file_storage.ts";
import { MemoryStorage } from "../../../src/raft/memory_storage.ts";
import { raftStorageContract } from "./contract.ts";
import { tempDir } from "./helpers.ts";

raftStorageContract("FileStorage", async () => {
  const dir = await tempDir();
  const fixture = {
    storage: await FileStorage.open(dir.path) as FileStorage,
    reopen: async () => {
      await fixture.storage.close();
      fixture.storage = await FileStorage.open(dir.path);
      return fixture.storage;
    },
    async [Symbol.asyncDispose]() {
      await fixture.storage.close();
      await dir[Symbol.asyncDispose]();
    },
  };
  return fixture;
});

raftStorageContract("MemoryStorage", () => {
  const storage = new MemoryStorage();
  return Promise.resolve({ storage, [Symbol.asyncDispose]: () => storage.close() });
});
