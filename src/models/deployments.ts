/**
 * Endpoints and their routing: one stable version, an optional canary with a share of traffic,
 * and shadows. Every change is a new revision, recorded with who made it, why and when; the
 * versions a change needs are loaded and warmed (by `prepare`) before the change is committed,
 * so traffic only ever moves to a version that is ready to serve it.
 *
 * An endpoint may require a second principal's approval to promote its canary (the two-person
 * rule, docs/security.md): PromoteCanary then records a pending promotion on the current
 * deployment, without making a revision (so the canary guard's counts, kept per revision, go on),
 * and ApprovePromotion by another authenticated principal makes the promoted revision.
 */
import {
  ConcurrentModificationError,
  PreconditionError,
  ResourceNotFoundError,
  SluiceError,
  ViolationCollector,
} from "../common/errors.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import { describeInvalidFieldName, describeInvalidResourceId, resourceName } from "../registry/names.js";
import type { Principal } from "../security/principal.js";
import type { RegistryStore, StoredDocument } from "../storage/registry/registry-store.js";
import { type Deployment, type ModelVersion, type PromotionRequest, sameVersion, type VersionRef, versionName } from "./model.js";
import type { ModelRegistry } from "./model-registry.js";

/** What a client asks for; the server fills in revision, history and audit fields. */
export type DeploymentSpec = Pick<
  Deployment,
  | "project"
  | "endpoint"
  | "stable"
  | "canary"
  | "shadows"
  | "routingKey"
  | "missingFeaturePolicy"
  | "canaryGuard"
  | "requirePromotionApproval"
>;

/** Who changes a deployment, and why. */
export interface ChangeAuthor {
  /** The name recorded as the revision's `updatedBy`. */
  actor: string;
  reason: string;
  /** Whether authentication proved `actor`; approving a promotion needs it. Absent: not proven. */
  authenticated?: boolean;
}

/**
 * The author of a change `principal` makes. With authentication on it is the principal, whatever
 * the request's (deprecated) `actor` claims; with it off nobody is proven, so the claim is kept
 * as older clients expect, else the principal's name ("anonymous").
 */
export function changeAuthor(principal: Principal, claimedActor: string, reason: string): ChangeAuthor {
  const authenticated = principal.authentication !== "none";
  return { actor: authenticated || claimedActor === "" ? principal.name : claimedActor, reason, authenticated };
}

