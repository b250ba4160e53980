/**
 * The Python and Go quickstarts (clients/python/examples, clients/go/examples) run as a user runs
 * them, as child processes, against a real server started here. Each example checks every answer
 * itself and exits 1 on a difference; this suite also checks its exit code, its transcript (the
 * same for both languages) and, through the TypeScript SDK, what it really stored.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlainValue } from "../../clients/typescript/src/index.js";
import {
  goBinary,
  goMissing,
  pyarrowInstalled,
  python,
  pythonClientMissing,
  pythonEnv,
  repositoryRoot,
  runExample,
  skipWithoutToolchain,
} from "../support/client-toolchains.js";
import { unusedAddress } from "../support/ports.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// Skipped only where python3 with grpcio or the Go toolchain is missing (one line says so); CI sets
// REQUIRE_CLIENT_TESTS=1, which turns that skip into a failure, so these suites always run there.
const skipPython = skipWithoutToolchain("Python client test", pythonClientMissing());
const skipGo = skipWithoutToolchain("Go client test", goMissing());

/** The model both examples upload by default (weights they check Predict against), and another one. */
const MODEL = join(repositoryRoot, "src/cli/demo-models/churn-v1.onnx");
const OTHER_MODEL = join(repositoryRoot, "src/cli/demo-models/churn-v2.onnx");
/** The features the examples bind the model's input to, in order. */
const MODEL_REFS = ["customer_stats@1:orders_30d", "customer_stats@1:spend_30d", "customer_stats@1:refunds_30d"];

/** The lines only the Python example prints: its pyarrow tables, or that pyarrow is not installed. */
interface ArrowLines {
  online: string;
  historical: string;
}

/** What both examples print against a fresh project, line for line (Python adds its pyarrow lines). */
const transcript = (project: string, arrow?: ArrowLines) => [
  "health: SERVING",
  `project ${project}: created`,
  "entity customer: APPLY_OUTCOME_CREATED",
  "feature view customer_stats: APPLY_OUTCOME_CREATED, version 1",
  "feature view customer_stats again: APPLY_OUTCOME_UNCHANGED, version 1",
  'WriteFeatureBatch: accepted 2, rejected row 2 at rows[2].features["spend_30d"]',
  "WriteFeatureBatch retried with the same write id: duplicate true",
  "WriteFeatures: ack 1 accepted 2",
  "WriteFeatures: ack 2 accepted 1",
  'GetOnlineFeatures: {"customer_id":1,"orders_30d":4,"orders_30d__status":"PRESENT","segment":"gold","segment__status":"PRESENT","spend_30d":20.5,"spend_30d__status":"PRESENT"}',
  'GetOnlineFeatures: {"customer_id":2,"orders_30d":1,"orders_30d__status":"PRESENT","segment":null,"segment__status":"NULL_VALUE","spend_30d":4.25,"spend_30d__status":"PRESENT"}',
  'GetOnlineFeatures: {"customer_id":3,"orders_30d":7,"orders_30d__status":"PRESENT","segment":"silver","segment__status":"PRESENT","spend_30d":99.75,"spend_30d__status":"PRESENT"}',
  'GetOnlineFeatures: {"customer_id":4,"orders_30d":null,"orders_30d__status":"NOT_FOUND","segment":null,"segment__status":"NOT_FOUND","spend_30d":null,"spend_30d__status":"NOT_FOUND"}',
  `unknown view: NOT_FOUND FEATURE_VIEW_NOT_FOUND projects/${project}/featureViews/no_such_view`,
  "invalid view: INVALID_ARGUMENT INVALID_FEATURE_VIEW feature_view.features[0].name feature_view.features[1].name",
  ...(arrow ? [arrow.online] : []),
  ...historicalLines,
  ...(arrow ? [arrow.historical] : []),
  `UploadModel: churn@1, input features float32 [-1, 3] from ${MODEL_REFS.join(" ")}, output churn_probability float32 [-1, 1]`,
  "ApplyDeployment: endpoint churn, stable churn@1, revision 1",
  // sigmoid(-0.08 * 4 - 0.01 * 20.5 + 0.5 * 1 + 1) and sigmoid(-0.08 * 7 - 0.01 * 99.75 + 0.5 * 0 + 1).
  "Predict: customer 1 churn_probability 0.7261 by churn@1 (stable), features PRESENT PRESENT PRESENT",
  "Predict: customer 3 churn_probability 0.3641 by churn@1 (stable), features PRESENT PRESENT PRESENT",
];

