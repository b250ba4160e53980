/**
 * The derived (request-time) features of a feature service: each an expression over the service's
 * request inputs (plain names) and its features (refs, matched by what they name), compiled once
 * per service version and evaluated row by row. The registry checks them with it on apply, and
 * Predict and training retrieval both evaluate them with it, so a derived feature means the same
 * online and offline (docs/expressions.md).
 */
import { PreconditionError } from "../common/errors.js";
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import type { DerivedFeature, RequestInput } from "../registry/model.js";
import { type CompiledExpression, compileExpression, type ExpressionType, type ExpressionValue } from "./compile.js";
import { ExpressionError } from "./parse.js";

/** The value types a derived feature can have: every number is a double. */
export type DerivedValueType = "double" | "bool" | "string";

/** The part of a feature service version that derived features need. */
export interface DerivedFeatureService {
  project: string;
  name: string;
  version?: number;
  /** Feature refs as written, in order. */
  features: readonly string[];
  requestInputs?: readonly RequestInput[];
  derivedFeatures?: readonly DerivedFeature[];
}

/** What an expression may read: the service's request inputs by name and its features by ref. */
export interface DerivedFeatureScope {
  requestInputs: readonly RequestInput[];
  /** The service's feature refs as written, in order. */
  features: readonly string[];
  /** The type each of `features` resolves to, in the same order. */
  featureTypes: readonly ValueType[];
  /**
   * The canonical spelling of a feature ref (so `v:f` and `projects/p/featureViews/v:f` match),
   * or undefined when the text is not a feature ref.
   */
  canonicalRef(ref: string): string | undefined;
}

/** One derived feature, compiled against its service's inputs and feature types. */
export interface CompiledDerivedFeature {
  name: string;
  type: DerivedValueType;
  /** The request inputs it reads, each once. */
  inputs: readonly RequestInput[];
  /**
   * Its value for one row: `input` gives a request input's value by name, `feature` the value of
   * the service's feature at an index of its `features`. Never NaN or an infinity; null for null.
   */
  evaluate(input: (name: string) => FeatureValue | undefined, feature: (index: number) => FeatureValue | undefined): ExpressionValue;
}

const RESULT_TYPES: Record<Exclude<ExpressionType, "null">, DerivedValueType> = { number: "double", bool: "bool", string: "string" };

/**
 * Compiles one derived feature's expression: plain names must be request inputs and refs must name
 * one of the service's features. Throws {@link ExpressionError} with the position of a problem.
 */
export function compileDerivedFeature(name: string, expression: string, scope: DerivedFeatureScope): CompiledDerivedFeature {
  const inputs = new Map(scope.requestInputs.map((input) => [input.name, input]));
  const featureIndex = new Map<string, number>();
  scope.features.forEach((ref, i) => {
    const canonical = scope.canonicalRef(ref);
    if (canonical !== undefined && !featureIndex.has(canonical)) featureIndex.set(canonical, i);
  });
  const indexOf = (ref: string) => {
    const canonical = scope.canonicalRef(ref);
    return canonical === undefined ? undefined : featureIndex.get(canonical);
  };
  let compiled: CompiledExpression;
  try {
    compiled = compileExpression(expression, (text, ref) => {
      if (!ref) return inputs.get(text)?.type;
      const index = indexOf(text);
      return index === undefined ? undefined : scope.featureTypes[index];
    });
  } catch (error) {
    if (error instanceof ExpressionError) throw withHint(error);
    throw error;
  }
  // Each name the expression reads, bound once to where its value comes from.
  const reads = compiled.names.map((text) => {
    const input = inputs.get(text);
    return input ? { text, input: input.name } : { text, index: indexOf(text) as number };
  });
  const readOf = new Map(reads.map((read) => [read.text, read]));
  const evaluate: CompiledDerivedFeature["evaluate"] = (input, feature) =>
    compiled.evaluate((text) => {
      const read = readOf.get(text);
      if (!read) return undefined;
      return read.input !== undefined ? input(read.input) : feature(read.index as number);
    });
  return {
    name,
    type: RESULT_TYPES[compiled.type],
    inputs: reads.flatMap((read) => (read.input !== undefined ? [inputs.get(read.input) as RequestInput] : [])),
    evaluate,
  };
}

