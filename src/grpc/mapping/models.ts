/** Wire <-> core conversions of models, model versions, deployments and predictions. */
import { ValidationError, ViolationCollector } from "../../common/errors.js";
import {
  type ModelInputBinding,
  type Deployment as WireDeployment,
  type Model as WireModel,
  type ModelVersion as WireModelVersion,
  MissingFeaturePolicy as WirePolicy,
  type PromotionRequest as WirePromotionRequest,
} from "../../gen/sluice/v1/model.pb.js";
import type { DeploymentSpec } from "../../models/deployments.js";
import type { Deployment, InputBinding, Model, ModelVersion, PromotionRequest } from "../../models/model.js";
import { versionName } from "../../models/model.js";
import { parseVersionName } from "../../models/model-registry.js";
import { resourceName } from "../../registry/names.js";
import { dateToTimestamp } from "./common.js";

/** Wire input bindings as core bindings; INVALID_ARGUMENT for one without a source. */
export function bindingsFromWire(bindings: ModelInputBinding[], field: string): InputBinding[] {
  const v = new ViolationCollector();
  const result = bindings.flatMap((binding, i): InputBinding[] => {
    if (binding.features) return [{ inputName: binding.inputName, source: { kind: "features", refs: binding.features.refs } }];
    if (binding.featureService !== undefined)
      return [{ inputName: binding.inputName, source: { kind: "featureService", service: binding.featureService } }];
    if (binding.requestFeature !== undefined)
      return [{ inputName: binding.inputName, source: { kind: "request", name: binding.requestFeature } }];
    v.add(`${field}[${i}]`, "set one of features, feature_service and request_feature");
    return [];
  });
  v.throwIfAny("INVALID_INPUT_BINDINGS");
  return result;
}

function bindingToWire(binding: InputBinding): ModelInputBinding {
  const { source } = binding;
  return {
    inputName: binding.inputName,
    features: source.kind === "features" ? { refs: source.refs } : undefined,
    featureService: source.kind === "featureService" ? source.service : undefined,
    requestFeature: source.kind === "request" ? source.name : undefined,
  };
}

/** A model on the wire. */
export function modelToWire(model: Model): WireModel {
  return {
    name: resourceName(model.project, "models", model.name),
    description: model.description,
    latestVersion: model.latestVersion,
    createTime: dateToTimestamp(model.createTime),
  };
}

/** A model version on the wire. */
export function modelVersionToWire(version: ModelVersion): WireModelVersion {
  const spec = (t: ModelVersion["inputs"][number]) => ({ name: t.name, elementType: t.elementType, shape: t.shape.map(BigInt) });
  return {
    name: versionName(version),
    version: version.version,
    inputBindings: version.bindings.map(bindingToWire),
    sha256: version.sha256,
    sizeBytes: BigInt(version.sizeBytes),
    inputs: version.inputs.map(spec),
    outputs: version.outputs.map(spec),
    trainingDataset: version.trainingDataset,
    description: version.description,
    labels: version.labels,
    createTime: dateToTimestamp(version.createTime),
    uploadedBy: version.uploadedBy ?? "",
  };
}

const POLICY_FROM_WIRE = {
  [WirePolicy.MISSING_FEATURE_POLICY_UNSPECIFIED]: "use_default",
  [WirePolicy.MISSING_FEATURE_POLICY_USE_DEFAULT]: "use_default",
  [WirePolicy.MISSING_FEATURE_POLICY_REJECT]: "reject",
} as const;

/** A wire deployment as the spec of endpoint `endpoint` of `project`; INVALID_ARGUMENT field by field. */
export function deploymentFromWire(deployment: WireDeployment, project: string, endpoint: string): DeploymentSpec {
  if (deployment.stableVersion === "") {
    throw new ValidationError("INVALID_DEPLOYMENT", [{ field: "deployment.stable_version", description: "is required" }]);
  }
  const policy = POLICY_FROM_WIRE[deployment.missingFeaturePolicy as keyof typeof POLICY_FROM_WIRE];
  if (!policy) {
    throw new ValidationError("INVALID_DEPLOYMENT", [{ field: "deployment.missing_feature_policy", description: "is not a known policy" }]);
  }
  const guard = deployment.canaryGuard;
  return {
    project,
    endpoint,
    stable: parseVersionName(deployment.stableVersion, "deployment.stable_version"),
    ...(deployment.canary
      ? {
          canary: {
            version: parseVersionName(deployment.canary.modelVersion, "deployment.canary.model_version"),
            trafficPercent: deployment.canary.trafficPercent,
          },
        }
      : {}),
    shadows: deployment.shadowVersions.map((name, i) => parseVersionName(name, `deployment.shadow_versions[${i}]`)),
    routingKey: deployment.routingKey,
    missingFeaturePolicy: policy,
    requirePromotionApproval: deployment.requirePromotionApproval,
    ...(guard
      ? {
          canaryGuard: {
            minRequests: Number(guard.minRequests),
            maxErrorRateIncrease: guard.maxErrorRateIncrease,
            maxP99LatencyRatio: guard.maxP99LatencyRatio,
          },
        }
      : {}),
  };
}

/** A deployment on the wire. */
export function deploymentToWire(deployment: Deployment): WireDeployment {
  const guard = deployment.canaryGuard;
  return {
    name: resourceName(deployment.project, "endpoints", deployment.endpoint),
    stableVersion: versionName(deployment.stable),
    canary: deployment.canary
      ? { modelVersion: versionName(deployment.canary.version), trafficPercent: deployment.canary.trafficPercent }
      : undefined,
    shadowVersions: deployment.shadows.map(versionName),
    routingKey: deployment.routingKey,
    missingFeaturePolicy:
      deployment.missingFeaturePolicy === "reject"
        ? WirePolicy.MISSING_FEATURE_POLICY_REJECT
        : WirePolicy.MISSING_FEATURE_POLICY_USE_DEFAULT,
    canaryGuard: guard
      ? {
          minRequests: BigInt(guard.minRequests),
          maxErrorRateIncrease: guard.maxErrorRateIncrease,
          maxP99LatencyRatio: guard.maxP99LatencyRatio,
        }
      : undefined,
    revision: BigInt(deployment.revision),
    previousStableVersion: deployment.previousStable ? versionName(deployment.previousStable) : "",
    updatedBy: deployment.updatedBy,
    changeReason: deployment.changeReason,
    updateTime: dateToTimestamp(deployment.updateTime),
    requirePromotionApproval: deployment.requirePromotionApproval === true,
    pendingPromotion: deployment.pendingPromotion ? promotionRequestToWire(deployment.pendingPromotion) : undefined,
    approvedPromotion: deployment.approvedPromotion ? promotionRequestToWire(deployment.approvedPromotion) : undefined,
  };
}

/** A promotion request on the wire. */
export function promotionRequestToWire(request: PromotionRequest): WirePromotionRequest {
  return {
    canaryVersion: versionName(request.canary),
    requestedBy: request.requestedBy,
    reason: request.reason,
    requestTime: dateToTimestamp(request.requestTime),
    revision: BigInt(request.revision),
  };
}
