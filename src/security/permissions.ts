/**
 * Roles, permissions, and the one table that says what every RPC the server answers needs.
 * The guard (src/grpc/guard.ts) checks a call against its {@link MethodRule} before any handler
 * runs; a test fails when a served method is missing here.
 */
import { DEFAULT_PROJECT } from "../registry/names.js";

/** Roles granted per project (docs/security.md). */
export const ROLES = ["viewer", "writer", "trainer", "deployer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** What a call may need on a project. */
export type Permission =
  | "registry.read"
  | "registry.write"
  | "online.read"
  | "ingest.write"
  | "training.read"
  | "training.write"
  | "models.read"
  | "models.write"
  | "models.deploy"
  | "inference.predict"
  | "monitoring.read"
  | "access.manage"
  | "audit.read";

const VIEWER: Permission[] = ["registry.read", "online.read", "models.read", "inference.predict", "monitoring.read"];

/** The permissions each role holds on its project. */
export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(VIEWER),
  writer: new Set([...VIEWER, "ingest.write"]),
  trainer: new Set([...VIEWER, "training.read", "training.write"]),
  deployer: new Set([...VIEWER, "models.write", "models.deploy"]),
  admin: new Set([
    ...VIEWER,
    "registry.write",
    "ingest.write",
    "training.read",
    "training.write",
    "models.write",
    "models.deploy",
    "access.manage",
    "audit.read",
  ]),
};

/**
 * A decoded request message of whichever method a rule belongs to; each rule reads the fields of
 * its own request type.
 */
// biome-ignore lint/suspicious/noExplicitAny: the table spans every RPC's request type; each extractor reads its own method's fields.
type AnyRequest = any;

/**
 * What a method needs:
 * - "public": nothing, not even credentials (health checks, KServe liveness);
 * - "reflection": credentials unless `auth.openReflection`;
 * - "authenticated": any authenticated caller (the handler filters what it shows);
 * - a permission: held on every project `projects` returns ("" there means server-wide, which
 *   only a server admin holds).
 */
export interface MethodRule {
  access: "public" | "reflection" | "authenticated" | Permission;
  /** Mutating calls are audited whatever their outcome; every denied call is audited too. */
  mutating: boolean;
  /**
   * Check every message of a client stream (each write batch names its own project). Otherwise
   * the first message decides for the whole call (later upload chunks name nothing).
   */
  perMessage?: boolean;
  /** The projects one request message acts on. May look up state (which projects a key grants). */
  projects?: (request: AnyRequest) => readonly string[] | Promise<readonly string[]>;
  /** Resource names the request names, for the audit trail. */
  resources?: (request: AnyRequest) => readonly string[];
}

/**
 * The project a name or project field refers to: "" is the default project, "projects/p/..."
 * is p, a bare id (KServe model names, short endpoint names) is the default project. A name
 * that starts like a resource name but has no valid project yields "" (server-wide), so only a
 * server admin gets past the guard to the handler's INVALID_ARGUMENT.
 */
export function projectOf(name: unknown): string {
  if (typeof name !== "string" || name === "") return DEFAULT_PROJECT;
  if (!name.startsWith("projects/")) return name.includes("/") ? "" : DEFAULT_PROJECT;
  const project = name.split("/", 2)[1] ?? "";
  return /^[a-z][a-z0-9_]{0,62}$/.test(project) ? project : "";
}

const field =
  (...path: string[]) =>
  (request: AnyRequest): readonly string[] => {
    let value = request;
    for (const key of path) value = value?.[key];
    return [projectOf(value)];
  };
const names =
  (...paths: string[][]) =>
  (request: AnyRequest): readonly string[] =>
    paths
      .map((path) => path.reduce((value, key) => value?.[key], request))
      .filter((value): value is string => typeof value === "string" && value !== "");

/** Server-wide: only a server admin. */
const serverWide = (): readonly string[] => [""];

type Rules = Record<string, MethodRule>;

const read = (permission: Permission, projectField: string[], nameField = projectField): MethodRule => ({
  access: permission,
  mutating: false,
  projects: field(...projectField),
  resources: names(nameField),
});
const write = (permission: Permission, projectField: string[], nameField = projectField): MethodRule => ({
  ...read(permission, projectField, nameField),
  mutating: true,
});