/** What PromoteCanary did: promoted, or (approval required) recorded a pending promotion. */
export type PromotionOutcome =
  | { promoted: true; deployment: Deployment }
  | { promoted: false; deployment: Deployment; pending: PromotionRequest };

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
    // Otherwise the two-person rule would be one ApplyDeployment away; turning it off first is a revision of its own.
    if (stableChanged && current?.value.requirePromotionApproval) {
      throw new PreconditionError(
        "PROMOTION_APPROVAL_REQUIRED",
        `endpoint ${spec.endpoint} requires approval to change its stable version: promote its canary (PromoteCanary) for ` +
          "another principal to approve (ApprovePromotion), or turn require_promotion_approval off in a change of its own first",
        this.metadata(spec.project, spec.endpoint),
      );
    }
    const previousStable = stableChanged ? current?.value.stable : current?.value.previousStable;
    // A pending promotion survives a change that keeps approval on and its canary version.
    const pending = current?.value.pendingPromotion;
    const stillPending =
      pending && spec.requirePromotionApproval && sameVersion(spec.canary?.version, pending.canary) ? pending : undefined;
    return this.commit(spec.project, spec.endpoint, current, { ...spec, ...(previousStable ? { previousStable } : {}) }, author, {
      pendingPromotion: stillPending,
    });
  }

  /**
   * Makes the canary the stable version; on an endpoint that requires approval, records a pending
   * promotion instead (or returns the one pending already). FAILED_PRECONDITION when there is no
   * canary, or when approval is required and `author` is not authenticated (nobody could approve).
   */
  async promoteCanary(project: string, endpoint: string, author: ChangeAuthor): Promise<PromotionOutcome> {
    const current = await this.current(project, endpoint);
    const { canary, ...rest } = current.value;
    if (!canary)
      throw new PreconditionError("NO_CANARY", `endpoint ${endpoint} has no canary to promote`, this.metadata(project, endpoint));
    if (!current.value.requirePromotionApproval) {
      const next = { ...rest, stable: canary.version, previousStable: current.value.stable };
      return { promoted: true, deployment: await this.commit(project, endpoint, current, next, author) };
    }
    if (!author.authenticated) throw this.approvalNeedsAuthentication(project, endpoint);
    const pending = current.value.pendingPromotion;
    if (pending) return { promoted: false, deployment: current.value, pending };
    const request: PromotionRequest = {
      canary: canary.version,
      requestedBy: author.actor,
      reason: author.reason,
      requestTime: new Date(),
      revision: current.value.revision,
    };
    const deployment = await this.replaceCurrent(project, endpoint, current, { ...current.value, pendingPromotion: request });
    return { promoted: false, deployment, pending: request };
  }

  /**
   * Performs an endpoint's pending promotion as a new revision by `author`, who must be an
   * authenticated principal other than its requester. `expectedCanary`, when given, must be the
   * pending promotion's canary. FAILED_PRECONDITION (NO_PENDING_PROMOTION,
   * PENDING_PROMOTION_MISMATCH, APPROVAL_REQUIRES_AUTHENTICATION); PERMISSION_DENIED (SELF_APPROVAL).
   */
  async approvePromotion(
    project: string,
    endpoint: string,
    expectedCanary: VersionRef | undefined,
    author: ChangeAuthor,
  ): Promise<Deployment> {
    const current = await this.current(project, endpoint);
    const pending = this.pendingPromotion(current.value, expectedCanary);
    if (!author.authenticated) throw this.approvalNeedsAuthentication(project, endpoint);
    if (author.actor === pending.requestedBy) {
      throw new SluiceError(
        "permission_denied",
        "SELF_APPROVAL",
        `${author.actor} requested the promotion of ${versionName(pending.canary)} on endpoint ${endpoint} and cannot approve it too: ` +
          "another principal allowed to deploy must approve it",
        { ...this.metadata(project, endpoint), principal: author.actor },
      );
    }
    const { canary: _promoted, ...rest } = current.value;
    const next = { ...rest, stable: pending.canary, previousStable: current.value.stable };
    return this.commit(project, endpoint, current, next, author, { approvedPromotion: pending });
  }

  /**
   * Drops an endpoint's pending promotion, promoting nothing and making no revision; returns the
   * endpoint and the request dropped. FAILED_PRECONDITION (NO_PENDING_PROMOTION, PENDING_PROMOTION_MISMATCH).
   */
  async rejectPromotion(
    project: string,
    endpoint: string,
    expectedCanary: VersionRef | undefined,
  ): Promise<{ deployment: Deployment; rejected: PromotionRequest }> {
    const current = await this.current(project, endpoint);
    const rejected = this.pendingPromotion(current.value, expectedCanary);
    const { pendingPromotion: _dropped, ...rest } = current.value;
    return { deployment: await this.replaceCurrent(project, endpoint, current, rest), rejected };
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

  /**
   * Loads the next routing's versions, then records it as the next revision. Promotion records are
   * never carried over from `next`: a pending one only when `promotions` keeps it (on the current
   * deployment, not the revision), an approved one only on the revision that approves it.
   */
  private async commit(
    project: string,
    endpoint: string,
    current: StoredDocument<Deployment> | undefined,
    next: Omit<Deployment, "revision" | "updatedBy" | "changeReason" | "updateTime">,
    author: ChangeAuthor,
    promotions: { pendingPromotion?: PromotionRequest | undefined; approvedPromotion?: PromotionRequest } = {},
  ): Promise<Deployment> {
    const { pendingPromotion: _pending, approvedPromotion: _approved, ...routing } = next;
    const refs = [routing.stable, ...(routing.canary ? [routing.canary.version] : []), ...routing.shadows];
    const versions = await Promise.all(refs.map((ref) => this.models.getVersion(ref.project, ref.model, ref.version)));
    await this.prepare(versions);
    const revision: Deployment = {
      ...routing,
      ...(promotions.approvedPromotion ? { approvedPromotion: promotions.approvedPromotion } : {}),
      revision: (current?.value.revision ?? 0) + 1,
      updatedBy: author.actor || "anonymous",
      changeReason: author.reason,
      updateTime: new Date(),
    };
    const deployment = promotions.pendingPromotion ? { ...revision, pendingPromotion: promotions.pendingPromotion } : revision;
    // The history first: a revision that names the endpoint's current routing always has its record.
    await this.store.putDocument("deploymentRevision", project, revisionId(endpoint, revision.revision), revision, 0);
    return this.replaceCurrent(project, endpoint, current, deployment);
  }

  /** Writes the endpoint's current deployment if nobody changed it since `current`; ABORTED otherwise. */
  private async replaceCurrent(
    project: string,
    endpoint: string,
    current: StoredDocument<Deployment> | undefined,
    deployment: Deployment,
  ): Promise<Deployment> {
    if ((await this.store.putDocument("deployment", project, endpoint, deployment, current?.revision ?? 0)) === undefined) {
      throw new ConcurrentModificationError(resourceName(project, "endpoints", endpoint));
    }
    return deployment;
  }

  /** The deployment's pending promotion, of `expectedCanary` when given; FAILED_PRECONDITION otherwise. */
  private pendingPromotion(deployment: Deployment, expectedCanary: VersionRef | undefined): PromotionRequest {
    const { project, endpoint } = deployment;
    const pending = deployment.pendingPromotion;
    // A pending promotion is dropped whenever the canary changes; the second test is a guard on that.
    if (!pending || !sameVersion(pending.canary, deployment.canary?.version)) {
      throw new PreconditionError(
        "NO_PENDING_PROMOTION",
        `endpoint ${endpoint} has no pending promotion`,
        this.metadata(project, endpoint),
      );
    }
    if (expectedCanary && !sameVersion(expectedCanary, pending.canary)) {
      throw new PreconditionError(
        "PENDING_PROMOTION_MISMATCH",
        `the pending promotion of endpoint ${endpoint} is of ${versionName(pending.canary)}, not ${versionName(expectedCanary)}`,
        { ...this.metadata(project, endpoint), pending_canary_version: versionName(pending.canary) },
      );
    }
    return pending;
  }

  private approvalNeedsAuthentication(project: string, endpoint: string): PreconditionError {
    return new PreconditionError(
      "APPROVAL_REQUIRES_AUTHENTICATION",
      `endpoint ${endpoint} requires a second principal to approve its promotions, and only authenticated callers can ` +
        "request or approve one; this call is not authenticated (authentication is off): turn authentication on, or turn " +
        "require_promotion_approval off",
      this.metadata(project, endpoint),
    );
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
    JSON.stringify([
      d.stable,
      d.canary ?? null,
      d.shadows,
      d.routingKey,
      d.missingFeaturePolicy,
      d.canaryGuard ?? null,
      d.requirePromotionApproval === true,
    ]);
  return versions(current) === versions(spec);
}

/** `{endpoint}/{revision}`, zero-padded so ids sort by revision. */
function revisionId(endpoint: string, revision: number): string {
  return `${endpoint}/${String(revision).padStart(10, "0")}`;
}
