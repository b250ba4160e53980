/**
 * Limits every request message must respect, checked on its wire bytes before it is decoded, so
 * that no request can make the server do work (or allocate memory) out of proportion to what it
 * is allowed: decoding four million empty rows costs far more than the eight megabytes they take
 * on the wire. One pass over the bytes, driven by the served descriptors (src/gen/descriptors.binpb),
 * counts the items of every list and map (per message, at every depth), measures every string and
 * bytes field, and refuses the message with INVALID_ARGUMENT naming the field and the limit when
 *
 * - a list or map holds more items than its limit (config `limits.*`, see {@link FIELD_RULES};
 *   lists without a rule of their own take `limits.maxRepeatedItems`; a feature value's list,
 *   like a value's length, is the core's to check, since a value over a limit rejects only its row),
 * - the whole message holds more items than `limits.maxRequestItems` (a number of a numeric list
 *   counts a quarter of an item: it decodes to a number, not to an object),
 * - a string or bytes field is longer than its limit (`limits.maxStringBytes`,
 *   `limits.maxBytesLength`, `limits.maxWriteIdBytes`; streamed file and model chunks and raw
 *   tensor contents are bounded by the message size alone),
 * - an enum field holds a number its enum does not define (ValueType and AggregationFunction are
 *   left to the registry's validation, which reports them with every other bad field),
 * - a google.protobuf.Timestamp is outside 0001-01-01 .. 9999-12-31 or its nanos outside
 *   [0, 1e9), or a Duration is outside ±10,000 years or its nanos are out of range,
 * - or the bytes are not protobuf at all (a cut-short field, a varint longer than ten bytes, a
 *   length past the end, a group or an undefined wire type): the decoder would throw on them,
 *   which grpc-js reports as INTERNAL.
 *
 * The transport calls it from each method's request deserializer (src/grpc/guard.ts).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, type DescEnum, type DescField, type DescMessage, fromBinary, ScalarType } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type SluiceError, ValidationError } from "../common/errors.js";
import type { SluiceConfig } from "../config/config.js";
import { LIMITS, STREAM_LIMITS } from "../registry/validation.js";

/** The configured limits the wire check enforces. */
export type WireLimitsConfig = Pick<
  SluiceConfig["limits"],
  | "maxRowsPerBatch"
  | "maxEntityRowsPerRead"
  | "maxStringBytes"
  | "maxBytesLength"
  | "maxRepeatedItems"
  | "maxRequestItems"
  | "maxFeatureRefs"
  | "maxColumns"
  | "maxWriteIdBytes"
  | "maxModelInputElements"
>;

/** Checks one request message of a method ("/sluice.v1.OnlineService/GetOnlineFeatures"): the refusal, or undefined. */
export type WireCheck = (methodPath: string, bytes: Uint8Array) => SluiceError | undefined;

/** Reasons of the refusals, in ErrorInfo. */
export const WIRE_REASONS = {
  tooManyItems: "TOO_MANY_ITEMS",
  requestTooLarge: "REQUEST_TOO_LARGE",
  fieldTooLong: "FIELD_TOO_LONG",
  unknownEnumValue: "UNKNOWN_ENUM_VALUE",
  invalidTimestamp: "INVALID_TIMESTAMP",
  malformed: "MALFORMED_REQUEST",
} as const;

/** The wire check for `limits`. Each method's plan is compiled from the descriptors on its first message. */
export function createWireLimits(limits: WireLimitsConfig): WireCheck {
  const methods = servedMethods();
  const plans = new Map<string, NodePlan | null>();
  const nodes = new Map<string, NodePlan>();
  const budget = limits.maxRequestItems * ITEM_WEIGHT;
  return (methodPath, bytes) => {
    const path = methodPath.startsWith("/") ? methodPath : `/${methodPath}`;
    let plan = plans.get(path);
    if (plan === undefined) {
      const input = methods.get(path);
      plan = input ? compileNode(input, undefined, limits, nodes) : null;
      plans.set(path, plan);
    }
    return plan === null ? undefined : scanRequest(plan, bytes, budget, limits.maxRequestItems);
  };
}

// ---- which limit applies where ----

/** A limit and how a message names it. */
interface Limit {
  value: number;
  name: string;
}

type LimitKey = keyof WireLimitsConfig;
/** A configured limit by key, a fixed one, or (for lists of rows) the row limit of the enclosing batch. */
type LimitSource = LimitKey | Limit | "rows";

