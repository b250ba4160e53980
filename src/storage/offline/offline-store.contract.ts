/**
 * The contract every {@link OfflineStore} backend must meet: exact round trips of every type,
 * append-only history, deduplication by token, and durability across reopen.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditRecord, historyColumnsOf, type OfflineRow, type OfflineStore, type OfflineTable } from "./offline-store.js";

/** Opens a fresh, empty store; `reopen` opens the same data again after close. */
export interface OfflineStoreFactory {
  open(): Promise<OfflineStore>;
  reopen(): Promise<OfflineStore>;
}

const T0 = 1_767_225_600_000_000;

const allTypes: OfflineTable = {
  project: "p",
  view: "everything",
  version: 1,
  keyColumns: [
    { name: "customer_id", type: "int64" },
    { name: "region", type: "string" },
  ],
  featureColumns: [
    { name: "i32", type: "int32" },
    { name: "i64", type: "int64" },
    { name: "f", type: "float" },
    { name: "d", type: "double" },
    { name: "b", type: "bool" },
    { name: "s", type: "string" },
    { name: "bytes", type: "bytes" },
    { name: "ts", type: "timestamp" },
    { name: "i64s", type: "int64_list" },
    { name: "fs", type: "float_list" },
    { name: "ds", type: "double_list" },
    { name: "ss", type: "string_list" },
  ],
};

function row(id: bigint, eventTime: number, writeId = "w1"): OfflineRow {
  return {
    key: [id, "eu"],
    eventTime,
    ingestTime: eventTime + 7,
    writeId,
    features: [
      -5,
      2n ** 63n - 1n,
      1.5,
      Math.PI,
      true,
      "héllo",
      new Uint8Array([0, 255, 128]),
      new Date("2026-03-04T05:06:07.089Z"),
      [1n, -(2n ** 63n)],
      [0.25, -2],
      [Math.E],
      ["a", ""],
    ],
  };
}

/** Appends rows given one by one, as the write path's columns. */
function appendRows(store: OfflineStore, table: OfflineTable, rows: OfflineRow[], token: string): Promise<void> {
  return store.append(table, historyColumnsOf(rows, table.keyColumns.length, table.featureColumns.length), token);
}

/** An audit record of chain `chainId` at `sequence` (its hashes are placeholders: the store does not check them). */
function auditRecord(chainId: string, sequence: number, time: number, fields: Partial<AuditRecord> = {}): AuditRecord {
  return {
    chainId,
    sequence,
    time,
    principal: "alice",
    authentication: "api_key",
    method: "/sluice.v1.ModelService/PromoteCanary",
    project: "p",
    resources: ["projects/p/deployments/churn", "projects/p/models/m/versions/2"],
    requestDigest: "d".repeat(64),
    peer: "ipv4:127.0.0.1:5000",
    outcome: "OK",
    detail: "",
    requestId: `req-${chainId}-${sequence}`,
    previousHash: sequence === 1 ? "" : `${chainId}${sequence - 1}`,
    hash: `${chainId}${sequence}`,
    ...fields,
  };
}

