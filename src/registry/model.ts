/**
 * The registry's resources as the core sees them: plain data, independent of the wire format
 * and of any store. Timestamps are Dates; durations are milliseconds.
 */
import type { ValueType } from "../common/value-type.js";
import type { AggregationKind } from "../streams/aggregations.js";

/** A namespace for definitions, data and models. */
export interface Project {
  project: string;
  description: string;
  createTime: Date;
}

/** A join key of an entity. */
export interface JoinKey {
  name: string;
  type: ValueType;
}

/**
 * The join keys of several entities, each name once, in the entities' order then each one's key
 * order (the key columns of a spine for their features); and, where two entities give one name
 * different types, what clashes (the first type is the one listed).
 */
export function mergedJoinKeys(entities: readonly Entity[]): { keys: JoinKey[]; clashes: string[] } {
  const keys: JoinKey[] = [];
  const clashes: string[] = [];
  for (const entity of entities) {
    for (const key of entity.joinKeys) {
      const known = keys.find((k) => k.name === key.name);
      if (!known) keys.push({ name: key.name, type: key.type });
      else if (known.type !== key.type)
        clashes.push(`join key "${key.name}" is ${known.type} in one entity and ${key.type} in ${entity.name}`);
    }
  }
  return { keys, clashes };
}

/** Documentation fields every definition carries; changing them alone is a compatible change. */
export interface Documentation {
  description: string;
  owner: string;
  tags: Record<string, string>;
}

/** The thing features describe; its join keys are fixed once created. */
export interface Entity extends Documentation {
  project: string;
  name: string;
  joinKeys: JoinKey[];
  /** 1 when created, +1 with every update: what concurrent updates compare and set. */
  revision: number;
  createTime: Date;
  updateTime: Date;
}

/** One typed feature of a feature view. */
export interface Feature {
  name: string;
  type: ValueType;
  description: string;
  tags: Record<string, string>;
  /** Set on every feature of an aggregation view, and only there. */
  aggregation?: AggregationDefinition;
}

/** An aggregation of an event stream's field over a window (docs/streaming.md). */
export interface AggregationDefinition {
  kind: AggregationKind;
  /** The stream field; "" for count. */
  field: string;
  /** A multiple of the stream's granularity; 0 means lifetime. */
  windowMillis: number;
  /** last_n only (0 otherwise). */
  k: number;
  /** An expression over the event's fields (docs/expressions.md); "" counts every event. */
  filter: string;
}

/** What a user applies: a feature view definition without server-assigned fields. */
export interface FeatureViewSpec extends Documentation {
  project: string;
  name: string;
  entity: string;
  features: Feature[];
  /** 0 means values never go stale. */
  ttlMillis: number;
  /** Aggregation views: the event stream's name (resolved from the ref as applied). */
  stream?: string;
  /** Aggregation views: the stream version the ref resolved to when applied. */
  streamVersion?: number;
  /** Log served values for the consistency check. */
  logServedValues?: boolean;
}

/** One typed field of an event stream. */
export interface StreamField {
  name: string;
  type: ValueType;
  description: string;
}

/** What a user applies: an event stream definition. Durations in milliseconds. */
export interface EventStreamSpec extends Documentation {
  project: string;
  name: string;
  entity: string;
  fields: StreamField[];
  /** The event-time field of decoded source messages and file columns. */
  eventTimeField: string;
  /** Tile width g. */
  granularityMillis: number;
  allowedLatenessMillis: number;
  /** 0 means forever. */
  retentionMillis: number;
}

/** How a version relates to the one before it. */
export type Compatibility = "compatible" | "breaking";

/** Server-assigned facts of one immutable version of a versioned definition. */
export interface VersionInfo {
  version: number;
  /** Unset for version 1. */
  compatibility?: Compatibility;
  /** Human-readable differences from the previous version. */
  changes: string[];
  createTime: Date;
}

/** One immutable version of a feature view. */
export type FeatureViewVersion = FeatureViewSpec &
  VersionInfo & {
    /**
     * The version whose stored history (offline rows, online values) this version reads and
     * writes: the first of the unbroken run of compatible versions it belongs to. A compatible
     * change only adds features and documentation, so the run's storage grows by columns and every
     * version of the run reads it correctly; a breaking change starts a history of its own.
     */
    historyVersion: number;
  };

/** One immutable version of an event stream. */
export type EventStreamVersion = EventStreamSpec &
  VersionInfo & {
    /** The version whose stored events this version reads and writes (as for feature views). */
    historyVersion: number;
  };

/** A value a caller supplies with each request to a feature service. */
export interface RequestInput {
  name: string;
  type: ValueType;
  description: string;
}

/** A feature computed at request time by an expression (docs/expressions.md). */
export interface DerivedFeature {
  name: string;
  expression: string;
  description: string;
  /** The inferred result type (set by the registry). */
  type?: ValueType;
}

/** What a user applies: a feature service definition. */
export interface FeatureServiceSpec extends Documentation {
  project: string;
  name: string;
  /** Feature refs as written: "view:feature" or "view@3:feature". */
  features: string[];
  requestInputs?: RequestInput[];
  derivedFeatures?: DerivedFeature[];
}

/** One immutable version of a feature service. */
export type FeatureServiceVersion = FeatureServiceSpec & VersionInfo;

/** Lifecycle state of a versioned definition. */
export type DefinitionState = "active" | "deprecated";

/** The mutable head of a versioned definition: which version is latest, and its state. */
export interface DefinitionHead {
  latestVersion: number;
  state: DefinitionState;
  deprecateTime?: Date;
}

/** A version together with the head state of its definition, as reads return it. */
export type WithState<T> = T & { state: DefinitionState; deprecateTime?: Date };

/** What an apply did. */
export type ApplyOutcome = "created" | "unchanged" | "new_version" | "updated";

/** The result of applying a versioned definition. */
export interface ApplyResult<T> {
  resource: T;
  outcome: ApplyOutcome;
  /** Set for new_version. */
  compatibility?: Compatibility;
  changes: string[];
}

/** A feature ref resolved to one concrete feature view version. */
export interface ResolvedFeature {
  /** The ref as given. */
  ref: string;
  project: string;
  featureView: string;
  version: number;
  feature: string;
  type: ValueType;
}

/** Versioned definition kinds and the record type of one version of each. */
export interface VersionedKinds {
  featureView: FeatureViewVersion;
  featureService: FeatureServiceVersion;
  eventStream: EventStreamVersion;
}

/** A versioned definition kind. */
export type VersionedKind = keyof VersionedKinds;
