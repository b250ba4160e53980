import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLmdbOnlineStore } from "./lmdb-online-store.js";
import { describeOnlineStoreContract } from "./online-store.contract.js";

let directory = "";
describeOnlineStoreContract("lmdb", {
  open: async () => {
    directory = mkdtempSync(join(tmpdir(), "sluice-online-"));
    return openLmdbOnlineStore(directory);
  },
  reopen: async () => openLmdbOnlineStore(directory),
});
