/** Models, their versions and the deployments that route traffic to them, as the core sees them. */

/** A named model; its versions hold the artifacts. */
export interface Model {
  project: string;
  name: string;
  description: string;
  latestVersion: number;
  createTime: Date;
}

/** Where the values of one ONNX input come from. */
export type InputSource =
  /** Pinned feature refs ("view@3:feature"), in order along the input's last dimension. */
  | { kind: "features"; refs: string[] }
  /** A pinned feature service ("name@2"): its refs, in order. */
  | { kind: "featureService"; service: string }
  /** A value sent with each Predict request under this name. */
  | { kind: "request"; name: string };

/** One ONNX input and its source. */
export interface InputBinding {
  inputName: string;
  source: InputSource;
}

/** A tensor of a model's signature; -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  elementType: string;
  shape: readonly number[];
}

/** One immutable, content-addressed version of a model. */
export interface ModelVersion {
  project: string;
  model: string;
  version: number;
  bindings: InputBinding[];
  /** Hex SHA-256 of the ONNX file: the artifact's address. */
  sha256: string;
  sizeBytes: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /**
   * The features each feature-bound input reads, as pinned refs ("view@3:feature"), resolved at
   * upload: a version reads the same features forever, even through a feature service.
   */
  featureRefs: Record<string, string[]>;
  /** Lineage: "projects/p/trainingDatasets/d/versions/2", or "". */
  trainingDataset: string;
  description: string;
  labels: Record<string, string>;
  createTime: Date;
  /** The principal that uploaded it (docs/security.md, governance); absent on versions stored before it was recorded. */
  uploadedBy?: string;
}

/** A model version by name: project, model and version number. */
export interface VersionRef {
  project: string;
  model: string;
  version: number;
}

/** What Predict does with a feature that is NOT_FOUND, null or OUTSIDE_MAX_AGE. */
export type MissingFeaturePolicy = "use_default" | "reject";

/** Rolls a canary back by itself when it does worse than stable. */
export interface CanaryGuard {
  /** Canary requests before the guard judges. */
  minRequests: number;
  /** Largest tolerated canary error rate above stable's (0.01 = one point); 0: not judged. */
  maxErrorRateIncrease: number;
  /** Largest tolerated ratio of canary p99 latency to stable's; 0: not judged. */
  maxP99LatencyRatio: number;
}

/** An endpoint's routing, one revision of it. */
export interface Deployment {
  project: string;
  endpoint: string;
  stable: VersionRef;
  canary?: { version: VersionRef; trafficPercent: number };
  shadows: VersionRef[];
  /** Request field whose value picks canary or stable; "" means the entity keys. */
  routingKey: string;
  missingFeaturePolicy: MissingFeaturePolicy;
  canaryGuard?: CanaryGuard;
  /** 1 when created, +1 with every change. */
  revision: number;
  /** The stable version before the last change of stable, for rollback. */
  previousStable?: VersionRef;
  updatedBy: string;
  changeReason: string;
  updateTime: Date;
  /** Two-person rule for stable (docs/security.md, governance); absent means off. */
  requirePromotionApproval?: boolean;
  /** A promotion waiting for a second principal: current state, never part of a stored revision. */
  pendingPromotion?: PromotionRequest;
  /** On the revision an approval made: the request it approved (`updatedBy` is the approver). */
  approvedPromotion?: PromotionRequest;
}

/** A request to make the canary stable, waiting for another principal's approval. */
export interface PromotionRequest {
  /** The canary version that is to become stable. */
  canary: VersionRef;
  requestedBy: string;
  reason: string;
  requestTime: Date;
  /** The deployment's revision when it was requested. */
  revision: number;
}

/**
 * The version number of a model's live state: the model of a learner (docs/learning.md) serves
 * its learner's current weights as "projects/p/models/m/versions/live".
 */
export const LIVE_VERSION = 0;

/** The name of a model version: "projects/p/models/m/versions/3" (or "…/versions/live"). */
export function versionName(ref: VersionRef): string {
  return `projects/${ref.project}/models/${ref.model}/versions/${ref.version === LIVE_VERSION ? "live" : ref.version}`;
}

/** Whether two refs name the same version. */
export function sameVersion(a: VersionRef | undefined, b: VersionRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.project === b.project && a.model === b.model && a.version === b.version;
}
