/**
 * Governance end to end: the two-person rule for promoting a canary to stable, and who did what,
 * on a real server with authentication on and API keys for two deployers and a viewer; and what
 * the same calls do with authentication off.
 */
import { createHash } from "node:crypto";
import type { ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toClientError } from "../../clients/typescript/src/errors.js";
import { SluiceClient, type SluiceClientError } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { Deployment, type ModelServiceClient } from "../../src/gen/sluice/v1/model.pb.js";
import { logisticRegressionModel } from "../support/onnx-models.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const KEYS = { alice: "sk_alice_0123456789abcdef", bob: "sk_bob_0123456789abcdef", vera: "sk_vera_0123456789abcdef" };
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const ENDPOINT = "projects/default/endpoints/churn";
const version = (n: number) => `projects/default/models/churn/versions/${n}`;

/** A unary call of the generated ModelService stub, as a promise rejecting with the decoded error. */
function call<Req, Res>(client: SluiceClient, method: keyof ModelServiceClient, request: Req): Promise<Res> {
  type Unary = (request: Req, callback: (error: ServiceError | null, response: Res) => void) => unknown;
  const stub = client.models[method] as unknown as Unary;
  return new Promise((resolve, reject) =>
    stub.call(client.models, request, (error, response) => (error ? reject(toClientError(error)) : resolve(response))),
  );
}

async function refusal(promise: Promise<unknown>): Promise<SluiceClientError> {
  const error = await promise.then(
    () => expect.unreachable("the call should have failed"),
    (e: unknown) => e,
  );
  return error as SluiceClientError;
}

type DeploymentResponse = { deployment: Deployment };

function apply(client: SluiceClient, deployment: Partial<Deployment>, actor = "", reason = ""): Promise<DeploymentResponse> {
  return call(client, "applyDeployment", { deployment: Deployment.fromPartial({ name: ENDPOINT, ...deployment }), actor, reason });
}

const uploadVersion = (client: SluiceClient, weight: number) =>
  client.uploadModel({
    model: "churn",
    file: logisticRegressionModel({ weights: [weight], bias: 0 }),
    bindings: [{ input: "features", request: "x" }],
  });

