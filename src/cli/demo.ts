/**
 * `sluice demo`: starts a server of its own on a free port, then tells the Sluice story through
 * the TypeScript SDK, printing what each step did. It grows with the product; today it covers
 * versioned definitions, streamed writes with event-time rules, online reads with TTL, and
 * point-in-time training sets kept as versioned datasets.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApplyOutcome,
  Compatibility,
  FeatureStatus,
  SluiceClient,
  SluiceClientError,
  TrainingDatasetState,
} from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG } from "../config/config.js";
import { createLogger } from "../logging/logger.js";
import { startServer } from "../server/sluice-server.js";

/** Where the demo writes and which data dir it uses (a temporary one when unset, removed afterwards). */
export interface DemoOptions {
  dataDir?: string;
  out: NodeJS.WritableStream;
}

/** Runs the demo end to end; rejects if any step does not behave as the story says. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const say = (line = "") => options.out.write(`${line}\n`);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "sluice-demo-"));
  const config = { ...DEFAULT_CONFIG, listen: "127.0.0.1:0", dataDir, logLevel: "warn" as const, metrics: { listen: "127.0.0.1:0" } };
  const server = await startServer(config, createLogger("warn"));
  const client = await SluiceClient.connect({ address: server.address });
  try {
    say(`Sluice is serving on ${server.address} (data in ${dataDir})`);
    say();
    say("1. Register the entity features describe: a customer, keyed by customer_id.");
    const entity = await client.applyEntity({
      name: "customer",
      joinKeys: [{ name: "customer_id", type: "int64" }],
      description: "A paying customer.",
      owner: "growth-team",
    });
    say(`   ${entity.entity?.name}: ${ApplyOutcome[entity.outcome]}`);

    say("2. Define a feature view: typed features with a 30-day TTL.");
    const base = {
      name: "customer_stats",
      entity: "customer",
      ttlSeconds: 30 * 86_400,
      owner: "growth-team",
      features: [
        { name: "orders_30d", type: "int64" as const },
        { name: "spend_30d", type: "double" as const },
      ],
    };
    await expectOutcome(client, base, ApplyOutcome.APPLY_OUTCOME_CREATED, say);

    say("3. Apply the identical definition again: nothing changes.");
    await expectOutcome(client, base, ApplyOutcome.APPLY_OUTCOME_UNCHANGED, say);

    say("4. Add a feature: a new, compatible version.");
    const withRefunds = { ...base, features: [...base.features, { name: "refunds_30d", type: "int64" as const }] };
    await expectOutcome(client, withRefunds, ApplyOutcome.APPLY_OUTCOME_NEW_VERSION, say);

    say("5. Change a type: a new, breaking version (version 2 stays readable, pinned refs keep working).");
    const retyped = {
      ...withRefunds,
      features: withRefunds.features.map((f) => (f.name === "spend_30d" ? { ...f, type: "float" as const } : f)),
    };
    await expectOutcome(client, retyped, ApplyOutcome.APPLY_OUTCOME_NEW_VERSION, say);

    say("6. Every version, newest first:");
    for await (const version of client.listFeatureViewVersions("customer_stats")) {
      const compatibility =
        version.version === 1 ? "initial" : Compatibility[version.compatibility].replace("COMPATIBILITY_", "").toLowerCase();
      say(`   v${version.version} (${compatibility}): ${version.features.map((f) => f.name).join(", ")}`);
    }

    say("7. A feature service bundles refs for a model: one pinned, one following the latest version.");
    const service = await client.applyFeatureService({
      name: "churn_model_inputs",
      features: ["customer_stats@2:spend_30d", "customer_stats:orders_30d"],
    });
    say(`   ${service.featureService?.name} v${service.featureService?.version}: ${ApplyOutcome[service.outcome]}`);
    for (const feature of await client.resolveFeatures({ featureService: "churn_model_inputs" })) {
      say(`   ${feature.ref.padEnd(28)} -> ${feature.featureView}@${feature.version}:${feature.feature}`);
    }

    say("8. Stream feature values in (WriteFeatures): three batches an hour of event time apart, acknowledged in order.");
    const stream = client.openWriteStream();
    const hour = 3_600_000;
    for (const [batch, hoursAgo] of [
      [1, 3],
      [2, 2],
      [3, 1],
    ] as const) {
      const ack = await stream.write({
        featureView: "customer_stats",
        writeId: `demo-batch-${batch}`,
        rows: [1n, 2n, 3n].map((id) => ({
          entityKey: { customer_id: id },
          eventTime: new Date(Date.now() - hoursAgo * hour),
          features: { orders_30d: id * 10n + BigInt(batch), spend_30d: Number(id) * 12.5 * batch, refunds_30d: 0n },
        })),
      });
      say(
        `   batch ${batch}: ${ack.acceptedCount} rows stored in the offline history and the online store (version ${ack.featureViewVersion})`,
      );
    }
    await stream.close();
    const late = await client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: new Date(Date.now() - 10 * hour), features: { orders_30d: 999n } }],
    });
    say(`   a late event (10 hours old) for customer 1: ${late.acceptedCount} row kept in history, but it must not win online`);
    const stale = await client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [{ entityKey: { customer_id: 4n }, eventTime: new Date(Date.now() - 40 * 86_400_000), features: { orders_30d: 1n } }],
    });
    say(`   customer 4 last seen 40 days ago (beyond the 30-day TTL): ${stale.acceptedCount} row`);

    say("9. Read them back online (GetOnlineFeatures): the latest event wins, TTL is enforced, unknown entities are NOT_FOUND.");
    const columns = await client.getOnlineFeatures({
      features: ["customer_stats:orders_30d", "customer_stats:spend_30d"],
      entities: { customer_id: [1n, 2n, 4n, 99n] },
    });
    const [orders, spend] = columns;
    ["1", "2", "4", "99"].forEach((id, row) => {
      const status = FeatureStatus[orders?.statuses[row] ?? 0]?.replace("FEATURE_STATUS_", "");
      say(
        `   customer ${id.padEnd(3)} orders_30d=${String(orders?.values[row]).padEnd(5)} spend_30d=${String(spend?.values[row]).padEnd(6)} ${status}`,
      );
    });

    say("10. Build a point-in-time-correct training set (GetHistoricalFeatures): each label sees only what was known at its time.");
    const labelTimes = [2.5, 1.5, 0.5].map((hoursAgo) => new Date(Date.now() - hoursAgo * hour));
    const spine = labelTimes.map((eventTime, i) => ({ entityKey: { customer_id: 1n }, eventTime, extras: { churned: i === 2 } }));
    for await (const row of client.getHistoricalRows({
      features: ["customer_stats:orders_30d", "customer_stats:spend_30d"],
      spine: { rows: spine },
    })) {
      const at = new Date(row.event_time as Date).toISOString().slice(11, 19);
      say(
        `   customer 1 at ${at}  churned=${String(row.churned).padEnd(5)} orders_30d=${String(row.orders_30d).padEnd(4)} spend_30d=${row.spend_30d}`,
      );
    }
    say("   (the 10-hour-old late event never leaks forward; each label sees the batch that was latest at its time)");

    say("11. Keep it as a versioned training dataset: stored as a table and a Parquet file, with its lineage.");
    await client.createTrainingDataset({
      name: "churn_training",
      description: "Every customer with history in the last 4 hours, at the end of the window.",
      query: {
        features: ["customer_stats:orders_30d", "customer_stats:spend_30d"],
        spine: { entities: { start: new Date(Date.now() - 4 * hour), end: new Date() } },
      },
    });
    const dataset = await client.waitForTrainingDataset("churn_training");
    if (dataset.state !== TrainingDatasetState.TRAINING_DATASET_STATE_SUCCEEDED)
      throw new Error(`training dataset failed: ${dataset.errorMessage}`);
    say(`   ${dataset.name} v${dataset.version}: ${dataset.rowCount} rows, spine sha256 ${dataset.spineSha256.slice(0, 12)}...`);
    say(`   features: ${dataset.resolvedFeatures.map((f) => `${f.featureView.split("/").at(-1)}@${f.version}:${f.feature}`).join(", ")}`);
    say(`   parquet: ${dataset.parquetPath}`);
    const table = await client.readTrainingDataset("churn_training");
    say(`   read back as Arrow: ${table.numRows} rows x ${table.numCols} columns (${table.schema.fields.map((f) => f.name).join(", ")})`);

    say("12. Bad input is refused with every problem named:");
    try {
      await client.applyFeatureView({
        name: "Bad-Name",
        entity: "nobody",
        features: [
          { name: "x", type: "int64" },
          { name: "x", type: "int64" },
        ],
      });
      throw new Error("the invalid feature view was accepted");
    } catch (error) {
      if (!(error instanceof SluiceClientError)) throw error;
      say(`   ${error.codeName} ${error.reason}`);
      for (const violation of error.fieldViolations) say(`   - ${violation.field}: ${violation.description}`);
    }
    say();
    say("Done. Run `npm run build && npx sluice serve` to keep a server running; README.md shows grpcurl and buf curl calls.");
  } finally {
    client.close();
    await server.shutdown();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function expectOutcome(
  client: SluiceClient,
  input: Parameters<SluiceClient["applyFeatureView"]>[0],
  expected: ApplyOutcome,
  say: (line: string) => void,
): Promise<void> {
  const response = await client.applyFeatureView(input);
  if (response.outcome !== expected) {
    throw new Error(`expected ${ApplyOutcome[expected]} but the server said ${ApplyOutcome[response.outcome]}`);
  }
  const compatibility = response.compatibility ? ` (${Compatibility[response.compatibility]})` : "";
  say(`   ${ApplyOutcome[response.outcome]}${compatibility} -> version ${response.featureView?.version}`);
  for (const change of response.changes) say(`     - ${change}`);
}