/** What applies to one field, beyond the defaults. */
interface FieldRule {
  /** Items of the list or entries of the map. */
  count?: LimitSource;
  /** Length of a string or bytes field (of each item, for a list). */
  bytes?: LimitSource | "unlimited";
  /** The row limit for the lists of rows below this field (columns and value lists). */
  rows?: LimitSource;
}

const fixed = (value: number, name: string): Limit => ({ value, name });
/** Shadow versions one deployment may name: each runs a copy of every request. */
const MAX_SHADOW_VERSIONS = 100;
const rows = (count: LimitSource = "maxRowsPerBatch"): FieldRule => ({ count });
const columns = (rowLimit: LimitSource): FieldRule => ({ count: "maxColumns", rows: rowLimit });

/**
 * The fields whose limits are not the defaults, by full name. Messages that are columns or lists
 * of values (Column, ValueColumn, Int64List, ...) take the row limit of where they appear: the
 * batch's for a write or a spine, the read's for entity keys, `limits.maxRepeatedItems` for a list
 * value (whose `limits.maxListLength` the core checks row by row).
 */
const FIELD_RULES: Readonly<Record<string, FieldRule>> = {
  // Rows of a batch.
  "sluice.v1.WriteFeaturesRequest.rows": rows(),
  "sluice.v1.WriteFeatureBatchRequest.rows": rows(),
  "sluice.v1.WriteEventsRequest.events": rows(),
  "sluice.v1.WriteEventBatchRequest.events": rows(),
  "sluice.v1.SpineBatch.rows": rows(),
  "sluice.v1.FeatureColumns.event_time_micros": rows(),
  "sluice.v1.FeatureColumns.created_time_micros": rows(),
  "sluice.v1.SpineColumns.event_time_micros": rows(),
  // Columns: as many as `limits.maxColumns`, each as long as the batch or the read allows.
  "sluice.v1.FeatureColumns.entity_key": columns("maxRowsPerBatch"),
  "sluice.v1.FeatureColumns.features": columns("maxRowsPerBatch"),
  "sluice.v1.SpineColumns.entity_key": columns("maxRowsPerBatch"),
  "sluice.v1.SpineColumns.extra_columns": columns("maxRowsPerBatch"),
  "sluice.v1.GetOnlineFeaturesRequest.entities": columns("maxEntityRowsPerRead"),
  "sluice.v1.PredictRequest.entities": columns("maxEntityRowsPerRead"),
  "sluice.v1.PredictRequest.request_features": columns("maxEntityRowsPerRead"),
  "sluice.v1.FeatureRow.entity_key": { count: "maxColumns" },
  "sluice.v1.FeatureRow.features": { count: "maxColumns" },
  "sluice.v1.EventRow.entity_key": { count: "maxColumns" },
  "sluice.v1.EventRow.fields": { count: "maxColumns" },
  "sluice.v1.SpineRow.entity_key": { count: "maxColumns" },
  "sluice.v1.SpineRow.extra_columns": { count: "maxColumns" },
  "sluice.v1.ImportFeaturesConfig.column_mapping": { count: "maxColumns" },
  "sluice.v1.ModelUploadHeader.input_bindings": { count: "maxColumns" },
  // Values: one over limits.maxStringBytes, maxBytesLength or maxListLength rejects only its row
  // (the core checks each), so on the wire a value is bounded by the message and the request's
  // item budget, and a list value by limits.maxRepeatedItems. A column's lists are as long as the rows.
  "sluice.v1.Value.string_value": { bytes: "unlimited" },
  "sluice.v1.Value.bytes_value": { bytes: "unlimited" },
  "sluice.v1.Value.int64_list_value": { rows: "maxRepeatedItems" },
  "sluice.v1.Value.float_list_value": { rows: "maxRepeatedItems" },
  "sluice.v1.Value.double_list_value": { rows: "maxRepeatedItems" },
  "sluice.v1.Value.string_list_value": { rows: "maxRepeatedItems" },
  "sluice.v1.StringList.values": { count: "rows", bytes: "unlimited" },
  "sluice.v1.BytesList.values": { count: "rows", bytes: "unlimited" },
  "sluice.v1.Column.null_rows": rows("rows"),
  "sluice.v1.ValueColumn.values": rows("rows"),
  "sluice.v1.Int64List.values": rows("rows"),
  "sluice.v1.FloatList.values": rows("rows"),
  "sluice.v1.DoubleList.values": rows("rows"),
  "sluice.v1.Int32List.values": rows("rows"),
  "sluice.v1.BoolList.values": rows("rows"),
  // Feature refs.
  "sluice.v1.GetOnlineFeaturesRequest.features": { count: "maxFeatureRefs" },
  "sluice.v1.ResolveFeaturesRequest.features": { count: "maxFeatureRefs" },
  "sluice.v1.HistoricalFeaturesQuery.features": { count: "maxFeatureRefs" },
  "sluice.v1.FeatureRefList.refs": { count: "maxFeatureRefs" },
  // Definitions: the registry's own limits (src/registry/validation.ts).
  "sluice.v1.Entity.join_keys": { count: fixed(LIMITS.joinKeysPerEntity, "join keys per entity") },
  "sluice.v1.FeatureView.features": { count: fixed(LIMITS.featuresPerView, "features per feature view") },
  "sluice.v1.FeatureService.features": { count: fixed(LIMITS.refsPerService, "feature refs per feature service") },
  "sluice.v1.FeatureService.request_inputs": { count: fixed(LIMITS.requestInputsPerService, "request inputs per feature service") },
  "sluice.v1.FeatureService.derived_features": {
    count: fixed(LIMITS.derivedFeaturesPerService, "derived features per feature service"),
  },
  "sluice.v1.EventStream.fields": { count: fixed(STREAM_LIMITS.fieldsPerStream, "fields per event stream") },
  "sluice.v1.Entity.tags": { count: fixed(LIMITS.tags, "tags") },
  "sluice.v1.Feature.tags": { count: fixed(LIMITS.tags, "tags") },
  "sluice.v1.FeatureView.tags": { count: fixed(LIMITS.tags, "tags") },
  "sluice.v1.FeatureService.tags": { count: fixed(LIMITS.tags, "tags") },
  "sluice.v1.EventStream.tags": { count: fixed(LIMITS.tags, "tags") },
  "sluice.v1.ModelUploadHeader.labels": { count: fixed(LIMITS.tags, "labels") },
  "sluice.v1.Deployment.shadow_versions": { count: fixed(MAX_SHADOW_VERSIONS, "shadow versions per deployment") },
  // Ids the server keys state by.
  "sluice.v1.WriteFeaturesRequest.write_id": { bytes: "maxWriteIdBytes" },
  "sluice.v1.WriteFeatureBatchRequest.write_id": { bytes: "maxWriteIdBytes" },
  "sluice.v1.WriteEventsRequest.write_id": { bytes: "maxWriteIdBytes" },
  "sluice.v1.WriteEventBatchRequest.write_id": { bytes: "maxWriteIdBytes" },
  "sluice.v1.ImportFeaturesConfig.write_id": { bytes: "maxWriteIdBytes" },
  "sluice.v1.PredictRequest.request_id": { bytes: "maxWriteIdBytes" },
  // Bulk payloads, bounded by the message size (grpc.maxReceiveMessageBytes) and checked by their readers.
  "sluice.v1.ImportFeaturesRequest.chunk": { bytes: "unlimited" },
  // Its rows are counted against limits.maxRowsPerBatch from its header, before any column is read (training/arrow-spine.ts).
  "sluice.v1.SpineBatch.arrow_ipc": { bytes: "unlimited" },
  "sluice.v1.UploadModelRequest.chunk": { bytes: "unlimited" },
  "inference.ModelInferRequest.raw_input_contents": { count: "maxColumns", bytes: "unlimited" },
  // Health: its handler echoes the name into an error's trailers.
  "grpc.health.v1.HealthCheckRequest.service": { bytes: fixed(1024, "bytes of a service name") },
  // KServe tensors.
  "inference.ModelInferRequest.inputs": { count: "maxColumns" },
  "inference.ModelInferRequest.outputs": { count: "maxColumns" },
  "inference.ModelInferRequest.parameters": { count: "maxColumns" },
  "inference.ModelInferRequest.InferInputTensor.shape": { count: fixed(64, "dimensions of a tensor") },
  "inference.ModelInferRequest.InferInputTensor.parameters": { count: "maxColumns" },
  "inference.ModelInferRequest.InferRequestedOutputTensor.parameters": { count: "maxColumns" },
  "inference.InferTensorContents.bool_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.int_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.int64_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.uint_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.uint64_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.fp32_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.fp64_contents": rows("maxModelInputElements"),
  "inference.InferTensorContents.bytes_contents": rows("maxModelInputElements"),
};

