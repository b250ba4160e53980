/**
 * Thin gRPC adapter of AccessService's audit methods (ListAuditEvents, VerifyAuditChain) over
 * the audit trail. Authorization is the guard's, before these run: a handler serves the filter
 * it is given.
 */
import type { AuditChainVerdict } from "../audit/audit-chain-verifier.js";
import type { AuditFilter } from "../audit/audit-filter.js";
import type { AuditLog } from "../audit/audit-log.js";
import type {
  AccessServiceServer,
  AuditEvent,
  ListAuditEventsRequest,
  ListAuditEventsResponse,
  VerifyAuditChainRequest,
  VerifyAuditChainResponse,
  AuditChainVerdict as WireAuditChainVerdict,
} from "../gen/sluice/v1/access.pb.js";
import type { AuditRecord } from "../storage/offline/offline-store.js";
import type { HandlerEnv } from "./call-context.js";
import { microsToTimestamp, timestampToMicros } from "./mapping/values.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.AccessService";

/** What the audit handlers read: the query side of {@link AuditLog}. */
export type AuditReader = Pick<AuditLog, "list" | "verify">;

/** Builds the ListAuditEvents and VerifyAuditChain handlers, to merge into the AccessService's. */
export function auditServiceHandlers(
  audit: AuditReader,
  env: HandlerEnv,
): Pick<AccessServiceServer, "listAuditEvents" | "verifyAuditChain"> {
  return {
    listAuditEvents: unaryHandler<ListAuditEventsRequest, ListAuditEventsResponse>(`${SERVICE}/ListAuditEvents`, env, async (request) => {
      const page = await audit.list(auditFilterFromWire(request), { pageSize: request.pageSize, pageToken: request.pageToken });
      return { events: page.items.map(auditEventToWire), nextPageToken: page.nextPageToken };
    }),
    verifyAuditChain: unaryHandler<VerifyAuditChainRequest, VerifyAuditChainResponse>(
      `${SERVICE}/VerifyAuditChain`,
      env,
      async (request) => {
        const verdicts = await audit.verify(request.chainId || undefined);
        return { chains: verdicts.map(verdictToWire), intact: verdicts.every((verdict) => verdict.intact) };
      },
    ),
  };
}

/** The request's filter: empty fields and unset times do not filter. */
export function auditFilterFromWire(request: ListAuditEventsRequest): AuditFilter {
  const filter: AuditFilter = {};
  if (request.project !== "") filter.project = request.project;
  if (request.principal !== "") filter.principal = request.principal;
  if (request.method !== "") filter.method = request.method;
  if (request.outcome !== "") filter.outcome = request.outcome;
  if (request.startTime) filter.startTime = timestampToMicros(request.startTime);
  if (request.endTime) filter.endTime = timestampToMicros(request.endTime);
  return filter;
}

/** A stored record as the API shows it. */
export function auditEventToWire(record: AuditRecord): AuditEvent {
  return {
    chainId: record.chainId,
    sequence: BigInt(record.sequence),
    time: microsToTimestamp(record.time),
    principal: record.principal,
    authentication: record.authentication,
    method: record.method,
    project: record.project,
    resources: record.resources,
    requestDigest: record.requestDigest,
    peer: record.peer,
    outcome: record.outcome,
    detail: record.detail,
    requestId: record.requestId,
    hash: record.hash,
    previousHash: record.previousHash,
  };
}

function verdictToWire(verdict: AuditChainVerdict): WireAuditChainVerdict {
  return {
    chainId: verdict.chainId,
    records: BigInt(verdict.records),
    intact: verdict.intact,
    firstBadSequence: BigInt(verdict.firstBadSequence),
    problem: verdict.problem,
  };
}
