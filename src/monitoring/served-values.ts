/**
 * Training/serving skew on real traffic: values served online from views that ask for it
 * (`log_served_values`) are logged, and a check replays a logged time range through the
 * historical path — as of each serving time, counting only what was known then — and reports per
 * feature how many values differ, with examples. The consistency gate in CI does the same on
 * generated streams; this is the check users run on their own traffic.
 */
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import type { Entity, FeatureViewVersion } from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import type { EventTimeRange, OfflineStore, ServedValueRecord } from "../storage/offline/offline-store.js";
import { type ArrowCell, arrowRows } from "../training/arrow-values.js";
import type { HistoricalRetriever } from "../training/historical-retriever.js";

/** Where served values go (a buffered log in the server). */
export interface ServedValueSink {
  record(project: string, record: ServedValueRecord): void;
}

/** A value as the log keeps it: JSON with bigints as decimal strings, times as microseconds, bytes as base64. */
export function servedJson(value: FeatureValue | ArrowCell): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.getTime() * 1000;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map((v) => servedJson(v as FeatureValue));
  return value;
}

/** What a check reports for one feature. */
export interface FeatureConsistency {
  feature: string;
  compared: number;
  mismatches: number;
  examples: Array<{ entityKey: string; servedTime: number; servedValue: string; historicalValue: string }>;
}

/** A check's request: a view ref, serving times to replay, and bounds. */
export interface ConsistencyRequest {
  project: string;
  featureView: string;
  range: EventTimeRange;
  maxValues: number;
  maxExamples: number;
}

/** Aggregations whose float results depend on the order of summation: compared within a tolerance. */
const FLOAT_AGGREGATIONS: ReadonlySet<string> = new Set(["sum", "mean", "variance", "stddev"]);

/** How float aggregates are compared, as the response states it. */
export const FLOAT_COMPARISON =
  "exact, except float sum, mean, variance and stddev of aggregation views: within 1e-12 + 1e-9 x the larger magnitude";

/** Replays logged online values through the historical path. */
export class ServedConsistencyChecker {
  constructor(
    private readonly registry: Registry,
    private readonly offline: OfflineStore,
    private readonly retriever: HistoricalRetriever,
  ) {}

  /** Compares the logged values of a view version in a range with the historical path's, per feature. */
  async check(request: ConsistencyRequest): Promise<{ features: FeatureConsistency[]; servedValues: number }> {
    const view = await this.registry.resolveViewRef(request.project, request.featureView, "feature_view");
    const entity = await this.registry.getEntity(view.project, view.entity);
    const records = await this.offline.readServedValues(view.project, {
      featureView: view.name,
      version: view.version,
      range: request.range,
      limit: request.maxValues,
    });
    const served = records.map((record) => ({ record, values: JSON.parse(record.values) as Record<string, unknown> }));
    const logged = view.features.filter((f) => served.some(({ values }) => Object.hasOwn(values, f.name)));
    const report = new Map(
      logged.map((f) => [f.name, { feature: f.name, compared: 0, mismatches: 0, examples: [] } as FeatureConsistency]),
    );
    if (served.length === 0 || logged.length === 0) return { features: [...report.values()], servedValues: 0 };

    const plan = await this.retriever.plan({
      project: view.project,
      features: logged.map((f) => `${view.name}@${view.version}:${f.name}`),
      featureService: "",
      spine: { kind: "inline" },
      fullFeatureNames: false,
      excludeLateIngested: true,
      emitSpineIndex: false,
    });
    const spine = served.map(({ record }) => ({ entityKey: taggedKey(entity, record.entityKey), eventTime: record.time, extras: {} }));
    const retrieval = await this.retriever.retrieve(
      plan,
      (async function* () {
        yield { rows: spine };
      })(),
    );
    const firstFeature = retrieval.columns.findIndex((c) => c.role === "feature");
    let row = 0;
    for await (const chunk of retrieval.chunks) {
      for (const cells of arrowRows(chunk.ipc)) {
        const { record, values } = served[row++] as (typeof served)[number];
        logged.forEach((feature, f) => {
          if (!Object.hasOwn(values, feature.name)) return;
          const entry = report.get(feature.name) as FeatureConsistency;
          const servedValue = values[feature.name];
          const historical = servedJson(historicalValue(cells[firstFeature + f] ?? null, feature.type));
          entry.compared++;
          if (agree(view, feature.name, servedValue, historical)) return;
          entry.mismatches++;
          if (entry.examples.length < request.maxExamples)
            entry.examples.push({
              entityKey: record.entityKey,
              servedTime: record.time,
              servedValue: JSON.stringify(servedValue),
              historicalValue: JSON.stringify(historical),
            });
        });
      }
    }
    return { features: [...report.values()], servedValues: served.length };
  }
}

/** The served-value record of one entity row of one view version. */
export function servedRecord(
  view: Pick<FeatureViewVersion, "name" | "version">,
  time: number,
  key: Record<string, FeatureValue>,
  values: Record<string, FeatureValue>,
): ServedValueRecord {
  const json = (record: Record<string, FeatureValue>) =>
    JSON.stringify(Object.fromEntries(Object.entries(record).map(([name, value]) => [name, servedJson(value)])));
  return { time, featureView: view.name, version: view.version, entityKey: json(key), values: json(values) };
}

/** A logged entity key (JSON) as the tagged values of a spine row. */
function taggedKey(entity: Entity, json: string): Record<string, { kind: ValueType; value: FeatureValue }> {
  const values = JSON.parse(json) as Record<string, unknown>;
  return Object.fromEntries(
    entity.joinKeys.map((key) => {
      const raw = values[key.name];
      const value = key.type === "int64" ? BigInt(raw as string) : (raw as FeatureValue);
      return [key.name, { kind: key.type, value }];
    }),
  );
}

/** A historical cell in the form the online path serves: timestamps as Dates. */
function historicalValue(cell: ArrowCell, type: ValueType): FeatureValue | ArrowCell {
  if (type === "timestamp" && typeof cell === "number") return new Date(cell / 1000);
  return cell;
}

/** Whether a served and a historical value (both as logged JSON) agree. */
function agree(view: FeatureViewVersion, feature: string, served: unknown, historical: unknown): boolean {
  const kind = view.features.find((f) => f.name === feature)?.aggregation?.kind;
  if (kind && FLOAT_AGGREGATIONS.has(kind) && typeof served === "number" && typeof historical === "number")
    return Math.abs(served - historical) <= 1e-12 + 1e-9 * Math.max(Math.abs(served), Math.abs(historical));
  return JSON.stringify(served) === JSON.stringify(historical);
}
