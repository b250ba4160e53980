/** kill -9 in the middle of a write stream on the embedded backends: every acknowledged row survives. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SluiceClient } from "../../clients/typescript/src/index.js";
import { readOfflineRows } from "../support/offline-rows.js";
import { type ServerProcess, spawnServer, stopServer } from "../support/server-process.js";

const ROWS_PER_BATCH = 50;
const servers: ServerProcess[] = [];

/** A failed test must not leave its server running. */
afterAll(async () => {
  await Promise.all(servers.map((server) => stopServer(server)));
});

describe("a server killed with SIGKILL during writes", () => {
  it("has every acknowledged row in both stores after restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sluice-crash-"));
    const first = await spawnServer(["--data-dir", dataDir, "--log-level", "info"]);
    servers.push(first);
    const client = await SluiceClient.connect({ address: first.address });
    await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    await client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "orders", type: "int64" }] });

    const acknowledged: bigint[] = [];
    const stream = client.openWriteStream();
    const writer = (async () => {
      for (let batch = 0; ; batch++) {
        const ids = Array.from({ length: ROWS_PER_BATCH }, (_, i) => BigInt(batch * ROWS_PER_BATCH + i));
        const ack = await stream.write({
          featureView: "stats",
          writeId: `crash-${batch}`,
          rows: ids.map((id) => ({ entityKey: { customer_id: id }, eventTime: new Date(), features: { orders: id } })),
        });
        expect(ack.acceptedCount).toBe(ROWS_PER_BATCH);
        acknowledged.push(...ids);
      }
    })();
    while (acknowledged.length < 20 * ROWS_PER_BATCH) await new Promise((resolve) => setTimeout(resolve, 5));
    first.child.kill("SIGKILL");
    await expect(writer).rejects.toThrow();
    await first.exited;
    client.close();

    const second = await spawnServer(["--data-dir", dataDir, "--log-level", "info"]);
    servers.push(second);
    const reader = await SluiceClient.connect({ address: second.address });
    const [orders] = await reader.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: acknowledged } });
    expect(orders?.values).toEqual(acknowledged);
    reader.close();
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);

    const rows = await readOfflineRows(dataDir, {
      view: "stats",
      joinKeys: [{ name: "customer_id", type: "int64" }],
      features: [{ name: "orders", type: "int64" }],
    });
    const stored = new Set(rows.map((row) => row.key[0]));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
  }, 90_000);
});