/**
 * Enums whose unknown values the core reports itself, with every other bad field of the same
 * definition (src/registry/validation.ts): the wire check leaves them to it.
 */
const CORE_CHECKED_ENUMS: ReadonlySet<string> = new Set(["sluice.v1.ValueType", "sluice.v1.AggregationFunction"]);

/** Every served method's path -> its request type. */
function servedMethods(): Map<string, DescMessage> {
  const path = fileURLToPath(new URL("../gen/descriptors.binpb", import.meta.url));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(path)));
  const methods = new Map<string, DescMessage>();
  for (const type of registry) {
    if (type.kind !== "service") continue;
    for (const method of type.methods) methods.set(`/${type.typeName}/${method.name}`, method.input);
  }
  return methods;
}

// ---- compiled plans ----

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const KIND_VARINT = 0;
const KIND_ENUM = 1;
const KIND_FIXED32 = 2;
const KIND_FIXED64 = 3;
const KIND_STRING = 4;
const KIND_BYTES = 5;
const KIND_MESSAGE = 6;

const RANGE_NONE = 0;
const RANGE_TIMESTAMP = 1;
const RANGE_DURATION = 2;

/** Budget units of one item that decodes to an object (message, map entry, string); a number takes one. */
const ITEM_WEIGHT = 4;