/** The same error, saying where an unknown name should have been declared. */
function withHint(error: ExpressionError): ExpressionError {
  if (error.description.startsWith("unknown request input"))
    return new ExpressionError(`${error.description} (declare it in request_inputs)`, error.position, error.source);
  if (error.description.startsWith("unknown feature"))
    return new ExpressionError(
      `${error.description} (an expression reads the service's features: list it in features)`,
      error.position,
      error.source,
    );
  return error;
}

/** The compiled derived features of one service version, for one set of feature types. */
export class DerivedFeatures {
  private constructor(
    /** "name@version" of the service, for messages. */
    readonly service: string,
    /** In the service's order. */
    readonly features: readonly CompiledDerivedFeature[],
  ) {}

  /**
   * The derived features of a service version, compiled against the types its features resolve
   * to (`featureTypes`, in the order of `service.features`); undefined when it has none. Compiled
   * once per version: cached by the version's derived feature list, which the registry hands out
   * unchanged for as long as it caches the version. FAILED_PRECONDITION when an expression no
   * longer compiles, or no longer has the type stored on apply (a feature it reads by an
   * unpinned ref changed type in a newer view version).
   */
  static of(
    service: DerivedFeatureService,
    featureTypes: readonly ValueType[],
    canonicalRef: (ref: string) => string | undefined,
  ): DerivedFeatures | undefined {
    const definitions = service.derivedFeatures;
    if (!definitions || definitions.length === 0) return undefined;
    const key = featureTypes.join(",");
    let byTypes = CACHE.get(definitions);
    if (!byTypes) {
      byTypes = new Map();
      CACHE.set(definitions, byTypes);
    }
    let derived = byTypes.get(key);
    if (!derived) {
      derived = DerivedFeatures.compile(service, definitions, featureTypes, canonicalRef);
      // A handful of type sets per version at most (one per view version its unpinned refs reached).
      if (byTypes.size >= 16) byTypes.clear();
      byTypes.set(key, derived);
    }
    return derived;
  }

  private static compile(
    service: DerivedFeatureService,
    definitions: readonly DerivedFeature[],
    featureTypes: readonly ValueType[],
    canonicalRef: (ref: string) => string | undefined,
  ): DerivedFeatures {
    const label = service.version === undefined ? service.name : `${service.name}@${service.version}`;
    const scope: DerivedFeatureScope = {
      requestInputs: service.requestInputs ?? [],
      features: service.features,
      featureTypes,
      canonicalRef,
    };
    const compiled = definitions.map((definition) => {
      let feature: CompiledDerivedFeature;
      try {
        feature = compileDerivedFeature(definition.name, definition.expression, scope);
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error;
        throw new PreconditionError(
          "DERIVED_FEATURE_INVALID",
          `derived feature "${definition.name}" of feature service ${label} no longer compiles against the features it reads: ${error.message}; apply the service again`,
          { feature_service: label, derived_feature: definition.name },
        );
      }
      if (definition.type !== undefined && definition.type !== feature.type) {
        throw new PreconditionError(
          "DERIVED_FEATURE_INVALID",
          `derived feature "${definition.name}" of feature service ${label} is now ${feature.type}, not ${definition.type} as applied: a feature it reads changed type; pin the refs or apply the service again`,
          { feature_service: label, derived_feature: definition.name },
        );
      }
      return feature;
    });
    return new DerivedFeatures(label, compiled);
  }

  /** The request inputs the given derived features read (all of them by default), each once, in declaration order. */
  inputsOf(features: readonly CompiledDerivedFeature[] = this.features): RequestInput[] {
    const seen = new Map<string, RequestInput>();
    for (const feature of features) for (const input of feature.inputs) seen.set(input.name, input);
    return [...seen.values()];
  }

  /** A derived feature by name. */
  get(name: string): CompiledDerivedFeature | undefined {
    return this.features.find((feature) => feature.name === name);
  }
}

const CACHE = new WeakMap<readonly DerivedFeature[], Map<string, DerivedFeatures>>();
