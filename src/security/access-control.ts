/**
 * API keys and role bindings: created and revoked through the access API (or given in the
 * config to bootstrap), kept in the registry store so every replica sees them, and cached in
 * memory so authenticating a call is one hash and one map lookup. A key's secret is shown once;
 * only its SHA-256 is stored.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  PreconditionError,
  ResourceAlreadyExistsError,
  ResourceNotFoundError,
  ValidationError,
  ViolationCollector,
} from "../common/errors.js";
import { type Page, type PageRequest, toPage } from "../common/pagination.js";
import type { RegistryStore, StoredDocument } from "../storage/registry/registry-store.js";
import { ROLES, type Role } from "./permissions.js";
import { ALL_PROJECTS, type AuthenticationMethod, type Principal, parseGrants, type RoleGrant } from "./principal.js";

/** The pseudo-project under which access documents are stored (no real project can be named so). */
const ACCESS_PROJECT = "_access";
/** Prefix of every key Sluice issues, so leaked keys are easy to find by secret scanners. */
const KEY_PREFIX = "sk_";

/** Where a key or binding came from. */
export type AccessSource = "config" | "api";

/** An API key as kept: its hash, never its secret. */
export interface ApiKeyRecord {
  /** The first 16 hex digits of the key's SHA-256. */
  id: string;
  sha256: string;
  principal: string;
  roles: RoleGrant[];
  description: string;
  createTime: string;
  createdBy: string;
  expireTime?: string;
  revokeTime?: string;
  revokedBy?: string;
  source: AccessSource;
}

/** A role granted to a principal that authenticates by JWT or client certificate. */
export interface RoleBindingRecord {
  principal: string;
  grant: RoleGrant;
  createTime: string;
  createdBy: string;
  source: AccessSource;
}

/** Bootstrap entries from the config. */
export interface AccessBootstrap {
  apiKeys: ReadonlyArray<{ principal: string; sha256: string; roles: readonly string[] }>;
  bindings: ReadonlyArray<{ principal: string; roles: readonly string[] }>;
}

