/**
 * Endpoints and their routing: one stable version, an optional canary with a share of traffic,
 * and shadows. Every change is a new revision, recorded with who made it, why and when; the
 * versions a change needs are loaded and warmed (by `prepare`) before the change is committed,
 * so traffic only ever moves to a version that is ready to serve it.
 */
import { ConcurrentModificationError, PreconditionError, ResourceNotFoundError, ViolationCollector } from "../common/errors.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import { describeInvalidFieldName, describeInvalidResourceId, resourceName } from "../registry/names.js";
import type { RegistryStore, StoredDocument } from "../storage/registry/registry-store.js";
import { type Deployment, type ModelVersion, sameVersion, versionName } from "./model.js";
import type { ModelRegistry } from "./model-registry.js";

/** What a client asks for; the server fills in revision, history and audit fields. */
export type DeploymentSpec = Pick<
  Deployment,
  "project" | "endpoint" | "stable" | "canary" | "shadows" | "routingKey" | "missingFeaturePolicy" | "canaryGuard"
>;

/** Who changes a deployment, and why. */
export interface ChangeAuthor {
  actor: string;
  reason: string;
}

/** Loads and warms the versions a deployment uses, so it can serve them the moment it is committed. */
export type PrepareVersions = (versions: ModelVersion[]) => Promise<void>;

/** Manages deployments. */
export class Deployments {
  constructor(
    private readonly store: RegistryStore,
    private readonly models: ModelRegistry,
    private readonly prepare: PrepareVersions,
  ) {}

  /**
   * Creates or changes an endpoint's routing. Applying the routing it already has changes nothing.
   * INVALID_ARGUMENT for a bad spec; NOT_FOUND for an unknown model version; ABORTED when
   * someone else changed the endpoint meanwhile.
   */
  async apply(spec: DeploymentSpec, author: ChangeAuthor): Promise<Deployment> {
    checkSpec(spec);
    const current = await this.store.getDocument<Deployment>("deployment", spec.project, spec.endpoint);
    if (current && sameRouting(current.value, spec)) return current.value;
    const stableChanged = !current || !sameVersion(current.value.stable, spec.stable);
    const previousStable = stableChanged ? current?.value.stable : current?.value.previousStable;
    return this.commit(spec.project, spec.endpoint, current, { ...spec, ...(previousStable ? { previousStable } : {}) }, author);
  }

  /** Makes the canary the stable version. FAILED_PRECONDITION when there is no canary. */
  async promoteCanary(project: string, endpoint: string, author: ChangeAuthor): Promise<Deployment> {
    const current = await this.current(project, endpoint);
    const { canary, ...rest } = current.value;
    if (!canary)
      throw new PreconditionError("NO_CANARY", `endpoint ${endpoint} has no canary to promote`, this.metadata(project, endpoint));
    return this.commit(project, endpoint, current, { ...rest, stable: canary.version, previousStable: current.value.stable }, author);
  }

  /**
   * Returns to the previous stable version and drops the canary; rolling back again undoes it.
   * FAILED_PRECONDITION when there is no previous stable version.
   */
  async rollback(project: string, endpoint: string, author: ChangeAuthor): Promise<Deployment> {
    const current = await this.current(project, endpoint);
    const { canary: _dropped, previousStable, ...rest } = current.value;
    if (!previousStable) {
      throw new PreconditionError(
        "NO_PREVIOUS_STABLE",
        `endpoint ${endpoint} has no previous stable version`,
        this.metadata(project, endpoint),
      );
    }
    return this.commit(project, endpoint, current, { ...rest, stable: previousStable, previousStable: current.value.stable }, author);
  }

  /**
   * Drops the canary when it is still `canary` at `revision` (the canary guard's rollback); returns
   * undefined when the deployment has moved on since.
   */
  async dropCanary(project: string, endpoint: string, revision: number, author: ChangeAuthor): Promise<Deployment | undefined> {
    const current = await this.store.getDocument<Deployment>("deployment", project, endpoint);
    if (!current || current.value.revision !== revision || !current.value.canary) return undefined;
    const { canary: _dropped, ...rest } = current.value;
    return this.commit(project, endpoint, current, rest, author).catch((error: unknown) => {
      if (error instanceof ConcurrentModificationError) return undefined;
      throw error;
    });
  }

  /** An endpoint's current routing; NOT_FOUND when it does not exist. */
  async get(project: string, endpoint: string): Promise<Deployment> {
    return (await this.current(project, endpoint)).value;
  }

  /** A project's endpoints by name. */
  async list(project: string, pageSize: number, pageToken: string): Promise<Page<Deployment>> {
    const scope = `endpoints:${project}`;
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const documents = await this.store.listDocuments<Deployment>("deployment", project, { after: page.after, limit: page.limit + 1 });
    return toPage(
      scope,
      documents.map((d) => d.value),
      page.limit,
      (deployment) => deployment.endpoint,
    );
  }

