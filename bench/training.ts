/**
 * The training benchmark: GetHistoricalFeatures over 10 million history rows (1 million entities,
 * one year, 3 views of 5 features) and a 1-million-row spine, consumed by a client as Arrow,
 * beside the hand-written ClickHouse ASOF join of the same tables in the same run (floor), with
 * the server's peak RSS. Rounds alternate floor and Sluice, and medians are reported.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SluiceClient } from "../clients/typescript/src/index.js";
import { spawnServer } from "../test/support/server-process.js";
import { median, peakRssMb, saveResult } from "./support.js";
import { TRAINING_FEATURES, TRAINING_VIEWS } from "./training-engine.js";

const run = promisify(execFile);
const ENGINE = join(import.meta.dirname, "training-engine.ts");

/** Runs the training benchmark and saves bench/results/training.json. */
export async function trainingBenchmark(quick: boolean): Promise<void> {
  const rows = quick ? 500_000 : 10_000_000;
  const entities = quick ? 50_000 : 1_000_000;
  const spineRows = quick ? 50_000 : 1_000_000;
  const rounds = quick ? 1 : 3;
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-bench-training-"));
  const engine = (...args: string[]) => run(process.execPath, ["--import", "tsx", ENGINE, ...args], { maxBuffer: 1 << 20 });

  // Definitions through the API (which creates the history tables), then rows straight into the engine.
  await withServer(dataDir, async (client) => {
    await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    for (const view of TRAINING_VIEWS) {
      await client.applyFeatureView({
        name: view,
        entity: "customer",
        ttlSeconds: 90 * 86_400,
        features: TRAINING_FEATURES.map((name) => ({ name, type: "double" as const })),
      });
    }
  });
  const generated = performance.now();
  await engine("generate", join(dataDir, "offline"), String(rows), String(entities), String(spineRows));
  process.stderr.write(`training: generated ${rows} history rows in ${((performance.now() - generated) / 1000).toFixed(1)} s\n`);

  const features = TRAINING_VIEWS.flatMap((view) => TRAINING_FEATURES.map((f) => `${view}:${f}`));
  const measured: Array<{ floor: number; floorRssMb: number; ordered: number; unordered: number; serverPeakRssMb: number; rows: number }> =
    [];
  for (let round = 0; round < rounds; round++) {
    const floor = JSON.parse((await engine("floor", join(dataDir, "offline"))).stdout) as {
      seconds: number;
      rows: number;
      peakRssMb: number;
    };
    const sluice = await withServer(dataDir, async (client, pid) => {
      const consume = async (emitSpineIndex: boolean) => {
        const started = performance.now();
        let bytes = 0;
        for await (const part of client.streamHistoricalArrow({
          features,
          spine: { table: "bench_spine" },
          fullFeatureNames: true,
          emitSpineIndex,
        })) {
          bytes += part.length;
        }
        return { seconds: (performance.now() - started) / 1000, bytes };
      };
      const unordered = await consume(true);
      const ordered = await consume(false);
      return { unordered: unordered.seconds, ordered: ordered.seconds, serverPeakRssMb: peakRssMb(pid) };
    });
    measured.push({ floor: floor.seconds, floorRssMb: floor.peakRssMb, rows: floor.rows, ...sluice });
    process.stderr.write(`training round ${round + 1}/${rounds}: ${JSON.stringify(measured.at(-1))}\n`);
  }
  rmSync(dataDir, { recursive: true, force: true });

  const medianOf = (pick: (m: (typeof measured)[number]) => number) => Number(median(measured.map(pick)).toFixed(2));
  const floor = medianOf((m) => m.floor);
  const unordered = medianOf((m) => m.unordered);
  const ordered = medianOf((m) => m.ordered);
  const serverPeakRssMb = Math.max(...measured.map((m) => m.serverPeakRssMb));
  saveResult("training", {
    historyRows: rows,
    entities,
    views: TRAINING_VIEWS.length,
    featuresPerView: TRAINING_FEATURES.length,
    spineRows,
    rounds,
    seconds: { floor, unordered, ordered },
    ratioToFloor: { unordered: Number((unordered / floor).toFixed(2)), ordered: Number((ordered / floor).toFixed(2)) },
    serverPeakRssMb,
    floorProcessPeakRssMb: Math.max(...measured.map((m) => m.floorRssMb)),
    target: { ratioAtMost: 1.3, serverRssMbBelow: 1024, met: unordered / floor <= 1.3 && serverPeakRssMb < 1024 },
    perRound: measured,
  });
}

/** Starts a server on `dataDir` (the compiled build), runs `work` with a client, and stops it. */
async function withServer<T>(dataDir: string, work: (client: SluiceClient, pid: number) => Promise<T>): Promise<T> {
  const server = await spawnServer(["--data-dir", dataDir, "--log-level", "info"], { built: true });
  const client = await SluiceClient.connect({ address: server.address, deadlineMs: 600_000 });
  try {
    return await work(client, server.child.pid as number);
  } finally {
    client.close();
    server.child.kill("SIGTERM");
    await server.exited;
  }
}
