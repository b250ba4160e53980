import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { AuditChainVerdict } from "../audit/audit-chain-verifier.js";
import { type AuditFilter, auditPage, auditPageQuery } from "../audit/audit-filter.js";
import { BadRequest } from "../gen/google/rpc/error_details.pb.js";
import { Status } from "../gen/google/rpc/status.pb.js";
import { ListAuditEventsRequest, VerifyAuditChainRequest } from "../gen/sluice/v1/access.pb.js";
import type { AuditRecord } from "../storage/offline/offline-store.js";
import { type AuditReader, auditServiceHandlers } from "./audit-service.js";
import { InFlightCalls } from "./call-context.js";

const record: AuditRecord = {
  chainId: "host-1",
  sequence: 7,
  time: 1_767_225_600_123_456,
  principal: "alice",
  authentication: "jwt",
  method: "/sluice.v1.ModelService/PromoteCanary",
  project: "default",
  resources: ["projects/default/deployments/churn"],
  requestDigest: "ab",
  peer: "ipv4:10.0.0.7:51234",
  outcome: "OK",
  detail: "",
  requestId: "req-7",
  previousHash: "11",
  hash: "22",
};

/** A reader over one stored record, which remembers the filter it was asked for. */
function reader(verdicts: AuditChainVerdict[] = []): AuditReader & { filters: AuditFilter[]; chains: Array<string | undefined> } {
  const filters: AuditFilter[] = [];
  const chains: Array<string | undefined> = [];
  return {
    filters,
    chains,
    async list(filter, page) {
      filters.push(filter);
      const query = auditPageQuery(filter, page);
      return auditPage(filter, query, [record]);
    },
    async verify(chainId) {
      chains.push(chainId);
      return verdicts;
    },
  };
}

/** Calls a unary handler as grpc-js would, and returns what it answered. */
function call<Req, Res>(
  handler: (call: never, callback: (error: Partial<ServiceError> | null, response?: Res) => void) => void,
  request: Req,
): Promise<{ error: Partial<ServiceError> | null; response?: Res }> {
  return new Promise((resolve) => {
    handler({ request, metadata: new Metadata() } as never, (error, response) => resolve({ error, response }));
  });
}

const env = { logger: pino({ level: "silent" }), calls: new InFlightCalls() };

describe("audit handlers", () => {
  it("serve ListAuditEvents: empty fields do not filter, times become microseconds, records become events", async () => {
    const audit = reader();
    const handlers = auditServiceHandlers(audit, env);
    const request = ListAuditEventsRequest.fromPartial({
      project: "default",
      outcome: "OK",
      startTime: { seconds: 1_767_225_600n, nanos: 5_000 },
      pageSize: 10,
    });
    const { error, response } = await call(handlers.listAuditEvents, request);
    expect(error).toBeNull();
    expect(audit.filters).toEqual([{ project: "default", outcome: "OK", startTime: 1_767_225_600_000_005 }]);
    expect(response?.nextPageToken).toBe("");
    expect(response?.events).toEqual([
      {
        ...record,
        sequence: 7n,
        time: { seconds: 1_767_225_600n, nanos: 123_456_000 },
      },
    ]);
  });

  it("answer a bad filter with INVALID_ARGUMENT and every field violation", async () => {
    const handlers = auditServiceHandlers(reader(), env);
    const request = ListAuditEventsRequest.fromPartial({
      outcome: "DENIED",
      startTime: { seconds: 20n, nanos: 0 },
      endTime: { seconds: 10n, nanos: 0 },
      pageSize: -5,
    });
    const { error } = await call(handlers.listAuditEvents, request);
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    const details = Status.decode(error?.metadata?.get("grpc-status-details-bin")[0] as Buffer).details;
    const badRequest = BadRequest.decode(details.find((d) => d.typeUrl.endsWith("BadRequest"))?.value ?? new Uint8Array());
    expect(badRequest.fieldViolations.map((v) => v.field)).toEqual(["page_size", "outcome", "start_time"]);
  });

  it("serve VerifyAuditChain: every chain for an empty id, intact only when every chain is", async () => {
    const audit = reader([
      { chainId: "a", records: 3, intact: true, firstBadSequence: 0, problem: "" },
      { chainId: "b", records: 9, intact: false, firstBadSequence: 4, problem: "broken link" },
    ]);
    const handlers = auditServiceHandlers(audit, env);
    const { response } = await call(handlers.verifyAuditChain, VerifyAuditChainRequest.fromPartial({}));
    expect(audit.chains).toEqual([undefined]);
    expect(response).toEqual({
      intact: false,
      chains: [
        { chainId: "a", records: 3n, intact: true, firstBadSequence: 0n, problem: "" },
        { chainId: "b", records: 9n, intact: false, firstBadSequence: 4n, problem: "broken link" },
      ],
    });
    await call(handlers.verifyAuditChain, VerifyAuditChainRequest.fromPartial({ chainId: "b" }));
    expect(audit.chains).toEqual([undefined, "b"]);
  });
});
