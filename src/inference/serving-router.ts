/**
 * What each endpoint serves right now, on this server: its deployment with every version loaded
 * into the inference pool. A routing change (from this server or another replica, through the
 * registry store's change notifications) is applied by loading and warming the new versions
 * first and only then swapping the routing, so no request ever meets a version that is not
 * ready. A version no longer routed to is released once the requests using it have finished.
 */
import type { Logger } from "pino";
import type { ArtifactStore } from "../models/artifact-store.js";
import type { Deployments } from "../models/deployments.js";
import type { Deployment, ModelVersion, VersionRef } from "../models/model.js";
import { LIVE_VERSION, versionName } from "../models/model.js";
import type { ModelRegistry } from "../models/model-registry.js";
import { parseViewRef } from "../registry/feature-refs.js";
import type { FeatureServiceVersion } from "../registry/model.js";
import type { InferencePool } from "../serving/inference-pool.js";
import type { Tensor } from "../serving/tensors.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";

/** A model version ready to serve: loaded and warmed, with the features each input reads. */
export interface ServingVersion {
  ref: VersionRef;
  /** "projects/p/models/m/versions/3". */
  name: string;
  version: ModelVersion;
  /** Every feature the version reads, each once, as pinned refs: one online read. */
  featureRefs: string[];
  /**
   * The feature service versions the version binds that have derived features, each with the
   * model input it fills: a request binding may read their derived features by name.
   */
  featureServices: Array<{ inputName: string; service: FeatureServiceVersion }>;
  /** Set for a learner's live version: it predicts in process, from the learner's current state, instead of the pool. */
  live?: LiveModel;
}

/** A model that predicts in process from state that changes while it serves (a learner's). */
export interface LiveModel {
  /** Outputs for `rows` rows of inputs, computed in one synchronous pass over one consistent state. */
  predict(inputs: Record<string, Tensor>, rows: number): Record<string, Tensor>;
}

/** The live model of a learner's model; NOT_FOUND when it has none. */
export type LiveModelLookup = (project: string, model: string) => Promise<LiveModel>;

/** An endpoint's routing with every version ready. */
export interface Routing {
  deployment: Deployment;
  stable: ServingVersion;
  canary?: { version: ServingVersion; trafficPercent: number };
  shadows: ServingVersion[];
}

/** Loads versions and keeps each endpoint's routing current. */
export class ServingRouter {
  private readonly routings = new Map<string, Promise<Routing>>();
  private readonly versions = new Map<string, Promise<ServingVersion>>();
  /** Requests in flight per artifact (sha256). */
  private readonly inFlight = new Map<string, number>();
  /** Artifacts served outside endpoints (KServe), never released while the server runs. */
  private readonly pinned = new Set<string>();
  private readonly unsubscribe: () => void;
  private closed = false;
  /** A routing changed since the last release pass: some loaded version may have lost its last user. */
  private releasePending = false;

  constructor(
    private readonly store: RegistryStore,
    private readonly deployments: () => Deployments,
    private readonly models: ModelRegistry,
    private readonly artifacts: ArtifactStore,
    private readonly pool: InferencePool,
    private readonly liveModels: LiveModelLookup,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = store.onChange((change) => {
      if (change.kind === "reset") {
        for (const key of [...this.routings.keys()]) this.refresh(key);
      } else if (change.kind === "document" && change.name.startsWith("deployment/")) {
        const key = `${change.project}/${change.name.slice("deployment/".length)}`;
        if (this.routings.has(key)) this.refresh(key);
      }
    });
  }

  /** Loads and warms versions (and resolves their inputs); a deployment change calls it before committing. */
  async prepare(versions: ModelVersion[]): Promise<void> {
    await Promise.all(versions.map((version) => this.serving(version)));
  }

  /** The current routing of an endpoint: NOT_FOUND when it has no deployment. */
  routing(project: string, endpoint: string): Promise<Routing> {
    const key = `${project}/${endpoint}`;
    let routing = this.routings.get(key);
    if (!routing) {
      routing = this.deployments()
        .get(project, endpoint)
        .then((deployment) => this.build(deployment));
      this.routings.set(key, routing);
      // A failed first load is not cached: the next request tries again.
      routing.catch(() => this.routings.get(key) === routing && this.routings.delete(key));
    }
    return routing;
  }

  /** A version ready to serve on its own (KServe), kept loaded while the server runs. */
  async pinnedVersion(ref: VersionRef): Promise<ServingVersion> {
    const serving = await this.serving(await this.models.getVersion(ref.project, ref.model, ref.version));
    this.pinned.add(serving.version.sha256);
    return serving;
  }

  /** Marks a request as using a version until the returned function is called. */
  acquire(version: ServingVersion): () => void {
    const sha = version.version.sha256;
    this.inFlight.set(sha, (this.inFlight.get(sha) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.inFlight.get(sha) ?? 1) - 1;
      this.inFlight.set(sha, left);
      // Only a routing change leaves versions to release; until one does, the last request out has nothing to do.
      if (left === 0 && this.releasePending) void this.releaseUnused();
    };
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
  }

