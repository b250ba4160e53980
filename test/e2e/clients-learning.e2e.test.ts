/**
 * The Python and Go online-learning examples (clients/python/examples/learning.py,
 * clients/go/examples/learning) run as a user runs them, as child processes, against a real server
 * started here. Each example checks its answers itself and exits 1 on a difference; this suite also
 * checks its exit code, its transcript (the same for both languages) and, through the TypeScript
 * SDK, that the learner really learned, was published and is served as the example left it.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LearnerState } from "../../src/gen/sluice/v1/learning.pb.js";
import {
  goBinary,
  goMissing,
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
const skipPython = skipWithoutToolchain("Python client learning test", pythonClientMissing());
const skipGo = skipWithoutToolchain("Go client learning test", goMissing());

/** The labels both examples send: 4 rounds of predictions for 12 users, one outcome per row. */
const EXAMPLES = 48n;

/**
 * What both examples print against a fresh project, line for line. The metrics and the learned
 * probabilities are the same at every run: the labels go in one order, and learning is
 * deterministic (docs/learning.md).
 */
const transcript = (project: string) => [
  "health: SERVING",
  `project ${project}: created`,
  "entity user: APPLY_OUTCOME_CREATED",
  "feature view profile: APPLY_OUTCOME_CREATED, version 1",
  "WriteFeatureBatch: accepted 12",
  "CreateLearner: ctr LOGISTIC_REGRESSION, inputs age=profile@1:age country=profile@1:country hour=request:hour, LEARNING",
  "ApplyDeployment: endpoint ctr, stable ctr@live, revision 1",
  "Predict: 4 requests of 12 rows by ctr@live (stable), every probability 0.5000",
  "WriteLabels refused: INVALID_ARGUMENT INVALID_LABEL labels[1].label",
  "WriteLabels: 2 batches, accepted 48, unmatched 0",
  "GetLearner: LEARNING, examples_learned 48, lag 0, accuracy 0.7917, log_loss 0.5242",
  "PauseLearner: PAUSED",
  "Predict: user 2 at 22h 0.8087, user 3 at 3h 0.3180 by ctr@live",
  "PublishLearner: ctr@1, sluice.examples 48",
  "ApplyDeployment: endpoint ctr_published, stable ctr@1, revision 1",
  "Predict: 39 rows, ctr@live and ctr@1 agree within 1e-6",
  "GetLearner: PAUSED, examples_learned 48, entries_consumed 48",
  "ok",
];

let t: TestServer;
/** The Go example's binary, built while the Python tests run (see clients.e2e.test.ts). */
let goExample: Promise<string> | undefined;

beforeAll(async () => {
  if (!skipGo) {
    goExample = goBinary("clients/go", "./examples/learning");
    goExample.catch(() => {}); // awaited, and reported, by the Go suite
  }
  t = await startTestServer();
}, 300_000);

afterAll(async () => {
  await t?.stop();
});

/**
 * Checks through the TypeScript SDK what the example left behind: a paused learner that learned
 * every label once (the refused batch appended nothing) with its metrics, the published version
 * with its lineage, and the two endpoints serving the live state and that version.
 */
async function expectLearnedByExample(project: string): Promise<void> {
  const learner = await t.client.getLearner("ctr", project);
  expect(learner.name).toBe(`projects/${project}/learners/ctr`);
  expect(learner.inputs.map((i) => i.feature ?? `request:${i.requestFeature}`)).toEqual([
    "profile@1:age",
    "profile@1:country",
    "request:hour",
  ]);
  const status = learner.status;
  expect(status?.state).toBe(LearnerState.LEARNER_STATE_PAUSED);
  expect([status?.examplesLearned, status?.entriesConsumed, status?.unmatchedLabels, status?.lag]).toEqual([EXAMPLES, EXAMPLES, 0n, 0n]);
  expect(status?.cumulative?.examples).toBe(EXAMPLES);
  expect(status?.cumulative?.accuracy).toBeGreaterThan(0.6);

  const version = await t.client.getModelVersion("ctr@1", project);
  expect(version.labels["sluice.learner"]).toBe(`projects/${project}/learners/ctr`);
  expect(version.labels["sluice.examples"]).toBe(String(EXAMPLES));
  expect(version.description).toBe("published by the learning example");
  const live = await t.client.getDeployment("ctr", project);
  expect(live.stableVersion).toBe(`projects/${project}/models/ctr/versions/live`);
  const published = await t.client.getDeployment("ctr_published", project);
  expect(published.stableVersion).toBe(`projects/${project}/models/ctr/versions/1`);
}

// The examples run as separate processes on projects of their own, the two languages at once.
describe.skipIf(skipPython)("Python client learning example (clients/python)", { concurrent: true }, () => {
  const example = join(repositoryRoot, "clients/python/examples/learning.py");
  const runPython = (project: string, address = t.server.address) =>
    runExample(python, [example, "--address", address, "--project", project], pythonEnv);

  describe("on a fresh project, then again on it", { sequential: true }, () => {
    it("creates a learner, serves it live, teaches it, publishes it and prints what it expects", async () => {
      const { code, stdout, stderr } = await runPython("python_learning");
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout.trimEnd().split("\n")).toEqual(transcript("python_learning"));
      await expectLearnedByExample("python_learning");
    });

    it("refuses to run again on the same project, saying why", async () => {
      const { code, stdout, stderr } = await runPython("python_learning");
      expect(code).toBe(1);
      expect(stdout).toBe("health: SERVING\n");
      expect(stderr).toBe("MISMATCH project python_learning already exists: the example needs a fresh project, pass a new --project\n");
    });
  });

  it("fails when no server answers", async () => {
    const { code, stderr } = await runPython("nowhere", await unusedAddress());
    expect(code).toBe(1);
    expect(stderr).toContain("UNAVAILABLE");
  });
});

describe.skipIf(skipGo)("Go client learning example (clients/go)", { concurrent: true }, () => {
  let binary: string;
  const runGo = (project: string, address = t.server.address) => runExample(binary, ["--address", address, "--project", project]);

  beforeAll(async () => {
    binary = await (goExample as Promise<string>);
  }, 300_000);

  describe("on a fresh project, then again on it", { sequential: true }, () => {
    it("creates a learner, serves it live, teaches it, publishes it and prints what it expects", async () => {
      const { code, stdout, stderr } = await runGo("go_learning");
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout.trimEnd().split("\n")).toEqual(transcript("go_learning"));
      await expectLearnedByExample("go_learning");
    });

    it("refuses to run again on the same project, saying why", async () => {
      const { code, stdout, stderr } = await runGo("go_learning");
      expect(code).toBe(1);
      expect(stdout).toBe("health: SERVING\n");
      expect(stderr).toBe("MISMATCH project go_learning already exists: the example needs a fresh project, pass a new --project\n");
    });
  });

  it("fails when no server answers", async () => {
    const { code, stderr } = await runGo("nowhere", await unusedAddress());
    expect(code).toBe(1);
    expect(stderr).toContain("Unavailable");
  });
});
