/**
 * Authentication and authorization end to end, on a real server with authentication on: every
 * RPC called by every role (the RPC × role matrix, against an expectation written here from the
 * role definitions, not from the server's table), API keys created, used and revoked, JWTs good
 * and bad, the rate limit, and the refusal to serve a non-loopback address unauthenticated.
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonValue } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { ErrorInfo, RetryInfo } from "../../src/gen/google/rpc/error_details.pb.js";
import { Status } from "../../src/gen/google/rpc/status.pb.js";
import { CreateApiKeyResponse, WhoAmIResponse } from "../../src/gen/sluice/v1/access.pb.js";
import { createLogger } from "../../src/logging/logger.js";
import { apiKeyHash } from "../../src/security/access-control.js";
import { startServer } from "../../src/server/sluice-server.js";
import { RawClient, type RawOutcome, servedMethods } from "../support/raw-grpc.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** Principals of the matrix: a role on project alpha each, an admin of another project, the server admin. */
const PRINCIPALS = {
  viewer: ["alpha:viewer"],
  writer: ["alpha:writer"],
  trainer: ["alpha:trainer"],
  deployer: ["alpha:deployer"],
  admin: ["alpha:admin"],
  betaAdmin: ["beta:admin"],
  serverAdmin: ["*:admin"],
} as const;
type Who = keyof typeof PRINCIPALS;
const keyOf = (who: string) => `sk_test_${who}_0123456789abcdef`;
const bearer = (who: string) => ({ authorization: `Bearer ${keyOf(who)}` });

