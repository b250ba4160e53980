/**
 * The registry: projects, entities, and versioned feature views and feature services, on top of
 * any {@link RegistryStore}. Applies are serialized per definition inside this process and made
 * safe across processes by the store's compare-and-append, so two concurrent applies can never
 * produce two versions with the same number. Reads of definitions (feature ref resolution above
 * all, which every write, read and training path calls) are served from an in-memory cache that
 * the store's change notifications invalidate.
 */
import {
  ConcurrentModificationError,
  PreconditionError,
  ResourceAlreadyExistsError,
  ResourceNotFoundError,
  ValidationError,
  ViolationCollector,
} from "../common/errors.js";
import { KeyedMutex } from "../common/keyed-mutex.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import { unknownNameHint } from "../common/suggest.js";
import { compileDerivedFeature } from "../expressions/derived-features.js";
import { ExpressionError } from "../expressions/parse.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import { type FeatureRef, formatViewRef, parseFeatureRef, parseViewRef, viewRefForms } from "./feature-refs.js";
import type {
  ApplyResult,
  DefinitionHead,
  Entity,
  EventStreamVersion,
  FeatureServiceSpec,
  FeatureServiceVersion,
  FeatureViewSpec,
  FeatureViewVersion,
  Project,
  ResolvedFeature,
  VersionedKind,
  VersionedKinds,
  VersionInfo,
  WithState,
} from "./model.js";
import { DEFAULT_PROJECT, describeInvalidResourceId, resourceName } from "./names.js";
import {
  canonicalFeatureRef,
  checkAggregations,
  type EntityDraft,
  type EventStreamDraft,
  type FeatureViewDraft,
  LIMITS,
  validateEntityDraft,
  validateEventStreamDraft,
  validateFeatureServiceSpec,
  validateFeatureViewDraft,
} from "./validation.js";
import { type Diff, diffEventStreams, diffFeatureServices, diffFeatureViews, sameTags } from "./versioning.js";

/** How often an apply retries after losing a compare-and-append race to another replica. */
const MAX_APPLY_ATTEMPTS = 8;

/** Options of apply calls. */
export interface ApplyOptions {
  /** Validate and report the outcome without storing anything. */
  validateOnly?: boolean;
}

/** A versioned definition loaded into the cache: its head and the versions read so far. */
interface CachedDefinition<K extends VersionedKind> {
  head: DefinitionHead;
  versions: Map<number, VersionedKinds[K]>;
}

/** How many names of a kind an unknown name is compared with for a hint. */
const MAX_NAMES_FOR_HINTS = 1000;

/** Distinct feature selections whose resolution is cached. */
const MAX_CACHED_SELECTIONS = 10_000;

const COLLECTION_OF = { featureView: "featureViews", featureService: "featureServices", eventStream: "eventStreams" } as const;
const LABEL_OF = { featureView: "feature view", featureService: "feature service", eventStream: "event stream" } as const;
const PLURAL_OF = { featureView: "feature views", featureService: "feature services", eventStream: "event streams" } as const;

