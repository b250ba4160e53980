/**
 * Who a caller is and what it was granted. Authentication (api keys, JWT, client certificates)
 * produces a {@link Principal}; authorization asks it {@link Principal.can}. Nothing here knows gRPC.
 */
import { type Permission, ROLE_PERMISSIONS, type Role } from "./permissions.js";

/** How a caller proved who it is. */
export type AuthenticationMethod = "api_key" | "jwt" | "mtls" | "none";

/** A role on one project, or server-wide admin (`project` "*"). */
export interface RoleGrant {
  project: string;
  role: Role;
}

/** The project name meaning "every project", granted only with the admin role. */
export const ALL_PROJECTS = "*";

/** An authenticated caller. */
export interface Principal {
  name: string;
  authentication: AuthenticationMethod;
  grants: readonly RoleGrant[];
}

/** The caller when authentication is off: it may do everything, and the audit trail says so. */
export const ANONYMOUS: Principal = Object.freeze({
  name: "anonymous",
  authentication: "none",
  grants: Object.freeze([{ project: ALL_PROJECTS, role: "admin" as Role }]),
});

/** Whether the principal holds `permission` on `project` ("" for a server-wide permission). */
export function can(principal: Principal, permission: Permission, project: string): boolean {
  for (const grant of principal.grants) {
    if (grant.project === ALL_PROJECTS) {
      if (grant.role === "admin") return true;
      continue;
    }
    if (project !== "" && grant.project === project && ROLE_PERMISSIONS[grant.role].has(permission)) return true;
  }
  return false;
}

/** Whether the principal is a server-wide admin. */
export function isServerAdmin(principal: Principal): boolean {
  return principal.grants.some((grant) => grant.project === ALL_PROJECTS && grant.role === "admin");
}

/** The projects the principal holds any role on; undefined means every project (server admin). */
export function visibleProjects(principal: Principal): ReadonlySet<string> | undefined {
  if (isServerAdmin(principal)) return undefined;
  return new Set(principal.grants.map((grant) => grant.project));
}

/** Parses "project:role" / "*:admin" grants, as config files and JWT claims carry them; bad ones are skipped and returned. */
export function parseGrants(texts: readonly unknown[]): { grants: RoleGrant[]; rejected: string[] } {
  const grants: RoleGrant[] = [];
  const rejected: string[] = [];
  for (const text of texts) {
    const match = typeof text === "string" ? /^(\*|[a-z][a-z0-9_]{0,62}):(viewer|writer|trainer|deployer|admin)$/.exec(text) : null;
    if (!match || (match[1] === ALL_PROJECTS && match[2] !== "admin")) {
      rejected.push(String(text));
      continue;
    }
    grants.push({ project: match[1] as string, role: match[2] as Role });
  }
  return { grants, rejected };
}