/** One request per method, all acting on project alpha (or server-wide where the method is). */
const SAMPLES: Record<string, JsonValue> = {
  "/sluice.v1.RegistryService/CreateProject": { project: { name: "projects/gamma" } },
  "/sluice.v1.RegistryService/GetProject": { name: "projects/alpha" },
  "/sluice.v1.RegistryService/ListProjects": {},
  "/sluice.v1.RegistryService/ApplyEntity": { entity: { name: "projects/alpha/entities/user" }, validateOnly: true },
  "/sluice.v1.RegistryService/GetEntity": { name: "projects/alpha/entities/user" },
  "/sluice.v1.RegistryService/ListEntities": { parent: "projects/alpha" },
  "/sluice.v1.RegistryService/ApplyFeatureView": { featureView: { name: "projects/alpha/featureViews/v" }, validateOnly: true },
  "/sluice.v1.RegistryService/GetFeatureView": { name: "projects/alpha/featureViews/v" },
  "/sluice.v1.RegistryService/ListFeatureViews": { parent: "projects/alpha" },
  "/sluice.v1.RegistryService/ListFeatureViewVersions": { parent: "projects/alpha/featureViews/v" },
  "/sluice.v1.RegistryService/DeleteFeatureView": { name: "projects/alpha/featureViews/nothing" },
  "/sluice.v1.RegistryService/ApplyFeatureService": { featureService: { name: "projects/alpha/featureServices/s" }, validateOnly: true },
  "/sluice.v1.RegistryService/GetFeatureService": { name: "projects/alpha/featureServices/s" },
  "/sluice.v1.RegistryService/ListFeatureServices": { parent: "projects/alpha" },
  "/sluice.v1.RegistryService/ListFeatureServiceVersions": { parent: "projects/alpha/featureServices/s" },
  "/sluice.v1.RegistryService/ResolveFeatures": { project: "projects/alpha", features: ["v:f"] },
  "/sluice.v1.RegistryService/ApplyEventStream": { eventStream: { name: "projects/alpha/eventStreams/e" }, validateOnly: true },
  "/sluice.v1.RegistryService/GetEventStream": { name: "projects/alpha/eventStreams/e" },
  "/sluice.v1.RegistryService/ListEventStreams": { parent: "projects/alpha" },
  "/sluice.v1.RegistryService/ListEventStreamVersions": { parent: "projects/alpha/eventStreams/e" },
  "/sluice.v1.IngestionService/WriteFeatures": { project: "projects/alpha", featureView: "nothing" },
  "/sluice.v1.IngestionService/WriteFeatureBatch": { project: "projects/alpha", featureView: "nothing" },
  "/sluice.v1.IngestionService/ImportFeatures": { config: { project: "projects/alpha", featureView: "nothing" } },
  "/sluice.v1.IngestionService/Materialize": { project: "projects/alpha", featureView: "nothing" },
  "/sluice.v1.IngestionService/WriteEvents": { project: "projects/alpha", eventStream: "nothing" },
  "/sluice.v1.IngestionService/WriteEventBatch": { project: "projects/alpha", eventStream: "nothing" },
  "/sluice.v1.IngestionService/GetEventStreamStatus": { project: "projects/alpha", eventStream: "nothing" },
  "/sluice.v1.OnlineService/GetOnlineFeatures": { project: "projects/alpha", features: ["v:f"] },
  "/sluice.v1.TrainingService/GetHistoricalFeatures": { query: { project: "projects/alpha", features: ["v:f"] } },
  "/sluice.v1.TrainingService/CreateTrainingDataset": { trainingDataset: { name: "projects/alpha/trainingDatasets/d" } },
  "/sluice.v1.TrainingService/GetTrainingDataset": { name: "projects/alpha/trainingDatasets/d" },
  "/sluice.v1.TrainingService/ListTrainingDatasets": { parent: "projects/alpha" },
  "/sluice.v1.TrainingService/ReadTrainingDataset": { name: "projects/alpha/trainingDatasets/d/versions/1" },
  "/sluice.v1.ModelService/UploadModel": { header: { model: "projects/alpha/models/m" } },
  "/sluice.v1.ModelService/GetModel": { name: "projects/alpha/models/m" },
  "/sluice.v1.ModelService/ListModels": { parent: "projects/alpha" },
  "/sluice.v1.ModelService/GetModelVersion": { name: "projects/alpha/models/m/versions/1" },
  "/sluice.v1.ModelService/ListModelVersions": { parent: "projects/alpha/models/m" },
  "/sluice.v1.ModelService/ApplyDeployment": { deployment: { name: "projects/alpha/endpoints/e" } },
  "/sluice.v1.ModelService/GetDeployment": { name: "projects/alpha/endpoints/e" },
  "/sluice.v1.ModelService/ListDeployments": { parent: "projects/alpha" },
  "/sluice.v1.ModelService/ListDeploymentRevisions": { parent: "projects/alpha/endpoints/e" },
  "/sluice.v1.ModelService/PromoteCanary": { name: "projects/alpha/endpoints/e" },
  "/sluice.v1.ModelService/RollbackDeployment": { name: "projects/alpha/endpoints/e" },
  "/sluice.v1.ModelService/ApprovePromotion": { name: "projects/alpha/endpoints/e" },
  "/sluice.v1.ModelService/RejectPromotion": { name: "projects/alpha/endpoints/e" },
  "/sluice.v1.InferenceService/Predict": { endpoint: "projects/alpha/endpoints/e" },
  "/sluice.v1.LearningService/CreateLearner": { learner: { name: "projects/alpha/learners/l" } },
  "/sluice.v1.LearningService/GetLearner": { name: "projects/alpha/learners/l" },
  "/sluice.v1.LearningService/ListLearners": { parent: "projects/alpha" },
  "/sluice.v1.LearningService/WriteLabels": { learner: "projects/alpha/learners/l" },
  "/sluice.v1.LearningService/PublishLearner": { name: "projects/alpha/learners/l" },
  "/sluice.v1.LearningService/PauseLearner": { name: "projects/alpha/learners/l" },
  "/sluice.v1.LearningService/ResumeLearner": { name: "projects/alpha/learners/l" },
  "/sluice.v1.LearningService/RestoreLearner": { name: "projects/alpha/learners/l", modelVersion: "projects/alpha/models/l/versions/1" },
  "/sluice.v1.MonitoringService/GetFeatureStatistics": { project: "projects/alpha", featureView: "nothing" },
  "/sluice.v1.MonitoringService/GetDriftReport": { project: "projects/alpha" },
  "/sluice.v1.MonitoringService/GetDeploymentReport": { endpoint: "projects/alpha/endpoints/e" },
  "/sluice.v1.MonitoringService/CheckServedConsistency": { project: "projects/alpha", featureView: "nothing" },
  "/sluice.v1.AccessService/WhoAmI": {},
  "/sluice.v1.AccessService/CreateApiKey": { apiKey: { principal: "made-in-matrix", roles: [{ project: "alpha", role: "viewer" }] } },
  "/sluice.v1.AccessService/ListApiKeys": { project: "alpha" },
  "/sluice.v1.AccessService/RevokeApiKey": { id: "00000000000000aa" },
  "/sluice.v1.AccessService/GrantRole": { binding: { principal: "granted-in-matrix", role: { project: "alpha", role: "viewer" } } },
  "/sluice.v1.AccessService/RevokeRole": { binding: { principal: "nobody", role: { project: "alpha", role: "viewer" } } },
  "/sluice.v1.AccessService/ListRoleBindings": { project: "alpha" },
  "/sluice.v1.AccessService/ListAuditEvents": { project: "alpha" },
  "/sluice.v1.AccessService/VerifyAuditChain": {},
  "/inference.GRPCInferenceService/ServerLive": {},
  "/inference.GRPCInferenceService/ServerReady": {},
  "/inference.GRPCInferenceService/ServerMetadata": {},
  "/inference.GRPCInferenceService/ModelReady": { name: "projects/alpha/models/m" },
  "/inference.GRPCInferenceService/ModelMetadata": { name: "projects/alpha/models/m" },
  "/inference.GRPCInferenceService/ModelInfer": { modelName: "projects/alpha/models/m" },
  "/grpc.health.v1.Health/Check": {},
  "/grpc.health.v1.Health/List": {},
};
/** Never ends by itself; health is open to all, checked through Check and List. */
const NOT_IN_MATRIX = new Set(["/grpc.health.v1.Health/Watch"]);

