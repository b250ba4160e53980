/**
 * User SQL and server-side files confined (docs/security.md, "User SQL and server-side files"),
 * end to end with the real server, chDB and client: every way out of a spine query is refused
 * with INVALID_ARGUMENT before anything runs, good spines still work, a cancelled call stops its
 * query in the engine, the engine's limits answer as limits, server-side imports read only
 * configured directories and never echo a file, and a cancelled upload imports nothing.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SluiceClientError, TrainingDatasetState } from "../../clients/typescript/src/index.js";
import { FileFormat, type ImportFeaturesResponse } from "../../src/gen/sluice/v1/ingestion.pb.js";
import { HistoricalFeaturesQuery, OutputFormat } from "../../src/gen/sluice/v1/training.pb.js";
import { failure } from "../support/expect-failure.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const T0 = Date.UTC(2026, 0, 1);
const SPINE_FIELD = "query.offline_spine.sql";
/** Spine columns every query below starts with. */
const KEYS = "toInt64(1) AS customer_id, toDateTime64('2026-01-01 00:10:00', 6, 'UTC') AS event_time";

let t: TestServer;
let importDir: string;
let outsideDir: string;
/** A local HTTP server that counts requests: the target of url() attempts. */
let bait: Server;
let baitHits = 0;
let baitPort = 0;

async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for await (const row of t.client.getHistoricalRows({ features: ["stats:spend"], spine: { sql } })) out.push(row);
  return out;
}

/** The descriptions of a refused spine query, after checking it is INVALID_ARGUMENT on the SQL field. */
async function refused(sql: string): Promise<string> {
  const error = await failure(rows(sql));
  expect(error.code, `${sql}: ${error.message}`).toBe(status.INVALID_ARGUMENT);
  expect(error.fieldViolations.map((v) => v.field)).toContain(SPINE_FIELD);
  return error.fieldViolations.map((v) => v.description).join("; ");
}

/** Process CPU time over the next `ms`, in cores. */
async function cpuCores(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / ms;
}

/** Waits until this process (server and engine included) is nearly idle; how long that took, ms. */
async function quietWithin(limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) if ((await cpuCores(1000)) < 0.35) return Date.now() - started;
  throw new Error(`the process was still busy ${limitMs} ms later: a query kept running`);
}

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), "sluice-confine-"));
  importDir = join(root, "imports");
  outsideDir = join(root, "outside");
  mkdirSync(importDir);
  mkdirSync(outsideDir);
  bait = createServer((_, response) => {
    baitHits++;
    response.end("bait\n");
  });
  await new Promise<void>((resolve) => bait.listen(0, "127.0.0.1", resolve));
  baitPort = (bait.address() as { port: number }).port;
  t = await startTestServer({ imports: { allowedDirs: [importDir] } });
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "spend", type: "double" }] });
  await t.client.writeFeatureBatch({
    featureView: "stats",
    rows: [{ entityKey: { customer_id: 1n }, eventTime: new Date(T0), features: { spend: 21.5 } }],
  });
  // Another project, whose table no spine of "default" may read.
  await t.client.createProject("other");
  await t.client.applyEntity({ project: "other", name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({ project: "other", name: "secret", entity: "customer", features: [{ name: "spend", type: "double" }] });
  await t.client.writeFeatureBatch({
    project: "other",
    featureView: "secret",
    rows: [{ entityKey: { customer_id: 1n }, eventTime: new Date(T0), features: { spend: 99 } }],
  });
});

afterAll(async () => {
  await t?.stop();
  await new Promise((resolve) => bait?.close(resolve));
});

