/**
 * A registry with one entity, `customer` (join key `id`, int64), and one feature view over it,
 * `stats` (feature `orders`, int64, no TTL), in the default project: what unit tests of the write
 * and read paths set up against the real LMDB registry.
 */
import { join } from "node:path";
import { Registry } from "../../src/registry/registry.js";
import { openLmdbRegistryStore } from "../../src/storage/registry/lmdb-registry-store.js";

/** Opens the registry under `dir` and applies the entity and view; `onViewApplied` runs as the view is applied (its table made, say). */
export async function customerStatsRegistry(dir: string, onViewApplied?: (registry: Registry) => void): Promise<Registry> {
  const registry = await Registry.open(openLmdbRegistryStore(join(dir, "registry")));
  onViewApplied?.(registry);
  await registry.applyEntity({
    project: "default",
    name: "customer",
    joinKeys: [{ name: "id", type: "int64" }],
    description: "",
    owner: "",
    tags: {},
  });
  await registry.applyFeatureView({
    project: "default",
    name: "stats",
    entity: "customer",
    features: [{ name: "orders", type: "int64", description: "", tags: {} }],
    ttlMillis: 0,
    description: "",
    owner: "",
    tags: {},
  });
  return registry;
}