/**
 * Who may call what, written from the role definitions (docs/security.md), independently of the
 * server's table: "open" needs nothing, "any" any authenticated caller, otherwise the lowest role
 * on project alpha that may, or "server" for the server admin only.
 */
function expectedAccess(path: string): "open" | "any" | "viewer" | "writer" | "trainer" | "deployer" | "admin" | "server" {
  const method = path.slice(path.lastIndexOf("/") + 1);
  if (path.startsWith("/grpc.health.") || ["ServerLive", "ServerReady", "ServerMetadata"].includes(method)) return "open";
  if (["WhoAmI", "ListProjects"].includes(method)) return "any";
  if (["CreateProject", "VerifyAuditChain", "RevokeApiKey"].includes(method)) return "server"; // the sample key exists nowhere
  if (path.includes("AccessService/")) return "admin";
  if (/RegistryService\/(Apply|Delete)/.test(path)) return "admin";
  if (/IngestionService\/(Write|Import|Materialize)/.test(path)) return "writer";
  if (path.includes("TrainingService/")) return "trainer";
  if (/ModelService\/(Upload|ApplyDeployment|Promote|Rollback|Approve|Reject)/.test(path)) return "deployer";
  if (/LearningService\/(CreateLearner|PauseLearner|ResumeLearner)/.test(path)) return "trainer";
  if (path.endsWith("LearningService/WriteLabels")) return "writer";
  if (/LearningService\/(PublishLearner|RestoreLearner)/.test(path)) return "deployer";
  return "viewer";
}

function allowed(who: Who, access: ReturnType<typeof expectedAccess>): boolean {
  if (access === "open" || access === "any" || who === "serverAdmin") return true;
  if (access === "server" || who === "betaAdmin") return false;
  if (who === "admin" || access === "viewer") return true;
  return who === access;
}

function errorInfo(outcome: RawOutcome): ErrorInfo | undefined {
  const details = outcome.trailers.get("grpc-status-details-bin")[0];
  if (!details) return undefined;
  const any = Status.decode(details as Buffer).details.find((d) => d.typeUrl.endsWith("google.rpc.ErrorInfo"));
  return any ? ErrorInfo.decode(any.value) : undefined;
}

