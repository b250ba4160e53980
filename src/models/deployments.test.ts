import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SluiceError } from "../common/errors.js";
import { ANONYMOUS, type Principal } from "../security/principal.js";
import { openLmdbRegistryStore } from "../storage/registry/lmdb-registry-store.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import { type ChangeAuthor, changeAuthor, type DeploymentSpec, Deployments } from "./deployments.js";
import type { ModelVersion, VersionRef } from "./model.js";
import type { ModelRegistry } from "./model-registry.js";

const principal = (name: string): Principal => ({ name, authentication: "api_key", grants: [{ project: "p", role: "deployer" }] });
const ALICE = changeAuthor(principal("alice"), "", "v2 looks good");
const BOB = changeAuthor(principal("bob"), "", "checked the report");
const v = (version: number): VersionRef => ({ project: "p", model: "m", version });

/** Every version exists; nothing needs loading. */
const models = {
  getVersion: async (project: string, model: string, version: number) => ({ project, model, version }) as unknown as ModelVersion,
} as unknown as ModelRegistry;

let directory = "";
let store: RegistryStore;
let deployments: Deployments;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "sluice-deployments-"));
  store = openLmdbRegistryStore(directory);
  deployments = new Deployments(store, models, async () => {});
});

afterEach(async () => {
  await store.close();
  rmSync(directory, { recursive: true, force: true });
});

function spec(overrides: Partial<DeploymentSpec> = {}): DeploymentSpec {
  return {
    project: "p",
    endpoint: "e",
    stable: v(1),
    canary: { version: v(2), trafficPercent: 10 },
    shadows: [],
    routingKey: "",
    missingFeaturePolicy: "use_default",
    requirePromotionApproval: true,
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof SluiceError)) throw new Error(`expected a SluiceError, got ${String(error)}`);
  return error;
}

async function history(): Promise<Array<[number, string, string]>> {
  const page = await deployments.revisions("p", "e", 100, "");
  return page.items.map((d) => [d.revision, d.updatedBy, d.changeReason]);
}

describe("changeAuthor", () => {
  it("records the authenticated principal, never the client's claim", () => {
    expect(changeAuthor(principal("alice"), "mallory", "why")).toEqual({ actor: "alice", reason: "why", authenticated: true });
  });

  it("keeps the claim with authentication off, else anonymous, and marks neither as proven", () => {
    expect(changeAuthor(ANONYMOUS, "bob", "why")).toEqual({ actor: "bob", reason: "why", authenticated: false });
    expect(changeAuthor(ANONYMOUS, "", "why")).toEqual({ actor: "anonymous", reason: "why", authenticated: false });
  });
});

describe("promotion without approval", () => {
  it("promotes at once, as before", async () => {
    await deployments.apply(spec({ requirePromotionApproval: false }), ALICE);
    const outcome = await deployments.promoteCanary("p", "e", changeAuthor(ANONYMOUS, "carol", "go"));
    expect(outcome.promoted).toBe(true);
    expect(outcome.deployment).toMatchObject({ stable: v(2), previousStable: v(1), revision: 2, updatedBy: "carol" });
    expect(outcome.deployment.canary).toBeUndefined();
    expect(outcome.deployment.approvedPromotion).toBeUndefined();
  });

  it("has nothing to approve or reject", async () => {
    await deployments.apply(spec({ requirePromotionApproval: false }), ALICE);
    expect((await refusal(deployments.approvePromotion("p", "e", undefined, BOB))).reason).toBe("NO_PENDING_PROMOTION");
    expect((await refusal(deployments.rejectPromotion("p", "e", undefined))).reason).toBe("NO_PENDING_PROMOTION");
  });
});