  /** Rebuilds an endpoint's routing in the background and swaps it in once every version is ready. */
  private refresh(key: string): void {
    const [project, endpoint] = key.split("/") as [string, string];
    const next = this.deployments()
      .get(project, endpoint)
      .then((deployment) => this.build(deployment));
    next.then(
      (routing) => {
        if (this.closed) return;
        this.routings.set(key, Promise.resolve(routing));
        this.logger.info({ endpoint: key, revision: routing.deployment.revision, stable: routing.stable.name }, "endpoint routing updated");
        void this.releaseUnused();
      },
      (error: unknown) => this.logger.warn({ err: error, endpoint: key }, "could not apply an endpoint's new routing; keeping the old one"),
    );
  }

  private async build(deployment: Deployment): Promise<Routing> {
    const load = (ref: VersionRef) => this.models.getVersion(ref.project, ref.model, ref.version).then((v) => this.serving(v));
    const [stable, canary, shadows] = await Promise.all([
      load(deployment.stable),
      deployment.canary ? load(deployment.canary.version) : undefined,
      Promise.all(deployment.shadows.map(load)),
    ]);
    return {
      deployment,
      stable,
      ...(canary && deployment.canary ? { canary: { version: canary, trafficPercent: deployment.canary.trafficPercent } } : {}),
      shadows,
    };
  }

  /** Loads a version's artifact into the pool (once, shared by versions with the same bytes). */
  private serving(version: ModelVersion): Promise<ServingVersion> {
    const name = versionName(version);
    let serving = this.versions.get(name);
    if (!serving) {
      serving = (async () => {
        const live = version.version === LIVE_VERSION ? await this.liveModels(version.project, version.model) : undefined;
        if (!live && !this.pool.isLoaded(version.sha256)) {
          const started = performance.now();
          await this.pool.load(version.sha256, await this.artifacts.read(version.sha256));
          this.logger.info({ modelVersion: name, ms: Math.round(performance.now() - started) }, "model version loaded and warmed");
        }
        return {
          ref: version,
          name,
          version,
          featureRefs: [...new Set(Object.values(version.featureRefs).flat())],
          featureServices: await this.derivingServices(version),
          ...(live ? { live } : {}),
        };
      })();
      this.versions.set(name, serving);
      serving.catch(() => this.versions.get(name) === serving && this.versions.delete(name));
    }
    return serving;
  }

  /**
   * The feature services a version binds that derive features. Bindings pin a service version,
   * and versions never change, so each is read from the store once, when the version loads.
   */
  private async derivingServices(version: ModelVersion): Promise<ServingVersion["featureServices"]> {
    const found: ServingVersion["featureServices"] = [];
    for (const binding of version.bindings) {
      if (binding.source.kind !== "featureService") continue;
      const ref = parseViewRef(binding.source.service, version.project, "feature service");
      if (typeof ref === "string" || ref.version === undefined) continue; // checked on upload: never so
      const service = await this.store.getVersion("featureService", version.project, ref.view, ref.version);
      if (!service)
        throw new Error(`feature service ${ref.view}@${ref.version} bound by ${versionName(version)} is missing from the registry`);
      if ((service.derivedFeatures ?? []).length > 0) found.push({ inputName: binding.inputName, service });
    }
    return found;
  }

  /** Releases every loaded artifact no routing uses and no request is using. */
  private async releaseUnused(): Promise<void> {
    this.releasePending = false;
    const used = new Set(this.pinned);
    for (const routing of this.routings.values()) {
      const settled = await Promise.race([routing, Promise.resolve(undefined)]).catch(() => undefined);
      if (!settled) {
        this.releasePending = true; // a routing still loading may need anything: decide later
        return;
      }
      for (const version of [settled.stable, settled.canary?.version, ...settled.shadows]) if (version) used.add(version.version.sha256);
    }
    for (const [name, serving] of [...this.versions.entries()]) {
      const version = await Promise.race([serving, Promise.resolve(undefined)]).catch(() => undefined);
      if (!version || used.has(version.version.sha256)) continue;
      if (version.live) {
        this.versions.delete(name); // nothing loaded in the pool: the learner runs on without it
        continue;
      }
      if ((this.inFlight.get(version.version.sha256) ?? 0) > 0) {
        this.releasePending = true; // its last request out tries again
        continue;
      }
      this.versions.delete(name);
      if ([...this.versions.keys()].length > 0 && (await this.stillShared(version.version.sha256))) continue;
      this.logger.info({ modelVersion: name }, "model version no longer routed to; releasing it");
      await this.pool
        .release(version.version.sha256)
        .catch((error: unknown) => this.logger.warn({ err: error }, "could not release a model"));
    }
  }

  /** Whether another loaded version uses the same artifact. */
  private async stillShared(sha256: string): Promise<boolean> {
    for (const serving of this.versions.values()) {
      const version = await Promise.race([serving, Promise.resolve(undefined)]).catch(() => undefined);
      if (version?.version.sha256 === sha256) return true;
    }
    return false;
  }
}
