/** Thin gRPC adapter of sluice.v1.InferenceService over the core {@link Predictor}. */
import type { InferenceServiceServer, PredictRequest } from "../gen/sluice/v1/inference.pb.js";
import type { ResolvedFeature as WireResolvedFeature } from "../gen/sluice/v1/types.pb.js";
import type { Predictor } from "../inference/predictor.js";
import type { ResolvedFeature } from "../registry/model.js";
import { parseResourceName, resourceName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { valueTypeToWire } from "./mapping/common.js";
import { resolvedFeatureToWire } from "./mapping/registry.js";
import { FEATURE_STATUS_TO_WIRE, taggedFromWire } from "./mapping/values.js";
import { unaryHandler } from "./unary-handler.js";

/** Builds the InferenceService handlers. */
export function inferenceServiceHandlers(predictor: Predictor, env: HandlerEnv): InferenceServiceServer {
  // Resolved features are the online reader's cached objects: each is mapped once, not per request.
  const wireFeatures = new WeakMap<ResolvedFeature, WireResolvedFeature>();
  const wireFeature = (feature: ResolvedFeature, derived: boolean) => {
    let wire = wireFeatures.get(feature);
    if (!wire) {
      wire = derived ? derivedFeatureToWire(feature) : resolvedFeatureToWire(feature);
      wireFeatures.set(feature, wire);
    }
    return wire;
  };
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
          feature: wireFeature(u.feature, u.derived ?? false),
          statuses: u.statuses.map((s) => FEATURE_STATUS_TO_WIRE[s]),
        })),
      };
    }),
  };
}

/** A derived feature where resolved features are listed: its feature service's name and version, and its own name. */
function derivedFeatureToWire(feature: ResolvedFeature): WireResolvedFeature {
  return {
    ref: feature.ref,
    featureView: resourceName(feature.project, "featureServices", feature.featureView),
    version: feature.version,
    feature: feature.feature,
    type: valueTypeToWire(feature.type),
  };
}
