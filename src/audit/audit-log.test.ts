import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError, ValidationError } from "../common/errors.js";
import { openClickHouseOfflineStore } from "../storage/offline/clickhouse-offline-store.js";
import type { AuditRecord, OfflineStore } from "../storage/offline/offline-store.js";
import { verifyAuditChain } from "./audit-chain-verifier.js";
import { AUDIT_HASH_VERSION, auditRecordHash } from "./audit-hash.js";
import { type AuditEventInput, AuditLog, type AuditLogOptions, AuditUnavailableError } from "./audit-log.js";

const T0 = Date.UTC(2026, 0, 1);
const silent = pino({ level: "silent" });

function event(i: number, fields: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    time: new Date(T0 + i * 1000),
    principal: "alice",
    authentication: "api_key",
    method: "/sluice.v1.ModelService/PromoteCanary",
    project: "default",
    resources: ["projects/default/deployments/churn"],
    requestDigest: createHash("sha256").update(`request ${i}`).digest("hex"),
    peer: "ipv4:127.0.0.1:50000",
    outcome: "OK",
    detail: "",
    requestId: `req-${i}`,
    ...fields,
  };
}

let path = "";
let store: OfflineStore;

beforeAll(async () => {
  path = mkdtempSync(join(tmpdir(), "sluice-audit-"));
  store = await openClickHouseOfflineStore({ kind: "embedded", path });
});
afterAll(async () => {
  await store.close();
});

function openLog(chainId: string, options: Partial<AuditLogOptions> = {}, on: OfflineStore = store): Promise<AuditLog> {
  return AuditLog.open(on, { chainId, logger: silent, ...options });
}

/** Every stored record of a chain, in sequence order. */
async function chain(chainId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const chunk of store.scanAuditChain(chainId, 1000)) records.push(...chunk);
  return records;
}

/** Changes the stored trail behind the store's back, as someone with access to ClickHouse could. */
function tamper(sql: string): void {
  const session = new Session(path);
  try {
    session.query(sql);
  } finally {
    session.close();
  }
}

