/**
 * The AccessService calls the SDK wraps (WhoAmI, API keys, role bindings, the audit trail): their
 * input shapes, the checks run on them, and their wire messages. Roles are written as in the
 * server's config, "project:role" ("default:writer", "*:admin"), or as { project, role }.
 */
import type { ApiKey, ListAuditEventsRequest, RoleBinding, RoleGrant } from "../../../src/gen/sluice/v1/access.pb.js";
import { dateToTimestamp } from "../../../src/grpc/mapping/common.js";
import { arrayOf, boolean, date, isObject, nonEmptyString, number, object, optional, type Rule, string, union } from "./arguments.js";

/** A role on a project: "project:role" ("default:writer"; "*:admin" is the server-wide admin) or a RoleGrant. */
export type RoleInput = string | RoleGrant;

/** An API key to create: who it authenticates as and what it may do. */
export interface ApiKeyInput {
  /** The principal the key authenticates as ("svc-ingest"). */
  principal: string;
  roles: RoleInput[];
  description?: string;
  /** When the key stops working; unset: never. */
  expireTime?: Date;
}

/** Which keys ListApiKeys returns: those granting a role on `project` (the client's by default), or every key. */
export interface ApiKeyListOptions {
  /** A project id; unset, the client's. */
  project?: string;
  /** Every key of the server (server admins only); not with `project`. */
  allProjects?: boolean;
  /** Revoked keys too. */
  showRevoked?: boolean;
  pageSize?: number;
}

/** A role granted to a principal that authenticates by JWT or client certificate (GrantRole, RevokeRole). */
export interface RoleBindingInput {
  /** The JWT subject or certificate name the role is granted to. */
  principal: string;
  role: RoleInput;
}

/** Which role bindings ListRoleBindings returns: those on `project` (the client's by default). */
export interface RoleBindingListOptions {
  /** A project id or "projects/{id}"; "*" lists the server-wide grants (server admins only). Unset: the client's. */
  project?: string;
  pageSize?: number;
}

/**
 * Which audit events ListAuditEvents returns, newest first: those of `project` (the client's by
 * default) or of every project, narrowed by the filters that are set.
 */
export interface AuditEventListOptions {
  /** A project id; unset, the client's. */
  project?: string;
  /** Every event of the server, server-wide calls included (server admins only); not with `project`. */
  allProjects?: boolean;
  /** Calls by this principal ("anonymous" when authentication is off). */
  principal?: string;
  /** A full method ("/sluice.v1.ModelService/PromoteCanary") or a service prefix ("/sluice.v1.ModelService/"). */
  method?: string;
  /** A gRPC status code name: "OK", "PERMISSION_DENIED", ... */
  outcome?: string;
  /** Events recorded at or after this time. */
  startTime?: Date;
  /** Events recorded before this time. */
  endTime?: Date;
  pageSize?: number;
}

const role = union(
  'a "project:role" string or { project, role }',
  { accepts: (v) => typeof v === "string", check: nonEmptyString },
  { accepts: isObject, check: object({ project: nonEmptyString, role: nonEmptyString }) },
);

/** Checks {@link ApiKeyInput}. */
export const apiKeyCheck = object({
  principal: nonEmptyString,
  roles: arrayOf(role, 'an array of roles ("project:role")'),
  description: optional(string),
  expireTime: optional(date),
});

/** Checks {@link ApiKeyListOptions}. */
export const apiKeyListCheck = object(
  {
    project: optional(nonEmptyString),
    allProjects: optional(boolean),
    showRevoked: optional(boolean),
    pageSize: optional(number({ min: 0, integer: true })),
  },
  notBoth("allProjects", "project"),
);

/** Checks {@link RoleBindingInput}. */
export const roleBindingCheck = object({ principal: nonEmptyString, role });

/** Checks {@link RoleBindingListOptions}. */
export const roleBindingListCheck = object({
  project: optional(nonEmptyString),
  pageSize: optional(number({ min: 0, integer: true })),
});

/** Checks {@link AuditEventListOptions}. */
export const auditEventListCheck = object(
  {
    project: optional(nonEmptyString),
    allProjects: optional(boolean),
    principal: optional(string),
    method: optional(string),
    outcome: optional(string),
    startTime: optional(date),
    endTime: optional(date),
    pageSize: optional(number({ min: 0, integer: true })),
  },
  notBoth("allProjects", "project"),
);

/** A role as a RoleGrant: "p:role" splits at its last colon; a string without one is refused by the server. */
export function roleGrantOf(input: RoleInput): RoleGrant {
  if (typeof input !== "string") return { project: input.project, role: input.role };
  const colon = input.lastIndexOf(":");
  return colon < 0 ? { project: input, role: "" } : { project: input.slice(0, colon), role: input.slice(colon + 1) };
}

/** The ApiKey message of CreateApiKey; the output-only fields stay empty. */
export function apiKeyToWire(input: ApiKeyInput): ApiKey {
  return {
    id: "",
    principal: input.principal,
    roles: input.roles.map(roleGrantOf),
    description: input.description ?? "",
    createTime: undefined,
    createdBy: "",
    revokeTime: undefined,
    revokedBy: "",
    expireTime: input.expireTime ? dateToTimestamp(input.expireTime) : undefined,
    source: "",
  };
}

/** The RoleBinding message of GrantRole and RevokeRole; the output-only fields stay empty. */
export function roleBindingToWire(input: RoleBindingInput): RoleBinding {
  return { principal: input.principal, role: roleGrantOf(input.role), createTime: undefined, createdBy: "", source: "" };
}

/** A ListAuditEvents request for one page; `project` is the resolved project id ("" for every project). */
export function auditEventsRequest(options: AuditEventListOptions, project: string, pageToken: string): ListAuditEventsRequest {
  return {
    project,
    principal: options.principal ?? "",
    method: options.method ?? "",
    outcome: options.outcome ?? "",
    startTime: options.startTime ? dateToTimestamp(options.startTime) : undefined,
    endTime: options.endTime ? dateToTimestamp(options.endTime) : undefined,
    pageSize: options.pageSize ?? 0,
    pageToken,
  };
}

/** A rule: the boolean `flag` and `other` may not both be set (`allProjects` and `project`). */
function notBoth(flag: string, other: string): Rule {
  return (value, path, problems) => {
    if (value[flag] === true && value[other] !== undefined && value[other] !== null) {
      problems.push({
        field: path === "" ? flag : `${path}.${flag}`,
        description: `cannot be set together with ${other}`,
        reason: "INVALID_ARGUMENT",
      });
    }
  };
}
