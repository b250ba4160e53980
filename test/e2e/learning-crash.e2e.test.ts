/**
 * Exactly-once learning across kill -9: a softmax learner is fed the same labelled stream twice, once by a
 * server left alone and once by a server killed three times (while labels stream in, and twice
 * while it learns) and restarted on the same data dir, with the sender resending every batch
 * under its write id after each restart. Both end with bit-identical state: their published ONNX
 * files (every weight, intercept and scaler statistic) have the same SHA-256, and their metrics are
 * equal to the last digit.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LabelBatchInput, SluiceClient } from "../../clients/typescript/src/index.js";
import { type ServerProcess, spawnServer, stopServer } from "../support/server-process.js";

const BATCHES = 30;
const PER_BATCH = 1000;
const TOTAL = BATCHES * PER_BATCH;
/** Many classes make each example cost enough for the kills to land while the learner learns. */
const CLASSES = 24;
const servers: ServerProcess[] = [];

afterAll(async () => {
  await Promise.all(servers.map((server) => stopServer(server)));
});

/** A seeded stream: five numbers and a category per label, the label from a noisy linear rule. */
function labelBatches(): LabelBatchInput[] {
  let state = 42;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const base = Date.parse("2026-11-01T00:00:00Z");
  return Array.from({ length: BATCHES }, (_, b) => ({
    learner: "ctr",
    writeId: `batch-${b}`,
    labels: Array.from({ length: PER_BATCH }, (_, i) => {
      const [x0, x1, x2, x3, x4] = Array.from({ length: 5 }, () => random() * 4 - 2) as [number, number, number, number, number];
      const category = `c${Math.floor(random() * 50)}`;
      const score = x0 - 0.5 * x1 + (category < "c25" ? 1 : -1) + (random() - 0.5);
      return {
        entity: { user_id: BigInt((b * PER_BATCH + i) % 500) },
        eventTime: new Date(base + (b * PER_BATCH + i) * 1000),
        label: Math.min(CLASSES - 1, Math.max(0, Math.floor((score + 4) * (CLASSES / 8)))),
        requestFeatures: { x0, x1, x2, x3, x4, category },
      };
    }),
  }));
}

async function start(dataDir: string): Promise<{ server: ServerProcess; client: SluiceClient }> {
  // The log is trimmed to 100 entries behind each checkpoint: a restart must need nothing older.
  const server = await spawnServer(["--data-dir", dataDir, "--log-level", "info"], {
    env: { SLUICE_LEARNING_LOG_RETENTION_ENTRIES: "100" },
  });
  servers.push(server);
  return { server, client: await SluiceClient.connect({ address: server.address }) };
}

async function createLearner(client: SluiceClient): Promise<void> {
  await client.applyEntity({ name: "user", joinKeys: [{ name: "user_id", type: "int64" }] });
  await client.createLearner({
    learner: "ctr",
    kind: "multinomial",
    classes: CLASSES,
    inputs: [
      ...["x0", "x1", "x2", "x3", "x4"].map((name) => ({ name, type: "numeric" as const, request: name })),
      { name: "category", type: "categorical", request: "category" },
    ],
    hashBuckets: 1024,
    optimizer: { adagrad: { learningRate: 0.1 } },
    checkpoint: { everyExamples: 500 },
  });
}

async function examplesLearned(client: SluiceClient): Promise<bigint> {
  return (await client.getLearner("ctr")).status?.examplesLearned ?? 0n;
}

async function waitUntil(test: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Pauses, publishes, and returns what identifies the learner's state bit for bit. */
async function fingerprint(client: SluiceClient) {
  await waitUntil(async () => (await examplesLearned(client)) === BigInt(TOTAL), "every example learned");
  await client.pauseLearner("ctr");
  const status = (await client.getLearner("ctr")).status;
  const version = await client.getModelVersion(await client.publishLearner("ctr"));
  return {
    sha256: version.sha256,
    examples: status?.examplesLearned,
    entries: status?.entriesConsumed,
    cumulative: status?.cumulative,
    rolling: status?.rolling,
    windows: status?.windows,
  };
}

async function kill(server: ServerProcess, client: SluiceClient): Promise<void> {
  client.close();
  server.child.kill("SIGKILL");
  await server.exited;
}

describe("a learner killed with SIGKILL", () => {
  it("resumes from its checkpoints and ends bit-identical to an uninterrupted run", async () => {
    const batches = labelBatches();

    const calm = await start(mkdtempSync(join(tmpdir(), "sluice-learn-calm-")));
    await createLearner(calm.client);
    await calm.client.writeLabels(batches);
    const expected = await fingerprint(calm.client);
    await stopServer(calm.server);
    expect(expected.examples).toBe(BigInt(TOTAL));

    const dataDir = mkdtempSync(join(tmpdir(), "sluice-learn-crash-"));
    // Life 1: killed while labels stream in.
    let life = await start(dataDir);
    await createLearner(life.client);
    let sent = 0;
    const sending = life.client.writeLabels(
      (async function* () {
        for (const batch of batches) {
          yield batch;
          sent++;
        }
      })(),
    );
    sending.catch(() => undefined);
    await waitUntil(async () => sent >= BATCHES / 3, "a third of the batches sent");
    await kill(life.server, life.client);

    // Lives 2 and 3: resend everything (appended batches are skipped by write id), killed mid-learning.
    const resumedAt: bigint[] = [];
    for (const share of [0.4, 0.8]) {
      life = await start(dataDir);
      resumedAt.push(await examplesLearned(life.client));
      await life.client.writeLabels(batches);
      await waitUntil(async () => (await examplesLearned(life.client)) >= BigInt(Math.floor(TOTAL * share)), `${share} learned`);
      await kill(life.server, life.client);
    }

    // Life 4: left to finish.
    life = await start(dataDir);
    resumedAt.push(await examplesLearned(life.client));
    await life.client.writeLabels(batches);
    const actual = await fingerprint(life.client);
    await stopServer(life.server);

    // Each restart resumed from a checkpoint, not from scratch, and never from ahead of one.
    expect(resumedAt[1]).toBeGreaterThan(0n);
    expect(resumedAt[2]).toBeGreaterThan(resumedAt[1] as bigint);
    expect(actual).toEqual(expected);
  }, 240_000);
});