/** One field of a message as the scan sees it. */
class FieldPlan {
  /** The field's name in paths ("" for the key and value of a map entry, which paths leave out). */
  readonly name: string;
  readonly kind: number;
  /** The wire type of one element. */
  readonly wireType: number;
  readonly repeated: boolean;
  readonly isMap: boolean;
  /** A repeated number, which may come packed. */
  readonly packable: boolean;
  readonly countLimit: number;
  readonly countName: string;
  /** Index of this field's item counter among its message's counters. */
  readonly slot: number;
  readonly bytesLimit: number;
  readonly bytesName: string;
  readonly child: NodePlan | undefined;
  readonly enumValues: ReadonlySet<number> | undefined;
  readonly enumDesc: DescEnum | undefined;

  constructor(
    name: string,
    kind: number,
    element: { count?: Limit; slot?: number; bytes?: Limit; child?: NodePlan; enumDesc?: DescEnum; isMap?: boolean },
  ) {
    this.name = name;
    this.kind = kind;
    this.wireType =
      kind === KIND_FIXED32
        ? WIRE_FIXED32
        : kind === KIND_FIXED64
          ? WIRE_FIXED64
          : kind >= KIND_STRING
            ? WIRE_LENGTH_DELIMITED
            : WIRE_VARINT;
    this.repeated = element.count !== undefined;
    this.isMap = element.isMap ?? false;
    this.packable = this.repeated && this.wireType !== WIRE_LENGTH_DELIMITED;
    this.countLimit = element.count?.value ?? 0;
    this.countName = element.count?.name ?? "";
    this.slot = element.slot ?? -1;
    this.bytesLimit = element.bytes?.value ?? 0;
    this.bytesName = element.bytes?.name ?? "";
    this.child = element.child;
    this.enumDesc = element.enumDesc;
    this.enumValues = element.enumDesc ? new Set(element.enumDesc.values.map((v) => v.number)) : undefined;
  }
}

/** One message type, in one context (the row limit its lists inherit). */
class NodePlan {
  readonly fields: Array<FieldPlan | undefined> = [];
  slots = 0;
  range = RANGE_NONE;
  /** A map entry: its key (field 1) names the entry in paths. */
  isMapEntry = false;

  constructor(readonly typeName: string) {}
}

function resolveLimit(source: LimitSource, limits: WireLimitsConfig, rowLimit: Limit | undefined): Limit {
  if (source === "rows") return rowLimit ?? { value: limits.maxRepeatedItems, name: "limits.maxRepeatedItems" };
  if (typeof source === "string") return { value: limits[source], name: `limits.${source}` };
  return source;
}

