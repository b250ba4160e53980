/**
 * The AccessService calls the SDK wraps (WhoAmI, CreateApiKey, ListApiKeys, RevokeApiKey): their
 * input shapes, the checks run on them, and their wire messages. Roles are written as in the
 * server's config, "project:role" ("default:writer", "*:admin"), or as { project, role }.
 */
import type { ApiKey, RoleGrant } from "../../../src/gen/sluice/v1/access.pb.js";
import { dateToTimestamp } from "../../../src/grpc/mapping/common.js";
import { arrayOf, boolean, date, isObject, nonEmptyString, number, object, optional, string, union } from "./arguments.js";

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
  (value, path, problems) => {
    if (value.allProjects === true && value.project !== undefined && value.project !== null) {
      problems.push({
        field: path === "" ? "allProjects" : `${path}.allProjects`,
        description: "cannot be set together with project",
        reason: "INVALID_ARGUMENT",
      });
    }
  },
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