describe("authentication and authorization", () => {
  let test: TestServer;
  let raw: RawClient;
  let jwks: { file: string; sign: (claims: Record<string, unknown>, options?: { alg?: string; key?: SigningKey }) => Promise<string> };

  beforeAll(async () => {
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const es = await generateKeyPair("ES256", { extractable: true });
    const jwk = async (key: SigningKey, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(key)), kid, alg, use: "sig" });
    const file = join(tmpdir(), `sluice-jwks-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify({ keys: [await jwk(rsa.publicKey, "rsa1", "RS256"), await jwk(es.publicKey, "es1", "ES256")] }));
    jwks = {
      file,
      sign: async (claims, options = {}) => {
        const alg = options.alg ?? "RS256";
        const key = options.key ?? (alg === "ES256" ? es.privateKey : rsa.privateKey);
        return new SignJWT(claims).setProtectedHeader({ alg, kid: alg === "ES256" ? "es1" : "rsa1" }).sign(key);
      },
    };
    test = await startTestServer({
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        openReflection: false,
        apiKeys: Object.entries(PRINCIPALS).map(([who, roles]) => ({ principal: who, sha256: apiKeyHash(keyOf(who)), roles: [...roles] })),
        bindings: [
          { principal: "carol", roles: ["alpha:trainer"] },
          { principal: "root-by-certificate", roles: ["*:admin"] },
        ],
        jwt: { ...DEFAULT_CONFIG.auth.jwt, jwksFile: file, issuer: "https://idp.example", audience: "sluice" },
      },
    });
    raw = new RawClient(test.server.address);
    for (const project of ["alpha", "beta"])
      expect(
        (
          await raw.call(
            "/sluice.v1.RegistryService/CreateProject",
            [raw.encode("/sluice.v1.RegistryService/CreateProject", { project: { name: `projects/${project}` } })],
            bearer("serverAdmin"),
          )
        ).code,
      ).toBe(status.OK);
  });

  afterAll(async () => {
    raw?.close();
    await test?.stop();
  });

  const call = (path: string, headers: Record<string, string>) => raw.call(path, [raw.encode(path, SAMPLES[path] as JsonValue)], headers);

  it("has a sample request for every served method", () => {
    const missing = [...servedMethods().keys()].filter(
      (path) => !(path in SAMPLES) && !NOT_IN_MATRIX.has(path) && !path.includes("Reflection"),
    );
    expect(missing).toEqual([]);
  });

  it("lets each role call exactly the methods its definition allows (the RPC × role matrix)", async () => {
    const wrong: string[] = [];
    for (const path of Object.keys(SAMPLES)) {
      const access = expectedAccess(path);
      for (const who of Object.keys(PRINCIPALS) as Who[]) {
        const outcome = await call(path, bearer(who));
        const denied = outcome.code === status.PERMISSION_DENIED && errorInfo(outcome)?.reason === "PERMISSION_DENIED";
        if (outcome.code === status.UNAUTHENTICATED || outcome.code === status.INTERNAL || denied === allowed(who, access))
          wrong.push(`${who} ${path}: ${status[outcome.code]} ${outcome.details}`);
      }
      if (access !== "open") {
        const anonymous = await call(path, {});
        if (anonymous.code !== status.UNAUTHENTICATED) wrong.push(`no credentials ${path}: ${status[anonymous.code]}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it("names the missing permission in an ErrorInfo, and answers the same whether or not the resource exists", async () => {
    const path = "/sluice.v1.RegistryService/GetProject";
    const existing = await raw.call(path, [raw.encode(path, { name: "projects/alpha" })], bearer("betaAdmin"));
    const missing = await raw.call(path, [raw.encode(path, { name: "projects/nosuch" })], bearer("betaAdmin"));
    expect(existing.code).toBe(status.PERMISSION_DENIED);
    expect(errorInfo(existing)?.metadata).toMatchObject({ permission: "registry.read", project: "alpha" });
    expect(missing.code).toBe(status.PERMISSION_DENIED);
    expect(missing.details.replace("nosuch", "alpha")).toBe(existing.details);
  });

  it("checks every message of a write stream: a second batch for another project ends the stream", async () => {
    const path = "/sluice.v1.IngestionService/WriteFeatures";
    const outcome = await raw.call(
      path,
      [
        raw.encode(path, { project: "projects/alpha", featureView: "nothing" }),
        raw.encode(path, { project: "projects/beta", featureView: "nothing" }),
      ],
      bearer("writer"),
    );
    expect([status.PERMISSION_DENIED, status.NOT_FOUND]).toContain(outcome.code);
    if (outcome.code === status.PERMISSION_DENIED) expect(errorInfo(outcome)?.metadata.project).toBe("beta");
  });

  it("shows a caller only the projects it holds a role on", async () => {
    const path = "/sluice.v1.RegistryService/ListProjects";
    const names = async (who: string) => {
      const outcome = await call(path, bearer(who));
      expect(outcome.code).toBe(status.OK);
      return outcome.responses[0]?.toString("latin1") ?? "";
    };
    expect(await names("betaAdmin")).toContain("projects/beta");
    expect(await names("betaAdmin")).not.toContain("projects/alpha");
    expect(await names("serverAdmin")).toContain("projects/alpha");
  });

  it("creates a key that works at once, shows its secret once, and revokes it on the spot", async () => {
    const create = "/sluice.v1.AccessService/CreateApiKey";
    const created = await raw.call(
      create,
      [raw.encode(create, { apiKey: { principal: "ci-bot", roles: [{ project: "alpha", role: "writer" }] } })],
      bearer("admin"),
    );
    expect(created.code).toBe(status.OK);
    const response = CreateApiKeyResponse.decode(created.responses[0] as Buffer);
    expect(response.secret).toMatch(/^sk_/);
    expect(response.apiKey?.createdBy).toBe("admin");
    const whoAmI = "/sluice.v1.AccessService/WhoAmI";
    const asBot = await raw.call(whoAmI, [raw.encode(whoAmI, {})], { "x-api-key": response.secret });
    expect(WhoAmIResponse.decode(asBot.responses[0] as Buffer)).toMatchObject({ principal: "ci-bot", authentication: "api_key" });

    const list = "/sluice.v1.AccessService/ListApiKeys";
    const listed = await raw.call(list, [raw.encode(list, { project: "alpha" })], bearer("admin"));
    expect(listed.responses[0]?.toString("latin1")).not.toContain(response.secret);

    // An admin of another project may not revoke it, and learns nothing about it.
    const revoke = "/sluice.v1.AccessService/RevokeApiKey";
    const id = response.apiKey?.id as string;
    expect((await raw.call(revoke, [raw.encode(revoke, { id })], bearer("betaAdmin"))).code).toBe(status.PERMISSION_DENIED);
    expect((await raw.call(revoke, [raw.encode(revoke, { id })], bearer("admin"))).code).toBe(status.OK);
    const after = await raw.call(whoAmI, [raw.encode(whoAmI, {})], { "x-api-key": response.secret });
    expect(after.code).toBe(status.UNAUTHENTICATED);
    expect(after.details).toContain("revoked");
  });

  it("gives a key only its own roles: a project admin cannot mint a key that inherits a name's bindings", async () => {
    const create = "/sluice.v1.AccessService/CreateApiKey";
    const created = await raw.call(
      create,
      [raw.encode(create, { apiKey: { principal: "root-by-certificate", roles: [{ project: "alpha", role: "viewer" }] } })],
      bearer("admin"),
    );
    expect(created.code, created.details).toBe(status.OK);
    const { secret } = CreateApiKeyResponse.decode(created.responses[0] as Buffer);
    const whoAmI = "/sluice.v1.AccessService/WhoAmI";
    const asKey = await raw.call(whoAmI, [raw.encode(whoAmI, {})], { "x-api-key": secret });
    expect(WhoAmIResponse.decode(asKey.responses[0] as Buffer).roles).toEqual([{ project: "alpha", role: "viewer" }]);
    const createProject = "/sluice.v1.RegistryService/CreateProject";
    const escalation = await raw.call(createProject, [raw.encode(createProject, { project: { name: "projects/stolen" } })], {
      "x-api-key": secret,
    });
    expect(escalation.code).toBe(status.PERMISSION_DENIED);
  });

  it("refuses unknown keys and malformed authorization headers", async () => {
    const whoAmI = "/sluice.v1.AccessService/WhoAmI";
    const attempts: Array<Record<string, string>> = [
      { authorization: "Bearer sk_unknown" },
      { "x-api-key": "sk_nope" },
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: "Bearer" },
    ];
    for (const headers of attempts) {
      const outcome = await raw.call(whoAmI, [raw.encode(whoAmI, {})], headers);
      expect(outcome.code, JSON.stringify(headers)).toBe(status.UNAUTHENTICATED);
    }
  });

  describe("JWTs", () => {
    const whoAmI = "/sluice.v1.AccessService/WhoAmI";
    const now = () => Math.floor(Date.now() / 1000);
    const good = () => ({ sub: "dana", iss: "https://idp.example", aud: "sluice", exp: now() + 600, sluice_roles: ["alpha:viewer"] });
    const ask = async (token: string) => raw.call(whoAmI, [raw.encode(whoAmI, {})], { authorization: `Bearer ${token}` });

    it("accepts RS256 and ES256 tokens from the configured issuer, mapping claims and bindings to roles", async () => {
      for (const alg of ["RS256", "ES256"]) {
        const outcome = await ask(await jwks.sign(good(), { alg }));
        expect(outcome.code, alg).toBe(status.OK);
        expect(WhoAmIResponse.decode(outcome.responses[0] as Buffer)).toMatchObject({
          principal: "dana",
          authentication: "jwt",
          roles: [{ project: "alpha", role: "viewer" }],
        });
      }
      const carol = await ask(await jwks.sign({ ...good(), sub: "carol", sluice_roles: [] }));
      expect(WhoAmIResponse.decode(carol.responses[0] as Buffer).roles).toEqual([{ project: "alpha", role: "trainer" }]);
    });

    it("refuses expired, not-yet-valid, wrong-audience, wrong-issuer, subject-less, unsigned and re-signed tokens", async () => {
      const other = await generateKeyPair("RS256");
      const payload = Buffer.from(JSON.stringify(good())).toString("base64url");
      const cases: Record<string, string> = {
        expired: await jwks.sign({ ...good(), exp: now() - 3600 }),
        "not yet valid": await jwks.sign({ ...good(), nbf: now() + 3600 }),
        "wrong audience": await jwks.sign({ ...good(), aud: "someone-else" }),
        "wrong issuer": await jwks.sign({ ...good(), iss: "https://evil.example" }),
        "no subject": await jwks.sign({ ...good(), sub: undefined }),
        "alg none": `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`,
        "re-signed by another key under the same kid": await jwks.sign(good(), { key: other.privateKey }),
        "payload swapped after signing": (await jwks.sign(good())).replace(
          /\.[^.]+\./,
          `.${Buffer.from(JSON.stringify({ ...good(), sluice_roles: ["*:admin"] })).toString("base64url")}.`,
        ),
        garbage: "not.a.jwt",
      };
      for (const [name, token] of Object.entries(cases)) {
        const outcome = await ask(token);
        expect(outcome.code, name).toBe(status.UNAUTHENTICATED);
      }
    });
  });
});