/** Registry of definitions. Construct with {@link Registry.open} so the default project exists. */
export class Registry {
  private readonly applyLocks = new KeyedMutex();
  private readonly cache = new Map<string, Promise<CachedDefinition<VersionedKind> | undefined>>();
  private readonly entityCache = new Map<string, Promise<Entity | undefined>>();
  /** Resolved selections by request shape: the online read path resolves the same lists over and over. */
  private readonly selectionCache = new Map<string, Promise<ResolvedFeature[] | undefined>>();
  /** The aggregation view versions over each stream ("project/stream"): what an event batch updates. */
  private readonly streamViewsCache = new Map<string, Promise<FeatureViewVersion[] | undefined>>();
  private readonly viewAppliedListeners: Array<(view: FeatureViewVersion, entity: Entity) => Promise<void>> = [];
  private readonly streamAppliedListeners: Array<(stream: EventStreamVersion, entity: Entity) => Promise<void>> = [];
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly store: RegistryStore,
    private readonly clock: () => Date,
  ) {
    this.unsubscribe = store.onChange((change) => {
      if (change.kind === "featureView" || change.kind === "featureService" || change.kind === "eventStream") {
        this.cache.delete(cacheKey(change.kind, change.project, change.name));
        // Any selection may name the changed definition (directly or as "latest"); changes are rare.
        this.selectionCache.clear();
        this.streamViewsCache.clear();
      } else if (change.kind === "entity") {
        this.entityCache.delete(`${change.project}/${change.name}`);
      } else if (change.kind === "reset") {
        this.cache.clear();
        this.entityCache.clear();
        this.selectionCache.clear();
        this.streamViewsCache.clear();
      }
    });
  }

  /** Opens the registry over `store`, creating the default project when it is missing. */
  static async open(store: RegistryStore, clock: () => Date = () => new Date()): Promise<Registry> {
    const registry = new Registry(store, clock);
    await store.createProject({ project: DEFAULT_PROJECT, description: "The default project.", createTime: clock() });
    return registry;
  }

  /** Stops listening for changes. The store is closed by its owner. */
  close(): void {
    this.unsubscribe();
    this.cache.clear();
    this.entityCache.clear();
    this.selectionCache.clear();
  }

  // ---- projects ----

  /** Creates a project; ALREADY_EXISTS when the name is taken. */
  async createProject(project: string, description: string): Promise<Project> {
    const v = new ViolationCollector();
    const problem = describeInvalidResourceId(project);
    if (problem) v.add("project.name", problem);
    if (description.length > LIMITS.descriptionChars)
      v.add("project.description", `at most ${LIMITS.descriptionChars} characters are allowed`);
    v.throwIfAny("INVALID_PROJECT");
    const record: Project = { project, description, createTime: this.clock() };
    if (!(await this.store.createProject(record))) throw new ResourceAlreadyExistsError("project", `projects/${project}`);
    return record;
  }

  /** Gets a project; NOT_FOUND when it does not exist. */
  async getProject(project: string): Promise<Project> {
    const record = await this.store.getProject(project);
    if (!record) throw new ResourceNotFoundError("project", `projects/${project}`);
    return record;
  }

  /** Lists projects by name. */
  async listProjects(pageSize: number, pageToken: string): Promise<Page<Project>> {
    const scope = "projects";
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const fetched = await this.store.listProjects({ after: page.after, limit: page.limit + 1 });
    return toPage(scope, fetched, page.limit, (p) => p.project);
  }

  // ---- entities ----

  /** Creates an entity or updates its documentation; its join keys can never change. */
  async applyEntity(
    draft: EntityDraft,
    options: ApplyOptions = {},
  ): Promise<{ entity: Entity; outcome: "created" | "updated" | "unchanged" }> {
    const spec = validateEntityDraft(draft, "entity");
    await this.getProject(spec.project);
    return this.applyLocks.run(`entity/${spec.project}/${spec.name}`, async () => {
      for (let attempt = 0; attempt < MAX_APPLY_ATTEMPTS; attempt++) {
        const current = await this.store.getEntity(spec.project, spec.name);
        const now = this.clock();
        if (current) {
          const sameKeys =
            current.joinKeys.length === spec.joinKeys.length &&
            current.joinKeys.every((k, i) => k.name === spec.joinKeys[i]?.name && k.type === spec.joinKeys[i]?.type);
          if (!sameKeys) {
            throw new PreconditionError(
              "ENTITY_JOIN_KEYS_IMMUTABLE",
              `the join keys of entity ${spec.name} cannot change (feature views are keyed by them); create a new entity instead`,
              { entity: resourceName(spec.project, "entities", spec.name) },
            );
          }
          const sameDocs = current.description === spec.description && current.owner === spec.owner && sameTags(current.tags, spec.tags);
          if (sameDocs) return { entity: current, outcome: "unchanged" };
          const updated: Entity = {
            ...current,
            description: spec.description,
            owner: spec.owner,
            tags: spec.tags,
            revision: current.revision + 1,
            updateTime: now,
          };
          if (options.validateOnly) return { entity: updated, outcome: "updated" };
          if (await this.store.putEntity(updated, current.revision)) return this.entityWritten(updated, "updated");
          continue;
        }
        const created: Entity = { ...spec, revision: 1, createTime: now, updateTime: now };
        if (options.validateOnly) return { entity: created, outcome: "created" };
        if (await this.store.putEntity(created, undefined)) return this.entityWritten(created, "created");
      }
      throw new ConcurrentModificationError(resourceName(spec.project, "entities", spec.name));
    });
  }

  private entityWritten(entity: Entity, outcome: "created" | "updated"): { entity: Entity; outcome: "created" | "updated" } {
    this.entityCache.delete(`${entity.project}/${entity.name}`);
    return { entity, outcome };
  }

  /** Gets an entity (from the cache after the first read); NOT_FOUND when it does not exist. */
  async getEntity(project: string, name: string): Promise<Entity> {
    const entity = await cached(this.entityCache, `${project}/${name}`, () => this.store.getEntity(project, name));
    if (!entity) throw new ResourceNotFoundError("entity", resourceName(project, "entities", name));
    return entity;
  }

  /** Lists a project's entities by name. */
  async listEntities(project: string, pageSize: number, pageToken: string): Promise<Page<Entity>> {
    await this.getProject(project);
    const scope = `entities/${project}`;
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const fetched = await this.store.listEntities(project, { after: page.after, limit: page.limit + 1 });
    return toPage(scope, fetched, page.limit, (e) => e.name);
  }

  // ---- feature views ----

  /**
   * Calls `listener` after every successful (not validate-only) apply of a feature view, with the
   * version it resolved to, before the apply returns; a listener's failure fails the apply, which
   * is safe to retry (the retry is UNCHANGED and calls the listener again). The offline store uses
   * it to create each version's history table on apply.
   */
  onFeatureViewApplied(listener: (view: FeatureViewVersion, entity: Entity) => Promise<void>): void {
    this.viewAppliedListeners.push(listener);
  }

  /** Applies a feature view: UNCHANGED, CREATED (version 1), or NEW_VERSION (compatible or breaking). */
  async applyFeatureView(draft: FeatureViewDraft, options: ApplyOptions = {}): Promise<ApplyResult<WithState<FeatureViewVersion>>> {
    await this.getProject(draft.project);
    const entity = describeInvalidResourceId(draft.entity) ? undefined : await this.store.getEntity(draft.project, draft.entity);
    let spec = validateFeatureViewDraft(draft, "feature_view", entity);
    if (draft.stream) spec = await this.checkAggregationView(spec, draft.stream);
    const result = await this.applyVersioned("featureView", spec, diffFeatureViews, options, (record, previous) => ({
      ...record,
      // An aggregation view's values come from its stream's events, and each version has tiles of its own.
      historyVersion: previous && record.compatibility === "compatible" && !record.stream ? previous.historyVersion : record.version,
    }));
    if (!options.validateOnly && entity) {
      for (const listener of this.viewAppliedListeners) await listener(result.resource, entity);
    }
    return result;
  }

  /** Resolves an aggregation view's stream ref and checks its aggregations against that stream version. */
  private async checkAggregationView(spec: FeatureViewSpec, streamRef: string): Promise<FeatureViewSpec> {
    const v = new ViolationCollector();
    const parsed = parseViewRef(streamRef, spec.project, "event stream");
    if (typeof parsed === "string") throw invalidRef("feature_view.stream", parsed);
    let stream: EventStreamVersion;
    try {
      stream = await this.getVersioned("eventStream", spec.project, parsed.view, parsed.version);
    } catch (error) {
      if (!(error instanceof ResourceNotFoundError)) throw error;
      v.add("feature_view.stream", error.message);
      v.throwIfAny("INVALID_FEATURE_VIEW");
      throw error;
    }
    const checked = checkAggregations(v, "feature_view", spec, stream);
    v.throwIfAny("INVALID_FEATURE_VIEW");
    return { ...checked, stream: stream.name, streamVersion: stream.version };
  }

  /** Gets the latest version of a feature view, or an exact one. */
  async getFeatureView(project: string, name: string, version?: number): Promise<WithState<FeatureViewVersion>> {
    return this.getVersioned("featureView", project, name, version);
  }

  /** Lists the latest version of each feature view of a project, by name. */
  async listFeatureViews(
    project: string,
    pageSize: number,
    pageToken: string,
    showDeprecated: boolean,
  ): Promise<Page<WithState<FeatureViewVersion>>> {
    return this.listLatest("featureView", project, pageSize, pageToken, showDeprecated);
  }

  /** Lists every version of a feature view, newest first. */
  async listFeatureViewVersions(
    project: string,
    name: string,
    pageSize: number,
    pageToken: string,
  ): Promise<Page<WithState<FeatureViewVersion>>> {
    return this.listVersions("featureView", project, name, pageSize, pageToken);
  }

  /** Deprecates a feature view (soft delete); applying it again revives it. */
  async deprecateFeatureView(project: string, name: string): Promise<WithState<FeatureViewVersion>> {
    await this.getProject(project);
    const head = await this.store.setState("featureView", project, name, "deprecated", this.clock());
    if (!head) throw new ResourceNotFoundError("feature view", resourceName(project, "featureViews", name));
    this.cache.delete(cacheKey("featureView", project, name));
    return this.getVersioned("featureView", project, name);
  }

  // ---- feature services ----

  /**
   * Applies a feature service; every ref must resolve and every derived feature's expression
   * compile against them (its inferred type is stored). Same versioning rules as feature views.
   */
  async applyFeatureService(spec: FeatureServiceSpec, options: ApplyOptions = {}): Promise<ApplyResult<WithState<FeatureServiceVersion>>> {
    validateFeatureServiceSpec(spec, "feature_service");
    await this.getProject(spec.project);
    const v = new ViolationCollector();
    const resolved: ResolvedFeature[] = [];
    for (const [i, ref] of spec.features.entries()) {
      const feature = await this.tryResolveFeatureRef(spec.project, ref);
      if (typeof feature === "string") v.add(`feature_service.features[${i}]`, feature);
      else resolved.push(feature);
    }
    v.throwIfAny("UNRESOLVED_FEATURE_REF");
    return this.applyVersioned("featureService", withDerivedTypes(spec, resolved), diffFeatureServices, options);
  }

  /** Gets the latest version of a feature service, or an exact one. */
  async getFeatureService(project: string, name: string, version?: number): Promise<WithState<FeatureServiceVersion>> {
    return this.getVersioned("featureService", project, name, version);
  }

  /** Lists the latest version of each feature service of a project, by name. */
  async listFeatureServices(project: string, pageSize: number, pageToken: string): Promise<Page<WithState<FeatureServiceVersion>>> {
    return this.listLatest("featureService", project, pageSize, pageToken, true);
  }

  /** Lists every version of a feature service, newest first. */
  async listFeatureServiceVersions(
    project: string,
    name: string,
    pageSize: number,
    pageToken: string,
  ): Promise<Page<WithState<FeatureServiceVersion>>> {
    return this.listVersions("featureService", project, name, pageSize, pageToken);
  }

  // ---- event streams ----

  /**
   * Calls `listener` after every successful (not validate-only) apply of an event stream, as
   * {@link onFeatureViewApplied} does for views: the offline store creates the events table.
   */
  onEventStreamApplied(listener: (stream: EventStreamVersion, entity: Entity) => Promise<void>): void {
    this.streamAppliedListeners.push(listener);
  }

  /** Applies an event stream: UNCHANGED, CREATED, or NEW_VERSION (compatible versions share stored events). */
  async applyEventStream(draft: EventStreamDraft, options: ApplyOptions = {}): Promise<ApplyResult<WithState<EventStreamVersion>>> {
    await this.getProject(draft.project);
    const entity = describeInvalidResourceId(draft.entity) ? undefined : await this.store.getEntity(draft.project, draft.entity);
    const spec = validateEventStreamDraft(draft, "event_stream", entity);
    const result = await this.applyVersioned("eventStream", spec, diffEventStreams, options, (record, previous) => ({
      ...record,
      historyVersion: previous && record.compatibility === "compatible" ? previous.historyVersion : record.version,
    }));
    if (!options.validateOnly && entity) {
      for (const listener of this.streamAppliedListeners) await listener(result.resource, entity);
    }
    return result;
  }

  /** Gets the latest version of an event stream, or an exact one. */
  async getEventStream(project: string, name: string, version?: number): Promise<WithState<EventStreamVersion>> {
    return this.getVersioned("eventStream", project, name, version);
  }

  /** Lists the latest version of each event stream of a project, by name. */
  async listEventStreams(project: string, pageSize: number, pageToken: string): Promise<Page<WithState<EventStreamVersion>>> {
    return this.listLatest("eventStream", project, pageSize, pageToken, true);
  }

  /** Lists every version of an event stream, newest first. */
  async listEventStreamVersions(
    project: string,
    name: string,
    pageSize: number,
    pageToken: string,
  ): Promise<Page<WithState<EventStreamVersion>>> {
    return this.listVersions("eventStream", project, name, pageSize, pageToken);
  }

  /** Resolves a stream ref ("stream", "stream@2" or its resource name); NOT_FOUND when it does not exist. */
  async resolveStreamRef(project: string, ref: string, field: string): Promise<WithState<EventStreamVersion>> {
    if (ref === "")
      throw new ValidationError("MISSING_FIELD", [
        { field, description: `is required: name an event stream as ${viewRefForms("event stream")}` },
      ]);
    const parsed = parseViewRef(ref, project, "event stream");
    if (typeof parsed === "string") throw invalidRef(field, parsed);
    return this.getVersioned("eventStream", project, parsed.view, parsed.version);
  }

  /**
   * Every version of every active aggregation view reading the stored events of `stream` (its
   * history version): the views whose online tiles an event of the stream updates. Cached until
   * a definition changes.
   */
  async aggregationViewsOf(stream: EventStreamVersion): Promise<FeatureViewVersion[]> {
    const key = `${stream.project}/${stream.name}/${stream.historyVersion}`;
    const load = async () => {
      const found: FeatureViewVersion[] = [];
      let after: string | undefined;
      for (;;) {
        const heads = await this.store.listHeads("featureView", stream.project, { after, limit: 500 });
        for (const { name, head } of heads) {
          if (head.state === "deprecated") continue;
          const versions = await this.store.listVersions("featureView", stream.project, name, { limit: head.latestVersion + 1 });
          for (const stored of versions) {
            const view = upgradeRecord("featureView", stored);
            if (view.stream !== stream.name || view.streamVersion === undefined) continue;
            const source = await this.getVersioned("eventStream", stream.project, view.stream, view.streamVersion);
            if (source.historyVersion === stream.historyVersion) found.push(view);
          }
        }
        if (heads.length < 500) break;
        after = heads[heads.length - 1]?.name;
      }
      return found;
    };
    return (await cached(this.streamViewsCache, key, load)) as FeatureViewVersion[];
  }

  // ---- resolution (hot path: served from the cache) ----

  /**
   * Resolves feature refs to concrete view versions and types. A malformed ref is
   * INVALID_ARGUMENT on `${field}[i]`; a ref to an unknown view, version or feature is NOT_FOUND.
   */
  async resolveFeatureRefs(project: string, refs: readonly string[], field: string): Promise<ResolvedFeature[]> {
    const v = new ViolationCollector();
    const parsed = refs.map((ref, i) => {
      const result = parseFeatureRef(ref, project);
      if (typeof result === "string") v.add(`${field}[${i}]`, result);
      return result;
    });
    v.throwIfAny("INVALID_FEATURE_REF");
    return Promise.all(parsed.map((ref, i) => this.resolveParsedRef(project, refs[i] as string, ref as FeatureRef)));
  }

  /** Resolves a feature service ("name" or "name@version") to the refs of that version, resolved. */
  async resolveFeatureService(project: string, serviceRef: string, field: string): Promise<ResolvedFeature[]> {
    const parsed = parseViewRef(serviceRef, project, "feature service");
    if (typeof parsed === "string") throw invalidRef(field, parsed);
    const service = await this.getVersioned("featureService", project, parsed.view, parsed.version);
    // Its refs resolved when it was applied; one that no longer does is NOT_FOUND, not a request error.
    return Promise.all(service.features.map((ref) => this.resolveParsedRef(project, ref, parseFeatureRef(ref, project) as FeatureRef)));
  }

  /** The entities of resolved features' views, each once, in the order of the features' first appearance. */
  async entitiesOf(features: readonly ResolvedFeature[]): Promise<Entity[]> {
    const entities: Entity[] = [];
    const views = new Set<string>();
    for (const feature of features) {
      const viewKey = `${feature.project}/${feature.featureView}@${feature.version}`;
      if (views.has(viewKey)) continue;
      views.add(viewKey);
      const view = await this.getFeatureView(feature.project, feature.featureView, feature.version);
      if (entities.some((e) => e.project === view.project && e.name === view.entity)) continue;
      entities.push(await this.getEntity(view.project, view.entity));
    }
    return entities;
  }

  /**
   * Resolves a selection of features: either refs (`features`) or a feature service, exactly one
   * of them, as every read and training request carries it.
   */
  async resolveSelection(project: string, features: readonly string[], featureService: string): Promise<ResolvedFeature[]> {
    const byRefs = features.length > 0;
    const byService = featureService !== "";
    if (byRefs === byService) {
      throw new ValidationError("INVALID_FEATURE_SELECTION", [
        { field: "features", description: "set exactly one of features and feature_service" },
      ]);
    }
    const resolve = () =>
      byService
        ? this.resolveFeatureService(project, featureService, "feature_service")
        : this.resolveFeatureRefs(project, features, "features");
    // Bounded: a client sending ever new lists must not grow the cache without limit.
    if (this.selectionCache.size >= MAX_CACHED_SELECTIONS) this.selectionCache.clear();
    const key = `${project}\n${featureService}\n${features.join("\n")}`;
    return (await cached(this.selectionCache, key, resolve)) as ResolvedFeature[];
  }

  /** Resolves a view ref ("view" or "view@3") to that version; NOT_FOUND when it does not exist. */
  async resolveViewRef(project: string, ref: string, field: string): Promise<WithState<FeatureViewVersion>> {
    if (ref === "")
      throw new ValidationError("MISSING_FIELD", [{ field, description: `is required: name a feature view as ${viewRefForms()}` }]);
    const parsed = parseViewRef(ref, project);
    if (typeof parsed === "string") throw invalidRef(field, parsed);
    return this.getVersioned("featureView", project, parsed.view, parsed.version);
  }

  private async resolveParsedRef(project: string, ref: string, parsed: FeatureRef): Promise<ResolvedFeature> {
    const view = await this.getVersioned("featureView", project, parsed.view, parsed.version);
    const feature = view.features.find((f) => f.name === parsed.feature);
    if (!feature) {
      const hint = unknownNameHint(
        parsed.feature,
        view.features.map((f) => f.name),
        "features",
      );
      throw new ResourceNotFoundError(
        "feature",
        ref,
        `feature view ${formatViewRef({ view: view.name, version: view.version })} has no feature "${parsed.feature}"${hint ? `; ${hint}` : ""}`,
      );
    }
    return { ref, project, featureView: view.name, version: view.version, feature: feature.name, type: feature.type };
  }

  /** Like {@link resolveParsedRef}, but returns the problem as text instead of throwing. */
  private async tryResolveFeatureRef(project: string, ref: string): Promise<ResolvedFeature | string> {
    const parsed = parseFeatureRef(ref, project);
    if (typeof parsed === "string") return parsed;
    try {
      return await this.resolveParsedRef(project, ref, parsed);
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return error.message;
      throw error;
    }
  }

  // ---- shared machinery of versioned definitions ----

  /**
   * The apply loop every versioned kind shares. `complete` adds the kind's own server-assigned
   * fields to a new version, knowing the version it follows (undefined for version 1).
   */
  private async applyVersioned<K extends VersionedKind>(
    kind: K,
    spec: Omit<VersionedKinds[K], keyof VersionInfo | "historyVersion">,
    diff: (previous: VersionedKinds[K], next: typeof spec) => Diff,
    options: ApplyOptions,
    complete: (record: VersionedKinds[K], previous: VersionedKinds[K] | undefined) => VersionedKinds[K] = (record) => record,
  ): Promise<ApplyResult<WithState<VersionedKinds[K]>>> {
    const name = resourceName(spec.project, COLLECTION_OF[kind], spec.name);
    return this.applyLocks.run(`${kind}/${name}`, async () => {
      for (let attempt = 0; attempt < MAX_APPLY_ATTEMPTS; attempt++) {
        const head = await this.store.getHead(kind, spec.project, spec.name);
        const latest = head && (await this.readVersion(kind, spec.project, spec.name, head.latestVersion));
        if (head && !latest) throw new Error(`registry store is inconsistent: ${name} has no version ${head.latestVersion}`);
        let changes: Diff = { changes: [] };
        if (head && latest) {
          changes = diff(latest, spec);
          if (!changes.compatibility) {
            let state = head;
            if (head.state === "deprecated" && !options.validateOnly) {
              state = (await this.store.setState(kind, spec.project, spec.name, "active", this.clock())) ?? head;
              this.cache.delete(cacheKey(kind, spec.project, spec.name));
            }
            return { resource: withState(latest, state), outcome: "unchanged", changes: [] };
          }
        }
        const latestVersion = head?.latestVersion ?? 0;
        const record = complete(
          {
            ...spec,
            version: latestVersion + 1,
            changes: changes.changes.map((c) => c.description),
            createTime: this.clock(),
            ...(changes.compatibility ? { compatibility: changes.compatibility } : {}),
          } as VersionedKinds[K],
          latest,
        );
        const result: ApplyResult<WithState<VersionedKinds[K]>> = {
          resource: { ...record, state: "active" },
          outcome: head ? "new_version" : "created",
          compatibility: changes.compatibility,
          changes: record.changes,
        };
        if (options.validateOnly) return result;
        if (await this.store.appendVersion(kind, record, latestVersion)) {
          // Read-your-writes on this replica, whenever the store's notification arrives.
          this.cache.delete(cacheKey(kind, spec.project, spec.name));
          return result;
        }
        // Another replica appended first: re-read and classify against its version.
      }
      throw new ConcurrentModificationError(name);
    });
  }

  private async getVersioned<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    version?: number,
  ): Promise<WithState<VersionedKinds[K]>> {
    const cached = (await this.loadCached(kind, project, name)) as CachedDefinition<K> | undefined;
    if (!cached) {
      throw new ResourceNotFoundError(
        LABEL_OF[kind],
        resourceName(project, COLLECTION_OF[kind], name),
        await this.nameHint(kind, project, name),
      );
    }
    const wanted = version ?? cached.head.latestVersion;
    let record = cached.versions.get(wanted);
    if (!record && wanted <= cached.head.latestVersion) {
      record = await this.readVersion(kind, project, name, wanted);
      if (record) cached.versions.set(wanted, record);
    }
    if (!record) {
      throw new ResourceNotFoundError(
        `${LABEL_OF[kind]} version`,
        resourceName(project, COLLECTION_OF[kind], name, wanted),
        `the latest version is ${cached.head.latestVersion}`,
      );
    }
    return withState(record, cached.head);
  }

  /** A "did you mean" for an unknown definition name (the error path only: it lists the project's names). */
  private async nameHint(kind: VersionedKind, project: string, name: string): Promise<string | undefined> {
    const known = await this.store.listHeads(kind, project, { limit: MAX_NAMES_FOR_HINTS }).catch(() => []);
    const label = PLURAL_OF[kind];
    const hint = unknownNameHint(
      name,
      known.map((definition) => definition.name),
      `${label} of project ${project}`,
    );
    return hint || undefined;
  }

  /** Reads one stored version, with the fields that records stored by older releases lack. */
  private async readVersion<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    version: number,
  ): Promise<VersionedKinds[K] | undefined> {
    const record = await this.store.getVersion(kind, project, name, version);
    return record && upgradeRecord(kind, record);
  }

  /** The cached head of a definition (undefined when it does not exist), loading it on first use. */
  private loadCached(kind: VersionedKind, project: string, name: string): Promise<CachedDefinition<VersionedKind> | undefined> {
    return cached(this.cache, cacheKey(kind, project, name), () =>
      this.store.getHead(kind, project, name).then((head) => (head ? { head, versions: new Map() } : undefined)),
    );
  }

  private async listLatest<K extends VersionedKind>(
    kind: K,
    project: string,
    pageSize: number,
    pageToken: string,
    showDeprecated: boolean,
  ): Promise<Page<WithState<VersionedKinds[K]>>> {
    await this.getProject(project);
    const scope = `${kind}/${project}/${showDeprecated}`;
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const found: WithState<VersionedKinds[K]>[] = [];
    let after = page.after;
    // Deprecated views are filtered out, so keep reading until the page (plus one) is full.
    while (found.length <= page.limit) {
      const heads = await this.store.listHeads(kind, project, { after, limit: page.limit + 1 });
      for (const { name, head } of heads) {
        if (!showDeprecated && head.state === "deprecated") continue;
        const record = await this.readVersion(kind, project, name, head.latestVersion);
        if (record) found.push(withState(record, head));
      }
      if (heads.length <= page.limit) break;
      after = heads[heads.length - 1]?.name;
    }
    return toPage(scope, found, page.limit, (r) => r.name);
  }

  private async listVersions<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    pageSize: number,
    pageToken: string,
  ): Promise<Page<WithState<VersionedKinds[K]>>> {
    const head = await this.store.getHead(kind, project, name);
    if (!head) throw new ResourceNotFoundError(LABEL_OF[kind], resourceName(project, COLLECTION_OF[kind], name));
    const scope = `${kind}-versions/${project}/${name}`;
    const page = readPageRequest<number>(scope, pageSize, pageToken, "version");
    const fetched = await this.store.listVersions(kind, project, name, { after: page.after, limit: page.limit + 1 });
    return toPage(
      scope,
      fetched.map((r) => withState(upgradeRecord(kind, r), head)),
      page.limit,
      (r) => r.version,
    );
  }
}

