/**
 * `sluice demo`: starts a server of its own on a free port, then tells the Sluice story through
 * the TypeScript SDK, printing what each step did. It grows with the product; today it covers
 * versioned definitions, streamed writes with event-time rules, online reads with TTL,
 * point-in-time training sets kept as versioned datasets, model serving (ONNX versions
 * uploaded with their lineage, a stable / canary / shadow deployment, predictions that read
 * their features online, the shadow comparison, promotion and rollback), and streaming features:
 * card transactions aggregated over windows as they arrive, with a late and a too-late event,
 * the same values from the historical path, and a fraud model served from them), and the security
 * side: the hash-chained audit trail of every change the demo made, and an API key; and online
 * learning: a click-through model that learns from late labels while it serves, is published,
 * canaried, killed and resumed (demo-learning.ts).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AggregationFunction,
  ApplyOutcome,
  type AuditEvent,
  Compatibility,
  type Deployment,
  FeatureStatus,
  type Prediction,
  SluiceClient,
  SluiceClientError,
  TrainingDatasetState,
  ValueType,
} from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG } from "../config/config.js";
import { HistoryOutcome } from "../gen/sluice/v1/registry.pb.js";
import { createLogger } from "../logging/logger.js";
import { startServer } from "../server/sluice-server.js";
import { learnWhileServing } from "./demo-learning.js";

/** The ONNX files the demo uploads (built by test/support/demo-models.ts). */
const DEMO_MODELS = join(import.meta.dirname, "demo-models");

/** Where the demo writes and which data dir it uses (a temporary one when unset, removed afterwards; a given one is kept). */
export interface DemoOptions {
  dataDir?: string;
  out: NodeJS.WritableStream;
}