describe("the rate limit", () => {
  it("limits a flooding principal with RESOURCE_EXHAUSTED and a RetryInfo while another still gets through", async () => {
    const test = await startTestServer({
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        apiKeys: ["flooder", "quiet"].map((who) => ({ principal: who, sha256: apiKeyHash(keyOf(who)), roles: ["default:viewer"] })),
        rateLimitPerSecond: 5,
        rateLimitBurst: 5,
      },
    });
    const raw = new RawClient(test.server.address);
    try {
      const path = "/sluice.v1.RegistryService/GetProject";
      const request = raw.encode(path, { name: "projects/default" });
      const flood = await Promise.all(Array.from({ length: 60 }, () => raw.call(path, [request], bearer("flooder"))));
      const limited = flood.filter((outcome) => outcome.code === status.RESOURCE_EXHAUSTED);
      expect(limited.length).toBeGreaterThan(40);
      const details = Status.decode(limited[0]?.trailers.get("grpc-status-details-bin")[0] as Buffer).details;
      const retry = details.find((d) => d.typeUrl.endsWith("google.rpc.RetryInfo"));
      expect(retry && RetryInfo.decode(retry.value).retryDelay).toBeDefined();
      expect((await raw.call(path, [request], bearer("quiet"))).code).toBe(status.OK);
    } finally {
      raw.close();
      await test.stop();
    }
  });
});