/** Registers the contract suite for one backend. */
export function describeOfflineStoreContract(backend: string, factory: OfflineStoreFactory): void {
  describe(`OfflineStore contract: ${backend}`, () => {
    let store: OfflineStore;

    beforeEach(async () => {
      store = await factory.open();
      await store.ensureTable(allTypes);
    });
    afterEach(async () => {
      await store.close();
    });

    it("round-trips every type exactly, with microsecond times", async () => {
      await appendRows(store, allTypes, [row(1n, T0 + 123_456)], "w-roundtrip");
      expect(await store.readAll(allTypes)).toEqual([row(1n, T0 + 123_456)].map((r) => ({ ...r, writeId: "w1" })));
    });

    it("stores nulls as nulls, and null lists as empty lists", async () => {
      const nulls: OfflineRow = { ...row(2n, T0), features: allTypes.featureColumns.map(() => null) };
      await appendRows(store, allTypes, [nulls], "w-nulls");
      const [stored] = await store.readAll(allTypes);
      expect(stored?.features).toEqual([null, null, null, null, null, null, null, null, [], [], [], []]);
    });

    it("keeps every row: history is append-only, including older and duplicate event times", async () => {
      await appendRows(store, allTypes, [row(1n, T0 + 2), row(1n, T0 + 1)], "w-a");
      await appendRows(store, allTypes, [row(1n, T0 + 1)], "w-b");
      expect((await store.readAll(allTypes)).map((r) => r.eventTime)).toEqual([T0 + 1, T0 + 1, T0 + 2]);
    });

    it("applies a retried append with the same token once, even when the retry's rows differ", async () => {
      // A retry gets a new ingestion time from the writer, so only the token can tell it is a retry.
      await appendRows(store, allTypes, [row(1n, T0), row(2n, T0)], "retry-me");
      const retried = [row(1n, T0), row(2n, T0)].map((r) => ({ ...r, ingestTime: r.ingestTime + 1000 }));
      await appendRows(store, allTypes, retried, "retry-me");
      expect(await store.readAll(allTypes)).toHaveLength(2);
      await appendRows(store, allTypes, retried, "another-token");
      expect(await store.readAll(allTypes)).toHaveLength(4);
    });

    it("creates tables idempotently and keeps versions apart", async () => {
      const v2: OfflineTable = { ...allTypes, version: 2, featureColumns: [{ name: "only", type: "double" }] };
      await store.ensureTable(v2);
      await store.ensureTable(v2);
      await appendRows(store, v2, [{ key: [1n, "eu"], eventTime: T0, ingestTime: T0, writeId: "x", features: [0.5] }], "v2");
      expect((await store.readAll(v2)).map((r) => r.features)).toEqual([[0.5]]);
      expect(await store.readAll(allTypes)).toEqual([]);
    });

    it("grows a table by the columns a later compatible version adds; each version reads its own columns", async () => {
      const narrow: OfflineTable = { ...allTypes, view: "growing", featureColumns: [{ name: "d", type: "double" }] };
      const wide: OfflineTable = { ...narrow, featureColumns: [...narrow.featureColumns, { name: "s", type: "string" }] };
      const at = (eventTime: number, features: OfflineRow["features"]): OfflineRow => ({
        key: [1n, "eu"],
        eventTime,
        ingestTime: eventTime,
        writeId: "g",
        features,
      });
      await store.ensureTable(narrow);
      await appendRows(store, narrow, [at(T0, [1.5])], "narrow-1");
      await store.ensureTable(wide);
      await appendRows(store, wide, [at(T0 + 1, [2.5, "x"])], "wide");
      // The narrow version still writes (its rows have no value for the added column) and reads.
      await store.ensureTable(narrow);
      await appendRows(store, narrow, [at(T0 + 2, [3.5])], "narrow-2");
      expect((await store.readAll(wide)).map((r) => r.features)).toEqual([
        [1.5, null],
        [2.5, "x"],
        [3.5, null],
      ]);
      expect((await store.readAll(narrow)).map((r) => r.features)).toEqual([[1.5], [2.5], [3.5]]);
    });

    it("finds the latest row per entity in a time range, in key-ordered chunks", async () => {
      const at = (id: bigint, eventTime: number, ingestTime: number, orders: bigint): OfflineRow => ({
        ...row(id, eventTime),
        ingestTime,
        features: [orders, ...row(id, eventTime).features.slice(1)].map((v, i) => (i === 0 ? null : i === 1 ? orders : v)),
      });
      await appendRows(
        store,
        allTypes,
        [
          at(1n, T0 + 10, T0, 1n),
          at(1n, T0 + 20, T0, 2n),
          at(1n, T0 + 20, T0 + 5, 3n), // same event time, ingested later: wins
          at(1n, T0 + 99, T0, 9n), // outside the range
          { ...at(2n, T0 + 16, T0, 0n), features: allTypes.featureColumns.map(() => null) }, // newest row of 2 is all null
          at(2n, T0 + 15, T0, 20n),
          at(3n, T0 + 5, T0, 30n),
        ],
        "latest",
      );
      const range = { start: T0 + 1, end: T0 + 50 };
      const first = await store.latestPerEntity(allTypes, range, undefined, 2);
      expect(first.map((r) => [r.key[0], r.features[1], r.eventTime, r.ingestTime])).toEqual([
        [1n, 3n, T0 + 20, T0 + 5],
        [2n, null, T0 + 16, T0],
      ]);
      const rest = await store.latestPerEntity(allTypes, range, first[1]?.key, 2);
      expect(rest.map((r) => [r.key[0], r.features[1]])).toEqual([[3n, 30n]]);
      expect(await store.latestPerEntity(allTypes, range, rest[0]?.key, 2)).toEqual([]);
      expect((await store.latestPerEntity(allTypes, {}, undefined, 10)).map((r) => r.features[1])).toEqual([9n, null, 30n]);
    });

    it("stores audit records exactly and lists them newest first, filtered and keyset-paged", async () => {
      await store.appendAuditRecords(
        [
          auditRecord("a", 1, T0 + 1, { project: "p", outcome: "OK", method: "/sluice.v1.RegistryService/ApplyEntity" }),
          auditRecord("a", 2, T0 + 3, { project: "p", outcome: "PERMISSION_DENIED", principal: "mallory" }),
          auditRecord("a", 3, T0 + 5, { project: "q", detail: 'quotes " and\nnewlines, ünïcode', resources: [] }),
        ],
        "audit-a-1",
      );
      await store.appendAuditRecords(
        [auditRecord("b", 1, T0 + 3, { project: "p" }), auditRecord("b", 2, T0 + 4, { project: "" })],
        "audit-b-1",
      );
      const all = await store.readAuditRecords({ range: {}, limit: 10 });
      expect(all.map((r) => `${r.chainId}${r.sequence}`)).toEqual(["a3", "b2", "b1", "a2", "a1"]);
      expect(all[0]).toEqual(auditRecord("a", 3, T0 + 5, { project: "q", detail: 'quotes " and\nnewlines, ünïcode', resources: [] }));
      const ids = (records: AuditRecord[]) => records.map((r) => `${r.chainId}${r.sequence}`);
      expect(ids(await store.readAuditRecords({ project: "p", range: {}, limit: 10 }))).toEqual(["b1", "a2", "a1"]);
      expect(ids(await store.readAuditRecords({ principal: "mallory", range: {}, limit: 10 }))).toEqual(["a2"]);
      expect(ids(await store.readAuditRecords({ outcome: "PERMISSION_DENIED", range: {}, limit: 10 }))).toEqual(["a2"]);
      expect(ids(await store.readAuditRecords({ methodPrefix: "/sluice.v1.RegistryService/", range: {}, limit: 10 }))).toEqual(["a1"]);
      expect(ids(await store.readAuditRecords({ method: "/sluice.v1.ModelService/PromoteCanary", range: {}, limit: 10 }))).toHaveLength(4);
      expect(ids(await store.readAuditRecords({ range: { start: T0 + 3, end: T0 + 5 }, limit: 10 }))).toEqual(["b2", "b1", "a2"]);
      const first = await store.readAuditRecords({ range: {}, limit: 2 });
      const last = first[first.length - 1];
      expect(ids(await store.readAuditRecords({ range: {}, after: last, limit: 10 }))).toEqual(["b1", "a2", "a1"]);
    });

    it("scans an audit chain in sequence order in chunks, a duplicated sequence within one chunk", async () => {
      const records = Array.from({ length: 7 }, (_, i) => auditRecord("c", i + 1, T0 + i));
      await store.appendAuditRecords([...records, auditRecord("c", 4, T0 + 99, { principal: "forger" })], "audit-c");
      await store.appendAuditRecords([auditRecord("other", 1, T0)], "audit-other");
      const chunks: number[][] = [];
      for await (const chunk of store.scanAuditChain("c", 3)) chunks.push(chunk.map((r) => r.sequence));
      expect(chunks).toEqual([
        [1, 2, 3],
        [4, 4, 5],
        [6, 7],
      ]);
      expect((await store.lastAuditRecord("c"))?.sequence).toBe(7);
      expect(await store.lastAuditRecord("none")).toBeUndefined();
      expect(await store.auditChains()).toEqual([
        { chainId: "c", records: 8, lastSequence: 7 },
        { chainId: "other", records: 1, lastSequence: 1 },
      ]);
    });

    it("stores a retried audit append with the same token once, and keeps it across reopen", async () => {
      await store.appendAuditRecords([auditRecord("r", 1, T0), auditRecord("r", 2, T0)], "audit-r-1-2");
      await store.appendAuditRecords([auditRecord("r", 1, T0), auditRecord("r", 2, T0)], "audit-r-1-2");
      await store.close();
      store = await factory.reopen();
      expect(await store.auditChains()).toEqual([{ chainId: "r", records: 2, lastSequence: 2 }]);
    });

    it("keeps appended rows across close and reopen", async () => {
      await appendRows(store, allTypes, [row(3n, T0)], "w-durable");
      await store.close();
      store = await factory.reopen();
      expect((await store.readAll(allTypes)).map((r) => r.key)).toEqual([[3n, "eu"]]);
    });
  });
}
