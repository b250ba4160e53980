/**
 * Step 24 of `sluice demo`: a model that learns from every click while it serves. Ads are shown
 * (Predict on the learner's live version), the clicks come back late and out of order as outcome
 * labels keyed by request id, the learner learns them test-then-train, a checkpoint is published as
 * an ONNX version and canaried beside the live learner, and the server is killed with SIGKILL and
 * restarted: the learner resumes from its last checkpoint and counts every click once. This part
 * runs its own server as a child process, since the demo cannot kill the process it runs in.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { type Learner, LearnerState, SluiceClient } from "../../clients/typescript/src/index.js";

const VISITORS = 300;
const IMPRESSIONS = 1200;

/** The hidden rule the clicks follow: the sports ad to the young, the travel ad in the evening. */
function clicked(age: number, ad: string, hour: number, noise: number): boolean {
  const score = (ad === "sports" ? 1.5 - age / 25 : 0) + (ad === "travel" && hour >= 18 ? 1.2 : -0.4) + noise;
  return score > 0;
}

/** A deterministic generator, so the demo tells the same story every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Runs step 24 with a server of its own in `dataDir`. */
export async function learnWhileServing(dataDir: string, say: (line?: string) => void): Promise<void> {
  say("24. A click-through model that learns from every click while it serves, with labels arriving late.");
  let server = await startChild(dataDir);
  let client = await SluiceClient.connect({ address: server.address });
  try {
    const random = seeded(24);
    const ages = Array.from({ length: VISITORS }, () => 18 + Math.floor(random() * 50));
    await client.applyEntity({ name: "visitor", joinKeys: [{ name: "visitor_id", type: "int64" }] });
    await client.applyFeatureView({
      name: "visitor_profile",
      entity: "visitor",
      features: [
        { name: "age", type: "double" },
        { name: "country", type: "string" },
      ],
    });
    await client.writeFeatureBatch({
      featureView: "visitor_profile",
      rows: ages.map((age, id) => ({
        entityKey: { visitor_id: BigInt(id) },
        eventTime: new Date(Date.now() - 3600_000),
        features: { age, country: ["fr", "de", "it"][id % 3] as string },
      })),
    });
    await client.createLearner({
      learner: "ctr",
      kind: "logistic",
      inputs: [
        { name: "age", type: "numeric", feature: "visitor_profile:age" },
        { name: "country", type: "categorical", feature: "visitor_profile:country" },
        { name: "hour", type: "numeric", request: "hour" },
        { name: "ad", type: "categorical", request: "ad" },
      ],
      hashBuckets: 1024,
      optimizer: { adagrad: { learningRate: 0.1 } },
      checkpoint: { everyExamples: 250, everySeconds: 1 },
      description: "click-through rate, learned online",
    });
    await client.applyDeployment({ endpoint: "ads", stable: "ctr@live", reason: "serve the learner as it learns" });
    say(
      "    CreateLearner ctr: logistic regression, AdaGrad; inputs visitor_profile@1:age, visitor_profile@1:country, and hour and ad sent with each request.",
    );
    say("    Endpoint ads serves ctr@live: the learner's current weights, answered in process.");

    const impressions = async (count: number) => {
      const served: Array<{ requestId: string; clicked: boolean }> = [];
      for (let i = 0; i < count; i++) {
        const visitor = Math.floor(random() * VISITORS);
        const ad = ["sports", "travel", "cooking"][Math.floor(random() * 3)] as string;
        const hour = Math.floor(random() * 24);
        const prediction = await client.predict({
          endpoint: "ads",
          entities: { visitor_id: [BigInt(visitor)] },
          requestFeatures: { hour: [hour], ad: [ad] },
        });
        served.push({ requestId: prediction.requestId, clicked: clicked(ages[visitor] as number, ad, hour, random() - 0.5) });
      }
      return served;
    };
    const first = await impressions(IMPRESSIONS);
    say(`    Served ${first.length} impressions (each Predict logged with the features it read).`);
    // Clicks come back late and out of order: shuffled, in batches, after every impression was served.
    const shuffled = [...first].sort(() => random() - 0.5);
    const labels = (served: typeof first, batch: number) =>
      Array.from({ length: Math.ceil(served.length / batch) }, (_, b) => ({
        learner: "ctr",
        writeId: `clicks-${served[b * batch]?.requestId}`,
        labels: served.slice(b * batch, (b + 1) * batch).map((s) => ({ requestId: s.requestId, label: s.clicked })),
      }));
    const written = await client.writeLabels(labels(shuffled, 200));
    say(
      `    WriteLabels: ${written.accepted} clicks and non-clicks, late and shuffled, each joined by request id with what its prediction read; ${written.unmatched} unmatched.`,
    );
    let learner = await until(client, (l) => l.status?.examplesLearned === BigInt(IMPRESSIONS));
    say(`    Learned ${learner.status?.examplesLearned} examples test-then-train: ${metrics(learner)}.`);

    await client.pauseLearner("ctr", { reason: "publish a checkpoint" });
    const version = await client.publishLearner("ctr", { description: "the learner after the first clicks" });
    const published = await client.getModelVersion(version);
    say(
      `    PublishLearner: ${version}, an ONNX file (sha256 ${published.sha256.slice(0, 12)}…) with its lineage: ${published.labels["sluice.examples"]} examples, log position ${published.labels["sluice.log_position"]}.`,
    );
    await client.applyDeployment({ endpoint: "ads_onnx", stable: "ctr@1" });
    const probe = { entities: { visitor_id: [7n] }, requestFeatures: { hour: [20], ad: ["travel"] } };
    const live = (await client.predict({ endpoint: "ads", ...probe })).outputs.probability?.values[0] ?? Number.NaN;
    const onnx = (await client.predict({ endpoint: "ads_onnx", ...probe })).outputs.probability?.values[0] ?? Number.NaN;
    if (!(Math.abs(live - onnx) < 1e-6)) throw new Error(`the published version predicts ${onnx}, the live learner ${live}`);
    say(`    Same weights, two paths: live ${live.toFixed(6)}, ONNX version ${onnx.toFixed(6)} (they agree within 1e-6).`);
    await client.resumeLearner("ctr");
    await client.applyDeployment({
      endpoint: "ads",
      stable: "ctr@live",
      canary: { version: "ctr@1", percent: 25 },
      reason: "canary the published checkpoint",
    });
    const roles = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const prediction = await client.predict({
        endpoint: "ads",
        entities: { visitor_id: [BigInt(i)] },
        requestFeatures: { hour: [12], ad: ["sports"] },
      });
      roles.set(prediction.role, (roles.get(prediction.role) ?? 0) + 1);
    }
    say(
      `    Canary ctr@1 at 25% beside the live learner: 200 requests went ${[...roles].map(([role, n]) => `${n} to ${role}`).join(", ")}.`,
    );

    const second = await impressions(IMPRESSIONS);
    // It fails when the server is killed under it; the resend below completes it.
    const sending = client.writeLabels(labels(second, 100)).catch(() => undefined);
    await until(client, (l) => (l.status?.examplesLearned ?? 0n) > BigInt(IMPRESSIONS + 100));
    client.close();
    server.child.kill("SIGKILL");
    await server.exited;
    await sending;
    say("    More clicks stream in; the server is killed with SIGKILL while it learns them.");
    server = await startChild(dataDir);
    client = await SluiceClient.connect({ address: server.address });
    learner = await client.getLearner("ctr");
    say(
      `    Restarted: the learner resumed from its last checkpoint (${learner.status?.lastCheckpointExamples} examples), not from scratch.`,
    );
    // The sender resends every batch: those appended before the kill are skipped by their write ids.
    await client.writeLabels(labels(second, 100));
    learner = await until(client, (l) => l.status?.examplesLearned === BigInt(2 * IMPRESSIONS));
    say(`    After resending every batch: ${learner.status?.examplesLearned} examples learned, each exactly once; ${metrics(learner)}.`);
    if (learner.status?.state !== LearnerState.LEARNER_STATE_LEARNING) throw new Error("the learner is not learning after the restart");
  } finally {
    client.close();
    server.child.kill("SIGTERM");
    await server.exited;
  }
}