describe("a refused stream", () => {
  it("stops the handler it had started: nothing is left in flight to hold up a graceful shutdown", async () => {
    const test = await startTestServer({
      grpc: { ...DEFAULT_CONFIG.grpc, shutdownGraceMs: 60_000 },
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        apiKeys: [{ principal: "viewer", sha256: apiKeyHash(keyOf("viewer")), roles: ["default:viewer"] }],
      },
    });
    const raw = new RawClient(test.server.address);
    try {
      for (const [path, request] of [
        ["/sluice.v1.IngestionService/WriteFeatures", { project: "projects/default", featureView: "v" }],
        ["/sluice.v1.IngestionService/WriteEvents", { project: "projects/default", eventStream: "e" }],
        ["/sluice.v1.ModelService/UploadModel", { header: { model: "projects/default/models/m" } }],
        ["/sluice.v1.IngestionService/ImportFeatures", { config: { project: "projects/default", featureView: "v" } }],
      ] as const) {
        const outcome = await raw.call(path, [raw.encode(path, request)], bearer("viewer"));
        expect(status[outcome.code], path).toBe("PERMISSION_DENIED");
      }
    } finally {
      raw.close();
    }
    // Handlers still waiting for messages would hold the shutdown for its whole 60 s grace period.
    const started = performance.now();
    await test.stop();
    expect(performance.now() - started).toBeLessThan(30_000);
  }, 90_000);
});

