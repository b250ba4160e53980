/**
 * Labels from Kafka: one JSON object per message, the fields of a WriteLabels LabelRecord in
 * snake case —
 *
 *     {"request_id": "…", "row": 0, "label": 1}
 *     {"entity": {"user_id": 42}, "event_time": "2026-11-27T10:00:00Z", "label": true, "request_features": {"hour": 9}}
 *
 * `event_time` is ISO-8601 text or an epoch number in the source's `eventTimeUnit`. Integral JSON
 * numbers are int64 values, others doubles.
 */
import type { TaggedValue } from "../common/feature-value.js";
import type { KafkaSourceConfig } from "../config/config.js";
import type { LabelInput } from "../learners/label-joiner.js";
import { timeToMicros } from "./kafka-source.js";

const FIELDS = new Set(["request_id", "row", "entity", "event_time", "label", "request_features"]);

/** A decoded label message as a label, or why it is not one. */
export function labelFromMessage(fields: Record<string, unknown>, unit: KafkaSourceConfig["eventTimeUnit"]): LabelInput | string {
  const unknown = Object.keys(fields).filter((name) => !FIELDS.has(name));
  if (unknown.length > 0)
    return `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; a label has ${[...FIELDS].join(", ")}`;
  const { request_id: requestId, row = 0, entity, event_time: eventTime, label, request_features: requestFeatures = {} } = fields;
  if ((requestId === undefined) === (entity === undefined)) return "give request_id or entity, one of them";
  if (requestId !== undefined && typeof requestId !== "string") return "request_id must be a string";
  if (typeof row !== "number") return "row must be a number";
  if (!isObject(requestFeatures)) return "request_features must be an object";
  const tagged = tag(label);
  if (typeof tagged === "string") return `label: ${tagged}`;
  const features: Record<string, TaggedValue> = {};
  for (const [name, value] of Object.entries(requestFeatures)) {
    const t = tag(value);
    if (typeof t === "string") return `request_features.${name}: ${t}`;
    features[name] = t;
  }
  const base = { row, label: tagged, requestFeatures: features };
  if (requestId !== undefined) return { ...base, requestId };
  if (!isObject(entity)) return "entity must be an object of join key values";
  const joinKeys: Record<string, TaggedValue> = {};
  for (const [name, value] of Object.entries(entity)) {
    const t = tag(value);
    if (typeof t === "string") return `entity.${name}: ${t}`;
    joinKeys[name] = t;
  }
  if (eventTime === undefined) return "event_time is required with entity";
  const micros = timeToMicros(eventTime, unit);
  if (typeof micros === "string") return `event_time: ${micros}`;
  return { ...base, entity: { joinKeys, eventTime: micros } };
}

/** A JSON value as the tagged value a gRPC client would have sent. */
function tag(value: unknown): TaggedValue | string {
  if (value === null || value === undefined) return { kind: "null", value: null };
  if (typeof value === "boolean") return { kind: "bool", value };
  if (typeof value === "string") return { kind: "string", value };
  if (typeof value === "number") {
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) return `${value} is beyond ±2^53, where JSON numbers lose digits`;
    return Number.isInteger(value) ? { kind: "int64", value: BigInt(value) } : { kind: "double", value };
  }
  return `expected a number, a string or a bool, got ${Array.isArray(value) ? "a list" : typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