/** Runs the demo end to end; rejects if any step does not behave as the story says. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const say = (line = "") => options.out.write(`${line}\n`);
  const temporary = options.dataDir === undefined;
  // The story starts from nothing (its first apply must create the view): a second run needs a directory of its own.
  if (options.dataDir !== undefined && existsSync(options.dataDir) && readdirSync(options.dataDir).length > 0) {
    throw new Error(`the demo needs a new or empty data directory, and ${options.dataDir} already holds data; pass another --data-dir`);
  }
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "sluice-demo-"));
  const config = { ...DEFAULT_CONFIG, listen: "127.0.0.1:0", dataDir, logLevel: "warn" as const, metrics: { listen: "127.0.0.1:0" } };
  const server = await startServer(config, createLogger("warn"));
  const client = await SluiceClient.connect({ address: server.address });
  try {
    say(`Sluice is serving on ${server.address}.`);
    say(
      temporary
        ? `Its data directory ${dataDir} is temporary: it is removed when the demo ends (\`npm run demo -- --data-dir DIR\` keeps the data).`
        : `Its data directory is ${dataDir}; it is kept after the demo.`,
    );
    say("Times are ISO 8601, in UTC.");
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
      say(`   customer_stats@${version.version} (${compatibility}): ${version.features.map((f) => f.name).join(", ")}`);
    }

    say("7. A feature service bundles refs for a model: one pinned, one following the latest version.");
    const service = await client.applyFeatureService({
      name: "churn_model_inputs",
      features: ["customer_stats@2:spend_30d", "customer_stats:orders_30d"],
    });
    say(`   ${service.featureService?.name}/versions/${service.featureService?.version}: ${ApplyOutcome[service.outcome]}`);
    say("   Resolved (ResolveFeatures), each ref to the view version it reads:");
    for (const feature of await client.resolveFeatures({ featureService: "churn_model_inputs" })) {
      const pinned = `${shortId(feature.featureView)}@${feature.version}:${feature.feature}`;
      say(`   ${feature.ref.padEnd(26)} -> ${pinned} (${typeName(feature.type)}), of ${feature.featureView}/versions/${feature.version}`);
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

    say("9. Read them back online (GetOnlineFeatures): a value and a status per feature. The latest event wins, TTL is");
    say("   enforced (OUTSIDE_MAX_AGE: older than the TTL, not to be trusted), unknown entities are NOT_FOUND.");
    const ids = [1n, 2n, 4n, 99n];
    const columns = await client.getOnlineFeatures({
      features: ["customer_stats:orders_30d", "customer_stats:spend_30d"],
      entities: { customer_id: ids },
    });
    const cells = columns.map((column) =>
      ids.map((_, row) => `${column.name}=${String(column.values[row])} ${statusName(column.statuses[row])}`),
    );
    const widths = cells.map((column) => Math.max(...column.map((cell) => cell.length)));
    ids.forEach((id, row) => {
      const line = cells.map((column, i) => (column[row] ?? "").padEnd(widths[i] ?? 0)).join("   ");
      say(`   customer ${String(id).padEnd(3)} ${line.trimEnd()}`);
    });

    say("10. Build a point-in-time-correct training set (GetHistoricalFeatures): each label sees only what was known at its time.");
    const labelTimes = [2.5, 1.5, 0.5].map((hoursAgo) => new Date(Date.now() - hoursAgo * hour));
    const spine = labelTimes.map((eventTime, i) => ({ entityKey: { customer_id: 1n }, eventTime, extras: { churned: i === 2 } }));
    for await (const row of client.getHistoricalRows({
      features: ["customer_stats:orders_30d", "customer_stats:spend_30d"],
      spine: { rows: spine },
    })) {
      const at = isoSeconds(row.event_time as Date);
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
    say(`   ${dataset.name}/versions/${dataset.version}: ${dataset.rowCount} rows, spine sha256 ${dataset.spineSha256.slice(0, 12)}...`);
    say(`   features: ${dataset.resolvedFeatures.map((f) => `${shortId(f.featureView)}@${f.version}:${f.feature}`).join(", ")}`);
    say(`   parquet: ${dataset.parquetPath}`);
    say(
      temporary
        ? "   (in the temporary data directory: the file is removed when the demo ends; `npm run demo -- --data-dir DIR` keeps it)"
        : "   (in your data directory: the file stays after the demo)",
    );
    const table = await client.readTrainingDataset("churn_training");
    say(`   read back as Arrow: ${table.numRows} rows x ${table.numCols} columns (${table.schema.fields.map((f) => f.name).join(", ")})`);

    await serveModels(client, `${dataset.name}/versions/${dataset.version}`, say);

    await streamFeatures(client, say);
    say("22. Bad input is refused with every problem named:");
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
    await showSecurity(client, say);
    await learnWhileServing(join(dataDir, "learning"), say);
    say();
    say(
      temporary
        ? `Done. The temporary data directory ${dataDir} is removed now.`
        : `Done. The demo's data stays in ${dataDir} (a server started on it with --data-dir sees it all).`,
    );
    say("Run `npm run build && npx sluice serve` to keep a server running; README.md shows grpcurl and buf curl calls.");
  } finally {
    client.close();
    await server.shutdown();
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Steps 12 to 17: models uploaded, deployed with a canary and a shadow, served, compared, promoted and rolled back. */
async function serveModels(client: SluiceClient, trainingDataset: string, say: (line?: string) => void): Promise<void> {
  say("12. Upload three versions of an ONNX churn model, its input bound to pinned features (checked on upload).");
  const features = ["customer_stats@3:orders_30d", "customer_stats@3:spend_30d", "customer_stats@3:refunds_30d"];
  say(`   input "features" <- ${features.join(", ")}`);
  for (const file of ["churn-v1.onnx", "churn-v2.onnx", "churn-v3.onnx"]) {
    const version = await client.uploadModel({
      model: "churn",
      file: join(DEMO_MODELS, file),
      bindings: [{ input: "features", features }],
      trainingDataset,
    });
    const input = version.inputs[0];
    say(
      `   ${file} -> ${version.name}: sha256 ${version.sha256.slice(0, 12)}..., input ${input?.name} ${input?.elementType}[${input?.shape.join(",")}]`,
    );
  }
  say(`   each trained on ${trainingDataset}`);

  say("13. Deploy the endpoint: v1 stable, v2 as a 25% canary (sticky per customer), v3 as a shadow.");
  const deployment = await client.applyDeployment({
    endpoint: "churn",
    stable: "churn@1",
    canary: { version: "churn@2", percent: 25 },
    shadows: ["churn@3"],
    actor: "demo",
    reason: "try v2 on a quarter of customers; watch v3",
  });
  say(`   ${deployment.name} revision ${deployment.revision}: ${describeDeployment(deployment)}`);

  say("14. Predict: the server reads each customer's features from the online store and runs the version routed to.");
  let served = 0;
  const predict = async (id: bigint) => {
    served++;
    return client.predict({ endpoint: "churn", entities: { customer_id: [id] } });
  };
  for (const id of [1n, 2n, 3n, 4n]) say(`   customer ${id}: ${describePrediction(await predict(id))}`);
  say("   Customer 4 was last written 40 days ago, beyond the 30-day TTL, so its features are OUTSIDE_MAX_AGE: Predict");
  say("   read all three as 0, the default, and that probability comes from zeros, not from what is known of customer 4.");
  say('   A deployment with missingFeatures: "reject" refuses such requests instead (FAILED_PRECONDITION, MISSING_FEATURES).');
  await client.writeFeatureBatch({
    featureView: "customer_stats",
    rows: [{ entityKey: { customer_id: 4n }, eventTime: new Date(), features: { orders_30d: 2n, spend_30d: 30, refunds_30d: 1n } }],
  });
  say(`   customer 4 again, after writing fresh values: ${describePrediction(await predict(4n))}`);

  const customers = BigInt64Array.from({ length: 400 }, (_, i) => BigInt(1001 + i));
  const written = await client.writeFeatureBatch({
    featureView: "customer_stats",
    eventTimes: Array.from(customers, () => new Date()),
    entityKey: { customer_id: customers },
    features: {
      orders_30d: BigInt64Array.from(customers, (id) => id % 20n),
      spend_30d: Float32Array.from(customers, (id) => Number((id * 7n) % 100n) + 0.5),
      refunds_30d: BigInt64Array.from(customers, (id) => (id % 3n === 0n ? 1n : 0n)),
    },
  });
  let canary = 0;
  for (const id of customers) if ((await predict(id)).role === "canary") canary++;
  say(
    `   400 more customers (1001 to 1400, their features written just now as one columnar batch of ${written.acceptedCount} rows): ${canary} went to the canary`,
  );
  say("   (25% asked; the same customer always gets the same version)");

  say("15. How each version is doing (GetDeploymentReport): the shadow is compared with stable off the response path.");
  const deadline = Date.now() + 10_000;
  let report = await client.getDeploymentReport("churn");
  while ((report.find((r) => r.role === "shadow")?.requestCount ?? 0n) < BigInt(served) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    report = await client.getDeploymentReport("churn");
  }
  for (const version of report) {
    const shadow =
      version.role === "shadow"
        ? `, agrees with stable on ${(version.agreementRate * 100).toFixed(1)}% (mean |diff| ${version.meanAbsoluteDifference.toExponential(2)}), ${version.shedCount} shed`
        : "";
    say(
      `   ${version.modelVersion} ${version.role.padEnd(6)} ${String(version.requestCount).padStart(3)} requests, ${version.errorCount} errors, p50 ${micros(version.latencyP50)} µs${shadow}`,
    );
  }

  say("16. Promote the canary, then roll back: each change is instant and recorded with who and why.");
  const promoted = await client.promoteCanary("churn", { actor: "demo", reason: "v2 did well on its quarter" });
  say(`   promoted: ${describeDeployment(promoted)}`);
  const rolledBack = await client.rollbackDeployment("churn", { actor: "on-call", reason: "complaints from customer success" });
  say(`   rolled back: ${describeDeployment(rolledBack)}`);

  say("17. The endpoint's history, newest first:");
  for await (const revision of client.listDeploymentRevisions("churn")) {
    say(`   revision ${revision.revision} at ${isoSeconds(revision.updateTime)} by ${revision.updatedBy}: ${revision.changeReason}`);
  }
}