describe("spine SQL confinement", () => {
  it("still runs good spines: the project's tables, CTEs, unions, subqueries and harmless table functions", async () => {
    expect((await rows(`SELECT ${KEYS}`)).map((r) => r.spend)).toEqual([21.5]);
    expect(await rows("SELECT customer_id, event_time + toIntervalMinute(1) AS event_time FROM sluice_default.stats__v1")).toHaveLength(1);
    const cte = await rows(
      "WITH recent AS (SELECT customer_id, event_time FROM sluice_default.stats__v1) " +
        "SELECT customer_id, event_time FROM recent UNION ALL SELECT toInt64(number + 1), toDateTime64('2026-01-01', 6, 'UTC') FROM numbers(2)",
    );
    expect(cte).toHaveLength(3);
    const subqueries = await rows(
      `SELECT ${KEYS}, (SELECT count() FROM sluice_default.stats__v1) AS n FROM values('x Int64', 1, 2) ` +
        "WHERE 1 IN (SELECT customer_id FROM sluice_default.stats__v1) AND x IN (SELECT generate_series FROM generate_series(1, 2))",
    );
    expect(subqueries.map((r) => r.n)).toEqual([1n, 1n]);
    expect(
      await rows(`SELECT ${KEYS}, lower(format('{}', 'A')) AS a, arrayMap(x -> x * 2, [1, 2]) AS doubled FROM numbers_mt(1)`),
    ).toHaveLength(1);
  });

  it("refuses table functions that reach outside, however they are spelled or hidden", async () => {
    const url = `http://127.0.0.1:${baitPort}/x`;
    const metrics = `http://127.0.0.1:${t.server.metricsPort}/metrics`;
    const reaching = [
      "file('/etc/hostname')",
      "FILE('/etc/hostname')",
      "`File`('/etc/hostname')",
      "file/* split */('/etc/hostname', 'LineAsString')",
      `url('${url}', 'LineAsString')`,
      `URL('${metrics}', 'LineAsString')`,
      `s3('${url}/b/k.csv', 'CSV')`,
      "remote('127.0.0.1:9000', system.one)",
      "remoteSecure('127.0.0.1:9440', default.x)",
      "executable('id', 'LineAsString', 'x String')",
      "merge('sluice_other', '.*')",
      "cluster('default', system.one)",
      "mysql('127.0.0.1:3306', 'd', 't', 'u', 'p')",
      "postgresql('127.0.0.1:5432', 'd', 't', 'u', 'p')",
      "input('x String')",
      "dictionary('d')",
      "view(SELECT 1)",
      "hdfs('hdfs://127.0.0.1:9000/x', 'CSV')",
      "sqlite('/etc/passwd', 't')",
      "fuzzJSON('x', '{}')",
      "zeros(1)",
    ];
    for (const from of reaching) {
      expect(await refused(`SELECT ${KEYS} FROM ${from}`)).toMatch(/may not|ClickHouse refused it/);
    }
    const hidden = [
      `SELECT ${KEYS} FROM (SELECT * FROM file('/etc/hostname', 'LineAsString'))`,
      `WITH f AS (SELECT * FROM url('${url}', 'LineAsString')) SELECT ${KEYS} FROM f`,
      `SELECT ${KEYS} FROM numbers(1) AS n JOIN url('${url}', 'LineAsString') AS u ON 1 = 1`,
      `SELECT ${KEYS} WHERE 'x' IN (SELECT * FROM url('${url}', 'LineAsString'))`,
      `SELECT ${KEYS}, (SELECT any(line) FROM url('${url}', 'LineAsString')) AS leaked`,
      `SELECT ${KEYS} UNION ALL SELECT ${KEYS} FROM url('${url}', 'LineAsString')`,
      `SELECT ${KEYS} FROM numbers(1) ARRAY JOIN (SELECT groupArray(line) FROM url('${url}', 'LineAsString')) AS l`,
      `SELECT ${KEYS} FROM numbers((SELECT count() FROM url('${url}', 'LineAsString')))`,
      `SELECT ${KEYS}, file('/etc/hostname') AS contents`,
    ];
    for (const sql of hidden) expect(await refused(sql)).toContain("may not");
    expect(baitHits).toBe(0);
  });

  it("refuses system tables, information_schema, dictionaries and other projects' tables", async () => {
    const tables = [
      "system.tables",
      "system.one",
      '"system"."tables"',
      "`system`.`one`",
      "`system`/* x */.one",
      "SYSTEM.ONE",
      "information_schema.tables",
      "INFORMATION_SCHEMA.TABLES",
      "sluice_other.secret__v1",
      "`sluice_other`.`secret__v1`",
      "sluice_tmp.anything",
      "default.anything",
    ];
    for (const table of tables) expect(await refused(`SELECT ${KEYS} FROM ${table}`)).toContain("may not read");
    expect(await refused(`SELECT ${KEYS} WHERE 1 IN sluice_other.secret__v1`)).toContain("may not read sluice_other.secret__v1");
    expect(await refused(`SELECT ${KEYS} WHERE 1 IN (SELECT customer_id FROM sluice_other.secret__v1)`)).toContain("may not read");
    expect(await refused(`SELECT ${KEYS} FROM numbers(1) JOIN system.one ON 1 = 1`)).toContain("may not read system.one");
    for (const call of [
      "dictGet('d', 'a', toUInt64(1))",
      "dictHas('d', toUInt64(1))",
      "joinGet('sluice_other.j', 'v', 1)",
      "hasColumnInTable('system', 'users', 'name')",
      "getSetting('max_threads')",
      "hostName()",
      "currentUser()",
      "user()",
      "filesystemAvailable()",
      "getMacro('x')",
      "sleep(1)",
    ]) {
      expect(await refused(`SELECT ${KEYS}, ${call} AS x`)).toContain("may not call");
    }
    expect(await refused(`SELECT ${KEYS}, arrayMap(x -> dictGet('d', 'a', x), [toUInt64(1)]) AS y`)).toContain("may not call dictGet()");
  });

  it("refuses settings, output clauses, other statements and second statements, and runs none of them", async () => {
    const outfile = join(outsideDir, "out.csv");
    expect(await refused(`SELECT ${KEYS} SETTINGS max_threads = 1`)).toContain("SETTINGS");
    expect(await refused(`SELECT ${KEYS} FROM (SELECT 1 SETTINGS readonly = 0)`)).toContain("SETTINGS");
    expect(await refused(`SELECT ${KEYS} INTO OUTFILE '${outfile}'`)).toContain("INTO OUTFILE");
    expect(await refused(`SELECT ${KEYS} FORMAT JSON`)).toContain("FORMAT");
    for (const statement of [
      "SET max_threads = 1",
      "INSERT INTO sluice_default.stats__v1 SELECT * FROM sluice_default.stats__v1",
      "ALTER TABLE sluice_default.stats__v1 DELETE WHERE 1",
      "DROP TABLE sluice_default.stats__v1",
      "CREATE TABLE sluice_default.x (a Int8) ENGINE = Memory",
      "TRUNCATE TABLE sluice_default.stats__v1",
      "KILL QUERY WHERE 1",
    ]) {
      expect(await refused(statement)).toMatch(/must be a SELECT|ClickHouse refused it/);
    }
    expect(await refused(`SELECT ${KEYS}; DROP TABLE sluice_default.stats__v1`)).toContain("single statement");
    expect(await refused(`SELECT ${KEYS}; SELECT * FROM system.users`)).toContain("single statement");
    expect(existsSync(outfile)).toBe(false);
    // Nothing above ran: the history is whole.
    expect((await rows(`SELECT ${KEYS}`)).map((r) => r.spend)).toEqual([21.5]);
  });

  it("refuses names that would make its parse ambiguous", async () => {
    expect(await refused("SELECT toInt64(1) AS `customer_id\n      TableIdentifier sluice_default.x`, now64(6) AS event_time")).toContain(
      "quoted name",
    );
  });

  it("answers bad SQL with INVALID_ARGUMENT on the SQL field, not UNAVAILABLE", async () => {
    for (const sql of [
      "SELEC 1",
      "SELECT no_such_column AS customer_id, now64(6) AS event_time",
      "SELECT customer_id FROM nowhere_at_all",
      "SELECT customer_id, event_time FROM sluice_default.no_such_table",
      "SELECT toInt64('abc') AS customer_id, now64(6) AS event_time",
      "SELECT toInt64(number) AS customer_id, now64(6) AS event_time, throwIf(number = 2) AS x FROM numbers(5)",
      "SELECT no_such_function(1) AS customer_id, now64(6) AS event_time",
    ]) {
      expect(await refused(sql)).toContain("ClickHouse refused it");
    }
  });

  it("stops a long spine query when the client's deadline passes; the next query answers at once", async () => {
    await quietWithin(20_000);
    const query = HistoricalFeaturesQuery.fromPartial({
      project: "projects/default",
      features: ["stats:spend"],
      offlineSpine: {
        sql: "SELECT number AS customer_id, now64(6) AS event_time FROM numbers(100000000000) WHERE number % 1000000007 = 3",
      },
      format: OutputFormat.OUTPUT_FORMAT_ROWS,
    });
    const started = Date.now();
    const call = t.client.training.getHistoricalFeatures(new Metadata(), { deadline: Date.now() + 1000 });
    const ended = new Promise<ServiceError>((resolve) => {
      call.on("error", resolve);
      call.on("data", () => undefined);
      call.on("end", () => resolve({ code: status.OK } as ServiceError));
    });
    call.write({ query });
    call.end();
    expect((await ended).code).toBe(status.DEADLINE_EXCEEDED);
    // Left running, the scan would keep a core busy for minutes.
    const quietAfter = await quietWithin(15_000);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(quietAfter).toBeLessThan(15_000);
    const next = Date.now();
    expect((await rows(`SELECT ${KEYS}`)).map((r) => r.spend)).toEqual([21.5]);
    expect(Date.now() - next).toBeLessThan(20_000);
  });
});