/** Prequential metrics as one phrase. */
function metrics(learner: Learner): string {
  const c = learner.status?.cumulative;
  const r = learner.status?.rolling;
  return `accuracy ${((c?.accuracy ?? 0) * 100).toFixed(1)}%, log loss ${(c?.logLoss ?? 0).toFixed(3)}, AUC ${(c?.auc ?? 0).toFixed(3)} (last 1,000: accuracy ${((r?.accuracy ?? 0) * 100).toFixed(1)}%)`;
}

/** Polls the learner until `done` holds (learning runs behind the label writes). */
async function until(client: SluiceClient, done: (learner: Learner) => boolean): Promise<Learner> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const learner = await client.getLearner("ctr");
    if (done(learner)) return learner;
    if (Date.now() > deadline)
      throw new Error(`the learner did not get there in time: ${learner.status?.examplesLearned} examples learned`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `sluice serve` in a child process (this same program: the sources through tsx, or the build), once it serves. */
async function startChild(dataDir: string): Promise<{ child: ChildProcess; address: string; exited: Promise<unknown> }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "info"],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SLUICE_"))),
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as { msg?: string; address?: string };
      if (entry.msg === "sluice is serving" && entry.address) resolve(entry.address);
    });
    child.once("exit", (code) => reject(new Error(`the learning demo's server exited (${code}) before serving`)));
  });
  return { child, address, exited };
}
