/**
 * The embedded registry: an LMDB environment under the data dir. Keys are ordered tuples, so
 * listings are range scans; every write is one LMDB transaction, so a crash leaves either the
 * whole change or none of it.
 */
import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import { type Key, open, type RootDatabase } from "lmdb";
import { StoreUnavailableError } from "../../common/errors.js";
import type { DefinitionHead, DefinitionState, Entity, Project } from "../../registry/model.js";
import type {
  DocumentKind,
  NamedHead,
  PageQuery,
  RegistryChange,
  RegistryStore,
  StoredDocument,
  VersionedKind,
  VersionedKinds,
} from "./registry-store.js";

const CHANGE_EVENT = "change";

/** Opens (creating if needed) the embedded registry in `directory`. */
export function openLmdbRegistryStore(directory: string): LmdbRegistryStore {
  mkdirSync(directory, { recursive: true });
  try {
    return new LmdbRegistryStore(open({ path: directory, compression: false }));
  } catch (error) {
    throw new StoreUnavailableError(`embedded registry at ${directory}`, error);
  }
}

/** {@link RegistryStore} on LMDB. */
export class LmdbRegistryStore implements RegistryStore {
  readonly backend = "lmdb";
  private readonly changes = new EventEmitter();

  constructor(private readonly db: RootDatabase) {
    this.changes.setMaxListeners(0);
  }

  async getProject(project: string): Promise<Project | undefined> {
    return this.db.get(["project", project]);
  }

  async createProject(project: Project): Promise<boolean> {
    const key = ["project", project.project];
    const created = await this.db.transaction(() => {
      if (this.db.doesExist(key)) return false;
      this.db.put(key, project);
      return true;
    });
    if (created) this.announce({ kind: "project", project: project.project, name: project.project });
    return created;
  }

  async listProjects(page: PageQuery<string>): Promise<Project[]> {
    return this.scan(["project"], page.after, page.limit).map(({ value }) => value as Project);
  }

  async getEntity(project: string, name: string): Promise<Entity | undefined> {
    return this.db.get(["entity", project, name]);
  }

  async putEntity(entity: Entity, expectedRevision: number | undefined): Promise<boolean> {
    const key = ["entity", entity.project, entity.name];
    const written = await this.db.transaction(() => {
      const current: Entity | undefined = this.db.get(key);
      if (current?.revision !== expectedRevision) return false;
      this.db.put(key, entity);
      return true;
    });
    if (written) this.announce({ kind: "entity", project: entity.project, name: entity.name });
    return written;
  }

  async listEntities(project: string, page: PageQuery<string>): Promise<Entity[]> {
    return this.scan(["entity", project], page.after, page.limit).map(({ value }) => value as Entity);
  }

  async getHead(kind: VersionedKind, project: string, name: string): Promise<DefinitionHead | undefined> {
    return this.db.get(["head", kind, project, name]);
  }

  async getVersion<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    version: number,
  ): Promise<VersionedKinds[K] | undefined> {
    return this.db.get(["version", kind, project, name, version]);
  }

  async listVersions<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    page: PageQuery<number>,
  ): Promise<Array<VersionedKinds[K]>> {
    const prefix = ["version", kind, project, name];
    const range = this.db.getRange({
      start: [...prefix, page.after === undefined ? Number.MAX_SAFE_INTEGER : page.after - 1],
      end: [...prefix, 0],
      reverse: true,
      limit: page.limit,
    });
    return Array.from(range, ({ value }) => value as VersionedKinds[K]);
  }

  async listHeads(kind: VersionedKind, project: string, page: PageQuery<string>): Promise<NamedHead[]> {
    return this.scan(["head", kind, project], page.after, page.limit).map(({ key, value }) => ({
      name: key[3] as string,
      head: value as DefinitionHead,
    }));
  }

  async appendVersion<K extends VersionedKind>(kind: K, record: VersionedKinds[K], expectedLatest: number): Promise<boolean> {
    const headKey = ["head", kind, record.project, record.name];
    const appended = await this.db.transaction(() => {
      const head: DefinitionHead | undefined = this.db.get(headKey);
      if ((head?.latestVersion ?? 0) !== expectedLatest || record.version !== expectedLatest + 1) return false;
      this.db.put(["version", kind, record.project, record.name, record.version], record);
      this.db.put(headKey, { latestVersion: record.version, state: "active" } satisfies DefinitionHead);
      return true;
    });
    if (appended) this.announce({ kind, project: record.project, name: record.name });
    return appended;
  }

  async setState(
    kind: VersionedKind,
    project: string,
    name: string,
    state: DefinitionState,
    at: Date,
  ): Promise<DefinitionHead | undefined> {
    const headKey = ["head", kind, project, name];
    const updated = await this.db.transaction(() => {
      const head: DefinitionHead | undefined = this.db.get(headKey);
      if (!head) return undefined;
      if (head.state === state) return head;
      const next: DefinitionHead = { latestVersion: head.latestVersion, state };
      if (state === "deprecated") next.deprecateTime = at;
      this.db.put(headKey, next);
      return next;
    });
    if (updated) this.announce({ kind, project, name });
    return updated;
  }

  async getDocument<T>(kind: DocumentKind, project: string, id: string): Promise<StoredDocument<T> | undefined> {
    return this.db.get(["document", kind, project, id]);
  }

  async putDocument<T>(kind: DocumentKind, project: string, id: string, value: T, expectedRevision: number): Promise<number | undefined> {
    const key = ["document", kind, project, id];
    const revision = await this.db.transaction(() => {
      const current: StoredDocument<T> | undefined = this.db.get(key);
      if ((current?.revision ?? 0) !== expectedRevision) return undefined;
      this.db.put(key, { id, revision: expectedRevision + 1, value } satisfies StoredDocument<T>);
      return expectedRevision + 1;
    });
    if (revision !== undefined) this.announce({ kind: "document", project, name: `${kind}/${id}` });
    return revision;
  }

  async listDocuments<T>(
    kind: DocumentKind,
    project: string,
    page: PageQuery<string> & { prefix?: string },
  ): Promise<Array<StoredDocument<T>>> {
    const prefix = page.prefix ?? "";
    const start = page.after !== undefined && page.after > prefix ? page.after : prefix;
    const range = this.db.getRange({
      start: ["document", kind, project, start],
      end: ["document", kind, project, `${prefix}${MAX_KEY}`],
      limit: page.limit + 1,
    });
    return Array.from(range, ({ value }) => value as StoredDocument<T>)
      .filter((document) => document.id !== page.after)
      .slice(0, page.limit);
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.changes.on(CHANGE_EVENT, listener);
    return () => this.changes.off(CHANGE_EVENT, listener);
  }

  async close(): Promise<void> {
    this.changes.removeAllListeners();
    await this.db.close();
  }

  /** Entries under `prefix` whose next key part sorts after `after`, at most `limit` of them. */
  private scan(prefix: Key[], after: string | undefined, limit: number): Array<{ key: Key[]; value: unknown }> {
    const range = this.db.getRange({
      start: after === undefined ? prefix : [...prefix, after],
      end: [...prefix, MAX_KEY],
      limit: limit + 1,
    });
    return Array.from(range, ({ key, value }) => ({ key: key as Key[], value }))
      .filter(({ key }) => after === undefined || key[prefix.length] !== after)
      .slice(0, limit);
  }

  private announce(change: RegistryChange): void {
    this.changes.emit(CHANGE_EVENT, change);
  }
}

/** Sorts after every string an id can be (ids are ASCII). */
const MAX_KEY = "\uffff";