function compileNode(message: DescMessage, rowLimit: Limit | undefined, limits: WireLimitsConfig, nodes: Map<string, NodePlan>): NodePlan {
  const key = `${message.typeName}|${rowLimit?.name ?? ""}`;
  const known = nodes.get(key);
  if (known) return known;
  const node = new NodePlan(message.typeName);
  // Registered before its fields, so a recursive type reuses it.
  nodes.set(key, node);
  if (message.typeName === "google.protobuf.Timestamp") node.range = RANGE_TIMESTAMP;
  if (message.typeName === "google.protobuf.Duration") node.range = RANGE_DURATION;
  for (const field of message.fields) {
    const rule = FIELD_RULES[`${message.typeName}.${field.name}`] ?? {};
    node.fields[field.number] = compileField(field, rule, node, rowLimit, limits, nodes);
  }
  return node;
}

function compileField(
  field: DescField,
  rule: FieldRule,
  node: NodePlan,
  rowLimit: Limit | undefined,
  limits: WireLimitsConfig,
  nodes: Map<string, NodePlan>,
): FieldPlan {
  const childRows = rule.rows ? resolveLimit(rule.rows, limits, rowLimit) : rowLimit;
  const bytes = (scalar: ScalarType | undefined): Limit | undefined => {
    if (scalar !== ScalarType.STRING && scalar !== ScalarType.BYTES) return undefined;
    const source = rule.bytes ?? (scalar === ScalarType.STRING ? "maxStringBytes" : "maxBytesLength");
    return source === "unlimited" ? { value: Number.POSITIVE_INFINITY, name: "" } : resolveLimit(source, limits, rowLimit);
  };
  const repeated = field.fieldKind === "list" || field.fieldKind === "map";
  // A list without a rule of its own takes limits.maxRepeatedItems; "rows" takes the enclosing row limit.
  const count = repeated ? resolveLimit(rule.count ?? "rows", limits, rule.count ? rowLimit : undefined) : undefined;
  const slot = repeated ? node.slots++ : -1;
  if (field.fieldKind === "map") {
    const entry = new NodePlan(`${node.typeName}.${field.name}Entry`);
    entry.isMapEntry = true;
    entry.fields[1] = new FieldPlan("", scalarKind(field.mapKey), { bytes: bytes(field.mapKey) });
    entry.fields[2] =
      field.mapKind === "message"
        ? new FieldPlan("", KIND_MESSAGE, { child: compileNode(field.message, childRows, limits, nodes) })
        : field.mapKind === "enum" && !CORE_CHECKED_ENUMS.has(field.enum.typeName)
          ? new FieldPlan("", KIND_ENUM, { enumDesc: field.enum })
          : field.mapKind === "enum"
            ? new FieldPlan("", KIND_VARINT, {})
            : new FieldPlan("", scalarKind(field.scalar), { bytes: bytes(field.scalar) });
    return new FieldPlan(field.name, KIND_MESSAGE, { count, slot, child: entry, isMap: true });
  }
  const element = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (element === "message")
    return new FieldPlan(field.name, KIND_MESSAGE, {
      count,
      slot,
      child: compileNode(field.message as DescMessage, childRows, limits, nodes),
    });
  if (element === "enum") {
    const desc = field.enum as DescEnum;
    if (CORE_CHECKED_ENUMS.has(desc.typeName)) return new FieldPlan(field.name, KIND_VARINT, { count, slot });
    return new FieldPlan(field.name, KIND_ENUM, { count, slot, enumDesc: desc });
  }
  const scalar = field.scalar as ScalarType;
  return new FieldPlan(field.name, scalarKind(scalar), { count, slot, bytes: bytes(scalar) });
}

function scalarKind(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return KIND_FIXED32;
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
    case ScalarType.DOUBLE:
      return KIND_FIXED64;
    case ScalarType.STRING:
      return KIND_STRING;
    case ScalarType.BYTES:
      return KIND_BYTES;
    default:
      return KIND_VARINT;
  }
}

// ---- the scan ----
// One scan runs at a time (it is synchronous), so its state lives in module variables: the
// position, the item counters of the messages being scanned (a stack), the budget, and the path.

let pos = 0;
let varLo = 0;
let varHi = 0;
let counters = new Int32Array(1024);
let counterTop = 0;
let budgetLeft = 0;
let requestItemLimit = 0;
let refusal: SluiceError | undefined;
/** Deepest nesting scanned; the served protos nest a few levels. */
const MAX_DEPTH = 64;
const pathFields: Array<FieldPlan | undefined> = new Array(MAX_DEPTH).fill(undefined);
const pathIndexes = new Int32Array(MAX_DEPTH);
/** Where the key of the map entry at each depth lies, -1 when not read (yet). */
const keyStarts = new Int32Array(MAX_DEPTH + 1);
const keyEnds = new Int32Array(MAX_DEPTH + 1);