describe("JWTs verified against a JWKS URL", () => {
  it("fetches the identity provider's keys over HTTP and verifies tokens with them", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "remote", alg: "ES256", use: "sig" }] });
    let fetched = 0;
    const idp = createServer((_request, response) => {
      fetched++;
      response.writeHead(200, { "content-type": "application/json" }).end(jwks);
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const test = await startTestServer({
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        jwt: { ...DEFAULT_CONFIG.auth.jwt, jwksUrl: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json` },
      },
    });
    const raw = new RawClient(test.server.address);
    try {
      const token = await new SignJWT({ sluice_roles: ["default:viewer"] })
        .setProtectedHeader({ alg: "ES256", kid: "remote" })
        .setSubject("erin")
        .setExpirationTime("10m")
        .sign(privateKey);
      const whoAmI = "/sluice.v1.AccessService/WhoAmI";
      for (let i = 0; i < 3; i++) {
        const outcome = await raw.call(whoAmI, [raw.encode(whoAmI, {})], { authorization: `Bearer ${token}` });
        expect(outcome.code, outcome.details).toBe(status.OK);
        expect(WhoAmIResponse.decode(outcome.responses[0] as Buffer).principal).toBe("erin");
      }
      // Verified once, then served from the cache: the key set was fetched once.
      expect(fetched).toBe(1);
    } finally {
      raw.close();
      await test.stop();
      idp.close();
    }
  });
});

describe("the metrics endpoint with auth.openMetrics off", () => {
  it("answers 401 without credentials and serves an authenticated scraper", async () => {
    const test = await startTestServer({
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        openMetrics: false,
        apiKeys: [{ principal: "prometheus", sha256: apiKeyHash(keyOf("prometheus")), roles: ["default:viewer"] }],
      },
    });
    try {
      const url = `http://127.0.0.1:${test.server.metricsPort}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: "Bearer sk_wrong" } })).status).toBe(401);
      const scrape = await fetch(url, { headers: { authorization: `Bearer ${keyOf("prometheus")}` } });
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain("sluice_rate_limited_calls_total");
    } finally {
      await test.stop();
    }
  });
});

describe("starting without authentication", () => {
  it("refuses a non-loopback address unless told to accept the risk", async () => {
    const config = {
      ...DEFAULT_CONFIG,
      listen: "0.0.0.0:0",
      logLevel: "silent" as const,
      dataDir: join(tmpdir(), `sluice-noauth-${Date.now()}`),
    };
    await expect(startServer(config, createLogger("silent"))).rejects.toThrow(/without authentication/);
    const server = await startServer({ ...config, auth: { ...config.auth, allowUnauthenticatedRemote: true } }, createLogger("silent"));
    await server.shutdown();
  });
});
