/** Thin gRPC adapter of sluice.v1.InferenceService over the core {@link Predictor}. */
import type { InferenceServiceServer, PredictRequest } from "../gen/sluice/v1/inference.pb.js";
import { FeatureStatus as WireFeatureStatus } from "../gen/sluice/v1/types.pb.js";
import type { Predictor } from "../inference/predictor.js";
import type { FeatureStatus } from "../online/online-reader.js";
import { parseResourceName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { resolvedFeatureToWire } from "./mapping/registry.js";
import { taggedFromWire } from "./mapping/values.js";
import { unaryHandler } from "./unary-handler.js";

const STATUS_TO_WIRE: Record<FeatureStatus, WireFeatureStatus> = {
  present: WireFeatureStatus.FEATURE_STATUS_PRESENT,
  null_value: WireFeatureStatus.FEATURE_STATUS_NULL_VALUE,
  not_found: WireFeatureStatus.FEATURE_STATUS_NOT_FOUND,
  outside_max_age: WireFeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE,
};

/** Builds the InferenceService handlers. */
export function inferenceServiceHandlers(predictor: Predictor, env: HandlerEnv): InferenceServiceServer {
  return {
    predict: unaryHandler("sluice.v1.InferenceService/Predict", env, async (request: PredictRequest, context) => {
      const { project, id } = parseResourceName(request.endpoint, "endpoints", "endpoint");
      const columns = (record: PredictRequest["entities"]) =>
        Object.fromEntries(Object.entries(record).map(([name, column]) => [name, column.values.map(taggedFromWire)]));
      const result = await predictor.predict({
        project,
        endpoint: id,
        entities: columns(request.entities),
        requestFeatures: columns(request.requestFeatures),
        routingKey: request.routingKey,
        requestId: request.requestId || context.requestId,
      });
      return {
        requestId: result.requestId,
        modelVersion: result.modelVersion,
        role: result.role,
        outputs: result.outputs.map((o) => ({
          name: o.name,
          elementType: o.elementType,
          rowShape: o.rowShape.map(BigInt),
          values: o.values,
        })),
        usedFeatures: result.usedFeatures.map((u) => ({
          feature: resolvedFeatureToWire(u.feature),
          statuses: u.statuses.map((s) => STATUS_TO_WIRE[s]),
        })),
      };
    }),
  };
}
