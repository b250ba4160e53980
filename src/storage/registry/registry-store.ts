/**
 * The registry store port: where definitions live. Backends (embedded LMDB today; Redis for
 * several replicas) implement it, and one contract suite (registry-store.contract.ts) holds
 * them all to the same behaviour. The domain never sees which backend it talks to.
 */
import type { DefinitionHead, DefinitionState, Entity, Project, VersionedKind, VersionedKinds } from "../../registry/model.js";

export type { VersionedKind, VersionedKinds };

/** Keyset pagination: items strictly after `after` in the listing's order, at most `limit` of them. */
export interface PageQuery<K> {
  after?: K;
  limit: number;
}

/** A definition's name and head, as listings return them. */
export interface NamedHead {
  name: string;
  head: DefinitionHead;
}

/**
 * A committed change, announced to every listener (on every replica, for shared backends). Kind
 * "reset" means changes may have been missed (a lost connection): drop everything cached. For a
 * document, `name` is "{document kind}/{id}".
 */
export interface RegistryChange {
  kind: "project" | "entity" | VersionedKind | "document" | "reset";
  project: string;
  name: string;
}

/**
 * Kinds of documents kept beside the definitions: records with a lifecycle of their own (a
 * training dataset version runs, then succeeds or fails), written by compare-and-set on a revision.
 */
export type DocumentKind =
  | "trainingDataset"
  | "model"
  | "modelVersion"
  | "deployment"
  | "deploymentRevision"
  | "apiKey"
  | "roleBinding"
  | "learner"
  | "learnerControl";

/** A stored document and the revision its next write must name. */
export interface StoredDocument<T> {
  id: string;
  /** 1 when created, +1 with every write. */
  revision: number;
  value: T;
}

/** Where the registry keeps its definitions. Every write is atomic: nothing half-written remains. */
export interface RegistryStore {
  /** The backend's name, for logs and errors. */
  readonly backend: string;

  /** A project, or undefined when it does not exist. */
  getProject(project: string): Promise<Project | undefined>;
  /** Creates a project; false when one with that name exists. */
  createProject(project: Project): Promise<boolean>;
  /** Projects ordered by name. */
  listProjects(page: PageQuery<string>): Promise<Project[]>;

  /** An entity, or undefined when it does not exist. */
  getEntity(project: string, name: string): Promise<Entity | undefined>;
  /**
   * Writes an entity when the stored one is still at `expectedRevision` (undefined: must not
   * exist yet). Returns false when someone else got there first.
   */
  putEntity(entity: Entity, expectedRevision: number | undefined): Promise<boolean>;
  /** Entities of a project ordered by name. */
  listEntities(project: string, page: PageQuery<string>): Promise<Entity[]>;

  /** The head of a versioned definition, or undefined when it does not exist. */
  getHead(kind: VersionedKind, project: string, name: string): Promise<DefinitionHead | undefined>;
  /** One version of a definition, or undefined when it does not exist. */
  getVersion<K extends VersionedKind>(kind: K, project: string, name: string, version: number): Promise<VersionedKinds[K] | undefined>;
  /** Versions of one definition, newest first; `after` is a version number. */
  listVersions<K extends VersionedKind>(kind: K, project: string, name: string, page: PageQuery<number>): Promise<Array<VersionedKinds[K]>>;
  /** Heads of a project's definitions of one kind, ordered by name. */
  listHeads(kind: VersionedKind, project: string, page: PageQuery<string>): Promise<NamedHead[]>;
  /**
   * Appends `record` as the new latest version and marks the definition active, in one atomic
   * step, only if the latest version is still `expectedLatest` (0: none). Returns false otherwise,
   * so two concurrent appliers can never both create the same version number.
   */
  appendVersion<K extends VersionedKind>(kind: K, record: VersionedKinds[K], expectedLatest: number): Promise<boolean>;
  /** Sets the lifecycle state of an existing definition; returns the new head, or undefined when absent. */
  setState(kind: VersionedKind, project: string, name: string, state: DefinitionState, at: Date): Promise<DefinitionHead | undefined>;

  /** A document, or undefined when it does not exist. */
  getDocument<T>(kind: DocumentKind, project: string, id: string): Promise<StoredDocument<T> | undefined>;
  /**
   * Writes a document when its stored revision is still `expectedRevision` (0: it must not exist
   * yet). Returns the new revision, or undefined when someone else wrote first.
   */
  putDocument<T>(kind: DocumentKind, project: string, id: string, value: T, expectedRevision: number): Promise<number | undefined>;
  /** Documents of a kind in a project ordered by id, those whose id starts with `prefix` only. */
  listDocuments<T>(kind: DocumentKind, project: string, page: PageQuery<string> & { prefix?: string }): Promise<Array<StoredDocument<T>>>;

  /** Calls `listener` after every committed change; returns an unsubscribe function. */
  onChange(listener: (change: RegistryChange) => void): () => void;
  /** Releases the store's resources. */
  close(): Promise<void>;
}