/** The SHA-256 (hex) of a key, as stored and as the config's `auth.apiKeys[].sha256` expects it. */
export function apiKeyHash(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Keys, bindings, and the principals they make. */
export class AccessControl {
  private readonly keysByHash = new Map<string, ApiKeyRecord>();
  private readonly keysById = new Map<string, ApiKeyRecord>();
  /** Bindings by principal, then by "project:role". */
  private readonly bindings = new Map<string, Map<string, RoleBindingRecord>>();
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly store: RegistryStore,
    private readonly bootstrap: AccessBootstrap,
    private readonly clock: () => Date,
  ) {
    // Another replica created or revoked something: reload it, so a revoked key stops working everywhere.
    this.unsubscribe = store.onChange((change) => {
      if (change.kind === "reset") void this.reload();
      else if (change.kind === "document" && change.project === ACCESS_PROJECT) void this.reloadDocument(change.name);
    });
  }

  /** Loads every key and binding into memory. */
  static async open(store: RegistryStore, bootstrap: AccessBootstrap, clock: () => Date = () => new Date()): Promise<AccessControl> {
    const access = new AccessControl(store, bootstrap, clock);
    await access.reload();
    return access;
  }

  /** The principal a presented API key authenticates, or undefined for an unknown, revoked or expired key. */
  authenticateApiKey(secret: string): Principal | undefined {
    const key = this.keysByHash.get(apiKeyHash(secret));
    if (!key || key.revokeTime !== undefined) return undefined;
    if (key.expireTime !== undefined && Date.parse(key.expireTime) <= this.clock().getTime()) return undefined;
    // A key carries its roles and nothing else: bindings by name are for principals an identity
    // provider or a CA vouches for. Otherwise a project admin could mint a key named after a server
    // admin bound by name, and inherit that admin's roles.
    return { name: key.principal, authentication: "api_key", grants: key.roles };
  }

  /** A principal an identity provider or a CA vouches for: the grants it carries (a token's claims) and those bound to its name. */
  principal(name: string, authentication: AuthenticationMethod, carried: readonly RoleGrant[]): Principal {
    const bound = this.bindings.get(name);
    if (!bound) return { name, authentication, grants: carried };
    const grants = new Map(carried.map((grant) => [grantText(grant), grant]));
    for (const [text, binding] of bound) grants.set(text, binding.grant);
    return { name, authentication, grants: [...grants.values()] };
  }

  /** The projects a key grants roles on ("" for a server-wide grant); [""] for an unknown key. */
  async keyProjects(id: string): Promise<readonly string[]> {
    const key = this.keysById.get(id);
    if (!key || key.roles.length === 0) return [""];
    return key.roles.map((grant) => (grant.project === ALL_PROJECTS ? "" : grant.project));
  }

  /** Creates a key; the secret is returned this once. */
  async createApiKey(
    input: { principal: string; roles: readonly RoleGrant[]; description: string; expireTime?: Date },
    by: Principal,
  ): Promise<{ key: ApiKeyRecord; secret: string }> {
    const violations = new ViolationCollector();
    checkPrincipalName(input.principal, "api_key.principal", violations);
    if (input.roles.length === 0) violations.add("api_key.roles", "must grant at least one role");
    for (const [i, grant] of input.roles.entries()) checkGrant(grant, `api_key.roles[${i}]`, violations);
    if (input.description.length > 1024) violations.add("api_key.description", "must be at most 1024 characters");
    if (input.expireTime && input.expireTime.getTime() <= this.clock().getTime())
      violations.add("api_key.expire_time", "must be in the future");
    violations.throwIfAny("INVALID_API_KEY");
    const secret = KEY_PREFIX + randomBytes(32).toString("base64url");
    const sha256 = apiKeyHash(secret);
    const key: ApiKeyRecord = {
      id: sha256.slice(0, 16),
      sha256,
      principal: input.principal,
      roles: dedupeGrants(input.roles),
      description: input.description,
      createTime: this.clock().toISOString(),
      createdBy: by.name,
      ...(input.expireTime ? { expireTime: input.expireTime.toISOString() } : {}),
      source: "api",
    };
    const revision = await this.store.putDocument("apiKey", ACCESS_PROJECT, key.id, key, 0);
    if (revision === undefined) throw new ResourceAlreadyExistsError("api key", key.id);
    this.remember(key);
    return { key, secret };
  }

  /** Revokes a key at once; revoking it again is a no-op that returns it. */
  async revokeApiKey(id: string, by: Principal): Promise<ApiKeyRecord> {
    if (!/^[0-9a-f]{16}$/.test(id))
      throw new ValidationError("INVALID_API_KEY_ID", [{ field: "id", description: "must be 16 hex digits" }]);
    const cached = this.keysById.get(id);
    if (cached?.source === "config")
      throw new PreconditionError("CONFIG_API_KEY", `api key ${id} comes from the server's configuration; remove it there`, { id });
    const stored = await this.store.getDocument<ApiKeyRecord>("apiKey", ACCESS_PROJECT, id);
    if (!stored) throw new ResourceNotFoundError("api key", id);
    if (stored.value.revokeTime !== undefined) return stored.value;
    const revoked: ApiKeyRecord = { ...stored.value, revokeTime: this.clock().toISOString(), revokedBy: by.name };
    if ((await this.store.putDocument("apiKey", ACCESS_PROJECT, id, revoked, stored.revision)) === undefined) {
      return this.revokeApiKey(id, by);
    }
    this.remember(revoked);
    return revoked;
  }

  /** Keys granting a role on `project` (every key when undefined), ordered by id. */
  listApiKeys(project: string | undefined, showRevoked: boolean, page: PageRequest<string>): Page<ApiKeyRecord> {
    const matching = [...this.keysById.values()]
      .filter((key) => showRevoked || key.revokeTime === undefined)
      .filter((key) => project === undefined || key.roles.some((grant) => grant.project === project))
      .filter((key) => page.after === undefined || key.id > page.after)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return toPage(`apiKeys/${project ?? ""}/${showRevoked}`, matching.slice(0, page.limit + 1), page.limit, (key) => key.id);
  }

  /** Grants a role to a principal; granting one it holds is refused as ALREADY_EXISTS. */
  async grantRole(principal: string, grant: RoleGrant, by: Principal): Promise<RoleBindingRecord> {
    const violations = new ViolationCollector();
    checkPrincipalName(principal, "binding.principal", violations);
    checkGrant(grant, "binding.role", violations);
    violations.throwIfAny("INVALID_ROLE_BINDING");
    const binding: RoleBindingRecord = { principal, grant, createTime: this.clock().toISOString(), createdBy: by.name, source: "api" };
    const id = bindingId(principal, grant);
    if ((await this.store.putDocument("roleBinding", ACCESS_PROJECT, id, binding, 0)) === undefined) {
      const existing = await this.store.getDocument<RoleBindingRecord | null>("roleBinding", ACCESS_PROJECT, id);
      if (existing?.value) throw new ResourceAlreadyExistsError("role binding", `${principal} ${grant.project}:${grant.role}`);
      // A revoked binding leaves a tombstone: grant over it.
      if (!existing || (await this.store.putDocument("roleBinding", ACCESS_PROJECT, id, binding, existing.revision)) === undefined)
        return this.grantRole(principal, grant, by);
    }
    this.rememberBinding(binding);
    return binding;
  }

  /** Takes a granted role back (documents cannot be deleted, so a tombstone stays). */
  async revokeRole(principal: string, grant: RoleGrant): Promise<void> {
    const id = bindingId(principal, grant);
    const existing = await this.store.getDocument<RoleBindingRecord | null>("roleBinding", ACCESS_PROJECT, id);
    if (!existing?.value) {
      if (this.bindings.get(principal)?.get(grantText(grant))?.source === "config")
        throw new PreconditionError("CONFIG_ROLE_BINDING", `this binding comes from the server's configuration; remove it there`);
      throw new ResourceNotFoundError("role binding", `${principal} ${grant.project}:${grant.role}`);
    }
    if ((await this.store.putDocument("roleBinding", ACCESS_PROJECT, id, null, existing.revision)) === undefined)
      return this.revokeRole(principal, grant);
    this.forgetBinding(principal, grant);
  }

  /** Bindings on `project` ("*" for server-wide ones), ordered by principal then role. */
  listRoleBindings(project: string, page: PageRequest<string>): Page<RoleBindingRecord> {
    const keyOf = (binding: RoleBindingRecord) => `${binding.principal}\u0000${binding.grant.role}`;
    const matching = [...this.bindings.values()]
      .flatMap((byGrant) => [...byGrant.values()])
      .filter((binding) => binding.grant.project === project)
      .filter((binding) => page.after === undefined || keyOf(binding) > page.after)
      .sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    return toPage(`roleBindings/${project}`, matching.slice(0, page.limit + 1), page.limit, keyOf);
  }

  close(): void {
    this.unsubscribe();
  }

  private async reload(): Promise<void> {
    this.keysByHash.clear();
    this.keysById.clear();
    this.bindings.clear();
    const created = new Date(0).toISOString();
    for (const entry of this.bootstrap.apiKeys) {
      this.remember({
        id: entry.sha256.slice(0, 16),
        sha256: entry.sha256,
        principal: entry.principal,
        roles: parseGrants(entry.roles).grants,
        description: "from the server configuration",
        createTime: created,
        createdBy: "config",
        source: "config",
      });
    }
    for (const entry of this.bootstrap.bindings) {
      for (const grant of parseGrants(entry.roles).grants)
        this.rememberBinding({ principal: entry.principal, grant, createTime: created, createdBy: "config", source: "config" });
    }
    for (const key of await this.readAll<ApiKeyRecord>("apiKey")) if (key) this.remember(key);
    for (const binding of await this.readAll<RoleBindingRecord | null>("roleBinding")) if (binding) this.rememberBinding(binding);
  }

  private async reloadDocument(name: string): Promise<void> {
    const [kind, id] = name.split("/", 2) as [string, string];
    if (kind === "apiKey") {
      const stored = await this.store.getDocument<ApiKeyRecord>("apiKey", ACCESS_PROJECT, id);
      if (stored) this.remember(stored.value);
    } else if (kind === "roleBinding") {
      // The id does not say which principal; reloading every binding keeps this simple and rare.
      const all = await this.readAll<RoleBindingRecord | null>("roleBinding");
      for (const [principal, byGrant] of this.bindings)
        for (const [text, binding] of byGrant)
          if (binding.source === "api") this.forgetBinding(principal, parseGrants([text]).grants[0] as RoleGrant);
      for (const binding of all) if (binding) this.rememberBinding(binding);
    }
  }

  private async readAll<T>(kind: "apiKey" | "roleBinding"): Promise<T[]> {
    const values: T[] = [];
    let after: string | undefined;
    for (;;) {
      const page: Array<StoredDocument<T>> = await this.store.listDocuments<T>(kind, ACCESS_PROJECT, { limit: 1000, after });
      values.push(...page.map((document) => document.value));
      if (page.length < 1000) return values;
      after = page[page.length - 1]?.id;
    }
  }

  private remember(key: ApiKeyRecord): void {
    // A config key keeps its place even if the store holds a key with the same hash.
    if (this.keysById.get(key.id)?.source === "config" && key.source !== "config") return;
    this.keysByHash.set(key.sha256, key);
    this.keysById.set(key.id, key);
  }

  private rememberBinding(binding: RoleBindingRecord): void {
    let byGrant = this.bindings.get(binding.principal);
    if (!byGrant) {
      byGrant = new Map();
      this.bindings.set(binding.principal, byGrant);
    }
    if (byGrant.get(grantText(binding.grant))?.source !== "config") byGrant.set(grantText(binding.grant), binding);
  }

  private forgetBinding(principal: string, grant: RoleGrant): void {
    const byGrant = this.bindings.get(principal);
    if (byGrant?.get(grantText(grant))?.source === "config") return;
    byGrant?.delete(grantText(grant));
    if (byGrant?.size === 0) this.bindings.delete(principal);
  }
}

