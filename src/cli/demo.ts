/**
 * `sluice demo`: starts a server of its own on a free port, then tells the Sluice story through
 * the TypeScript SDK, printing what each step did. It grows with the product; today it covers
 * projects, entities, versioned feature views and feature services.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApplyOutcome, Compatibility, SluiceClient, SluiceClientError } from "../../clients/typescript/src/index.js";
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
  const server = await startServer({ ...DEFAULT_CONFIG, listen: "127.0.0.1:0", dataDir, logLevel: "warn" }, createLogger("warn"));
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

    say("8. Bad input is refused with every problem named:");
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