describe("server-side imports", () => {
  const importOf = (sourcePath: string, featureView = "stats") =>
    t.client.importFeatures({ featureView, format: "csv", serverPath: sourcePath }).catch((e: unknown) => e as SluiceClientError);

  it("reads files under imports.allowedDirs only: outside, '..' and symlink escapes are refused", async () => {
    writeFileSync(join(outsideDir, "secret.csv"), "customer_id,event_time,spend\n7,2026-01-01T00:00:00Z,1\n");
    writeFileSync(join(importDir, "ok.csv"), "customer_id,event_time,spend\n5,2026-01-01T00:00:00Z,5\n");
    symlinkSync(join(outsideDir, "secret.csv"), join(importDir, "escape.csv"));
    expect(await importOf(join(importDir, "ok.csv"))).toMatchObject({ rowsWritten: 1n, done: true });
    for (const path of [join(outsideDir, "secret.csv"), join(importDir, "..", "outside", "secret.csv"), join(importDir, "escape.csv")]) {
      const error = (await importOf(path)) as SluiceClientError;
      expect([error.code, error.reason, error.fieldViolations[0]?.field]).toEqual([
        status.INVALID_ARGUMENT,
        "SOURCE_PATH_NOT_ALLOWED",
        "config.source_path",
      ]);
      expect(error.message).toContain("imports.allowedDirs");
    }
    const relativePath = (await importOf("imports/ok.csv")) as SluiceClientError;
    expect(relativePath.reason).toBe("SOURCE_PATH_NOT_ALLOWED");
  });

  it("never echoes a line of the file in its errors: bad values, broken CSV, a file that is not CSV", async () => {
    const secret = "SECRET-7d1f";
    writeFileSync(
      join(importDir, "values.csv"),
      `customer_id,event_time,spend\n${secret},2026-01-01T00:00:00Z,1\n8,${secret},2\n9,2026-01-01T00:00:00Z,${secret}\n`,
    );
    const values = (await importOf(join(importDir, "values.csv"))) as ImportFeaturesResponse;
    expect(values.rowsRejected).toBe(3n);
    expect(values.sampleRejections.map((r) => r.violations[0]?.field)).toEqual([
      "rows[0].customer_id",
      "rows[1].event_time",
      "rows[2].spend",
    ]);
    expect(JSON.stringify(values.sampleRejections)).not.toContain(secret);

    writeFileSync(join(importDir, "broken.csv"), `customer_id,event_time,spend\n1,2026-01-01T00:00:00Z,"${secret}\n`);
    const broken = (await importOf(join(importDir, "broken.csv"))) as SluiceClientError;
    expect([broken.code, broken.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_CSV_FILE"]);
    expect(broken.message).not.toContain(secret);

    writeFileSync(join(importDir, "passwd.csv"), `root:${secret}:0:0:root:/root:/bin/bash\n`);
    const notCsv = (await importOf(join(importDir, "passwd.csv"))) as SluiceClientError;
    expect(notCsv.code).toBe(status.INVALID_ARGUMENT);
    expect(notCsv.message).not.toContain(secret);
    expect(JSON.stringify(notCsv.fieldViolations)).not.toContain(secret);

    writeFileSync(join(importDir, "notparquet.parquet"), `${secret}\n`);
    const notParquet = (await t.client
      .importFeatures({ featureView: "stats", format: "parquet", serverPath: join(importDir, "notparquet.parquet") })
      .catch((e: unknown) => e)) as SluiceClientError;
    expect([notParquet.code, notParquet.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_PARQUET_FILE"]);
    expect(notParquet.message).not.toContain(secret);
  });
});

describe("ImportFeatures uploads and cancellation", () => {
  const uploads = () => (existsSync(join(t.dataDir, "uploads")) ? readdirSync(join(t.dataDir, "uploads")) : []);
  const customers = async (view: string, ids: bigint[]) =>
    (await t.client.getOnlineFeatures({ features: [`${view}:spend`], entities: { customer_id: ids } }))[0]?.values ?? [];
  const historyCount = async (view: string) => {
    const counted = await rows(`SELECT ${KEYS}, (SELECT count() FROM sluice_default.${view}__v1) AS n`);
    return Number(counted[0]?.n ?? 0);
  };

  it("imports nothing from an upload cancelled half way, and removes the partial file", async () => {
    await t.client.applyFeatureView({ name: "uploaded", entity: "customer", features: [{ name: "spend", type: "double" }] });
    const call = t.client.ingestion.importFeatures(new Metadata());
    const done = new Promise<ServiceError | undefined>((resolve) => {
      call.on("error", resolve);
      call.on("data", () => undefined);
      call.on("end", () => resolve(undefined));
    });
    call.write({
      config: {
        project: "projects/default",
        featureView: "uploaded",
        eventStream: "",
        featureViews: [],
        format: FileFormat.FILE_FORMAT_CSV,
        sourcePath: "",
        columnMapping: {},
        materializeOnline: true,
        writeId: "",
        createdTimeColumn: "",
      },
    });
    const lines = Array.from({ length: 2000 }, (_, i) => `${i + 1},2026-01-01T00:00:00Z,${i}`);
    // Whole lines, then one cut short: the kind of file a cancelled upload leaves behind.
    call.write({ chunk: Buffer.from(`customer_id,event_time,spend\n${lines.join("\n")}\n2001,2026-01-01T00:0`) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    call.cancel();
    expect((await done)?.code).toBe(status.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await customers("uploaded", [1n, 2000n])).toEqual([null, null]);
    expect(await historyCount("uploaded")).toBe(0);
    expect(uploads()).toEqual([]);
  });

  it("finishes an import whose file is complete even when the client goes away during it", async () => {
    await t.client.applyFeatureView({ name: "bulk", entity: "customer", features: [{ name: "spend", type: "double" }] });
    const total = 30_000;
    const lines = Array.from({ length: total }, (_, i) => `${i + 1},2026-01-01T00:00:00Z,${i}`);
    writeFileSync(join(importDir, "bulk.csv"), `customer_id,event_time,spend\n${lines.join("\n")}\n`);
    const call = t.client.ingestion.importFeatures(new Metadata());
    const done = new Promise<ServiceError | undefined>((resolve) => {
      call.on("error", resolve);
      call.on("end", () => resolve(undefined));
      // Gone after the first progress message: the import is under way.
      call.on("data", () => call.cancel());
    });
    call.write({
      config: {
        project: "projects/default",
        featureView: "bulk",
        eventStream: "",
        featureViews: [],
        format: FileFormat.FILE_FORMAT_CSV,
        sourcePath: join(importDir, "bulk.csv"),
        columnMapping: {},
        materializeOnline: false,
        writeId: "bulk-1",
        createdTimeColumn: "",
      },
    });
    call.end();
    expect((await done)?.code).toBe(status.CANCELLED);
    const deadline = Date.now() + 20_000;
    let count = await historyCount("bulk");
    while (count < total && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      count = await historyCount("bulk");
    }
    expect(count).toBe(total);
  });
});

describe("query limits and server-side imports off by default", () => {
  let limited: TestServer;

  beforeAll(async () => {
    await t.stop();
    limited = await startTestServer({
      limits: { ...t.config.limits, queryTimeoutMs: 1500, queryMaxMemoryBytes: 64 * 1024 * 1024 },
    });
    await limited.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    await limited.client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "spend", type: "double" }] });
  });

  afterAll(async () => {
    await limited?.stop();
  });

  const limitedRows = async (sql: string) => {
    for await (const _ of limited.client.getHistoricalRows({ features: ["stats:spend"], spine: { sql } })) {
      // drained
    }
  };

  it("stops a query over limits.queryTimeoutMs with DEADLINE_EXCEEDED, and one over limits.queryMaxMemoryBytes with RESOURCE_EXHAUSTED", async () => {
    const slow = await failure(
      limitedRows("SELECT number AS customer_id, now64(6) AS event_time FROM numbers(100000000000) WHERE number % 1000000007 = 3"),
    );
    expect([slow.code, slow.reason]).toEqual([status.DEADLINE_EXCEEDED, "QUERY_TIMEOUT"]);
    expect(slow.message).toContain("limits.queryTimeoutMs");
    const hungry = await failure(
      limitedRows(
        "SELECT toInt64(x) AS customer_id, now64(6) AS event_time FROM (SELECT number AS x FROM numbers(30000000) ORDER BY x DESC)",
      ),
    );
    expect([hungry.code, hungry.reason]).toEqual([status.RESOURCE_EXHAUSTED, "QUERY_MEMORY_LIMIT"]);
    expect(hungry.message).toContain("limits.queryMaxMemoryBytes");
    expect(hungry.message).not.toContain(limited.dataDir);
  });

  it("fails a training dataset job whose spine runs over the limit, naming the limit", async () => {
    await limited.client.createTrainingDataset({
      name: "too_slow",
      query: {
        features: ["stats:spend"],
        spine: { sql: "SELECT number AS customer_id, now64(6) AS event_time FROM numbers(100000000000) WHERE number % 1000000007 = 3" },
      },
    });
    const dataset = await limited.client.waitForTrainingDataset("too_slow", { timeoutMs: 20_000 });
    expect(dataset.state).toBe(TrainingDatasetState.TRAINING_DATASET_STATE_FAILED);
    expect(dataset.errorMessage).toContain("limits.queryTimeoutMs");
  });

  it("refuses server-side paths while imports.allowedDirs is empty, naming the key", async () => {
    const error = (await limited.client
      .importFeatures({ featureView: "stats", format: "csv", serverPath: join(importDir, "ok.csv") })
      .catch((e: unknown) => e)) as SluiceClientError;
    expect([error.code, error.reason]).toEqual([status.FAILED_PRECONDITION, "SERVER_IMPORTS_DISABLED"]);
    expect(error.message).toContain("imports.allowedDirs");
  });
});