  /** An endpoint's revisions, newest first. */
  async revisions(project: string, endpoint: string, pageSize: number, pageToken: string): Promise<Page<Deployment>> {
    const latest = (await this.current(project, endpoint)).value.revision;
    const scope = `endpointRevisions:${project}/${endpoint}`;
    const page = readPageRequest<number>(scope, pageSize, pageToken, "version");
    const newest = Math.min(latest, (page.after ?? latest + 1) - 1);
    const revisions: Deployment[] = [];
    for (let revision = newest; revision >= 1 && revisions.length <= page.limit; revision--) {
      const stored = await this.store.getDocument<Deployment>("deploymentRevision", project, revisionId(endpoint, revision));
      if (stored) revisions.push(stored.value);
    }
    return toPage(scope, revisions, page.limit, (deployment) => deployment.revision);
  }

  /** Loads the next routing's versions, then records it as the next revision. */
  private async commit(
    project: string,
    endpoint: string,
    current: StoredDocument<Deployment> | undefined,
    next: Omit<Deployment, "revision" | "updatedBy" | "changeReason" | "updateTime">,
    author: ChangeAuthor,
  ): Promise<Deployment> {
    const refs = [next.stable, ...(next.canary ? [next.canary.version] : []), ...next.shadows];
    const versions = await Promise.all(refs.map((ref) => this.models.getVersion(ref.project, ref.model, ref.version)));
    await this.prepare(versions);
    const deployment: Deployment = {
      ...next,
      revision: (current?.value.revision ?? 0) + 1,
      updatedBy: author.actor || "anonymous",
      changeReason: author.reason,
      updateTime: new Date(),
    };
    // The history first: a revision that names the endpoint's current routing always has its record.
    await this.store.putDocument("deploymentRevision", project, revisionId(endpoint, deployment.revision), deployment, 0);
    if ((await this.store.putDocument("deployment", project, endpoint, deployment, current?.revision ?? 0)) === undefined) {
      throw new ConcurrentModificationError(resourceName(project, "endpoints", endpoint));
    }
    return deployment;
  }

  private async current(project: string, endpoint: string): Promise<StoredDocument<Deployment>> {
    const stored = await this.store.getDocument<Deployment>("deployment", project, endpoint);
    if (!stored) throw new ResourceNotFoundError("endpoint", resourceName(project, "endpoints", endpoint));
    return stored;
  }

  private metadata(project: string, endpoint: string): Record<string, string> {
    return { resource_name: resourceName(project, "endpoints", endpoint) };
  }
}

/** Checks a deployment spec field by field; INVALID_ARGUMENT with every problem. */
function checkSpec(spec: DeploymentSpec): void {
  const v = new ViolationCollector();
  const nameProblem = describeInvalidResourceId(spec.endpoint);
  if (nameProblem) v.add("deployment.name", nameProblem);
  const all = [spec.stable, ...(spec.canary ? [spec.canary.version] : []), ...spec.shadows];
  for (const ref of all) {
    if (ref.project !== spec.project) v.add("deployment", `${versionName(ref)} is in another project than the endpoint`);
  }
  if (spec.canary) {
    const percent = spec.canary.trafficPercent;
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) v.add("deployment.canary.traffic_percent", "must be between 0 and 100");
    if (sameVersion(spec.canary.version, spec.stable)) v.add("deployment.canary.model_version", "is the stable version already");
  }
  spec.shadows.forEach((shadow, i) => {
    const field = `deployment.shadow_versions[${i}]`;
    if (sameVersion(shadow, spec.stable) || sameVersion(shadow, spec.canary?.version))
      v.add(field, "is the stable or canary version already");
    if (spec.shadows.slice(0, i).some((other) => sameVersion(other, shadow))) v.add(field, "is listed twice");
  });
  if (spec.routingKey !== "") {
    const problem = describeInvalidFieldName(spec.routingKey);
    if (problem) v.add("deployment.routing_key", problem);
  }
  const guard = spec.canaryGuard;
  if (guard) {
    if (!Number.isInteger(guard.minRequests) || guard.minRequests < 0)
      v.add("deployment.canary_guard.min_requests", "must not be negative");
    if (!(guard.maxErrorRateIncrease >= 0)) v.add("deployment.canary_guard.max_error_rate_increase", "must not be negative");
    if (!(guard.maxP99LatencyRatio >= 0)) v.add("deployment.canary_guard.max_p99_latency_ratio", "must not be negative");
  }
  v.throwIfAny("INVALID_DEPLOYMENT");
}

/** Whether a spec routes exactly as a deployment does already. */
function sameRouting(current: Deployment, spec: DeploymentSpec): boolean {
  const versions = (d: DeploymentSpec) =>
    JSON.stringify([d.stable, d.canary ?? null, d.shadows, d.routingKey, d.missingFeaturePolicy, d.canaryGuard ?? null]);
  return versions(current) === versions(spec);
}

/** `{endpoint}/{revision}`, zero-padded so ids sort by revision. */
function revisionId(endpoint: string, revision: number): string {
  return `${endpoint}/${String(revision).padStart(10, "0")}`;
}