describe("promotion with approval (two-person rule)", () => {
  it("records a pending promotion without a revision, and a second principal's approval promotes it", async () => {
    await deployments.apply(spec(), changeAuthor(principal("carol"), "", "try v2"));
    const requested = await deployments.promoteCanary("p", "e", ALICE);
    if (requested.promoted) throw new Error("promoted without approval");
    expect(requested.pending).toMatchObject({ canary: v(2), requestedBy: "alice", reason: "v2 looks good", revision: 1 });
    expect(requested.deployment).toMatchObject({ stable: v(1), canary: { version: v(2) }, revision: 1, updatedBy: "carol" });

    const current = await deployments.get("p", "e");
    expect(current.pendingPromotion).toEqual(requested.pending);
    expect(current.revision).toBe(1);
    // Revisions are routings: the pending request is current state only.
    expect((await deployments.revisions("p", "e", 10, "")).items[0]?.pendingPromotion).toBeUndefined();

    const approved = await deployments.approvePromotion("p", "e", v(2), BOB);
    expect(approved).toMatchObject({
      stable: v(2),
      previousStable: v(1),
      revision: 2,
      updatedBy: "bob",
      changeReason: "checked the report",
    });
    expect(approved.canary).toBeUndefined();
    expect(approved.pendingPromotion).toBeUndefined();
    expect(approved.approvedPromotion).toEqual(requested.pending);
    const revision2 = (await deployments.revisions("p", "e", 10, "")).items[0];
    expect(revision2?.approvedPromotion?.requestedBy).toBe("alice");
    expect(await history()).toEqual([
      [2, "bob", "checked the report"],
      [1, "carol", "try v2"],
    ]);
  });

  it("refuses the requester's own approval with PERMISSION_DENIED, and changes nothing", async () => {
    await deployments.apply(spec(), ALICE);
    await deployments.promoteCanary("p", "e", ALICE);
    const self = await refusal(deployments.approvePromotion("p", "e", undefined, changeAuthor(principal("alice"), "bob", "me")));
    expect([self.kind, self.reason]).toEqual(["permission_denied", "SELF_APPROVAL"]);
    expect(self.message).toContain("alice requested the promotion");
    const current = await deployments.get("p", "e");
    expect([current.revision, current.stable, current.pendingPromotion?.requestedBy]).toEqual([1, v(1), "alice"]);
  });

  it("returns the pending promotion unchanged when it is requested again, by anyone", async () => {
    await deployments.apply(spec(), ALICE);
    const first = await deployments.promoteCanary("p", "e", ALICE);
    const again = await deployments.promoteCanary("p", "e", BOB);
    expect(again.promoted).toBe(false);
    if (first.promoted || again.promoted) return;
    expect(again.pending).toEqual(first.pending);
    // Bob asking too is not an approval: Alice still needs someone else.
    expect((await deployments.get("p", "e")).revision).toBe(1);
    await deployments.approvePromotion("p", "e", undefined, BOB);
  });

  it("approves only the canary the approver names", async () => {
    await deployments.apply(spec(), ALICE);
    await deployments.promoteCanary("p", "e", ALICE);
    const mismatch = await refusal(deployments.approvePromotion("p", "e", v(3), BOB));
    expect([mismatch.kind, mismatch.reason]).toEqual(["failed_precondition", "PENDING_PROMOTION_MISMATCH"]);
    expect(mismatch.metadata.pending_canary_version).toBe("projects/p/models/m/versions/2");
    expect((await refusal(deployments.rejectPromotion("p", "e", v(3)))).reason).toBe("PENDING_PROMOTION_MISMATCH");
    expect((await deployments.get("p", "e")).pendingPromotion).toBeDefined();
  });

  it("drops a rejected promotion without a revision; the requester may cancel their own", async () => {
    await deployments.apply(spec(), ALICE);
    await deployments.promoteCanary("p", "e", ALICE);
    const { deployment, rejected } = await deployments.rejectPromotion("p", "e", v(2));
    expect(rejected.requestedBy).toBe("alice");
    expect([deployment.revision, deployment.pendingPromotion, deployment.canary?.version]).toEqual([1, undefined, v(2)]);
    expect((await refusal(deployments.approvePromotion("p", "e", undefined, BOB))).reason).toBe("NO_PENDING_PROMOTION");
    // A new request starts over, with its own requester.
    const renewed = await deployments.promoteCanary("p", "e", BOB);
    expect(renewed.promoted ? undefined : renewed.pending.requestedBy).toBe("bob");
  });

  it("refuses to request or approve when authentication is off: nobody could be a second principal", async () => {
    await deployments.apply(spec(), changeAuthor(ANONYMOUS, "", ""));
    const request = await refusal(deployments.promoteCanary("p", "e", changeAuthor(ANONYMOUS, "alice", "")));
    expect([request.kind, request.reason]).toEqual(["failed_precondition", "APPROVAL_REQUIRES_AUTHENTICATION"]);
    expect(request.message).toContain("authentication is off");
    // A request made while authentication was on cannot be approved by an unproven claim either.
    await deployments.promoteCanary("p", "e", ALICE);
    const approval = await refusal(deployments.approvePromotion("p", "e", undefined, changeAuthor(ANONYMOUS, "bob", "")));
    expect(approval.reason).toBe("APPROVAL_REQUIRES_AUTHENTICATION");
    // The canary guard's kind of author (no `authenticated`) is not proven either.
    const guard: ChangeAuthor = { actor: "canary-guard", reason: "" };
    expect((await refusal(deployments.approvePromotion("p", "e", undefined, guard))).reason).toBe("APPROVAL_REQUIRES_AUTHENTICATION");
  });

  it("refuses ApplyDeployment changing stable while approval is on, even if it turns approval off too", async () => {
    await deployments.apply(spec(), ALICE);
    const direct = await refusal(deployments.apply(spec({ stable: v(2), canary: undefined }), ALICE));
    expect([direct.kind, direct.reason]).toEqual(["failed_precondition", "PROMOTION_APPROVAL_REQUIRED"]);
    const sneaky = await refusal(deployments.apply(spec({ stable: v(2), canary: undefined, requirePromotionApproval: false }), ALICE));
    expect(sneaky.reason).toBe("PROMOTION_APPROVAL_REQUIRED");
    // Turning it off is a revision of its own, on the record; then stable may change.
    await deployments.apply(spec({ requirePromotionApproval: false }), changeAuthor(principal("alice"), "", "approval off"));
    await deployments.apply(spec({ stable: v(2), canary: undefined, requirePromotionApproval: false }), ALICE);
    expect((await history()).slice(0, 2)).toEqual([
      [3, "alice", "v2 looks good"],
      [2, "alice", "approval off"],
    ]);
  });

  it("turning approval on is a plain ApplyDeployment, and applying the same spec again changes nothing", async () => {
    await deployments.apply(spec({ requirePromotionApproval: false }), ALICE);
    const on = await deployments.apply(spec(), ALICE);
    expect([on.revision, on.requirePromotionApproval]).toEqual([2, true]);
    expect((await deployments.apply(spec(), BOB)).revision).toBe(2);
  });

  it("keeps a pending promotion across changes that keep approval on and its canary version", async () => {
    await deployments.apply(spec(), ALICE);
    const requested = await deployments.promoteCanary("p", "e", ALICE);
    const changed = await deployments.apply(spec({ canary: { version: v(2), trafficPercent: 50 }, shadows: [v(3)] }), BOB);
    expect(changed.revision).toBe(2);
    expect(changed.pendingPromotion).toEqual(requested.promoted ? undefined : requested.pending);
    const approved = await deployments.approvePromotion("p", "e", undefined, BOB);
    expect([approved.stable, approved.shadows]).toEqual([v(2), [v(3)]]);
  });

  it.each([
    ["the canary version changes", spec({ canary: { version: v(3), trafficPercent: 10 } })],
    ["the canary goes", spec({ canary: undefined })],
    ["approval is turned off", spec({ requirePromotionApproval: false })],
  ])("drops a pending promotion when %s", async (_, next) => {
    await deployments.apply(spec(), ALICE);
    await deployments.promoteCanary("p", "e", ALICE);
    const changed = await deployments.apply(next, BOB);
    expect(changed.pendingPromotion).toBeUndefined();
    expect((await deployments.get("p", "e")).pendingPromotion).toBeUndefined();
    expect((await refusal(deployments.approvePromotion("p", "e", undefined, BOB))).reason).toBe("NO_PENDING_PROMOTION");
  });

  it("drops a pending promotion on rollback, which needs no approval", async () => {
    await deployments.apply(spec({ requirePromotionApproval: false }), ALICE);
    await deployments.promoteCanary("p", "e", ALICE); // stable 2, previous 1
    await deployments.apply(spec({ stable: v(2), canary: { version: v(3), trafficPercent: 10 } }), ALICE);
    await deployments.promoteCanary("p", "e", ALICE);
    const rolledBack = await deployments.rollback("p", "e", changeAuthor(principal("carol"), "", "complaints"));
    expect([rolledBack.stable, rolledBack.canary, rolledBack.pendingPromotion, rolledBack.updatedBy]).toEqual([
      v(1),
      undefined,
      undefined,
      "carol",
    ]);
  });

  it("drops a pending promotion when the canary guard drops the canary", async () => {
    const applied = await deployments.apply(spec(), ALICE);
    await deployments.promoteCanary("p", "e", ALICE);
    // The request made no revision, so the guard's revision still matches.
    const dropped = await deployments.dropCanary("p", "e", applied.revision, { actor: "canary-guard", reason: "worse" });
    expect([dropped?.canary, dropped?.pendingPromotion, dropped?.updatedBy]).toEqual([undefined, undefined, "canary-guard"]);
  });

  it("answers NO_CANARY before anything about approval", async () => {
    await deployments.apply(spec({ canary: undefined }), ALICE);
    expect((await refusal(deployments.promoteCanary("p", "e", changeAuthor(ANONYMOUS, "", "")))).reason).toBe("NO_CANARY");
  });
});
