/**
 * Which audit events a listing asks for, checked field by field, and the page tokens of the
 * listing: a token holds the last event of its page and is bound to the filter it was made for.
 */
import { ValidationError, ViolationCollector } from "../common/errors.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import { unknownNameHint } from "../common/suggest.js";
import type { AuditQuery, AuditRecord } from "../storage/offline/offline-store.js";

/** A listing's filter; an undefined field does not filter. Times in microseconds, [startTime, endTime). */
export interface AuditFilter {
  project?: string;
  principal?: string;
  /** A full method ("/sluice.v1.ModelService/PromoteCanary"), or a service prefix ending in "/". */
  method?: string;
  /** A gRPC status code name ("PERMISSION_DENIED"). */
  outcome?: string;
  startTime?: number;
  endTime?: number;
}

/** A page request as the API carries it. */
export interface AuditPageRequest {
  pageSize: number;
  pageToken: string;
}

/** The gRPC status code names, which a record's outcome is one of. */
export const STATUS_CODE_NAMES: readonly string[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/**
 * The store query of one page of a listing; INVALID_ARGUMENT naming every bad field (page size,
 * outcome, method, a start after the end, a token from another listing or filter).
 */
export function auditPageQuery(filter: AuditFilter, page: AuditPageRequest): AuditQuery {
  const v = new ViolationCollector();
  if (!Number.isInteger(page.pageSize) || page.pageSize < 0) v.add("page_size", "must not be negative");
  if (filter.outcome !== undefined && !STATUS_CODE_NAMES.includes(filter.outcome)) {
    const hint = unknownNameHint(filter.outcome, STATUS_CODE_NAMES, "status code names");
    v.add("outcome", `"${filter.outcome}" is not a gRPC status code name${hint ? `; ${hint}` : ""}`);
  }
  if (filter.method !== undefined && !/^\/[^/]+\/[^/]*$/.test(filter.method)) {
    v.add("method", 'must be a full method ("/sluice.v1.ModelService/PromoteCanary") or a service prefix ("/sluice.v1.ModelService/")');
  }
  if (filter.startTime !== undefined && filter.endTime !== undefined && filter.startTime > filter.endTime) {
    v.add("start_time", "must not be after end_time");
  }
  v.throwIfAny("INVALID_AUDIT_FILTER");
  const { limit, after } = readPageRequest<string>(scopeOf(filter), page.pageSize, page.pageToken, "name");
  return {
    project: filter.project,
    principal: filter.principal,
    ...(filter.method?.endsWith("/") ? { methodPrefix: filter.method } : { method: filter.method }),
    outcome: filter.outcome,
    range: { start: filter.startTime, end: filter.endTime },
    after: after === undefined ? undefined : cursorOf(after),
    // One more than the page: it only tells whether another page follows.
    limit: limit + 1,
  };
}

/** A page of a listing from the records its query fetched (up to one more than the page). */
export function auditPage(filter: AuditFilter, query: AuditQuery, fetched: AuditRecord[]): Page<AuditRecord> {
  return toPage(scopeOf(filter), fetched, query.limit - 1, (record) => `${record.time}:${record.sequence}:${record.chainId}`);
}

/** Names the listing a token belongs to: the filter, so that a token cannot page another filter's results. */
function scopeOf(filter: AuditFilter): string {
  const { project, principal, method, outcome, startTime, endTime } = filter;
  return `auditEvents:${JSON.stringify([project, principal, method, outcome, startTime, endTime])}`;
}

function cursorOf(key: string): NonNullable<AuditQuery["after"]> {
  const match = /^(-?\d+):(\d+):(.*)$/s.exec(key);
  if (!match) {
    throw new ValidationError("INVALID_PAGE_TOKEN", [
      { field: "page_token", description: "is not a token returned by this listing; start again with an empty token" },
    ]);
  }
  return { time: Number(match[1]), sequence: Number(match[2]), chainId: match[3] as string };
}