describe("with authentication on", () => {
  let t: TestServer;
  const clients: Record<keyof typeof KEYS, SluiceClient> = {} as never;

  beforeAll(async () => {
    t = await startTestServer({
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        apiKeys: [
          { principal: "alice", sha256: sha256(KEYS.alice), roles: ["default:deployer"] },
          { principal: "bob", sha256: sha256(KEYS.bob), roles: ["default:deployer"] },
          { principal: "vera", sha256: sha256(KEYS.vera), roles: ["default:viewer"] },
        ],
      },
    });
    for (const [name, apiKey] of Object.entries(KEYS))
      clients[name as keyof typeof KEYS] = await SluiceClient.connect({ address: t.server.address, apiKey, deadlineMs: 10_000 });
    await uploadVersion(clients.alice, 1);
    await uploadVersion(clients.bob, 2);
    await uploadVersion(clients.alice, 3);
  }, 60_000);

  afterAll(async () => {
    for (const client of Object.values(clients)) client.close();
    await t?.stop();
  });

  it("records who uploaded each version, as authenticated", async () => {
    const { modelVersions } = await call<object, { modelVersions: Array<{ version: number; uploadedBy: string }> }>(
      clients.vera,
      "listModelVersions",
      { parent: "projects/default/models/churn", pageSize: 10, pageToken: "" },
    );
    expect(modelVersions.map((v) => [v.version, v.uploadedBy])).toEqual([
      [3, "alice"],
      [2, "bob"],
      [1, "alice"],
    ]);
  });

  it("records the principal, not the actor a client claims", async () => {
    const { deployment } = await apply(
      clients.alice,
      { stableVersion: version(1), canary: { modelVersion: version(2), trafficPercent: 20 }, requirePromotionApproval: true },
      "mallory",
      "try v2",
    );
    expect([deployment.updatedBy, deployment.requirePromotionApproval, deployment.revision]).toEqual(["alice", true, 1n]);
  });

  it("holds a promotion until a second deployer approves it, and records both", async () => {
    const requested = await call<object, DeploymentResponse & { pendingPromotion?: Record<string, unknown> }>(
      clients.alice,
      "promoteCanary",
      {
        name: ENDPOINT,
        actor: "bob",
        reason: "v2 looks good",
      },
    );
    expect(requested.pendingPromotion).toMatchObject({
      canaryVersion: version(2),
      requestedBy: "alice",
      reason: "v2 looks good",
      revision: 1n,
    });
    expect([requested.deployment.stableVersion, requested.deployment.revision]).toEqual([version(1), 1n]);
    const seen = (await call<object, DeploymentResponse>(clients.vera, "getDeployment", { name: ENDPOINT })).deployment;
    expect(seen.pendingPromotion?.requestedBy).toBe("alice");

    const self = await refusal(call(clients.alice, "approvePromotion", { name: ENDPOINT, reason: "me too", canaryVersion: "" }));
    expect([self.codeName, self.reason]).toEqual(["PERMISSION_DENIED", "SELF_APPROVAL"]);
    const viewer = await refusal(call(clients.vera, "approvePromotion", { name: ENDPOINT, reason: "", canaryVersion: "" }));
    expect(viewer.codeName).toBe("PERMISSION_DENIED");
    expect(viewer.reason).not.toBe("SELF_APPROVAL");
    const stale = await refusal(call(clients.bob, "approvePromotion", { name: ENDPOINT, reason: "", canaryVersion: version(3) }));
    expect([stale.codeName, stale.reason]).toEqual(["FAILED_PRECONDITION", "PENDING_PROMOTION_MISMATCH"]);

    const approved = (
      await call<object, DeploymentResponse>(clients.bob, "approvePromotion", {
        name: ENDPOINT,
        reason: "report checked",
        canaryVersion: version(2),
      })
    ).deployment;
    expect([approved.stableVersion, approved.previousStableVersion, approved.canary, approved.pendingPromotion]).toEqual([
      version(2),
      version(1),
      undefined,
      undefined,
    ]);
    expect([approved.updatedBy, approved.changeReason, approved.approvedPromotion?.requestedBy]).toEqual([
      "bob",
      "report checked",
      "alice",
    ]);

    const history = [];
    for await (const revision of clients.vera.listDeploymentRevisions("churn"))
      history.push([revision.revision, revision.updatedBy, revision.changeReason, revision.approvedPromotion?.requestedBy ?? ""]);
    expect(history).toEqual([
      [2n, "bob", "report checked", "alice"],
      [1n, "alice", "try v2", ""],
    ]);
  });

  it("refuses to change stable by ApplyDeployment while approval is required", async () => {
    const direct = await refusal(apply(clients.alice, { stableVersion: version(3), requirePromotionApproval: true }));
    expect([direct.codeName, direct.reason]).toEqual(["FAILED_PRECONDITION", "PROMOTION_APPROVAL_REQUIRED"]);
    const offAtOnce = await refusal(apply(clients.alice, { stableVersion: version(3), requirePromotionApproval: false }));
    expect(offAtOnce.reason).toBe("PROMOTION_APPROVAL_REQUIRED");
  });

  it("lets anyone who may deploy reject or cancel a pending promotion, and drops it on rollback", async () => {
    const canary = { modelVersion: version(3), trafficPercent: 10 };
    await apply(clients.alice, { stableVersion: version(2), canary, requirePromotionApproval: true });
    await call(clients.bob, "promoteCanary", { name: ENDPOINT, actor: "", reason: "v3" });
    const rejected = (
      await call<object, DeploymentResponse>(clients.bob, "rejectPromotion", { name: ENDPOINT, reason: "oops", canaryVersion: "" })
    ).deployment;
    expect([rejected.pendingPromotion, rejected.canary?.modelVersion, rejected.revision]).toEqual([undefined, version(3), 3n]);
    const none = await refusal(call(clients.alice, "approvePromotion", { name: ENDPOINT, reason: "", canaryVersion: "" }));
    expect([none.codeName, none.reason]).toEqual(["FAILED_PRECONDITION", "NO_PENDING_PROMOTION"]);

    await call(clients.bob, "promoteCanary", { name: ENDPOINT, actor: "", reason: "v3 again" });
    const rolledBack = (
      await call<object, DeploymentResponse>(clients.alice, "rollbackDeployment", { name: ENDPOINT, actor: "", reason: "complaints" })
    ).deployment;
    expect([rolledBack.stableVersion, rolledBack.canary, rolledBack.pendingPromotion, rolledBack.updatedBy]).toEqual([
      version(1),
      undefined,
      undefined,
      "alice",
    ]);
  });
});

describe("with authentication off", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
    await uploadVersion(t.client, 1);
    await uploadVersion(t.client, 2);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it("records the claimed actor, else anonymous, as before", async () => {
    expect((await t.client.getModelVersion("churn@1")).uploadedBy).toBe("anonymous");
    const claimed = await apply(t.client, { stableVersion: version(1), canary: { modelVersion: version(2), trafficPercent: 20 } }, "bob");
    expect(claimed.deployment.updatedBy).toBe("bob");
    const unnamed = await apply(t.client, {
      stableVersion: version(1),
      canary: { modelVersion: version(2), trafficPercent: 30 },
      requirePromotionApproval: true,
    });
    expect(unnamed.deployment.updatedBy).toBe("anonymous");
  });

  it("refuses a promotion that needs approval, since nobody can be a second principal", async () => {
    const refused = await refusal(call(t.client, "promoteCanary", { name: ENDPOINT, actor: "alice", reason: "" }));
    expect([refused.codeName, refused.reason]).toEqual(["FAILED_PRECONDITION", "APPROVAL_REQUIRES_AUTHENTICATION"]);
    expect(refused.message).toContain("authentication is off");
    // Turning approval off is the way out, and then the promotion happens at once.
    await apply(t.client, { stableVersion: version(1), canary: { modelVersion: version(2), trafficPercent: 30 } }, "carol", "approval off");
    const promoted = await t.client.promoteCanary("churn", { actor: "carol" });
    expect([promoted.stableVersion, promoted.updatedBy]).toEqual([version(2), "carol"]);
  });
});