/** Steps 18 to 21: an event stream of card transactions, aggregated online and offline, served to a fraud model. */
async function streamFeatures(client: SluiceClient, say: (line?: string) => void): Promise<void> {
  say("18. Stream raw events: card transactions, aggregated over windows as they arrive.");
  await client.applyEntity({ name: "card", joinKeys: [{ name: "card_id", type: "int64" }] });
  const stream = await client.applyEventStream({
    name: "card_txn",
    entity: "card",
    fields: [
      { name: "amount", type: "double" },
      { name: "merchant", type: "string" },
    ],
    granularitySeconds: 60,
    allowedLatenessSeconds: 300,
  });
  say(`   ${stream.eventStream?.name}: fields amount, merchant; tiles of 1 minute; events up to 5 minutes late still count`);
  const view = await client.applyFeatureView({
    name: "card_velocity",
    entity: "card",
    stream: "card_txn",
    features: [
      { name: "txn_10m", aggregation: { function: "count", windowSeconds: 600 } },
      { name: "amount_sum_1h", aggregation: { function: "sum", field: "amount", windowSeconds: 3600 } },
      { name: "amount_max_1d", aggregation: { function: "max", field: "amount", windowSeconds: 86_400 } },
      { name: "merchants_1d", aggregation: { function: "count_distinct", field: "merchant", windowSeconds: 86_400 } },
    ],
  });
  for (const feature of view.featureView?.features ?? []) {
    const aggregation = feature.aggregation;
    say(
      `   ${view.featureView?.name}:${feature.name} = ${aggregation?.function === undefined ? "" : aggregationName(aggregation.function)}(${aggregation?.field || "events"}) over ${aggregation?.window ? `${aggregation.window.seconds} s` : "lifetime"} -> ${typeName(feature.type)}`,
    );
  }

  say("19. Write events with WriteEvents: a burst on card 7, then two stragglers: one from 3 minutes ago, one from 40 minutes ago.");
  const now = Date.now();
  const minutesAgo = (m: number) => new Date(now - m * 60_000);
  const writer = client.openEventWriteStream();
  const burst = await writer.write({
    eventStream: "card_txn",
    events: [
      ...[9, 6, 4, 2, 1].map((m, i) => ({
        entityKey: { card_id: 7n },
        eventTime: minutesAgo(m),
        fields: { amount: 20 + i * 95, merchant: `shop_${i % 3}` },
      })),
      { entityKey: { card_id: 8n }, eventTime: minutesAgo(2), fields: { amount: 12.5, merchant: "grocer" } },
    ],
  });
  say(`   batch 1: ${burst.acceptedCount} events stored, ${burst.tooLateCount} too late`);
  const late = await writer.write({
    eventStream: "card_txn",
    events: [
      { entityKey: { card_id: 7n }, eventTime: minutesAgo(3), fields: { amount: 640, merchant: "jeweller" } },
      { entityKey: { card_id: 7n }, eventTime: minutesAgo(40), fields: { amount: 5000, merchant: "casino" } },
    ],
  });
  await writer.close();
  say(
    `   batch 2: ${late.acceptedCount} events stored, ${late.tooLateCount} too late (the 40-minute-old one: further behind the newest event than the 5 minutes allowed)`,
  );
  const status = await client.getEventStreamStatus("card_txn");
  for (const source of status.sources)
    say(
      `   source ${source.source}: ${source.eventCount} events, ${source.tooLateCount} too late, watermark ${isoSeconds(source.watermark)}`,
    );

  say("20. Read the aggregates online (one store round trip), and the same values from the historical path.");
  const features = ["card_velocity:txn_10m", "card_velocity:amount_sum_1h", "card_velocity:amount_max_1d", "card_velocity:merchants_1d"];
  const online = await client.getOnlineFeatures({ features, entities: { card_id: [7n, 8n, 9n] } });
  const readAt = online[0]?.eventTimes[0] ?? new Date();
  [7n, 8n, 9n].forEach((card, row) => {
    say(`   card ${card}: ${online.map((column) => `${column.name}=${formatValue(column.values[row])}`).join(", ")}`);
  });
  say("   (the 3-minute-old straggler counts; the 40-minute-old one is stored offline but never counted online)");
  for (const [label, excludeLateIngested] of [
    ["as known at the read", true],
    ["as it happened", false],
  ] as const) {
    for await (const row of client.getHistoricalRows({
      features,
      excludeLateIngested,
      spine: { rows: [{ entityKey: { card_id: 7n }, eventTime: readAt }] },
    })) {
      say(
        `   historical, ${label}: card 7 txn_10m=${formatValue(row.txn_10m)}, amount_sum_1h=${formatValue(row.amount_sum_1h)}, amount_max_1d=${formatValue(row.amount_max_1d)}`,
      );
    }
  }

  say("21. Serve a fraud model whose input is bound to the aggregated features.");
  const inputs = ["card_velocity@1:txn_10m", "card_velocity@1:amount_sum_1h", "card_velocity@1:amount_max_1d"];
  const model = await client.uploadModel({
    model: "fraud",
    file: join(DEMO_MODELS, "fraud-v1.onnx"),
    bindings: [{ input: "features", features: inputs }],
  });
  await client.applyDeployment({ endpoint: "fraud", stable: `fraud@${model.version}`, actor: "demo", reason: "first fraud model" });
  const prediction = await client.predict({ endpoint: "fraud", entities: { card_id: [7n, 8n, 9n] } });
  const scores = prediction.outputs.fraud_probability?.values ?? [];
  say(
    `   fraud_probability: card 7 ${scores[0]?.toFixed(4)}, card 8 ${scores[1]?.toFixed(4)}, card 9 (no events) ${scores[2]?.toFixed(4)}`,
  );
}

