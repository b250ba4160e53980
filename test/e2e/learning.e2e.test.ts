/**
 * Online learners end to end, on the real server and SDK: a learner bound to stored features and
 * request values serves live as an endpoint's stable version, learns from labels joined to the
 * values its predictions were served from (by request id) or to point-in-time values (by
 * entity), reports prequential metrics, publishes ONNX versions that predict what it predicts,
 * pauses, resumes, restores, diverges, and refuses bad input without losing what it accepted.
 */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClientError } from "../../clients/typescript/src/errors.js";
import { LearnerState } from "../../src/gen/sluice/v1/learning.pb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const users = Array.from({ length: 40 }, (_, i) => BigInt(i + 1));
const HOUR = 3600_000;
const writtenAt = new Date(Date.now() - 2 * HOUR);
const ageOf = (id: bigint) => 20 + Number(id % 30n);
const countryOf = (id: bigint) => (id % 2n === 0n ? "fr" : "de");
/** The hidden rule the labels follow: young users in "fr" click. */
const clicks = (id: bigint, hour: number) => (ageOf(id) < 35 && countryOf(id) === "fr") || hour > 20;

beforeAll(async () => {
  t = await startTestServer({});
  await t.client.applyEntity({ name: "user", joinKeys: [{ name: "user_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "profile",
    entity: "user",
    features: [
      { name: "age", type: "double" },
      { name: "country", type: "string" },
    ],
  });
  await t.client.writeFeatureBatch({
    featureView: "profile",
    rows: users.map((id) => ({ entityKey: { user_id: id }, eventTime: writtenAt, features: { age: ageOf(id), country: countryOf(id) } })),
  });
  await t.client.createLearner({
    learner: "ctr",
    kind: "logistic",
    inputs: [
      { name: "age", type: "numeric", feature: "profile:age" },
      { name: "country", type: "categorical", feature: "profile:country" },
      { name: "hour", type: "numeric", request: "hour" },
      { name: "device", type: "categorical", request: "device" },
    ],
    hashBuckets: 64,
    optimizer: { sgd: { learningRate: 0.05 } },
    checkpoint: { everyExamples: 50 },
  });
  await t.client.applyDeployment({ endpoint: "ctr", stable: "ctr@live" });
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

/** Polls a learner until `done` holds (learning is asynchronous to the label write). */
async function learnerWhen(name: string, done: (learner: Awaited<ReturnType<TestServer["client"]["getLearner"]>>) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const learner = await t.client.getLearner(name);
    if (done(learner)) return learner;
    if (Date.now() > deadline)
      throw new Error(
        `learner ${name} never got there: ${JSON.stringify(learner.status, (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const predictOne = (endpoint: string, id: bigint, hour: number, device: string) =>
  t.client.predict({ endpoint, entities: { user_id: [id] }, requestFeatures: { hour: [hour], device: [device] } });

describe("a live learner", () => {
  it("pins its feature inputs and owns the model of its name", async () => {
    const learner = await t.client.getLearner("ctr");
    expect(learner.name).toBe("projects/default/learners/ctr");
    expect(learner.inputs.map((i) => i.feature ?? `request:${i.requestFeature}`)).toEqual([
      "profile@1:age",
      "profile@1:country",
      "request:hour",
      "request:device",
    ]);
    expect(learner.status?.state).toBe(LearnerState.LEARNER_STATE_LEARNING);
    expect(learner.status?.examplesLearned).toBe(0n);
    const listed: string[] = [];
    for await (const each of t.client.listLearners()) listed.push(each.name);
    expect(listed).toContain("projects/default/learners/ctr");
    const live = await t.client.getModelVersion("ctr@live");
    expect(live.name).toBe("projects/default/models/ctr/versions/live");
    expect(live.inputs.map((i) => `${i.name}:${i.elementType}`)).toEqual([
      "age:float64",
      "hour:float64",
      "country:string",
      "device:string",
    ]);
    expect(live.outputs.map((o) => o.name)).toEqual(["probability"]);
  });

  it("serves as an endpoint's stable version before and while it learns, and learns from outcome labels", async () => {
    const first = await predictOne("ctr", 1n, 9, "ios");
    expect(first.modelVersion).toBe("projects/default/models/ctr/versions/live");
    expect(first.outputs.probability?.values).toEqual([0.5]);
    const labels = [];
    for (let round = 0; round < 6; round++) {
      for (const id of users) {
        const hour = (Number(id) * 7 + round * 5) % 24;
        const served = await predictOne("ctr", id, hour, round % 2 === 0 ? "ios" : "android");
        labels.push({ requestId: served.requestId, label: clicks(id, hour) });
      }
    }
    const written = await t.client.writeLabels({ learner: "ctr", labels });
    expect(written.accepted).toBe(BigInt(labels.length));
    expect(written.unmatched).toBe(0n);
    // A label sent the moment its answer arrives, with nothing in between, finds its prediction.
    const latest = await predictOne("ctr", 1n, 9, "ios");
    const right = await t.client.writeLabels({ learner: "ctr", labels: [{ requestId: latest.requestId, label: true }] });
    expect([right.accepted, right.unmatched]).toEqual([1n, 0n]);
    labels.push({ requestId: latest.requestId, label: true });
    const learner = await learnerWhen("ctr", (l) => l.status?.examplesLearned === BigInt(labels.length));
    const status = learner.status;
    expect(status?.lag).toBe(0n);
    expect(status?.cumulative?.examples).toBe(BigInt(labels.length));
    expect(status?.cumulative?.accuracy).toBeGreaterThan(0.6);
    expect(status?.rolling?.logLoss).toBeLessThan(0.69);
    expect(status?.windows.length).toBeGreaterThan(0);
    expect(status?.lastCheckpointExamples).toBeGreaterThan(0n);
    // What it learned shows: a likely click now scores above an unlikely one.
    const likely = await predictOne("ctr", 2n, 22, "ios");
    const unlikely = await predictOne("ctr", 27n, 3, "ios");
    expect(likely.outputs.probability?.values[0]).toBeGreaterThan(unlikely.outputs.probability?.values[0] as number);
    // The deployment report shows the live version's prequential metrics beside its serving figures.
    const report = (await t.client.getDeploymentReport("ctr")).find((v) => v.modelVersion.endsWith("/versions/live"));
    expect(report?.learnerCumulative?.examples).toBe(BigInt(labels.length));
    expect(report?.learnerCumulative?.accuracy).toBe(status?.cumulative?.accuracy);
    expect(report?.learnerRolling?.logLoss).toBeGreaterThan(0);
  });

  it("joins labels keyed by entity with the point-in-time values at the event time", async () => {
    const before = (await t.client.getLearner("ctr")).status?.examplesLearned ?? 0n;
    const written = await t.client.writeLabels({
      learner: "ctr",
      labels: [
        { entity: { user_id: 4n }, eventTime: new Date(), label: true, requestFeatures: { hour: 12, device: "ios" } },
        // Before any profile value existed: the stored features read as missing (0 and absent).
        { entity: { user_id: 5n }, eventTime: new Date(writtenAt.getTime() - HOUR), label: 0, requestFeatures: { hour: 3, device: "web" } },
      ],
    });
    expect(written.accepted).toBe(2n);
    await learnerWhen("ctr", (l) => l.status?.examplesLearned === before + 2n);
  });

  it("keeps labels whose request id matches no prediction, and reports them", async () => {
    const status = (await t.client.getLearner("ctr")).status;
    const written = await t.client.writeLabels({ learner: "ctr", labels: [{ requestId: "no-such-request", label: 1 }] });
    expect(written.unmatched).toBe(1n);
    expect(written.unmatchedLabels[0]).toMatchObject({ index: 0n, requestId: "no-such-request" });
    const after = await learnerWhen("ctr", (l) => l.status?.unmatchedLabels === (status?.unmatchedLabels ?? 0n) + 1n);
    expect(after.status?.examplesLearned).toBe(status?.examplesLearned);
  });

  it("appends a batch with a write id once, however often it is sent", async () => {
    const before = (await t.client.getLearner("ctr")).status;
    const batch = {
      learner: "ctr",
      writeId: "batch-1",
      labels: [{ entity: { user_id: 6n }, eventTime: new Date(), label: 1, requestFeatures: { hour: 21, device: "ios" } }],
    };
    const first = await t.client.writeLabels(batch);
    const retry = await t.client.writeLabels(batch);
    expect(retry.logPosition).toBe(first.logPosition);
    expect(retry.accepted).toBe(0n);
    await learnerWhen("ctr", (l) => l.status?.entriesConsumed === (before?.entriesConsumed ?? 0n) + 1n);
  });
});

describe("publishing", () => {
  it("publishes an ONNX version that predicts what the live learner predicts, with its lineage", async () => {
    await t.client.pauseLearner("ctr", { reason: "publish and compare" });
    const paused = await t.client.getLearner("ctr");
    expect(paused.status?.state).toBe(LearnerState.LEARNER_STATE_PAUSED);
    const name = await t.client.publishLearner("ctr");
    expect(name).toBe("projects/default/models/ctr/versions/1");
    const version = await t.client.getModelVersion("ctr@1");
    expect(version.labels["sluice.learner"]).toBe("projects/default/learners/ctr");
    expect(version.labels["sluice.examples"]).toBe(String(paused.status?.examplesLearned));
    expect(Number(version.labels["sluice.accuracy"])).toBeCloseTo(paused.status?.cumulative?.accuracy ?? 0, 12);
    expect(version.inputs.map((i) => [i.name, i.elementType])).toEqual([
      ["age", "float64"],
      ["hour", "float64"],
      ["country", "string"],
      ["device", "string"],
    ]);
    await t.client.applyDeployment({ endpoint: "ctr_onnx", stable: "ctr@1" });
    for (const id of [...users.slice(0, 10), 999n]) {
      for (const [hour, device] of [
        [3, "ios"],
        [22, "web"],
        [12, ""],
      ] as const) {
        const live = await predictOne("ctr", id, hour, device);
        const onnx = await predictOne("ctr_onnx", id, hour, device);
        expect(onnx.modelVersion).toBe("projects/default/models/ctr/versions/1");
        expect(Math.abs((live.outputs.probability?.values[0] ?? 0) - (onnx.outputs.probability?.values[0] ?? 1))).toBeLessThan(1e-6);
      }
    }
  });

  it("serves the live learner as a canary beside its published version, and as a shadow", async () => {
    await t.client.applyDeployment({ endpoint: "ctr_onnx", stable: "ctr@1", canary: { version: "ctr@live", percent: 100 } });
    const served = await predictOne("ctr_onnx", 3n, 10, "ios");
    expect([served.modelVersion, served.role]).toEqual(["projects/default/models/ctr/versions/live", "canary"]);
    await t.client.applyDeployment({ endpoint: "ctr_onnx", stable: "ctr@1", shadows: ["ctr@live"] });
    for (let i = 0; i < 5; i++) await predictOne("ctr_onnx", 3n, 10, "ios");
    await expect
      .poll(async () => (await t.client.getDeploymentReport("ctr_onnx")).find((r) => r.role === "shadow")?.agreementRate, {
        timeout: 10_000,
      })
      .toBe(1);
  });

  it("restores the live learner to a published version's state, paused", async () => {
    await t.client.resumeLearner("ctr");
    const before = (await t.client.getLearner("ctr")).status;
    // Learn more, so the live state moves away from version 1.
    const labels = users.map((id) => ({
      entity: { user_id: id },
      eventTime: new Date(),
      label: 1,
      requestFeatures: { hour: 1, device: "tv" },
    }));
    await t.client.writeLabels({ learner: "ctr", labels });
    await learnerWhen("ctr", (l) => l.status?.examplesLearned === (before?.examplesLearned ?? 0n) + BigInt(labels.length));
    const moved = await predictOne("ctr", 9n, 1, "tv");
    const published = await predictOne("ctr_onnx", 9n, 1, "tv");
    expect(Math.abs((moved.outputs.probability?.values[0] ?? 0) - (published.outputs.probability?.values[0] ?? 0))).toBeGreaterThan(1e-3);
    const restored = await t.client.restoreLearner("ctr", "ctr@1");
    expect(restored.status?.state).toBe(LearnerState.LEARNER_STATE_PAUSED);
    expect(restored.status?.reason).toContain("restored from version 1");
    const back = await predictOne("ctr", 9n, 1, "tv");
    expect(Math.abs((back.outputs.probability?.values[0] ?? 0) - (published.outputs.probability?.values[0] ?? 1))).toBeLessThan(1e-12);
    // The log position stays: what was learned since is not learned again on resume.
    expect(restored.status?.logPosition).toBe(String(Number(before?.logPosition) + labels.length));
    await t.client.resumeLearner("ctr");
  });
});

describe("bad input", () => {
  const refused = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SluiceClientError);
    return error as SluiceClientError;
  };
  /** Status name and reason of a refusal. */
  const codeAndReason = (error: SluiceClientError) => [status[error.code], error.reason];

  it("refuses a learner with zero hash buckets for categorical inputs, bad names and unknown features", async () => {
    const zero = await refused(
      t.client.createLearner({
        learner: "zero",
        kind: "logistic",
        inputs: [{ name: "country", type: "categorical", feature: "profile:country" }],
        hashBuckets: 0,
        optimizer: { sgd: { learningRate: 0.1 } },
      }),
    );
    expect(codeAndReason(zero)).toEqual(["INVALID_ARGUMENT", "INVALID_LEARNER"]);
    expect(zero.fieldViolations.map((v) => v.field)).toContain("learner.hash_buckets");
    const wrongType = await refused(
      t.client.createLearner({
        learner: "wrong",
        kind: "logistic",
        inputs: [{ name: "country", type: "numeric", feature: "profile:country" }],
        optimizer: { sgd: { learningRate: 0.1 } },
      }),
    );
    expect(wrongType.fieldViolations[0]?.description).toContain("a numeric input takes");
    const badRate = await refused(
      t.client.createLearner({
        learner: "rate",
        kind: "linear",
        inputs: [{ name: "x", type: "numeric", request: "x" }],
        optimizer: { sgd: { learningRate: -1 } },
      }),
    );
    expect(badRate.fieldViolations.map((v) => v.field)).toEqual(["learner.sgd.learning_rate"]);
    const unknown = await refused(
      t.client.createLearner({
        learner: "unknown",
        kind: "logistic",
        inputs: [{ name: "x", type: "numeric", feature: "profile:nope" }],
        optimizer: { sgd: { learningRate: 0.1 } },
      }),
    );
    expect(unknown.code).toBe(5);
    const taken = await refused(
      t.client.createLearner({
        learner: "ctr",
        kind: "linear",
        inputs: [{ name: "x", type: "numeric", request: "x" }],
        optimizer: { sgd: { learningRate: 0.1 } },
      }),
    );
    expect(taken.code).toBe(6);
  });

  it("refuses labels of the wrong type, non-finite labels and features, and unknown learners, keeping what was accepted", async () => {
    const before = (await t.client.getLearner("ctr")).status;
    const ok = { entity: { user_id: 7n }, eventTime: new Date(), label: 1, requestFeatures: { hour: 2, device: "ios" } };
    const wrongLabel = await refused(t.client.writeLabels({ learner: "ctr", labels: [ok, { ...ok, label: 2 }] }));
    expect(codeAndReason(wrongLabel)).toEqual(["INVALID_ARGUMENT", "INVALID_LABEL"]);
    expect(wrongLabel.fieldViolations.map((v) => v.field)).toEqual(["labels[1].label"]);
    const infinite = await refused(t.client.writeLabels({ learner: "ctr", labels: [{ ...ok, label: Number.POSITIVE_INFINITY }] }));
    expect(infinite.fieldViolations[0]?.description).toContain("finite");
    const nanFeature = await refused(
      t.client.writeLabels({ learner: "ctr", labels: [{ ...ok, requestFeatures: { hour: Number.NaN, device: "ios" } }] }),
    );
    expect(nanFeature.fieldViolations.map((v) => v.field)).toEqual(['labels[0].request_features["hour"]']);
    const missing = await refused(t.client.writeLabels({ learner: "ctr", labels: [{ ...ok, requestFeatures: { device: "ios" } }] }));
    expect(missing.fieldViolations[0]?.description).toContain("is required");
    const unknown = await refused(t.client.writeLabels({ learner: "nope", labels: [ok] }));
    expect(unknown.code).toBe(5);
    // A stream whose second message is bad keeps its first.
    await refused(
      t.client.writeLabels([
        { learner: "ctr", labels: [ok] },
        { learner: "ctr", labels: [{ ...ok, label: "x" as unknown as number }] },
      ]),
    );
    const after = await learnerWhen("ctr", (l) => (l.status?.entriesConsumed ?? 0n) >= (before?.entriesConsumed ?? 0n) + 1n);
    expect(after.status?.entriesConsumed).toBe((before?.entriesConsumed ?? 0n) + 1n);
  });

  it("pauses a diverging learner with a clear status, and refuses to serve or publish it until restored", async () => {
    await t.client.createLearner({
      learner: "wild",
      kind: "linear",
      inputs: [{ name: "x", type: "numeric", request: "x" }],
      optimizer: { sgd: { learningRate: 1e6 } },
      divergenceThreshold: 1e6,
    });
    await t.client.applyDeployment({ endpoint: "wild", stable: "wild@live" });
    const labels = Array.from({ length: 50 }, (_, i) => ({
      entity: { user_id: 1n },
      eventTime: new Date(),
      label: (i % 7) * 1e3,
      requestFeatures: { x: i % 2 === 0 ? 1e3 : -1e3 },
    }));
    await t.client.writeLabels({ learner: "wild", labels });
    const diverged = await learnerWhen("wild", (l) => l.status?.state === LearnerState.LEARNER_STATE_DIVERGED);
    expect(diverged.status?.reason).not.toBe("");
    const predict = await refused(t.client.predict({ endpoint: "wild", entities: { user_id: [1n] }, requestFeatures: { x: [1] } }));
    expect(codeAndReason(predict)).toEqual(["FAILED_PRECONDITION", "LEARNER_DIVERGED"]);
    expect((await refused(t.client.publishLearner("wild"))).reason).toBe("LEARNER_DIVERGED");
    expect((await refused(t.client.resumeLearner("wild"))).reason).toBe("LEARNER_DIVERGED");
    // Labels still append while it is diverged: nothing sent is lost.
    expect((await t.client.writeLabels({ learner: "wild", labels: labels.slice(0, 1) })).accepted).toBe(1n);
  });

  it("refuses live versions of models that are no learner's, and restores from versions of another model", async () => {
    const deploy = await refused(t.client.applyDeployment({ endpoint: "ghost", stable: "ghost@live" }));
    expect(deploy.code).toBe(5);
    const restore = await refused(t.client.restoreLearner("ctr", "wild@1"));
    expect(restore.code).toBe(3);
  });
});
