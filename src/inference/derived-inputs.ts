/**
 * Derived features as model inputs. A model version that binds a feature service reads the
 * service's derived features by name, through a request binding (`request_feature: "ratio"`): the
 * value is computed here from the request's `request_features` (the service's request inputs)
 * and the service's features just read online, by the one evaluator training retrieval uses too.
 * Only the derived features the version binds are computed, and only the inputs they read are
 * required.
 */
import { PreconditionError, ViolationCollector } from "../common/errors.js";
import { coerceValue, type FeatureValue, type TaggedValue, type ValueLimits } from "../common/feature-value.js";
import { type CompiledDerivedFeature, DerivedFeatures } from "../expressions/derived-features.js";
import type { FeatureColumn, FeatureStatus } from "../online/online-reader.js";
import type { FeatureServiceVersion, ResolvedFeature } from "../registry/model.js";
import { canonicalFeatureRef } from "../registry/validation.js";
import type { ServingVersion } from "./serving-router.js";

/** One derived feature's values for every row of a request. */
export interface DerivedColumn {
  name: string;
  /** Stands for the derived feature where resolved features are listed (UsedFeature): ref and feature are its name. */
  feature: ResolvedFeature;
  /** The feature service that derives it. */
  service: FeatureServiceVersion;
  values: FeatureValue[];
  /** PRESENT, or NULL_VALUE where the expression gave null. */
  statuses: FeatureStatus[];
}

/** A derived feature one version binds, and where the features of its service were read for it. */
interface DerivedBinding {
  name: string;
  service: FeatureServiceVersion;
  /** The pinned refs the service's features were read as, in the order of its `features`. */
  pinnedRefs: readonly string[];
  feature: ResolvedFeature;
}

/** Request values no expression is ever sent large enough to matter for: the message size bounds them. */
const NO_LIMITS: ValueLimits = {
  maxStringBytes: Number.MAX_SAFE_INTEGER,
  maxBytesLength: Number.MAX_SAFE_INTEGER,
  maxListLength: Number.MAX_SAFE_INTEGER,
};

const BINDINGS = new WeakMap<ServingVersion, DerivedBinding[]>();

/**
 * The derived features a version binds (request bindings whose name is a derived feature of a
 * feature service the version binds), worked out once per version. FAILED_PRECONDITION when two
 * bound services derive the same name.
 */
function derivedBindingsOf(version: ServingVersion): DerivedBinding[] {
  let found = BINDINGS.get(version);
  if (found) return found;
  found = [];
  for (const binding of version.version.bindings) {
    if (binding.source.kind !== "request") continue;
    const name = binding.source.name;
    const sources = version.featureServices.filter(({ service }) => service.derivedFeatures?.some((d) => d.name === name));
    const services = new Set(sources.map(({ service }) => `${service.name}@${service.version}`));
    if (services.size > 1)
      throw new PreconditionError(
        "AMBIGUOUS_DERIVED_FEATURE",
        `model input "${binding.inputName}" reads "${name}", which feature services ${[...services].join(" and ")} both derive; bind one of them`,
      );
    const source = sources[0];
    if (!source) continue;
    const { service, inputName } = source;
    const type = service.derivedFeatures?.find((d) => d.name === name)?.type ?? "double";
    found.push({
      name,
      service,
      pinnedRefs: version.version.featureRefs[inputName] ?? [],
      feature: { ref: name, project: service.project, featureView: service.name, version: service.version, feature: name, type },
    });
  }
  BINDINGS.set(version, found);
  return found;
}

/**
 * Computes the derived features a version binds for one request, from its request values and the
 * feature columns read for it (by pinned ref). A feature value that is not PRESENT (not found,
 * null, or older than its view's TTL) reads as null, as the point-in-time join gives it offline.
 * INVALID_ARGUMENT naming `request_features["x"]` for a missing, short or mistyped request input,
 * or for a value sent under a derived feature's name.
 */
export function computeDerivedColumns(
  version: ServingVersion,
  byRef: ReadonlyMap<string, FeatureColumn>,
  requestFeatures: Readonly<Record<string, TaggedValue[]>>,
  rows: number,
): DerivedColumn[] {
  const bindings = derivedBindingsOf(version);
  if (bindings.length === 0) return [];
  const compiled = bindings.map((binding) => {
    const columns = binding.pinnedRefs.map((ref) => byRef.get(ref));
    const types = columns.map((column) => column?.feature.type ?? "double");
    const derived = DerivedFeatures.of(binding.service, types, (ref) => canonicalFeatureRef(ref, binding.service.project));
    return { binding, columns, feature: derived?.get(binding.name) as CompiledDerivedFeature };
  });

  // Every input any of them reads, checked and converted once.
  const missing = new ViolationCollector();
  const invalid = new ViolationCollector();
  const inputs = new Map<string, FeatureValue[]>();
  for (const { binding, feature } of compiled) {
    if (requestFeatures[binding.name] !== undefined)
      invalid.add(
        `request_features["${binding.name}"]`,
        `"${binding.name}" is a derived feature of feature service ${binding.service.name}@${binding.service.version}, computed by the server; do not send it`,
      );
    for (const input of feature.inputs) {
      if (inputs.has(input.name)) continue;
      const field = `request_features["${input.name}"]`;
      const sent = requestFeatures[input.name];
      if (!sent) {
        missing.add(
          field,
          `is required: derived feature "${binding.name}" of feature service ${binding.service.name}@${binding.service.version} reads request input "${input.name}" (${input.type})`,
        );
        inputs.set(input.name, []);
        continue;
      }
      if (sent.length !== rows) {
        invalid.add(field, `has ${sent.length} values for ${rows} entity rows`);
        inputs.set(input.name, []);
        continue;
      }
      inputs.set(
        input.name,
        sent.map((tagged, row) => {
          const coerced = coerceValue(input.type, tagged, NO_LIMITS);
          if ("problem" in coerced) {
            invalid.add(`${field}[${row}]`, `${coerced.problem} (request input "${input.name}" is ${input.type})`);
            return null;
          }
          return coerced.value;
        }),
      );
    }
  }
  missing.throwIfAny("MISSING_REQUEST_FEATURE");
  invalid.throwIfAny("INVALID_REQUEST_FEATURE");

  return compiled.map(({ binding, columns, feature }) => {
    const values: FeatureValue[] = [];
    const statuses: FeatureStatus[] = [];
    for (let row = 0; row < rows; row++) {
      const value = feature.evaluate(
        (name) => inputs.get(name)?.[row],
        (index) => {
          const column = columns[index];
          return column?.statuses[row] === "present" ? column.values[row] : null;
        },
      );
      values.push(value);
      statuses.push(value === null ? "null_value" : "present");
    }
    return { name: binding.name, feature: binding.feature, service: binding.service, values, statuses };
  });
}