/** Protobuf's limits of Timestamp and Duration. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799;
const MAX_DURATION_SECONDS = 315_576_000_000;

function scanRequest(root: NodePlan, bytes: Uint8Array, budget: number, maxRequestItems: number): SluiceError | undefined {
  pos = 0;
  counterTop = 0;
  budgetLeft = budget;
  requestItemLimit = maxRequestItems;
  refusal = undefined;
  scanMessage(root, bytes, bytes.length, 0);
  const found = refusal;
  refusal = undefined;
  return found;
}

/** Scans the message between `pos` and `end` at `depth`; false once a refusal is recorded. */
function scanMessage(node: NodePlan, buf: Uint8Array, end: number, depth: number): boolean {
  if (depth >= MAX_DEPTH) return malformed(buf, depth, "", "is nested too deeply");
  const base = counterTop;
  const slots = node.slots;
  if (slots > 0) {
    if (base + slots > counters.length) {
      const grown = new Int32Array(counters.length * 2 + slots);
      grown.set(counters);
      counters = grown;
    }
    for (let i = 0; i < slots; i++) counters[base + i] = 0;
    counterTop = base + slots;
  }
  if (node.isMapEntry) keyStarts[depth] = -1;
  const fields = node.fields;
  const range = node.range;
  let seconds = 0;
  let nanos = 0;
  while (pos < end) {
    let tag = buf[pos++] as number;
    if (tag >= 0x80) {
      pos--;
      if (!readVarint(buf, end) || varHi !== 0) return malformed(buf, depth, "", "holds a tag that is cut short or too long");
      tag = varLo;
    }
    const number = tag >>> 3;
    const wire = tag & 7;
    if (number === 0) return malformed(buf, depth, "", "holds a tag with field number 0");
    const field = number < fields.length ? fields[number] : undefined;
    if (field === undefined) {
      if (!skipField(buf, end, wire)) return malformed(buf, depth, `#${number}`, "is cut short or not valid protobuf");
      continue;
    }
    if (wire === field.wireType) {
      let index = -1;
      if (field.repeated) {
        const slot = base + field.slot;
        index = counters[slot] as number;
        counters[slot] = index + 1;
        if (index + 1 > field.countLimit) return tooMany(buf, depth, field, index + 1);
        budgetLeft -= field.kind >= KIND_STRING ? ITEM_WEIGHT : 1;
        if (budgetLeft < 0) return requestTooLarge(buf, depth, field, index);
      }
      switch (field.kind) {
        case KIND_VARINT:
          if (range === RANGE_NONE) {
            // Skipped, not decoded: the common case (int64 and bool values) on the hot path.
            let length = 0;
            for (;;) {
              if (pos >= end || ++length > 10)
                return malformed(buf, depth, field.name, "holds a varint that is cut short or longer than ten bytes");
              if ((buf[pos++] as number) < 0x80) break;
            }
            break;
          }
          if (!readVarint(buf, end)) return malformed(buf, depth, field.name, "holds a varint that is cut short or longer than ten bytes");
          if (number === 1) seconds = (varHi | 0) * 4_294_967_296 + (varLo >>> 0);
          else if (number === 2) nanos = varLo | 0;
          break;
        case KIND_ENUM:
          if (!readVarint(buf, end)) return malformed(buf, depth, field.name, "holds a varint that is cut short or longer than ten bytes");
          if (!(field.enumValues as ReadonlySet<number>).has(varLo | 0)) return unknownEnum(buf, depth, field, index, varLo | 0);
          break;
        case KIND_FIXED32:
          pos += 4;
          if (pos > end) return malformed(buf, depth, field.name, "is cut short");
          break;
        case KIND_FIXED64:
          pos += 8;
          if (pos > end) return malformed(buf, depth, field.name, "is cut short");
          break;
        case KIND_STRING:
        case KIND_BYTES: {
          const length = readLength(buf, end);
          if (length < 0) return malformed(buf, depth, field.name, "has a length past the end of its message");
          if (number === 1 && node.isMapEntry) {
            keyStarts[depth] = pos;
            keyEnds[depth] = pos + length;
          }
          if (length > field.bytesLimit) return tooLong(buf, depth, field, index, length);
          pos += length;
          break;
        }
        default: {
          const length = readLength(buf, end);
          if (length < 0) return malformed(buf, depth, field.name, "has a length past the end of its message");
          pathFields[depth] = field;
          pathIndexes[depth] = index;
          if (!scanMessage(field.child as NodePlan, buf, pos + length, depth + 1)) return false;
        }
      }
    } else if (wire === WIRE_LENGTH_DELIMITED && field.packable) {
      if (!scanPacked(buf, end, depth, field, base)) return false;
    } else if (!skipField(buf, end, wire)) {
      return malformed(buf, depth, field.name, "is cut short or not valid protobuf");
    }
  }
  if (range !== RANGE_NONE && !inRange(range, seconds, nanos)) return badTime(buf, depth, range, seconds, nanos);
  counterTop = base;
  return true;
}

