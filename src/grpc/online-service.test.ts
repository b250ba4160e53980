import { describe, expect, it } from "vitest";
import { GetOnlineFeaturesResponse, OnlineResponseLayout } from "../gen/sluice/v1/online.pb.js";
import { FeatureStatus, ValueType } from "../gen/sluice/v1/types.pb.js";
import type { FeatureColumn, ReadSelection } from "../online/online-reader.js";
import type { ResolvedFeature } from "../registry/model.js";
import { encodeOnlineResponse } from "./online-service.js";

const feature = (name: string, type: ResolvedFeature["type"]): ResolvedFeature => ({
  ref: `stats:${name}`,
  project: "default",
  featureView: "stats",
  version: 2,
  feature: name,
  type,
});

describe("encodeOnlineResponse", () => {
  const features = [feature("spend", "double"), feature("tags", "string_list")];
  const selection: ReadSelection = { names: ["spend", "tags"], features };
  const columns = (spend: number): FeatureColumn[] => [
    {
      name: "spend",
      feature: features[0] as ResolvedFeature,
      values: [spend, null],
      statuses: ["present", "not_found"],
      eventTimes: [1_500_000, undefined],
    },
    {
      name: "tags",
      feature: features[1] as ResolvedFeature,
      values: [["a"], null],
      statuses: ["outside_max_age", "null_value"],
      eventTimes: [7, 8],
    },
  ];

  it("decodes to the whole response, however often a selection is reused", () => {
    for (const spend of [1.5, -2]) {
      const decoded = GetOnlineFeaturesResponse.decode(encodeOnlineResponse(selection, columns(spend)));
      expect(decoded.featureNames).toEqual(["spend", "tags"]);
      expect(decoded.resolvedFeatures.map((r) => [r.ref, r.featureView, r.version, r.feature])).toEqual([
        ["stats:spend", "projects/default/featureViews/stats", 2, "spend"],
        ["stats:tags", "projects/default/featureViews/stats", 2, "tags"],
      ]);
      expect(decoded.columns[0]?.values).toEqual([{ doubleValue: spend }, {}]);
      expect(decoded.columns[0]?.eventTimes).toEqual([
        { seconds: 1n, nanos: 500_000_000 },
        { seconds: 0n, nanos: 0 },
      ]);
      expect(decoded.columns[1]?.values).toEqual([{ stringListValue: { values: ["a"] } }, {}]);
      expect(decoded.columns.map((c) => c.statuses)).toEqual([
        [FeatureStatus.FEATURE_STATUS_PRESENT, FeatureStatus.FEATURE_STATUS_NOT_FOUND],
        [FeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE, FeatureStatus.FEATURE_STATUS_NULL_VALUE],
      ]);
    }
  });

  it("in the flat layout, carries the same content feature-major in `flat`, event times in microseconds", () => {
    for (const spend of [1.5, -2]) {
      const decoded = GetOnlineFeaturesResponse.decode(
        encodeOnlineResponse(selection, columns(spend), OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_FLAT),
      );
      expect(decoded.featureNames).toEqual(["spend", "tags"]);
      expect(decoded.resolvedFeatures.map((r) => r.ref)).toEqual(["stats:spend", "stats:tags"]);
      expect(decoded.columns).toEqual([]);
      expect(decoded.flat?.values).toEqual([{ doubleValue: spend }, {}, { stringListValue: { values: ["a"] } }, {}]);
      expect(decoded.flat?.statuses).toEqual([
        FeatureStatus.FEATURE_STATUS_PRESENT,
        FeatureStatus.FEATURE_STATUS_NOT_FOUND,
        FeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE,
        FeatureStatus.FEATURE_STATUS_NULL_VALUE,
      ]);
      expect(decoded.flat?.eventTimeMicros).toEqual([1_500_000n, 0n, 7n, 8n]);
    }
    // The columns layout leaves `flat` unset, as it did before there was one.
    expect(GetOnlineFeaturesResponse.decode(encodeOnlineResponse(selection, columns(1))).flat).toBeUndefined();
  });

  it("in the typed flat layout, carries scalar features in packed arrays and lists in Values", () => {
    const decoded = GetOnlineFeaturesResponse.decode(
      encodeOnlineResponse(selection, columns(1.5), OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_FLAT_TYPED),
    );
    expect(decoded.featureNames).toEqual(["spend", "tags"]);
    expect(decoded.resolvedFeatures.map((r) => r.ref)).toEqual(["stats:spend", "stats:tags"]);
    expect(decoded.flat).toEqual({
      values: [{ stringListValue: { values: ["a"] } }, {}],
      statuses: [
        FeatureStatus.FEATURE_STATUS_PRESENT,
        FeatureStatus.FEATURE_STATUS_NOT_FOUND,
        FeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE,
        FeatureStatus.FEATURE_STATUS_NULL_VALUE,
      ],
      eventTimeMicros: [1_500_000n, 0n, 7n, 8n],
      valueTypes: [ValueType.VALUE_TYPE_DOUBLE, ValueType.VALUE_TYPE_STRING_LIST],
      int64Values: [],
      doubleValues: [1.5, 0],
      boolValues: [],
      stringValues: [],
      bytesValues: [],
      nullCells: [1, 3],
    });
  });
});