/**
 * The training set both examples read over the 2025 history they write: nothing before the first
 * event, then the values as of each spine time, and nothing once the newest is older than the TTL.
 * The same at every run, so a re-run prints these lines too.
 */
const historicalLines = [
  "WriteFeatureBatch: history of 2025 accepted 3",
  'GetHistoricalFeatures: {"churned":false,"customer_id":1,"event_time":"2025-01-05T00:00:00Z","orders_30d":null,"segment":null,"spend_30d":null}',
  'GetHistoricalFeatures: {"churned":false,"customer_id":1,"event_time":"2025-01-31T00:00:00Z","orders_30d":2,"segment":"silver","spend_30d":8.5}',
  'GetHistoricalFeatures: {"churned":false,"customer_id":1,"event_time":"2025-02-28T00:00:00Z","orders_30d":5,"segment":"gold","spend_30d":31.25}',
  'GetHistoricalFeatures: {"churned":true,"customer_id":1,"event_time":"2025-03-31T00:00:00Z","orders_30d":null,"segment":null,"spend_30d":null}',
  'GetHistoricalFeatures: {"churned":true,"customer_id":2,"event_time":"2025-02-01T00:00:00Z","orders_30d":1,"segment":null,"spend_30d":2.75}',
];

/** The Python example's pyarrow lines: CI installs pyarrow (requirements-dev.txt), so the table paths must run there. */
function pythonArrowLines(): ArrowLines {
  return pyarrowInstalled() || process.env.REQUIRE_CLIENT_TESTS === "1"
    ? {
        online: "pyarrow: 4 rows, orders_30d int64, spend_30d double, segment string, orders_30d__event_time timestamp[us, tz=UTC]",
        historical:
          "pyarrow historical: 5 rows, customer_id int64, event_time timestamp[us, tz=UTC], churned bool, orders_30d int64, spend_30d double, segment string",
      }
    : { online: "pyarrow: not installed, table skipped", historical: "pyarrow historical: not installed, table skipped" };
}

let t: TestServer;
/**
 * The Go example's binary, built while the Python tests run. The first build compiles grpc-go
 * and downloads the module's dependencies through the Go module proxy (about a minute on a fresh
 * machine); later builds come from Go's cache, and an unchanged binary is not linked again.
 */
let goExample: Promise<string> | undefined;

beforeAll(async () => {
  if (!skipGo) {
    goExample = goBinary("clients/go", "./examples/quickstart");
    goExample.catch(() => {}); // awaited, and reported, by the Go suite
  }
  t = await startTestServer();
}, 300_000);

afterAll(async () => {
  await t?.stop();
});

/**
 * Checks through the TypeScript SDK that what the example wrote and deployed is what the server now
 * holds: the online values, the 2025 history (point in time), the model version with its bindings
 * and the file's hash, and the endpoint serving it as stable.
 */