/** The store, with its audit appends going through `append` (which may call the real one). */
function withAuditAppend(
  append: (records: readonly AuditRecord[], token: string, real: (r: readonly AuditRecord[], t: string) => Promise<void>) => Promise<void>,
): OfflineStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === "appendAuditRecords") {
        return (records: readonly AuditRecord[], token: string) => append(records, token, (r, t) => target.appendAuditRecords(r, t));
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const down = () => new StoreUnavailableError("test offline store", new Error("connection refused"));

describe("audit hash", () => {
  it("is SHA-256 over netstrings of the version, previous hash and every field, as docs/security.md gives it", () => {
    const record: Omit<AuditRecord, "hash"> = {
      chainId: "sluice-0",
      sequence: 1,
      time: 1_767_225_600_000_000,
      principal: "alice",
      authentication: "api_key",
      method: "/sluice.v1.ModelService/PromoteCanary",
      project: "default",
      resources: ["projects/default/deployments/churn", "ünï"],
      requestDigest: "ab",
      peer: "ipv4:10.0.0.7:51234",
      outcome: "OK",
      detail: "",
      requestId: "req-1",
      previousHash: "",
    };
    const netstring = (text: string) => `${Buffer.byteLength(text)}:${text},`;
    const encoding = [
      AUDIT_HASH_VERSION,
      "",
      "sluice-0",
      "1",
      "1767225600000000",
      "alice",
      "api_key",
      "/sluice.v1.ModelService/PromoteCanary",
      "default",
      "2",
      "projects/default/deployments/churn",
      "ünï",
      "ab",
      "ipv4:10.0.0.7:51234",
      "OK",
      "",
      "req-1",
    ]
      .map(netstring)
      .join("");
    expect(encoding.startsWith("15:sluice-audit-v1,0:,8:sluice-0,1:1,16:1767225600000000,")).toBe(true);
    expect(auditRecordHash(record)).toBe(createHash("sha256").update(encoding, "utf8").digest("hex"));
    // The example in docs/security.md.
    expect(auditRecordHash(record)).toBe("0d9304ad5185501976352414bf003e378e5c6e35a1266f87957bee2a695be286");
  });
});

describe("AuditLog on the embedded offline store", () => {
  it("continues its chain across a restart, and verifies it intact", async () => {
    let log = await openLog("restart");
    await Promise.all([1, 2, 3].map((i) => log.record(event(i))));
    await log.close();
    await store.close();
    store = await openClickHouseOfflineStore({ kind: "embedded", path });
    log = await openLog("restart");
    await log.record(event(4));
    await log.record(event(5));
    await log.close();
    const records = await chain("restart");
    expect(records.map((r) => [r.sequence, r.requestId])).toEqual([1, 2, 3, 4, 5].map((i) => [i, `req-${i}`]));
    expect(records[3]?.previousHash).toBe(records[2]?.hash);
    expect(records[0]?.previousHash).toBe("");
    expect(await log.verify("restart")).toEqual([{ chainId: "restart", records: 5, intact: true, firstBadSequence: 0, problem: "" }]);
  });

  it("chains concurrent records in arrival order; a lone record waits for one insert, a burst shares inserts", async () => {
    const batches: number[] = [];
    const counting = withAuditAppend((records, token, real) => {
      batches.push(records.length);
      return real(records, token);
    });
    const log = await openLog("burst", {}, counting);
    await log.record(event(0));
    expect(batches).toEqual([1]);
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.record(event(i + 1, { requestId: `burst-${i + 1}` }))));
    // The first of the burst starts an insert at once; the other 199 wait for it and go in the next.
    expect(batches).toEqual([1, 1, 199]);
    const records = await chain("burst");
    expect(records.map((r) => r.requestId)).toEqual(["req-0", ...Array.from({ length: 200 }, (_, i) => `burst-${i + 1}`)]);
    expect(records.map((r) => r.sequence)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
    expect((await log.verify("burst"))[0]).toMatchObject({ records: 201, intact: true });
    await log.close();
  });

  it("mirrors each record to the structured log at info level", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const log = await AuditLog.open(store, { chainId: "mirrored", logger });
    await log.record(event(1, { outcome: "PERMISSION_DENIED", detail: "needs model.deploy on default" }));
    await log.close();
    const [stored] = await chain("mirrored");
    const mirrored = lines.find((line) => line.msg === "audit");
    expect(mirrored).toMatchObject({
      level: 30,
      audit: {
        chainId: "mirrored",
        sequence: 1,
        time: new Date(T0 + 1000).toISOString(),
        principal: "alice",
        outcome: "PERMISSION_DENIED",
        detail: "needs model.deploy on default",
        hash: stored?.hash,
        previousHash: "",
      },
    });
  });

  describe("tampering", () => {
    /** A chain of `n` stored records. */
    async function storedChain(chainId: string, n: number): Promise<AuditLog> {
      const log = await openLog(chainId);
      await Promise.all(Array.from({ length: n }, (_, i) => log.record(event(i + 1))));
      expect((await log.verify(chainId))[0]?.intact).toBe(true);
      return log;
    }

    it("finds a record changed in place (hash mismatch)", async () => {
      const log = await storedChain("changed", 5);
      tamper(
        "ALTER TABLE sluice.audit_events UPDATE principal = 'mallory' WHERE chain_id = 'changed' AND sequence = 3 SETTINGS mutations_sync = 2",
      );
      expect(await log.verify("changed")).toEqual([
        { chainId: "changed", records: 5, intact: false, firstBadSequence: 3, problem: "hash mismatch" },
      ]);
      await log.close();
    });

    it("finds a record changed and re-hashed (the next record's link breaks)", async () => {
      const log = await storedChain("rehashed", 5);
      const third = (await chain("rehashed"))[2] as AuditRecord;
      const forged = auditRecordHash({ ...third, outcome: "PERMISSION_DENIED" });
      tamper(
        `ALTER TABLE sluice.audit_events UPDATE outcome = 'PERMISSION_DENIED', hash = '${forged}' ` +
          "WHERE chain_id = 'rehashed' AND sequence = 3 SETTINGS mutations_sync = 2",
      );
      expect((await log.verify("rehashed"))[0]).toMatchObject({ intact: false, firstBadSequence: 4, problem: "broken link" });
      await log.close();
    });

    it("finds a deleted record (sequence gap)", async () => {
      const log = await storedChain("deleted", 5);
      tamper("ALTER TABLE sluice.audit_events DELETE WHERE chain_id = 'deleted' AND sequence = 2 SETTINGS mutations_sync = 2");
      expect(await log.verify("deleted")).toEqual([
        { chainId: "deleted", records: 4, intact: false, firstBadSequence: 2, problem: "sequence gap" },
      ]);
      await log.close();
    });

    it("finds a forged record inserted beside a real one (duplicate sequence)", async () => {
      const log = await storedChain("forged", 5);
      tamper(
        "INSERT INTO sluice.audit_events SELECT * REPLACE ('mallory' AS principal) FROM sluice.audit_events " +
          "WHERE chain_id = 'forged' AND sequence = 4",
      );
      expect((await log.verify("forged"))[0]).toMatchObject({
        records: 6,
        intact: false,
        firstBadSequence: 4,
        problem: "duplicate sequence",
      });
      await log.close();
    });

    it("finds the chain's last records cut off, while its writer runs", async () => {
      const log = await storedChain("cut", 5);
      tamper("ALTER TABLE sluice.audit_events DELETE WHERE chain_id = 'cut' AND sequence >= 4 SETTINGS mutations_sync = 2");
      expect((await log.verify("cut"))[0]).toMatchObject({ records: 3, intact: false, firstBadSequence: 4, problem: "sequence gap" });
      await log.close();
    });

    it("verifies every chain when none is named, and refuses an unknown chain", async () => {
      const log = await openLog("every");
      await log.record(event(1));
      const verdicts = await log.verify();
      expect(verdicts.find((v) => v.chainId === "every")?.intact).toBe(true);
      expect(verdicts.find((v) => v.chainId === "changed")?.intact).toBe(false);
      await expect(log.verify("evry")).rejects.toMatchObject({
        kind: "not_found",
        message: expect.stringContaining('did you mean "every"'),
      });
      await log.close();
    });
  });

  describe("a failed append", () => {
    it("fails its callers, then stores the same records on retry: no gap", async () => {
      let failures = 1;
      const flaky = withAuditAppend((records, token, real) => (failures-- > 0 ? Promise.reject(down()) : real(records, token)));
      const log = await openLog("retried", { retryDelayMs: 10 }, flaky);
      const error = await log.record(event(1)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuditUnavailableError);
      expect(error).toMatchObject({ kind: "unavailable", reason: "AUDIT_UNAVAILABLE" });
      await log.record(event(2));
      await log.close();
      expect((await chain("retried")).map((r) => [r.sequence, r.requestId])).toEqual([
        [1, "req-1"],
        [2, "req-2"],
      ]);
      expect((await log.verify("retried"))[0]?.intact).toBe(true);
    });

    it("is stored once when its acknowledgement was lost and the retry repeats it", async () => {
      let failures = 1;
      const lossy = withAuditAppend(async (records, token, real) => {
        await real(records, token);
        if (failures-- > 0) throw down();
      });
      const log = await openLog("ack-lost", { retryDelayMs: 10 }, lossy);
      await expect(log.record(event(1))).rejects.toBeInstanceOf(AuditUnavailableError);
      await log.record(event(2));
      await log.close();
      expect((await chain("ack-lost")).map((r) => r.sequence)).toEqual([1, 2]);
      expect((await log.verify("ack-lost"))[0]).toMatchObject({ records: 2, intact: true });
    });

    it("fails the callers waiting behind it too, and keeps their records in order", async () => {
      let failures = 3;
      const batches: number[][] = [];
      const flaky = withAuditAppend((records, token, real) => {
        batches.push(records.map((r) => r.sequence));
        return failures-- > 0 ? Promise.reject(down()) : real(records, token);
      });
      const log = await openLog("behind", { retryDelayMs: 10 }, flaky);
      await expect(log.record(event(1))).rejects.toBeInstanceOf(AuditUnavailableError);
      await expect(log.record(event(2))).rejects.toBeInstanceOf(AuditUnavailableError);
      await expect(log.record(event(3))).rejects.toBeInstanceOf(AuditUnavailableError);
      await log.close();
      // The failed batch is retried alone and unchanged until it is stored; the rest follow.
      expect(batches).toEqual([[1], [1], [1], [1], [2, 3]]);
      expect((await chain("behind")).map((r) => r.sequence)).toEqual([1, 2, 3]);
      expect((await log.verify("behind"))[0]?.intact).toBe(true);
    });

    it("refuses records beyond the queue limit without chaining them", async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const slow = withAuditAppend(async (records, token, real) => {
        await gate;
        return real(records, token);
      });
      const log = await openLog("bounded", { maxQueued: 3 }, slow);
      const accepted = [1, 2, 3].map((i) => log.record(event(i)));
      await expect(log.record(event(4))).rejects.toMatchObject({ kind: "unavailable", reason: "AUDIT_QUEUE_FULL" });
      expect(log.queued).toBe(3);
      release();
      await Promise.all(accepted);
      await log.record(event(5, { requestId: "after" }));
      await log.close();
      expect((await chain("bounded")).map((r) => [r.sequence, r.requestId])).toEqual([
        [1, "req-1"],
        [2, "req-2"],
        [3, "req-3"],
        [4, "after"],
      ]);
    });

    it("is given up by close() after its timeout; the chain resumes after the last stored record", async () => {
      const lines: Array<Record<string, unknown>> = [];
      const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
      const log = await openLog(
        "given-up",
        { retryDelayMs: 10, closeTimeoutMs: 100, logger },
        withAuditAppend(() => Promise.reject(down())),
      );
      await expect(log.record(event(1))).rejects.toBeInstanceOf(AuditUnavailableError);
      await log.close();
      expect(lines.find((line) => line.msg?.toString().startsWith("audit records not stored"))).toMatchObject({
        chainId: "given-up",
        records: 1,
      });
      await expect(log.record(event(2))).rejects.toMatchObject({ reason: "AUDIT_CLOSED" });
      const resumed = await openLog("given-up");
      await resumed.record(event(3));
      await resumed.close();
      expect((await chain("given-up")).map((r) => [r.sequence, r.requestId])).toEqual([[1, "req-3"]]);
    });

    it("close() stores what is still queued", async () => {
      const log = await openLog("flushed");
      const pending = [1, 2, 3].map((i) => log.record(event(i)));
      await log.close();
      await Promise.all(pending);
      expect(await chain("flushed")).toHaveLength(3);
    });
  });

  describe("list", () => {
    const L0 = Date.UTC(2030, 0, 1);
    const window = { startTime: L0 * 1000, endTime: (L0 + 3_600_000) * 1000 };
    const at = (i: number, fields: Partial<AuditEventInput>) => event(0, { time: new Date(L0 + i * 1000), requestId: `l${i}`, ...fields });

    beforeAll(async () => {
      const log = await openLog("listing");
      await Promise.all([
        log.record(at(1, { project: "p", method: "/sluice.v1.RegistryService/ApplyEntity" })),
        log.record(at(2, { project: "q", principal: "bob", outcome: "PERMISSION_DENIED" })),
        log.record(at(3, { project: "p", principal: "bob" })),
        log.record(at(4, { project: "", method: "/sluice.v1.RegistryService/CreateProject" })),
        log.record(at(5, { project: "p", outcome: "PERMISSION_DENIED" })),
      ]);
      // Outside the window.
      await log.record(at(7200, { project: "p" }));
      await log.close();
    });

    const ids = (page: { items: AuditRecord[] }) => page.items.map((r) => r.requestId);
    const all = { pageSize: 0, pageToken: "" };

    it("lists newest first, filtered by project, principal, method or service, outcome and time", async () => {
      const log = await openLog("listing-reader");
      expect(ids(await log.list(window, all))).toEqual(["l5", "l4", "l3", "l2", "l1"]);
      expect(ids(await log.list({ ...window, project: "p" }, all))).toEqual(["l5", "l3", "l1"]);
      expect(ids(await log.list({ ...window, principal: "bob" }, all))).toEqual(["l3", "l2"]);
      expect(ids(await log.list({ ...window, method: "/sluice.v1.RegistryService/" }, all))).toEqual(["l4", "l1"]);
      expect(ids(await log.list({ ...window, method: "/sluice.v1.RegistryService/ApplyEntity" }, all))).toEqual(["l1"]);
      expect(ids(await log.list({ ...window, method: "/sluice.v1.RegistryService/Apply" }, all))).toEqual([]);
      expect(ids(await log.list({ ...window, outcome: "PERMISSION_DENIED", project: "p" }, all))).toEqual(["l5"]);
      expect(ids(await log.list({ startTime: (L0 + 2000) * 1000, endTime: (L0 + 4000) * 1000 }, all))).toEqual(["l3", "l2"]);
      expect(ids(await log.list({ startTime: (L0 + 7200_000) * 1000 }, all))).toEqual(["l7200"]);
      const [first] = (await log.list({ ...window, project: "p" }, all)).items;
      expect(first).toMatchObject({ chainId: "listing", sequence: 5, time: (L0 + 5000) * 1000, project: "p" });
      await log.close();
    });

    it("pages with tokens bound to their filter", async () => {
      const log = await openLog("listing-reader");
      const first = await log.list(window, { pageSize: 2, pageToken: "" });
      expect(ids(first)).toEqual(["l5", "l4"]);
      const second = await log.list(window, { pageSize: 2, pageToken: first.nextPageToken });
      expect(ids(second)).toEqual(["l3", "l2"]);
      const third = await log.list(window, { pageSize: 2, pageToken: second.nextPageToken });
      expect(ids(third)).toEqual(["l1"]);
      expect(third.nextPageToken).toBe("");
      await expect(log.list({ ...window, project: "p" }, { pageSize: 2, pageToken: first.nextPageToken })).rejects.toMatchObject({
        reason: "INVALID_PAGE_TOKEN",
      });
      await log.close();
    });

    it("refuses a bad filter, naming every bad field", async () => {
      const log = await openLog("listing-reader");
      const error = await log
        .list({ outcome: "PERMISION_DENIED", method: "ApplyEntity", startTime: 2, endTime: 1 }, { pageSize: -1, pageToken: "" })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      const violations = (error as ValidationError).violations;
      expect(violations.map((v) => v.field)).toEqual(["page_size", "outcome", "method", "start_time"]);
      expect(violations[1]?.description).toContain('did you mean "PERMISSION_DENIED"');
      await log.close();
    });
  });
});