/** A packed list of numbers: counted without decoding, except enums, whose values are checked. */
function scanPacked(buf: Uint8Array, end: number, depth: number, field: FieldPlan, base: number): boolean {
  const length = readLength(buf, end);
  if (length < 0) return malformed(buf, depth, field.name, "has a length past the end of its message");
  const stop = pos + length;
  let items = 0;
  if (field.kind === KIND_FIXED32 || field.kind === KIND_FIXED64) {
    const size = field.kind === KIND_FIXED32 ? 4 : 8;
    if (length % size !== 0) return malformed(buf, depth, field.name, `holds ${length} bytes, not a whole number of ${size}-byte values`);
    items = length / size;
    pos = stop;
  } else if (field.kind === KIND_ENUM) {
    const first = counters[base + field.slot] as number;
    while (pos < stop) {
      if (!readVarint(buf, stop)) return malformed(buf, depth, field.name, "holds a varint that is cut short or longer than ten bytes");
      if (!(field.enumValues as ReadonlySet<number>).has(varLo | 0)) return unknownEnum(buf, depth, field, first + items, varLo | 0);
      items++;
    }
  } else {
    // Varints: one ends at each byte below 0x80; none may run past ten bytes or past the list.
    let run = 0;
    for (let i = pos; i < stop; i++) {
      if ((buf[i] as number) < 0x80) {
        items++;
        run = 0;
      } else if (++run >= 10) return malformed(buf, depth, field.name, "holds a varint longer than ten bytes");
    }
    if (run !== 0) return malformed(buf, depth, field.name, "ends with a varint cut short");
    pos = stop;
  }
  const slot = base + field.slot;
  const count = (counters[slot] as number) + items;
  counters[slot] = count;
  if (count > field.countLimit) return tooMany(buf, depth, field, count);
  budgetLeft -= items;
  if (budgetLeft < 0) return requestTooLarge(buf, depth, field, -1);
  return true;
}

/** Reads a varint at `pos` into varLo/varHi (two 32-bit halves); false when cut short or over ten bytes. */
function readVarint(buf: Uint8Array, end: number): boolean {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return false;
    const byte = buf[pos++] as number;
    if (i < 4) lo |= (byte & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (byte & 0x0f) << 28;
      hi = (byte & 0x7f) >>> 4;
    } else hi |= (byte & 0x7f) << (7 * i - 32);
    if (byte < 0x80) {
      varLo = lo >>> 0;
      varHi = hi >>> 0;
      return true;
    }
  }
  return false;
}

/** Reads a length and checks that it fits before `end`; -1 when it does not. */
function readLength(buf: Uint8Array, end: number): number {
  let length = pos < end ? (buf[pos] as number) : 0x80;
  if (length < 0x80) pos++;
  else {
    if (!readVarint(buf, end) || varHi !== 0) return -1;
    length = varLo;
  }
  return length <= end - pos ? length : -1;
}

/** Skips a field the plan does not know (as the decoder does); false when it is not valid protobuf. */
function skipField(buf: Uint8Array, end: number, wire: number): boolean {
  switch (wire) {
    case WIRE_VARINT:
      return readVarint(buf, end);
    case WIRE_FIXED64:
      pos += 8;
      return pos <= end;
    case WIRE_FIXED32:
      pos += 4;
      return pos <= end;
    case WIRE_LENGTH_DELIMITED: {
      const length = readLength(buf, end);
      if (length < 0) return false;
      pos += length;
      return true;
    }
    default:
      // Groups (3, 4) are not part of proto3 and 6, 7 are not wire types.
      return false;
  }
}