async function expectStoredByExample(project: string): Promise<void> {
  const columns = await t.client.getOnlineFeatures({
    project,
    features: ["customer_stats:orders_30d", "customer_stats:spend_30d", "customer_stats:refunds_30d"],
    entities: { customer_id: [1n, 2n, 3n, 4n] },
  });
  expect(columns.map((c) => c.values.map((v) => (v === null ? null : Number(v))))).toEqual([
    [4, 1, 7, null],
    [20.5, 4.25, 99.75, null],
    [1, null, 0, null],
  ]);

  const rows: Array<Record<string, unknown>> = [];
  for await (const row of t.client.getHistoricalRows({
    project,
    features: ["customer_stats:orders_30d", "customer_stats:spend_30d"],
    spine: {
      rows: [
        // The January event until it is older than the 30-day TTL, then nothing until February's.
        { entityKey: { customer_id: 1n }, eventTime: new Date("2025-02-09T00:00:00Z") },
        { entityKey: { customer_id: 1n }, eventTime: new Date("2025-02-09T00:00:01Z") },
        { entityKey: { customer_id: 1n }, eventTime: new Date("2025-02-10T00:00:00Z") },
      ],
    },
  }))
    rows.push(row);
  expect(rows.map((r) => [r.orders_30d, r.spend_30d])).toEqual([
    [2n, 8.5],
    [null, null],
    [5n, 31.25],
  ]);

  const version = await t.client.getModelVersion("churn@1", project);
  expect(version.inputBindings.map((b) => [b.inputName, b.features?.refs])).toEqual([["features", MODEL_REFS]]);
  expect(version.sha256).toBe(createHash("sha256").update(readFileSync(MODEL)).digest("hex"));
  const deployment = await t.client.getDeployment("churn", project);
  expect([deployment.stableVersion, deployment.revision]).toEqual([`projects/${project}/models/churn/versions/1`, 1n]);
}

/** Creates a project with the example's definitions (so its applies are UNCHANGED) and writes `rows`. */
async function seedProject(
  project: string,
  rows: Array<{ customer: bigint; eventTime: Date; features: Record<string, PlainValue> }>,
): Promise<void> {
  await t.client.createProject(project);
  await t.client.applyEntity({
    project,
    name: "customer",
    joinKeys: [{ name: "customer_id", type: "int64" }],
    description: "a paying customer",
  });
  await t.client.applyFeatureView({
    project,
    name: "customer_stats",
    entity: "customer",
    ttlSeconds: 30 * 86_400,
    features: [
      { name: "orders_30d", type: "int64" },
      { name: "spend_30d", type: "double" },
      { name: "segment", type: "string" },
      { name: "refunds_30d", type: "int64" },
    ],
  });
  const ack = await t.client.writeFeatureBatch({
    project,
    featureView: "customer_stats",
    rows: rows.map((r) => ({ entityKey: { customer_id: r.customer }, eventTime: r.eventTime, features: r.features })),
  });
  expect(ack.acceptedCount).toBe(rows.length);
}

/**
 * Seeds a project so that the server's answers differ from what the example expects: customer 1
 * already has a newer event than the example writes, so the example's online read sees other values.
 */
async function seedConflictingProject(project: string): Promise<void> {
  await seedProject(project, [{ customer: 1n, eventTime: new Date(Date.now() + 60_000), features: { orders_30d: 100n } }]);
}

/**
 * Seeds a project whose online answers are the example's (the event is old) but whose history is
 * not: customer 1 has an event on 2025-01-20, between the example's, which its training set then shows.
 */
async function seedConflictingHistory(project: string): Promise<void> {
  await seedProject(project, [
    { customer: 1n, eventTime: new Date("2025-01-20T00:00:00Z"), features: { orders_30d: 100n, spend_30d: 1.5, segment: "bronze" } },
  ]);
}

