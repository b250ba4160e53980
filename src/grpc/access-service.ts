/**
 * Thin gRPC adapter of sluice.v1.AccessService over {@link AccessControl} (keys, role bindings)
 * and the audit trail's handlers. Who may call each method was decided by the guard already.
 */
import { ValidationError } from "../common/errors.js";
import { readPageRequest } from "../common/pagination.js";
import type { Timestamp } from "../gen/google/protobuf/timestamp.pb.js";
import type {
  AccessServiceServer,
  ApiKey as WireApiKey,
  RoleBinding as WireRoleBinding,
  RoleGrant as WireRoleGrant,
} from "../gen/sluice/v1/access.pb.js";
import type { AccessControl, ApiKeyRecord, RoleBindingRecord } from "../security/access-control.js";
import { ROLES, type Role } from "../security/permissions.js";
import type { RoleGrant } from "../security/principal.js";
import type { HandlerEnv } from "./call-context.js";
import { dateToTimestamp } from "./mapping/common.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.AccessService";

/** The audit trail's two methods, served beside the access methods. */
export type AuditHandlers = Pick<AccessServiceServer, "listAuditEvents" | "verifyAuditChain">;

/** Builds the AccessService handlers. */
export function accessServiceHandlers(access: AccessControl, audit: AuditHandlers, env: HandlerEnv): AccessServiceServer {
  const unary = unaryHandler;
  return {
    whoAmI: unary(`${SERVICE}/WhoAmI`, env, async (_request, context) => ({
      principal: context.principal.name,
      authentication: context.principal.authentication,
      roles: context.principal.grants.map(grantToWire),
    })),
    createApiKey: unary(`${SERVICE}/CreateApiKey`, env, async (request, context) => {
      const key = request.apiKey;
      if (!key) throw new ValidationError("MISSING_FIELD", [{ field: "api_key", description: "is required" }]);
      const { key: created, secret } = await access.createApiKey(
        {
          principal: key.principal,
          roles: key.roles.map((grant, i) => grantFromWire(grant, `api_key.roles[${i}]`)),
          description: key.description,
          ...(key.expireTime ? { expireTime: timestampToDate(key.expireTime, "api_key.expire_time") } : {}),
        },
        context.principal,
      );
      return { apiKey: apiKeyToWire(created), secret };
    }),
    listApiKeys: unary(`${SERVICE}/ListApiKeys`, env, async (request) => {
      const page = access.listApiKeys(
        request.project === "" ? undefined : request.project,
        request.showRevoked,
        readPageRequest<string>(`apiKeys/${request.project}/${request.showRevoked}`, request.pageSize, request.pageToken, "name"),
      );
      return { apiKeys: page.items.map(apiKeyToWire), nextPageToken: page.nextPageToken };
    }),
    revokeApiKey: unary(`${SERVICE}/RevokeApiKey`, env, async (request, context) => ({
      apiKey: apiKeyToWire(await access.revokeApiKey(request.id, context.principal)),
    })),
    grantRole: unary(`${SERVICE}/GrantRole`, env, async (request, context) => {
      const binding = request.binding;
      if (!binding?.role) throw new ValidationError("MISSING_FIELD", [{ field: "binding.role", description: "is required" }]);
      const granted = await access.grantRole(binding.principal, grantFromWire(binding.role, "binding.role"), context.principal);
      return { binding: bindingToWire(granted) };
    }),
    revokeRole: unary(`${SERVICE}/RevokeRole`, env, async (request) => {
      const binding = request.binding;
      if (!binding?.role) throw new ValidationError("MISSING_FIELD", [{ field: "binding.role", description: "is required" }]);
      await access.revokeRole(binding.principal, grantFromWire(binding.role, "binding.role"));
      return {};
    }),
    listRoleBindings: unary(`${SERVICE}/ListRoleBindings`, env, async (request) => {
      const page = access.listRoleBindings(
        request.project,
        readPageRequest<string>(`roleBindings/${request.project}`, request.pageSize, request.pageToken, "name"),
      );
      return { bindings: page.items.map(bindingToWire), nextPageToken: page.nextPageToken };
    }),
    listAuditEvents: audit.listAuditEvents,
    verifyAuditChain: audit.verifyAuditChain,
  };
}

function grantFromWire(grant: WireRoleGrant, field: string): RoleGrant {
  if (!(ROLES as readonly string[]).includes(grant.role))
    throw new ValidationError("INVALID_ROLE", [{ field: `${field}.role`, description: `must be one of ${ROLES.join(", ")}` }]);
  return { project: grant.project, role: grant.role as Role };
}

function grantToWire(grant: RoleGrant): WireRoleGrant {
  return { project: grant.project, role: grant.role };
}

function timestampToDate(timestamp: Timestamp, field: string): Date {
  const millis = Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000);
  if (!Number.isFinite(millis) || Math.abs(millis) > 8.64e15 || timestamp.nanos < 0 || timestamp.nanos >= 1e9)
    throw new ValidationError("INVALID_TIMESTAMP", [{ field, description: "is out of range" }]);
  return new Date(millis);
}

function apiKeyToWire(key: ApiKeyRecord): WireApiKey {
  return {
    id: key.id,
    principal: key.principal,
    roles: key.roles.map(grantToWire),
    description: key.description,
    createTime: dateToTimestamp(new Date(key.createTime)),
    createdBy: key.createdBy,
    revokeTime: key.revokeTime ? dateToTimestamp(new Date(key.revokeTime)) : undefined,
    revokedBy: key.revokedBy ?? "",
    expireTime: key.expireTime ? dateToTimestamp(new Date(key.expireTime)) : undefined,
    source: key.source,
  };
}

function bindingToWire(binding: RoleBindingRecord): WireRoleBinding {
  return {
    principal: binding.principal,
    role: grantToWire(binding.grant),
    createTime: dateToTimestamp(new Date(binding.createTime)),
    createdBy: binding.createdBy,
    source: binding.source,
  };
}