function inRange(range: number, seconds: number, nanos: number): boolean {
  if (range === RANGE_TIMESTAMP)
    return seconds >= MIN_TIMESTAMP_SECONDS && seconds <= MAX_TIMESTAMP_SECONDS && nanos >= 0 && nanos <= 999_999_999;
  return (
    seconds >= -MAX_DURATION_SECONDS &&
    seconds <= MAX_DURATION_SECONDS &&
    nanos >= -999_999_999 &&
    nanos <= 999_999_999 &&
    (seconds === 0 || nanos === 0 || seconds > 0 === nanos > 0)
  );
}

// ---- refusals ----

function refuse(reason: string, field: string, description: string): false {
  refusal = new ValidationError(reason, [{ field, description }]);
  return false;
}

function tooMany(buf: Uint8Array, depth: number, field: FieldPlan, count: number): false {
  const what = field.isMap ? "entries" : "items";
  return refuse(
    WIRE_REASONS.tooManyItems,
    pathTo(buf, depth, field.name, -1),
    `has more than ${field.countLimit} ${what} (at least ${count}); at most ${field.countLimit} are allowed (${field.countName})`,
  );
}

function requestTooLarge(buf: Uint8Array, depth: number, field: FieldPlan, index: number): false {
  return refuse(
    WIRE_REASONS.requestTooLarge,
    pathTo(buf, depth, field.name, index),
    `the request holds more than ${requestItemLimit} list items and map entries in all (numbers in numeric lists count a quarter each); ` +
      "at most that many are allowed (limits.maxRequestItems): split it",
  );
}

function tooLong(buf: Uint8Array, depth: number, field: FieldPlan, index: number, length: number): false {
  return refuse(
    WIRE_REASONS.fieldTooLong,
    pathTo(buf, depth, field.name, index),
    `is ${length} bytes long; at most ${field.bytesLimit} are allowed (${field.bytesName})`,
  );
}

function unknownEnum(buf: Uint8Array, depth: number, field: FieldPlan, index: number, value: number): false {
  const desc = field.enumDesc as DescEnum;
  const names = desc.values.map((v) => `${v.name} (${v.number})`).join(", ");
  return refuse(
    WIRE_REASONS.unknownEnumValue,
    pathTo(buf, depth, field.name, index),
    `${value} is not a value of ${desc.typeName}; use one of ${names}`,
  );
}

function badTime(buf: Uint8Array, depth: number, range: number, seconds: number, nanos: number): false {
  const field = pathTo(buf, depth, "", -1);
  if (range === RANGE_TIMESTAMP) {
    return refuse(
      WIRE_REASONS.invalidTimestamp,
      field,
      nanos < 0 || nanos > 999_999_999
        ? `nanos ${nanos} is outside 0 .. 999999999`
        : `seconds ${seconds} is outside 0001-01-01 .. 9999-12-31 (${MIN_TIMESTAMP_SECONDS} .. ${MAX_TIMESTAMP_SECONDS})`,
    );
  }
  return refuse(
    WIRE_REASONS.invalidTimestamp,
    field,
    `duration ${seconds} s ${nanos} ns is outside ±${MAX_DURATION_SECONDS} s, or its nanos are out of range or of the other sign`,
  );
}

function malformed(buf: Uint8Array, depth: number, fieldName: string, problem: string): false {
  const field = pathTo(buf, depth, fieldName, -1);
  return refuse(WIRE_REASONS.malformed, field, `${problem}: the request is not a valid protobuf message of its method`);
}

/** The path of a field of the message at `depth`: `rows[3].features["price"].string_value`. */
function pathTo(buf: Uint8Array, depth: number, leaf: string, leafIndex: number): string {
  const parts: string[] = [];
  for (let d = 0; d < depth; d++) {
    const field = pathFields[d] as FieldPlan;
    if (field.name === "") continue;
    const index = pathIndexes[d] as number;
    if (field.isMap) {
      const start = keyStarts[d + 1] as number;
      const key = start >= 0 ? Buffer.from(buf.buffer, buf.byteOffset + start, (keyEnds[d + 1] as number) - start).toString("utf8") : "";
      parts.push(start >= 0 ? `${field.name}["${key.length > 64 ? `${key.slice(0, 64)}…` : key}"]` : `${field.name}[#${index}]`);
    } else parts.push(index >= 0 ? `${field.name}[${index}]` : field.name);
  }
  if (leaf !== "") parts.push(leafIndex >= 0 ? `${leaf}[${leafIndex}]` : leaf);
  return parts.join(".");
}