/**
 * Fills in what records stored before a field existed lack: feature view versions stored before
 * history sharing each kept a history of their own.
 */
function upgradeRecord<K extends VersionedKind>(kind: K, record: VersionedKinds[K]): VersionedKinds[K] {
  if (kind !== "featureView") return record;
  const view = record as unknown as FeatureViewVersion;
  return (view.historyVersion === undefined ? { ...view, historyVersion: view.version } : view) as VersionedKinds[K];
}

/**
 * A feature service with each derived feature's inferred type, once every expression compiles
 * against its request inputs and the types its refs resolved to; otherwise INVALID_ARGUMENT with
 * each expression's problem and position.
 */
function withDerivedTypes(spec: FeatureServiceSpec, resolved: readonly ResolvedFeature[]): FeatureServiceSpec {
  if (!spec.derivedFeatures || spec.derivedFeatures.length === 0) return spec;
  const scope = {
    requestInputs: spec.requestInputs ?? [],
    features: spec.features,
    featureTypes: resolved.map((feature) => feature.type),
    canonicalRef: (ref: string) => canonicalFeatureRef(ref, spec.project),
  };
  const v = new ViolationCollector();
  const derivedFeatures = spec.derivedFeatures.map((derived, i) => {
    try {
      const { type } = compileDerivedFeature(derived.name, derived.expression, scope);
      return { name: derived.name, expression: derived.expression, description: derived.description, type };
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      v.add(`feature_service.derived_features[${i}].expression`, error.message);
      return derived;
    }
  });
  v.throwIfAny("INVALID_DERIVED_FEATURE");
  return { ...spec, derivedFeatures };
}

/** The error for a feature service or view ref that does not parse. */
function invalidRef(field: string, description: string): ValidationError {
  return new ValidationError("INVALID_FEATURE_REF", [{ field, description }]);
}

function withState<T>(record: T, head: DefinitionHead): WithState<T> {
  return head.deprecateTime ? { ...record, state: head.state, deprecateTime: head.deprecateTime } : { ...record, state: head.state };
}

/**
 * Returns the cached promise for `key`, or starts `load` and caches it. A failure or an absence is
 * never cached, so the next call asks the store again; a change notification deletes the entry.
 */
function cached<T>(cache: Map<string, Promise<T | undefined>>, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
  let entry = cache.get(key);
  if (!entry) {
    const loading = load();
    entry = loading;
    cache.set(key, loading);
    loading.then(
      (value) => value === undefined && cache.get(key) === loading && cache.delete(key),
      () => cache.get(key) === loading && cache.delete(key),
    );
  }
  return entry;
}

function cacheKey(kind: VersionedKind, project: string, name: string): string {
  return `${kind}/${project}/${name}`;
}