describe("verifyAuditChain", () => {
  it("reads a chain in chunks and stops at the first problem", async () => {
    const records: AuditRecord[] = [];
    let previousHash = "";
    for (let sequence = 1; sequence <= 6; sequence++) {
      const unhashed = { ...event(sequence), time: (T0 + sequence) * 1000, chainId: "c", sequence, previousHash, resources: [] };
      const hash = auditRecordHash(unhashed);
      records.push({ ...unhashed, hash });
      previousHash = hash;
    }
    let chunksRead = 0;
    async function* chunks(all: AuditRecord[]) {
      for (let i = 0; i < all.length; i += 2) {
        chunksRead++;
        yield all.slice(i, i + 2);
      }
    }
    expect(await verifyAuditChain("c", chunks(records))).toEqual({
      chainId: "c",
      records: 6,
      intact: true,
      firstBadSequence: 0,
      problem: "",
    });
    chunksRead = 0;
    const broken = records.map((r) => (r.sequence === 2 ? { ...r, detail: "changed" } : r));
    expect(await verifyAuditChain("c", chunks(broken))).toMatchObject({ records: 2, firstBadSequence: 2, problem: "hash mismatch" });
    expect(chunksRead).toBe(1);
    // A duplicate split across chunks is still a duplicate.
    const duplicated = [...records.slice(0, 2), records[1] as AuditRecord, ...records.slice(2)];
    expect(await verifyAuditChain("c", chunks(duplicated))).toMatchObject({ firstBadSequence: 2, problem: "duplicate sequence" });
    expect(await verifyAuditChain("c", chunks(records), 7)).toMatchObject({ intact: false, firstBadSequence: 7, problem: "sequence gap" });
  });
});