const REGISTRY: Rules = {
  CreateProject: { access: "registry.write", mutating: true, projects: serverWide, resources: names(["project", "name"]) },
  GetProject: read("registry.read", ["name"]),
  ListProjects: { access: "authenticated", mutating: false },
  ApplyEntity: write("registry.write", ["entity", "name"]),
  GetEntity: read("registry.read", ["name"]),
  ListEntities: read("registry.read", ["parent"]),
  ApplyFeatureView: write("registry.write", ["featureView", "name"]),
  GetFeatureView: read("registry.read", ["name"]),
  ListFeatureViews: read("registry.read", ["parent"]),
  ListFeatureViewVersions: read("registry.read", ["parent"]),
  DeleteFeatureView: write("registry.write", ["name"]),
  ApplyFeatureService: write("registry.write", ["featureService", "name"]),
  GetFeatureService: read("registry.read", ["name"]),
  ListFeatureServices: read("registry.read", ["parent"]),
  ListFeatureServiceVersions: read("registry.read", ["parent"]),
  ResolveFeatures: read("registry.read", ["project"]),
  ApplyEventStream: write("registry.write", ["eventStream", "name"]),
  GetEventStream: read("registry.read", ["name"]),
  ListEventStreams: read("registry.read", ["parent"]),
  ListEventStreamVersions: read("registry.read", ["parent"]),
};

const INGESTION: Rules = {
  WriteFeatures: { ...write("ingest.write", ["project"], ["featureView"]), perMessage: true },
  WriteFeatureBatch: write("ingest.write", ["project"], ["featureView"]),
  // Only the first message carries the config; chunks that follow are checked against the call's first decision.
  ImportFeatures: write("ingest.write", ["config", "project"], ["config", "featureView"]),
  Materialize: write("ingest.write", ["project"], ["featureView"]),
  WriteEvents: { ...write("ingest.write", ["project"], ["eventStream"]), perMessage: true },
  WriteEventBatch: write("ingest.write", ["project"], ["eventStream"]),
  GetEventStreamStatus: read("monitoring.read", ["project"], ["eventStream"]),
};

const ONLINE: Rules = { GetOnlineFeatures: read("online.read", ["project"], ["featureService"]) };

const TRAINING: Rules = {
  GetHistoricalFeatures: read("training.read", ["query", "project"], ["query", "featureService"]),
  CreateTrainingDataset: write("training.write", ["trainingDataset", "name"]),
  GetTrainingDataset: read("training.read", ["name"]),
  ListTrainingDatasets: read("training.read", ["parent"]),
  ReadTrainingDataset: read("training.read", ["name"]),
};

const MODELS: Rules = {
  UploadModel: write("models.write", ["header", "model"]),
  GetModel: read("models.read", ["name"]),
  ListModels: read("models.read", ["parent"]),
  GetModelVersion: read("models.read", ["name"]),
  ListModelVersions: read("models.read", ["parent"]),
  ApplyDeployment: write("models.deploy", ["deployment", "name"]),
  GetDeployment: read("models.read", ["name"]),
  ListDeployments: read("models.read", ["parent"]),
  ListDeploymentRevisions: read("models.read", ["parent"]),
  PromoteCanary: write("models.deploy", ["name"]),
  RollbackDeployment: write("models.deploy", ["name"]),
  ApprovePromotion: write("models.deploy", ["name"]),
  RejectPromotion: write("models.deploy", ["name"]),
};

const LEARNING: Rules = {
  CreateLearner: write("training.write", ["learner", "name"]),
  GetLearner: read("models.read", ["name"]),
  ListLearners: read("models.read", ["parent"]),
  // Labels are data: each message names its learner (and so its project).
  WriteLabels: { ...write("ingest.write", ["learner"]), perMessage: true },
  PublishLearner: write("models.write", ["name"]),
  PauseLearner: write("training.write", ["name"]),
  ResumeLearner: write("training.write", ["name"]),
  // Rolling a live model back is a deployment decision.
  RestoreLearner: write("models.deploy", ["name"], ["modelVersion"]),
};

const MONITORING: Rules = {
  GetFeatureStatistics: read("monitoring.read", ["project"], ["featureView"]),
  GetDriftReport: read("monitoring.read", ["project"], ["target"]),
  GetDeploymentReport: read("monitoring.read", ["endpoint"]),
  CheckServedConsistency: read("monitoring.read", ["project"], ["featureView"]),
};