function grantText(grant: RoleGrant): string {
  return `${grant.project}:${grant.role}`;
}

function bindingId(principal: string, grant: RoleGrant): string {
  return createHash("sha256")
    .update(`${principal}\u0000${grantText(grant)}`)
    .digest("hex")
    .slice(0, 32);
}

function dedupeGrants(grants: readonly RoleGrant[]): RoleGrant[] {
  return [...new Map(grants.map((grant) => [grantText(grant), { project: grant.project, role: grant.role }])).values()];
}

function checkPrincipalName(name: string, field: string, violations: ViolationCollector): void {
  if (!/^[^\s\p{Cc}]{1,256}$/u.test(name)) violations.add(field, "must be 1 to 256 characters without spaces or control characters");
}

function checkGrant(grant: RoleGrant, field: string, violations: ViolationCollector): void {
  if (!(ROLES as readonly string[]).includes(grant.role)) violations.add(`${field}.role`, `must be one of ${ROLES.join(", ")}`);
  if (grant.project === ALL_PROJECTS) {
    if (grant.role !== "admin") violations.add(`${field}.role`, 'only "admin" is granted server-wide (project "*")');
  } else if (!/^[a-z][a-z0-9_]{0,62}$/.test(grant.project)) {
    violations.add(`${field}.project`, 'must be a project id, or "*" for the server-wide admin');
  }
}

export type { Role };
