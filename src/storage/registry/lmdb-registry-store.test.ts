import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLmdbRegistryStore } from "./lmdb-registry-store.js";
import { describeRegistryStoreContract } from "./registry-store.contract.js";

let directory = "";
describeRegistryStoreContract("lmdb", {
  open: async () => {
    directory = mkdtempSync(join(tmpdir(), "sluice-registry-"));
    return openLmdbRegistryStore(directory);
  },
  reopen: async () => openLmdbRegistryStore(directory),
});
