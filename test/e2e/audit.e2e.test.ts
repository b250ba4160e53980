/**
 * The audit trail end to end: every mutating call of this run appears exactly once with the
 * principal who made it, every denied call appears, reads do not; the request digest is the
 * SHA-256 of the request's bytes; the chain verifies, and a record changed behind the server's
 * back is found by VerifyAuditChain after a restart.
 */
import { createHash, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { JsonValue } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { Session } from "chdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, type SluiceConfig } from "../../src/config/config.js";
import { type AuditEvent, ListAuditEventsResponse, VerifyAuditChainResponse } from "../../src/gen/sluice/v1/access.pb.js";
import { apiKeyHash } from "../../src/security/access-control.js";
import { RawClient } from "../support/raw-grpc.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const keyOf = (who: string) => `sk_audit_${who}_0123456789abcdef`;
const AUTH: SluiceConfig["auth"] = {
  ...DEFAULT_CONFIG.auth,
  enabled: true,
  apiKeys: [
    { principal: "root", sha256: apiKeyHash(keyOf("root")), roles: ["*:admin"] },
    { principal: "wendy", sha256: apiKeyHash(keyOf("wendy")), roles: ["default:writer"] },
    { principal: "vic", sha256: apiKeyHash(keyOf("vic")), roles: ["default:viewer"] },
  ],
};

describe("the audit trail", () => {
  let test: TestServer;
  let raw: RawClient;
  /** request id -> what the trail must say about it ("absent" for reads). */
  const expected = new Map<string, { principal: string; method: string; outcome: string } | "absent">();
  let digestOf: { requestId: string; digest: string };

  const call = async (who: string | undefined, path: string, requests: JsonValue[], audited: boolean) => {
    const requestId = randomUUID();
    const headers: Record<string, string> = { "x-request-id": requestId };
    if (who) headers.authorization = `Bearer ${keyOf(who)}`;
    const encoded = requests.map((request) => raw.encode(path, request));
    const outcome = await raw.call(path, encoded, headers);
    expected.set(requestId, audited ? { principal: who ?? "", method: path, outcome: status[outcome.code] as string } : "absent");
    return { outcome, requestId, encoded };
  };

  const listAll = async (): Promise<AuditEvent[]> => {
    const path = "/sluice.v1.AccessService/ListAuditEvents";
    const events: AuditEvent[] = [];
    let pageToken = "";
    do {
      const { responses, code, details } = await raw.call(path, [raw.encode(path, { pageSize: 50, pageToken })], {
        authorization: `Bearer ${keyOf("root")}`,
      });
      expect(code, details).toBe(status.OK);
      const page = ListAuditEventsResponse.decode(responses[0] as Buffer);
      events.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return events;
  };

  const verify = async () => {
    const path = "/sluice.v1.AccessService/VerifyAuditChain";
    const { responses, code, details } = await raw.call(path, [raw.encode(path, {})], { authorization: `Bearer ${keyOf("root")}` });
    expect(code, details).toBe(status.OK);
    return VerifyAuditChainResponse.decode(responses[0] as Buffer);
  };

  beforeAll(async () => {
    test = await startTestServer({ auth: AUTH, audit: { enabled: true, chainId: "e2e" } });
    raw = new RawClient(test.server.address);
    await call(
      "root",
      "/sluice.v1.RegistryService/ApplyEntity",
      [{ entity: { name: "projects/default/entities/user", joinKeys: [{ name: "user_id", type: "VALUE_TYPE_INT64" }] } }],
      true,
    );
    await call(
      "root",
      "/sluice.v1.RegistryService/ApplyFeatureView",
      [
        {
          featureView: {
            name: "projects/default/featureViews/clicks",
            entity: "user",
            features: [{ name: "n", type: "VALUE_TYPE_INT64" }],
          },
        },
      ],
      true,
    );
    const batch = {
      project: "projects/default",
      featureView: "clicks",
      rows: [{ entityKey: { user_id: { int64Value: "1" } }, eventTime: "2026-01-01T00:00:00Z", features: { n: { int64Value: "3" } } }],
    };
    const written = await call("wendy", "/sluice.v1.IngestionService/WriteFeatureBatch", [batch], true);
    expect(written.outcome.code, written.outcome.details).toBe(status.OK);
    digestOf = {
      requestId: written.requestId,
      digest: createHash("sha256")
        .update(written.encoded[0] as Buffer)
        .digest("hex"),
    };
    await call("wendy", "/sluice.v1.IngestionService/WriteFeatures", [batch, batch], true);
    await call("wendy", "/sluice.v1.IngestionService/WriteFeatureBatch", [{ ...batch, featureView: "nothing" }], true); // NOT_FOUND, still audited
    await call("vic", "/sluice.v1.IngestionService/WriteFeatureBatch", [batch], true); // denied
    await call("vic", "/sluice.v1.RegistryService/GetFeatureView", [{ name: "projects/default/featureViews/clicks" }], false); // a read
    await call(
      "wendy",
      "/sluice.v1.OnlineService/GetOnlineFeatures",
      [{ project: "projects/default", features: ["clicks:n"], entities: { user_id: { values: [{ int64Value: "1" }] } } }],
      false,
    );
    await call(undefined, "/sluice.v1.RegistryService/DeleteFeatureView", [{ name: "projects/default/featureViews/clicks" }], true); // unauthenticated
    await call(
      "root",
      "/sluice.v1.AccessService/CreateApiKey",
      [{ apiKey: { principal: "bot", roles: [{ project: "default", role: "viewer" }] } }],
      true,
    );
  }, 60_000);

  afterAll(async () => {
    raw?.close();
    await test?.stop();
  });

  it("holds every mutating and every denied call exactly once, with its principal, method and outcome, and no reads", async () => {
    const events = await listAll();
    for (const [requestId, want] of expected) {
      const found = events.filter((event) => event.requestId === requestId);
      if (want === "absent") expect(found, requestId).toHaveLength(0);
      else {
        expect(found, `${want.method} by ${want.principal}`).toHaveLength(1);
        expect(found[0]).toMatchObject({ principal: want.principal, method: want.method, outcome: want.outcome, chainId: "e2e" });
      }
    }
    const denied = events.find((event) => event.outcome === "PERMISSION_DENIED");
    expect(denied).toMatchObject({ principal: "vic", authentication: "api_key", project: "default" });
    expect(events.find((event) => event.outcome === "UNAUTHENTICATED")?.principal).toBe("");
    expect(events.filter((event) => !/127\.0\.0\.1:\d+$/.test(event.peer)).map((event) => event.peer)).toEqual([]);
  });

  it("records the SHA-256 of the request's wire bytes as its digest", async () => {
    const event = (await listAll()).find((e) => e.requestId === digestOf.requestId);
    expect(event?.requestDigest).toBe(digestOf.digest);
    expect(event?.resources).toEqual(["clicks"]);
  });

  it("lets a project admin see only the project's events, and refuses the whole trail to anyone but a server admin", async () => {
    const path = "/sluice.v1.AccessService/ListAuditEvents";
    const asWriter = await raw.call(path, [raw.encode(path, { project: "default" })], { authorization: `Bearer ${keyOf("wendy")}` });
    expect(asWriter.code).toBe(status.PERMISSION_DENIED);
    const everything = await raw.call(path, [raw.encode(path, {})], { authorization: `Bearer ${keyOf("wendy")}` });
    expect(everything.code).toBe(status.PERMISSION_DENIED);
  });

  it("verifies the chain, and finds a record changed behind the server's back after a restart", async () => {
    expect((await verify()).intact).toBe(true);
    const { config } = test;
    raw.close();
    await test.stop();
    const session = new Session(join(config.dataDir, "offline"));
    try {
      session.query(
        "ALTER TABLE sluice.audit_events UPDATE principal = 'someone-else' WHERE chain_id = 'e2e' AND sequence = 3 SETTINGS mutations_sync = 2",
      );
    } finally {
      session.close();
    }
    test = await startTestServer({ ...config, auth: AUTH });
    raw = new RawClient(test.server.address);
    const verdict = await verify();
    expect(verdict.intact).toBe(false);
    expect(verdict.chains.find((chain) => chain.chainId === "e2e")).toMatchObject({ intact: false, firstBadSequence: 3n });
  }, 60_000);
});
