/**
 * Test fixtures for event streams: applying a stream and an aggregation view, and writing events,
 * through the generated stubs (what every client sends on the wire).
 */
import type { SluiceClient } from "../../clients/typescript/src/index.js";
import type { FeatureValue } from "../../src/common/feature-value.js";
import type { ValueType as CoreValueType } from "../../src/common/value-type.js";
import {
  GetEventStreamStatusRequest,
  type GetEventStreamStatusResponse,
  WriteEventBatchRequest,
  type WriteEventBatchResponse,
} from "../../src/gen/sluice/v1/ingestion.pb.js";
import {
  AggregationFunction,
  ApplyEventStreamRequest,
  ApplyFeatureViewRequest,
  type ApplyFeatureViewResponse,
} from "../../src/gen/sluice/v1/registry.pb.js";
import { type Value, ValueType } from "../../src/gen/sluice/v1/types.pb.js";

/** A stream field as tests declare it. */
export interface TestField {
  name: string;
  type: CoreValueType;
}

/** An aggregation as tests declare it: function name, field, window in seconds (0: lifetime). */
export interface TestAggregation {
  name: string;
  kind: string;
  field: string;
  windowSeconds: number;
  k?: number;
  filter?: string;
}

const wireType = (type: CoreValueType) => ValueType[`VALUE_TYPE_${type.toUpperCase()}` as keyof typeof ValueType];
const seconds = (s: number) => ({ seconds: BigInt(Math.floor(s)), nanos: Math.round((s % 1) * 1e9) });

/** Applies an event stream of `entity` with `fields`. */
export async function applyStream(
  client: SluiceClient,
  stream: {
    name: string;
    entity: string;
    fields: TestField[];
    granularitySeconds?: number;
    latenessSeconds?: number;
    retentionSeconds?: number;
  },
): Promise<void> {
  await client.call(
    client.registry,
    client.registry.applyEventStream,
    ApplyEventStreamRequest.fromPartial({
      eventStream: {
        name: `projects/default/eventStreams/${stream.name}`,
        entity: stream.entity,
        fields: stream.fields.map((f) => ({ name: f.name, type: wireType(f.type) })),
        granularity: stream.granularitySeconds ? seconds(stream.granularitySeconds) : undefined,
        allowedLateness: stream.latenessSeconds ? seconds(stream.latenessSeconds) : undefined,
        retention: stream.retentionSeconds ? seconds(stream.retentionSeconds) : undefined,
      },
    }),
  );
}

/** Applies an aggregation view over `stream`. */
export async function applyAggregationView(
  client: SluiceClient,
  view: { name: string; entity: string; stream: string; aggregations: TestAggregation[] },
): Promise<ApplyFeatureViewResponse> {
  return client.call(
    client.registry,
    client.registry.applyFeatureView,
    ApplyFeatureViewRequest.fromPartial({
      featureView: {
        name: `projects/default/featureViews/${view.name}`,
        entity: view.entity,
        stream: view.stream,
        features: view.aggregations.map((a) => ({
          name: a.name,
          aggregation: {
            function: AggregationFunction[`AGGREGATION_FUNCTION_${a.kind.toUpperCase()}` as keyof typeof AggregationFunction],
            field: a.field,
            window: a.windowSeconds > 0 ? seconds(a.windowSeconds) : undefined,
            k: a.k ?? 0,
            filter: a.filter ?? "",
          },
        })),
      },
    }),
  );
}

/** One event as tests write it: entity key values, event time (ms) and field values. */
export interface TestEvent {
  key: Record<string, bigint | string>;
  eventTimeMs: number;
  fields: Record<string, FeatureValue>;
}

/** A core value as a wire Value of `type`. */
function wireValueOf(type: CoreValueType, value: FeatureValue): Value {
  if (value === null) return {} as Value;
  switch (type) {
    case "int64":
      return { int64Value: BigInt(value as bigint | number) } as Value;
    case "int32":
      return { int32Value: Number(value) } as Value;
    case "double":
      return { doubleValue: Number(value) } as Value;
    case "float":
      return { floatValue: Number(value) } as Value;
    case "bool":
      return { boolValue: Boolean(value) } as Value;
    default:
      return { stringValue: String(value) } as Value;
  }
}

/** Writes one batch of events through WriteEventBatch. */
export async function writeEvents(
  client: SluiceClient,
  stream: string,
  fields: TestField[],
  events: TestEvent[],
  writeId = "",
): Promise<WriteEventBatchResponse> {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  return client.call(
    client.ingestion,
    client.ingestion.writeEventBatch,
    WriteEventBatchRequest.fromPartial({
      eventStream: stream,
      writeId,
      events: events.map((event) => ({
        entityKey: Object.fromEntries(
          Object.entries(event.key).map(([k, v]) => [k, typeof v === "bigint" ? { int64Value: v } : { stringValue: v }]),
        ),
        eventTime: { seconds: BigInt(Math.floor(event.eventTimeMs / 1000)), nanos: Math.round((event.eventTimeMs % 1000) * 1e6) },
        fields: Object.fromEntries(
          Object.entries(event.fields)
            .filter(([, v]) => v !== null)
            .map(([k, v]) => [k, wireValueOf(types.get(k) ?? "string", v)]),
        ),
      })),
    }),
  );
}

/** A stream's status. */
export function streamStatus(client: SluiceClient, stream: string): Promise<GetEventStreamStatusResponse> {
  return client.call(
    client.ingestion,
    client.ingestion.getEventStreamStatus,
    GetEventStreamStatusRequest.fromPartial({ eventStream: stream }),
  );
}