/**
 * Step 23: who did what. Authentication is off in the demo, so every call is by "anonymous", the
 * admin of auth-off mode; the audit trail still recorded each change (and the refused apply of step
 * 22), its hash chain verifies, and an API key is created without its secret being printed.
 */
async function showSecurity(client: SluiceClient, say: (line?: string) => void): Promise<void> {
  const me = await client.whoAmI();
  const roles = me.roles.map((grant) => `${grant.project}:${grant.role}`).join(", ");
  say(`23. Security. Authentication is off here: WhoAmI says ${me.principal} (authentication ${me.authentication}, roles ${roles}).`);
  const events: AuditEvent[] = [];
  for await (const event of client.listAuditEvents({ allProjects: true })) events.push(event);
  // Listed newest first; told in the order the demo made the calls.
  events.reverse();
  say(`   The audit trail (ListAuditEvents) holds every call of the demo that changed something or tried to, ${events.length} in all:`);
  for (const [service, methods] of countByServiceAndMethod(events))
    say(`   ${service}: ${[...methods].map(([method, count]) => `${method} ×${count}`).join(", ")}`);
  const principals = [...new Set(events.map((event) => `${event.principal} (authentication ${event.authentication})`))];
  const outcomes = new Map<string, number>();
  for (const event of events) {
    const outcome = event.outcome === "OK" ? "OK" : `${event.outcome} (${methodName(event.method)})`;
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  say(
    `   all by ${principals.join(", ")}; ${[...outcomes].map(([outcome, count]) => `${count} ${outcome}`).join(", ")}; reads are not recorded`,
  );
  const verdict = await client.verifyAuditChain();
  const records = verdict.chains.reduce((sum, chain) => sum + chain.records, 0n);
  if (!verdict.intact) throw new Error(`the audit chain does not verify: ${verdict.chains.map((chain) => chain.problem).join("; ")}`);
  const chains = verdict.chains.length === 1 ? "the hash chain is intact" : `all ${verdict.chains.length} hash chains are intact`;
  say(`   VerifyAuditChain: ${chains} (${records} records; each record's SHA-256 covers the one before it)`);

  const { apiKey, secret } = await client.createApiKey({
    principal: "churn-dashboard",
    roles: ["default:viewer"],
    description: "read-only: predictions and online reads",
  });
  if (!secret.startsWith("sk_")) throw new Error("the API key's secret does not start with sk_");
  say(`   CreateApiKey for churn-dashboard, viewer on project default: id ${apiKey.id}, secret sk_…(shown once)`);
  for await (const key of client.listApiKeys()) {
    if (key.id !== apiKey.id) continue;
    say(
      `   ListApiKeys shows it without its secret: ${key.principal}, ${key.roles.map((grant) => `${grant.project}:${grant.role}`).join(", ")}, created by ${key.createdBy}`,
    );
  }
  say("   (with authentication on, it would be sent as `authorization: Bearer sk_…`, and it could read but change nothing)");
}

/** Audited calls counted per service, then per method, each in the order of its first call. */
function countByServiceAndMethod(events: readonly AuditEvent[]): Map<string, Map<string, number>> {
  const services = new Map<string, Map<string, number>>();
  for (const event of events) {
    const [service = "", method = ""] = event.method.split("/").filter((part) => part !== "");
    const serviceName = service.replace(/^sluice\.v1\./, "");
    const methods = services.get(serviceName) ?? new Map<string, number>();
    methods.set(method, (methods.get(method) ?? 0) + 1);
    services.set(serviceName, methods);
  }
  return services;
}

/** "ApplyFeatureView" of "/sluice.v1.RegistryService/ApplyFeatureView". */
function methodName(fullMethod: string): string {
  return fullMethod.split("/").at(-1) ?? fullMethod;
}

/** A feature value for the demo's lines: bigints without the n, numbers to two decimals. */
function formatValue(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (value === null || value === undefined) return "null";
  return String(value);
}

/** "sum" for AGGREGATION_FUNCTION_SUM. */
function aggregationName(fn: AggregationFunction): string {
  return AggregationFunction[fn].replace("AGGREGATION_FUNCTION_", "").toLowerCase();
}

/** "churn_probability=0.3977 by v1 (stable); orders_30d PRESENT, ..." for a one-row prediction. */
function describePrediction(prediction: Prediction): string {
  const probability = prediction.outputs.churn_probability?.values[0]?.toFixed(4);
  const statuses = prediction.usedFeatures.map((used) => `${used.feature?.feature} ${statusName(used.statuses[0])}`);
  return `churn_probability=${probability} by v${versionNumber(prediction.modelVersion)} (${prediction.role}); ${statuses.join(", ")}`;
}

function describeDeployment(deployment: Deployment): string {
  const version = (name: string) => `v${versionNumber(name)}`;
  const parts = [`stable ${version(deployment.stableVersion)}`];
  if (deployment.canary) parts.push(`canary ${version(deployment.canary.modelVersion)} at ${deployment.canary.trafficPercent}%`);
  for (const shadow of deployment.shadowVersions) parts.push(`shadow ${version(shadow)}`);
  return parts.join(", ");
}

/** The last segment of a resource name: "customer_stats" of "projects/default/featureViews/customer_stats". */
function shortId(name: string): string {
  return name.split("/").at(-1) ?? name;
}

/** The version number at the end of ".../versions/3". */
function versionNumber(name: string): string {
  return name.split("/").at(-1) ?? name;
}

function statusName(status: FeatureStatus | undefined): string {
  return FeatureStatus[status ?? FeatureStatus.FEATURE_STATUS_UNSPECIFIED]?.replace("FEATURE_STATUS_", "") ?? "?";
}

function typeName(type: ValueType): string {
  return ValueType[type]?.replace("VALUE_TYPE_", "").toLowerCase() ?? "?";
}

/** ISO 8601 in UTC, to the second: "2026-05-01T13:45:07Z". */
function isoSeconds(time: Date | { seconds: bigint; nanos: number } | undefined): string {
  if (time === undefined) return "?";
  const date = time instanceof Date ? time : new Date(Number(time.seconds) * 1000 + Math.floor(time.nanos / 1e6));
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function micros(duration: { seconds: bigint; nanos: number } | undefined): number {
  return duration ? Math.round(Number(duration.seconds) * 1e6 + duration.nanos / 1000) : 0;
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
  const history =
    response.history === HistoryOutcome.HISTORY_OUTCOME_SHARED
      ? `, sharing the stored history of version ${response.featureView?.historyVersion}`
      : response.history === HistoryOutcome.HISTORY_OUTCOME_STARTS_EMPTY
        ? ", with an empty history of its own"
        : "";
  say(`   ${ApplyOutcome[response.outcome]}${compatibility} -> version ${response.featureView?.version}${history}`);
  for (const change of response.changes) say(`     - ${change}`);
}