const KSERVE: Rules = {
  ServerLive: { access: "public", mutating: false },
  ServerReady: { access: "public", mutating: false },
  ServerMetadata: { access: "public", mutating: false },
  ModelReady: read("models.read", ["name"]),
  ModelMetadata: read("models.read", ["name"]),
  ModelInfer: read("inference.predict", ["modelName"]),
};

/** Which projects a key or binding request grants roles on: admin on each is needed to grant them. */
const grantedProjects = (grants: Array<{ project?: string }> | undefined): readonly string[] => {
  const projects = (grants ?? []).map((grant) => (grant.project === "*" ? "" : projectOf(`projects/${grant.project ?? ""}`)));
  return projects.length === 0 ? [""] : projects;
};

/**
 * Rules of the access service. RevokeApiKey needs to know the key's projects, which only the
 * store knows: `keyProjects` looks them up (an unknown key counts as server-wide, so a caller
 * who may not see it learns nothing from the answer).
 */
function accessRules(keyProjects: (id: string) => Promise<readonly string[]>): Rules {
  return {
    WhoAmI: { access: "authenticated", mutating: false },
    CreateApiKey: {
      access: "access.manage",
      mutating: true,
      projects: (request) => grantedProjects(request.apiKey?.roles),
      resources: (request) => [`principals/${request.apiKey?.principal ?? ""}`],
    },
    ListApiKeys: {
      access: "access.manage",
      mutating: false,
      projects: (request) => [request.project ? projectOf(`projects/${request.project}`) : ""],
    },
    RevokeApiKey: {
      access: "access.manage",
      mutating: true,
      projects: (request) => keyProjects(String(request.id ?? "")),
      resources: (request) => [`apiKeys/${request.id ?? ""}`],
    },
    GrantRole: {
      access: "access.manage",
      mutating: true,
      projects: (request) => grantedProjects([request.binding?.role ?? {}]),
      resources: (request) => [`principals/${request.binding?.principal ?? ""}`],
    },
    RevokeRole: {
      access: "access.manage",
      mutating: true,
      projects: (request) => grantedProjects([request.binding?.role ?? {}]),
      resources: (request) => [`principals/${request.binding?.principal ?? ""}`],
    },
    ListRoleBindings: { access: "access.manage", mutating: false, projects: (request) => grantedProjects([{ project: request.project }]) },
    ListAuditEvents: {
      access: "audit.read",
      mutating: false,
      projects: (request) => [request.project ? projectOf(`projects/${request.project}`) : ""],
    },
    VerifyAuditChain: { access: "audit.read", mutating: false, projects: serverWide },
  };
}

const PUBLIC: MethodRule = { access: "public", mutating: false };
const REFLECTION: MethodRule = { access: "reflection", mutating: false };

function prefixed(service: string, rules: Rules): Array<[string, MethodRule]> {
  return Object.entries(rules).map(([method, rule]) => [`/${service}/${method}`, rule]);
}

/** Every method the server answers, by full path ("/sluice.v1.ModelService/PromoteCanary"), with its rule. */
export function methodRules(keyProjects: (id: string) => Promise<readonly string[]>): ReadonlyMap<string, MethodRule> {
  return new Map([
    ...prefixed("sluice.v1.RegistryService", REGISTRY),
    ...prefixed("sluice.v1.IngestionService", INGESTION),
    ...prefixed("sluice.v1.OnlineService", ONLINE),
    ...prefixed("sluice.v1.TrainingService", TRAINING),
    ...prefixed("sluice.v1.ModelService", MODELS),
    ...prefixed("sluice.v1.InferenceService", { Predict: read("inference.predict", ["endpoint"]) }),
    ...prefixed("sluice.v1.MonitoringService", MONITORING),
    ...prefixed("sluice.v1.LearningService", LEARNING),
    ...prefixed("sluice.v1.AccessService", accessRules(keyProjects)),
    ...prefixed("inference.GRPCInferenceService", KSERVE),
    ...prefixed("grpc.health.v1.Health", { Check: PUBLIC, Watch: PUBLIC, List: PUBLIC }),
    ...prefixed("grpc.reflection.v1.ServerReflection", { ServerReflectionInfo: REFLECTION }),
    ...prefixed("grpc.reflection.v1alpha.ServerReflection", { ServerReflectionInfo: REFLECTION }),
  ]);
}
