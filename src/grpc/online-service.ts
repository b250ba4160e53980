/** Thin gRPC adapter of sluice.v1.OnlineService over the core {@link OnlineReader}. */
import type { GetOnlineFeaturesRequest, GetOnlineFeaturesResponse, OnlineServiceServer } from "../gen/sluice/v1/online.pb.js";
import { FeatureStatus as WireFeatureStatus } from "../gen/sluice/v1/types.pb.js";
import type { FeatureStatus, OnlineReader } from "../online/online-reader.js";
import { parseProjectName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { resolvedFeatureToWire } from "./mapping/registry.js";
import { microsToTimestamp, taggedFromWire, valueToWire } from "./mapping/values.js";
import { unaryHandler } from "./unary-handler.js";

const STATUS_TO_WIRE: Record<FeatureStatus, WireFeatureStatus> = {
  present: WireFeatureStatus.FEATURE_STATUS_PRESENT,
  null_value: WireFeatureStatus.FEATURE_STATUS_NULL_VALUE,
  not_found: WireFeatureStatus.FEATURE_STATUS_NOT_FOUND,
  outside_max_age: WireFeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE,
};

/** Builds the OnlineService handlers. */
export function onlineServiceHandlers(reader: OnlineReader, env: HandlerEnv): OnlineServiceServer {
  return {
    getOnlineFeatures: unaryHandler(
      "sluice.v1.OnlineService/GetOnlineFeatures",
      env,
      async (request: GetOnlineFeaturesRequest): Promise<GetOnlineFeaturesResponse> => {
        const columns = await reader.read({
          project: parseProjectName(request.project, "project", true),
          features: request.features,
          featureService: request.featureService,
          entities: Object.fromEntries(Object.entries(request.entities).map(([name, column]) => [name, column.values.map(taggedFromWire)])),
          fullFeatureNames: request.fullFeatureNames,
        });
        return {
          featureNames: columns.map((c) => c.name),
          columns: columns.map((c) => ({
            values: c.values.map((value) => valueToWire(c.feature.type, value)),
            statuses: c.statuses.map((s) => STATUS_TO_WIRE[s]),
            // An unset Timestamp cannot sit in a repeated field; NOT_FOUND cells carry the epoch.
            eventTimes: c.eventTimes.map((t) => microsToTimestamp(t ?? 0)),
          })),
          resolvedFeatures: columns.map((c) => resolvedFeatureToWire(c.feature)),
        };
      },
    ),
  };
}
