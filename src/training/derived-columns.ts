/**
 * Derived features in training sets: one column per derived feature of the feature service, after
 * its features, computed from the spine's extra columns that carry its request inputs and from
 * the looked-up feature values, by the one evaluator Predict uses too. The join's result is
 * decoded, extended and re-encoded one Arrow chunk at a time, so memory stays bounded by a chunk.
 */
import { Data, Field, RecordBatch, RecordBatchReader, Schema, Struct, Table, tableToIPC, type Vector, vectorFromArray } from "apache-arrow";
import { ViolationCollector } from "../common/errors.js";
import { acceptsKind, type FeatureValue } from "../common/feature-value.js";
import { type DerivedFeatureService, DerivedFeatures } from "../expressions/derived-features.js";
import { canonicalFeatureRef } from "../registry/validation.js";
import type { ArrowChunk, ArrowChunks, OfflineColumn, Spine } from "../storage/offline/offline-store.js";
import { arrowTypeOf } from "./arrow-values.js";
import type { OutputColumn, SpineSource } from "./model.js";

/** How a retrieval's derived columns are computed from its result. */
export interface DerivedColumnsPlan {
  /** The feature service version, as resolved for the retrieval. */
  service: DerivedFeatureService;
  derived: DerivedFeatures;
  /** The output column of each of the service's features, in the order of its `features`. */
  featureColumns: readonly string[];
}

/**
 * The derived columns plan of a feature service version whose features resolved to `features`
 * (in its order) and are output as `featureColumns`; undefined when it derives nothing.
 */
export function derivedColumnsPlanOf(
  service: DerivedFeatureService,
  features: ReadonlyArray<{ type: OutputColumn["type"] }>,
  featureColumns: readonly string[],
): DerivedColumnsPlan | undefined {
  const derived = DerivedFeatures.of(
    service,
    features.map((f) => f.type),
    (ref) => canonicalFeatureRef(ref, service.project),
  );
  return derived ? { service, derived, featureColumns } : undefined;
}

/** The result columns the derived features add, after the features. */
export function derivedOutputColumns(plan: DerivedColumnsPlan | undefined): OutputColumn[] {
  if (!plan) return [];
  const { project, name, version = 0 } = plan.service;
  return plan.derived.features.map((feature) => ({
    name: feature.name,
    type: feature.type,
    role: "derived" as const,
    derivedBy: { project, name, version },
  }));
}

/** The request field naming where a spine's columns come from, for messages. */
const SPINE_FIELD: Record<SpineSource["kind"], string> = {
  inline: "spine_batches",
  table: "query.offline_spine.table",
  sql: "query.offline_spine.sql",
  entities: "query.entity_time_range",
};

/**
 * Checks that a stored spine has an extra column for every request input the derived features
 * read, of a type the input accepts. INVALID_ARGUMENT (MISSING_REQUEST_INPUT) otherwise, before
 * any join runs (INVALID_REQUEST_INPUT for a column of the wrong type).
 */
export function checkRequestInputColumns(
  plan: DerivedColumnsPlan | undefined,
  spine: Pick<Spine, "extraColumns">,
  source: SpineSource,
): void {
  if (!plan) return;
  const missing = new ViolationCollector();
  const mistyped = new ViolationCollector();
  const field = SPINE_FIELD[source.kind];
  const label = plan.derived.service;
  for (const input of plan.derived.inputsOf()) {
    const readers = plan.derived.features.filter((f) => f.inputs.includes(input)).map((f) => `"${f.name}"`);
    const column = spine.extraColumns.find((c: OfflineColumn) => c.name === input.name);
    if (!column)
      missing.add(
        field,
        `derived feature${readers.length > 1 ? "s" : ""} ${readers.join(", ")} of feature service ${label} read${readers.length > 1 ? "" : "s"} request input "${input.name}" (${input.type}): the spine needs an extra column "${input.name}"`,
      );
    else if (!acceptsKind(input.type, column.type))
      mistyped.add(
        field,
        `spine column "${input.name}" is ${column.type}; request input "${input.name}" of feature service ${label} is ${input.type}`,
      );
  }
  missing.throwIfAny("MISSING_REQUEST_INPUT");
  mistyped.throwIfAny("INVALID_REQUEST_INPUT");
}

/**
 * Appends the derived columns to every chunk of a result, chunk by chunk: each is decoded,
 * extended and encoded again as a complete Arrow IPC stream of the extended schema.
 */
export async function* appendDerivedColumns(chunks: ArrowChunks, plan: DerivedColumnsPlan | undefined): ArrowChunks {
  if (!plan) {
    yield* chunks;
    return;
  }
  for await (const chunk of chunks) yield withDerivedColumns(chunk, plan);
}

/** One chunk with the derived columns appended. */
export function withDerivedColumns(chunk: ArrowChunk, plan: DerivedColumnsPlan): ArrowChunk {
  const reader = RecordBatchReader.from(chunk.ipc);
  reader.open();
  const schema = extendedSchema(reader.schema, plan);
  const batches: RecordBatch[] = [];
  for (const batch of reader) batches.push(extendBatch(batch, schema, plan));
  return { ipc: tableToIPC(batches.length > 0 ? new Table(batches) : new Table(schema), "stream"), rows: chunk.rows };
}

function extendedSchema(schema: Schema, plan: DerivedColumnsPlan): Schema {
  const added = plan.derived.features.map((feature) => new Field(feature.name, arrowTypeOf(feature.type), true));
  return new Schema([...schema.fields, ...added], schema.metadata);
}

function extendBatch(batch: RecordBatch, schema: Schema, plan: DerivedColumnsPlan): RecordBatch {
  const columnOf = (name: string): Vector | undefined => {
    const index = batch.schema.fields.findIndex((field) => field.name === name);
    return index < 0 ? undefined : (batch.getChildAt(index) ?? undefined);
  };
  const features = plan.featureColumns.map(columnOf);
  const inputs = new Map(plan.derived.inputsOf().map((input) => [input.name, columnOf(input.name)]));
  const rows = batch.numRows;
  const added = plan.derived.features.map((feature) => {
    const values: Array<number | boolean | string | null> = new Array(rows);
    for (let row = 0; row < rows; row++) {
      values[row] = feature.evaluate(
        (name) => cell(inputs.get(name), row),
        (index) => cell(features[index], row),
      );
    }
    // One Data: the vector is built from one array.
    return vectorFromArray(values, arrowTypeOf(feature.type)).data[0] as Data;
  });
  const children = [...batch.data.children, ...added];
  const data = new Data(new Struct(schema.fields), 0, rows, 0, undefined, children);
  return new RecordBatch(schema, data);
}

/** A cell as an expression reads it: numbers, int64 as bigint, bools and strings; null for anything else. */
function cell(vector: Vector | undefined, row: number): FeatureValue {
  const value: unknown = vector?.get(row);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean" || typeof value === "string") return value;
  return null;
}
