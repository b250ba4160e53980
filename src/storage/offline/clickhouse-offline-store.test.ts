import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTableStatements, openClickHouseOfflineStore } from "./clickhouse-offline-store.js";
import { formatMicros, parseMicros } from "./clickhouse-sql.js";
import { describeOfflineStoreContract } from "./offline-store.contract.js";
import { describePointInTimeContract } from "./point-in-time.contract.js";

let path = "";
describeOfflineStoreContract("chdb", {
  open: async () => {
    path = mkdtempSync(join(tmpdir(), "sluice-offline-"));
    return openClickHouseOfflineStore({ kind: "embedded", path });
  },
  reopen: async () => openClickHouseOfflineStore({ kind: "embedded", path }),
});

describe("ClickHouse SQL", () => {
  it("formats and parses microsecond times exactly", () => {
    for (const micros of [0, 1, 1_767_225_600_123_456, 1_767_225_600_000_999]) expect(parseMicros(formatMicros(micros))).toBe(micros);
    expect(formatMicros(1_767_225_600_123_456)).toBe("2026-01-01 00:00:00.123456");
  });

  it("uses replicated tables behind a Distributed table on a cluster", () => {
    const ddl = createTableStatements(
      { project: "p", view: "v", version: 3, keyColumns: [{ name: "id", type: "int64" }], featureColumns: [{ name: "x", type: "double" }] },
      "main",
    );
    expect(ddl[0]).toBe("CREATE DATABASE IF NOT EXISTS `sluice_p` ON CLUSTER `main`");
    expect(ddl[1]).toContain("ON CLUSTER `main`");
    expect(ddl[1]).toContain(
      "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice_p/v__v3', '{replica}') ORDER BY (`id`, `event_time`)",
    );
    expect(ddl[2]).toBe(
      "CREATE TABLE IF NOT EXISTS `sluice_p`.`v__v3_all` ON CLUSTER `main` AS `sluice_p`.`v__v3` ENGINE = Distributed(`main`, `sluice_p`, `v__v3`, cityHash64(`id`))",
    );
  });
});

describePointInTimeContract("chdb", {
  open: async () => openClickHouseOfflineStore({ kind: "embedded", path: mkdtempSync(join(tmpdir(), "sluice-pit-")) }),
});
