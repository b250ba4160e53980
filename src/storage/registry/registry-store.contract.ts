/**
 * The contract every {@link RegistryStore} backend must meet. Each backend's test file calls
 * {@link describeRegistryStoreContract} with a factory; the same cases run against all of them.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FeatureViewVersion } from "../../registry/model.js";
import type { RegistryChange, RegistryStore } from "./registry-store.js";

/** Opens a fresh, empty store; `reopen` opens the same data again after close (for durability). */
export interface RegistryStoreFactory {
  open(): Promise<RegistryStore>;
  reopen(): Promise<RegistryStore>;
}

const at = new Date("2026-01-02T03:04:05.678Z");

function viewVersion(name: string, version: number, project = "p"): FeatureViewVersion {
  return {
    project,
    name,
    entity: "customer",
    features: [{ name: `f${version}`, type: "int64", description: "", tags: { k: "v" } }],
    ttlMillis: 1000,
    description: "",
    owner: "",
    tags: {},
    version,
    historyVersion: 1,
    changes: version > 1 ? ["added"] : [],
    createTime: at,
    ...(version > 1 ? { compatibility: "compatible" as const } : {}),
  };
}

/** Registers the contract suite for one backend. */
export function describeRegistryStoreContract(backend: string, factory: RegistryStoreFactory): void {
  describe(`RegistryStore contract: ${backend}`, () => {
    let store: RegistryStore;

    beforeEach(async () => {
      store = await factory.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("creates a project once", async () => {
      expect(await store.createProject({ project: "p", description: "d", createTime: at })).toBe(true);
      expect(await store.createProject({ project: "p", description: "other", createTime: at })).toBe(false);
      expect(await store.getProject("p")).toEqual({ project: "p", description: "d", createTime: at });
      expect(await store.getProject("q")).toBeUndefined();
    });

    it("lists projects by name with keyset pagination", async () => {
      for (const name of ["c", "a", "b", "d"]) await store.createProject({ project: name, description: "", createTime: at });
      const first = await store.listProjects({ limit: 2 });
      expect(first.map((p) => p.project)).toEqual(["a", "b"]);
      const rest = await store.listProjects({ after: "b", limit: 10 });
      expect(rest.map((p) => p.project)).toEqual(["c", "d"]);
    });

    it("writes entities with compare-and-set on their revision", async () => {
      const entity = {
        project: "p",
        name: "customer",
        joinKeys: [{ name: "id", type: "int64" as const }],
        description: "",
        owner: "",
        tags: {},
        revision: 1,
        createTime: at,
        updateTime: at,
      };
      expect(await store.putEntity(entity, undefined)).toBe(true);
      expect(await store.putEntity(entity, undefined)).toBe(false);
      // Same update time, different revision: the revision decides, not the clock.
      expect(await store.putEntity({ ...entity, description: "x", revision: 2 }, 2)).toBe(false);
      expect(await store.putEntity({ ...entity, description: "x", revision: 2 }, 1)).toBe(true);
      expect(await store.putEntity({ ...entity, description: "stale", revision: 2 }, 1)).toBe(false);
      expect((await store.getEntity("p", "customer"))?.description).toBe("x");
      expect((await store.listEntities("p", { limit: 10 })).map((e) => e.name)).toEqual(["customer"]);
      expect(await store.listEntities("other", { limit: 10 })).toEqual([]);
    });

    it("appends versions only on top of the expected latest version", async () => {
      expect(await store.appendVersion("featureView", viewVersion("v", 1), 0)).toBe(true);
      expect(await store.appendVersion("featureView", viewVersion("v", 1), 0)).toBe(false);
      expect(await store.appendVersion("featureView", viewVersion("v", 3), 1)).toBe(false);
      expect(await store.appendVersion("featureView", viewVersion("v", 2), 1)).toBe(true);
      expect(await store.getHead("featureView", "p", "v")).toEqual({ latestVersion: 2, state: "active" });
      expect(await store.getVersion("featureView", "p", "v", 1)).toEqual(viewVersion("v", 1));
      expect(await store.getVersion("featureView", "p", "v", 3)).toBeUndefined();
    });

    it("lets exactly one of many concurrent appends of the same version win", async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => store.appendVersion("featureView", viewVersion("v", 1), 0)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("lists versions newest first, page by page", async () => {
      for (let version = 1; version <= 5; version++) await store.appendVersion("featureView", viewVersion("v", version), version - 1);
      const first = await store.listVersions("featureView", "p", "v", { limit: 2 });
      expect(first.map((r) => r.version)).toEqual([5, 4]);
      const next = await store.listVersions("featureView", "p", "v", { after: 4, limit: 10 });
      expect(next.map((r) => r.version)).toEqual([3, 2, 1]);
    });

    it("lists heads of one kind and project by name", async () => {
      for (const name of ["b", "a", "c"]) await store.appendVersion("featureView", viewVersion(name, 1), 0);
      await store.appendVersion("featureView", viewVersion("z", 1, "other"), 0);
      const heads = await store.listHeads("featureView", "p", { limit: 2 });
      expect(heads.map((h) => h.name)).toEqual(["a", "b"]);
      expect((await store.listHeads("featureView", "p", { after: "b", limit: 2 })).map((h) => h.name)).toEqual(["c"]);
      expect(await store.listHeads("featureService", "p", { limit: 10 })).toEqual([]);
    });

    it("deprecates and revives a definition", async () => {
      expect(await store.setState("featureView", "p", "v", "deprecated", at)).toBeUndefined();
      await store.appendVersion("featureView", viewVersion("v", 1), 0);
      expect(await store.setState("featureView", "p", "v", "deprecated", at)).toEqual({
        latestVersion: 1,
        state: "deprecated",
        deprecateTime: at,
      });
      await store.appendVersion("featureView", viewVersion("v", 2), 1);
      expect(await store.getHead("featureView", "p", "v")).toEqual({ latestVersion: 2, state: "active" });
    });

    it("announces committed changes and nothing else", async () => {
      const changes: RegistryChange[] = [];
      const unsubscribe = store.onChange((change) => changes.push(change));
      await store.appendVersion("featureView", viewVersion("v", 1), 0);
      await store.appendVersion("featureView", viewVersion("v", 1), 0);
      await store.createProject({ project: "p", description: "", createTime: at });
      await waitFor(() => changes.length >= 2);
      expect(changes).toEqual([
        { kind: "featureView", project: "p", name: "v" },
        { kind: "project", project: "p", name: "p" },
      ]);
      unsubscribe();
      await store.appendVersion("featureView", viewVersion("v", 2), 1);
      // Give an asynchronous backend time to (wrongly) deliver.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(changes).toHaveLength(2);
    });

    it("keeps everything across close and reopen", async () => {
      await store.createProject({ project: "p", description: "", createTime: at });
      await store.appendVersion("featureView", viewVersion("v", 1), 0);
      await store.close();
      store = await factory.reopen();
      expect(await store.getProject("p")).toEqual({ project: "p", description: "", createTime: at });
      expect(await store.getVersion("featureView", "p", "v", 1)).toEqual(viewVersion("v", 1));
    });

    it("writes documents by compare-and-set on their revision", async () => {
      const doc = { state: "running", createTime: at, rows: 3 };
      expect(await store.putDocument("trainingDataset", "p", "d/1", doc, 1)).toBeUndefined();
      expect(await store.putDocument("trainingDataset", "p", "d/1", doc, 0)).toBe(1);
      expect(await store.putDocument("trainingDataset", "p", "d/1", doc, 0)).toBeUndefined();
      expect(await store.putDocument("trainingDataset", "p", "d/1", { ...doc, state: "done" }, 1)).toBe(2);
      expect(await store.getDocument("trainingDataset", "p", "d/1")).toEqual({ id: "d/1", revision: 2, value: { ...doc, state: "done" } });
      expect(await store.getDocument("trainingDataset", "q", "d/1")).toBeUndefined();
    });

    it("lists documents by id, within a prefix, with keyset pagination", async () => {
      for (const id of ["b/2", "a/1", "b/1", "c/1", "b/10"]) await store.putDocument("trainingDataset", "p", id, { id }, 0);
      await store.putDocument("trainingDataset", "other", "a/0", { id: "x" }, 0);
      const ids = async (page: { after?: string; limit: number; prefix?: string }) =>
        (await store.listDocuments<{ id: string }>("trainingDataset", "p", page)).map((d) => d.id);
      expect(await ids({ limit: 10 })).toEqual(["a/1", "b/1", "b/10", "b/2", "c/1"]);
      expect(await ids({ limit: 2 })).toEqual(["a/1", "b/1"]);
      expect(await ids({ after: "b/1", limit: 2 })).toEqual(["b/10", "b/2"]);
      expect(await ids({ prefix: "b/", limit: 10 })).toEqual(["b/1", "b/10", "b/2"]);
      expect(await ids({ prefix: "b/", after: "b/10", limit: 10 })).toEqual(["b/2"]);
      expect(await ids({ prefix: "b/", after: "a", limit: 10 })).toEqual(["b/1", "b/10", "b/2"]);
      expect(await ids({ prefix: "z/", limit: 10 })).toEqual([]);
    });

    it("announces every document written", async () => {
      const changes: RegistryChange[] = [];
      const unsubscribe = store.onChange((change) => changes.push(change));
      await store.putDocument("deployment", "p", "churn", { stable: 1 }, 0);
      await store.putDocument("deployment", "p", "churn", { stable: 1 }, 0);
      await waitFor(() => changes.length >= 1);
      unsubscribe();
      expect(changes).toEqual([{ kind: "document", project: "p", name: "deployment/churn" }]);
    });

    it("keeps documents across close and reopen", async () => {
      await store.putDocument("trainingDataset", "p", "kept", { createTime: at }, 0);
      await store.close();
      store = await factory.reopen();
      expect((await store.getDocument("trainingDataset", "p", "kept"))?.value).toEqual({ createTime: at });
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