// The examples run as separate processes on projects of their own: the two languages' suites, and
// the tests within each, run at once, except the two runs on one project, which run in order.
describe.skipIf(skipPython)("Python client (clients/python)", { concurrent: true }, () => {
  const example = join(repositoryRoot, "clients/python/examples/quickstart.py");
  const runPython = (project: string, address = t.server.address, model = MODEL) =>
    runExample(python, [example, "--address", address, "--project", project, "--model", model], pythonEnv);

  describe("the quickstart, twice on one project", { sequential: true }, () => {
    it("runs the quickstart against the server and prints what it expects", async () => {
      const { code, stdout, stderr } = await runPython("python_example");
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout.trimEnd().split("\n")).toEqual([...transcript("python_example", pythonArrowLines()), "ok"]);
      await expectStoredByExample("python_example");
    });

    it("runs again on the same project: definitions UNCHANGED, the same reads, a new model version", async () => {
      const { code, stdout, stderr } = await runPython("python_example");
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout).toContain("project python_example: already exists\nentity customer: APPLY_OUTCOME_UNCHANGED\n");
      expect(stdout).toContain("feature view customer_stats: APPLY_OUTCOME_UNCHANGED, version 1\n");
      expect(stdout).toContain(`${historicalLines.join("\n")}\n`);
      expect(stdout).toContain("ApplyDeployment: endpoint churn, stable churn@2, revision 2\n");
      expect(stdout).toContain("Predict: customer 1 churn_probability 0.7261 by churn@2 (stable)");
    });
  });

  it("fails, naming the difference, when the server's answers differ", async () => {
    await seedConflictingProject("python_conflict");
    const { code, stderr } = await runPython("python_conflict");
    expect(code).toBe(1);
    expect(stderr).toMatch(/^MISMATCH customer 1 values: expected \(1, 4, 20\.5, 'gold'\), got \(1, 100, None, None\)/);
  });

  it("fails when the training set differs", async () => {
    await seedConflictingHistory("python_history_conflict");
    const { code, stderr } = await runPython("python_history_conflict");
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^MISMATCH historical row 2 \(customer 1 at 2025-01-31\): expected \(1, .*, False, 2, 8\.5, 'silver'\), got \(1, .*, False, 100, 1\.5, 'bronze'\)/,
    );
  });

  it("fails when the served model's predictions differ from its own computation", async () => {
    const { code, stderr } = await runPython("python_other_model", t.server.address, OTHER_MODEL);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^MISMATCH customer 1 churn_probability: expected 0\.726115 \(within 1e-05\), got 0\.76/);
  });

  it("fails when no server answers", async () => {
    const { code, stderr } = await runPython("nowhere", await unusedAddress());
    expect(code).toBe(1);
    expect(stderr).toContain("UNAVAILABLE");
  });
});

describe.skipIf(skipGo)("Go client (clients/go)", { concurrent: true }, () => {
  let binary: string;
  const runGo = (project: string, address = t.server.address, model = MODEL) =>
    runExample(binary, ["--address", address, "--project", project, "--model", model]);

  beforeAll(async () => {
    binary = await (goExample as Promise<string>);
  }, 300_000);

  describe("the quickstart, twice on one project", { sequential: true }, () => {
    it("runs the quickstart against the server and prints what it expects", async () => {
      const { code, stdout, stderr } = await runGo("go_example");
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout.trimEnd().split("\n")).toEqual([...transcript("go_example"), "ok"]);
      await expectStoredByExample("go_example");
    });

    it("runs again on the same project: the same training set, a new model version", async () => {
      const { code, stdout, stderr } = await runGo("go_example");
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout).toContain(`${historicalLines.join("\n")}\n`);
      expect(stdout).toContain("ApplyDeployment: endpoint churn, stable churn@2, revision 2\n");
    });
  });

  it("fails, naming the difference, when the server's answers differ", async () => {
    await seedConflictingProject("go_conflict");
    const { code, stderr } = await runGo("go_conflict");
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^MISMATCH customer 1 values: expected \[\]interface \{\}\{4, 20\.5, "gold"\}, got \[\]interface \{\}\{100, interface \{\}\(nil\)/,
    );
  });

  it("fails when the training set differs", async () => {
    await seedConflictingHistory("go_history_conflict");
    const { code, stderr } = await runGo("go_history_conflict");
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^MISMATCH historical row 2 \(customer 1 at 2025-01-31\): expected \[\]interface \{\}\{1, .*, false, 2, 8\.5, "silver"\}, got \[\]interface \{\}\{1, .*, false, 100, 1\.5, "bronze"\}/,
    );
  });

  it("fails when the served model's predictions differ from its own computation", async () => {
    const { code, stderr } = await runGo("go_other_model", t.server.address, OTHER_MODEL);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^MISMATCH customer 1 churn_probability: expected 0\.726115 \(within 1e-05\), got 0\.76/);
  });

  it("fails when no server answers", async () => {
    const { code, stderr } = await runGo("nowhere", await unusedAddress());
    expect(code).toBe(1);
    expect(stderr).toContain("Unavailable");
  });
});
