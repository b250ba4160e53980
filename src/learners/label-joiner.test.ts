import { describe, expect, it } from "vitest";
import { ValidationError } from "../common/errors.js";
import type { PredictionRecord } from "../storage/offline/offline-store.js";
import { LabelJoiner, type PointInTimeLookup, type PredictionLookup } from "./label-joiner.js";
import type { LearnerDefinition } from "./model.js";

const definition = {
  project: "p",
  name: "ctr",
  kind: "logistic",
  classes: 0,
  inputs: [
    { name: "age", type: "numeric", source: { kind: "feature", ref: "profile@1:age" } },
    { name: "vip", type: "numeric", source: { kind: "feature", ref: "profile@1:vip" } },
    { name: "country", type: "categorical", source: { kind: "feature", ref: "profile@1:country" } },
    { name: "hour", type: "numeric", source: { kind: "request", name: "hour" } },
  ],
} as unknown as LearnerDefinition;

const logged: PredictionRecord = {
  time: 5_000_000,
  requestId: "r1",
  endpoint: "ctr",
  modelVersion: "projects/p/models/ctr/versions/live",
  role: "stable",
  entityKeys: "{}",
  // As the prediction log writes it: int64 as text, one value per entity row.
  features: JSON.stringify({
    "profile@1:age": ["31", "40"],
    "profile@1:vip": [true, null],
    "profile@1:country": ["fr", null],
    "request:hour": [9, 22],
  }),
  outputs: "{}",
  latencyMicros: 1,
  error: "",
};

/** The ports the joiner reads, answering from memory and remembering what they were asked. */
function ports() {
  const asked: { ids: string[][]; pointInTime: unknown[] } = { ids: [], pointInTime: [] };
  const predictions: PredictionLookup = {
    find: async (_project, ids) => {
      asked.ids.push([...ids]);
      return ids.includes("r1") ? [logged] : [];
    },
  };
  const pointInTime: PointInTimeLookup = {
    valuesAt: async (_project, refs, rows) => {
      asked.pointInTime.push({ refs, rows: rows.length });
      return rows.map(() => ({ "profile@1:age": 50, "profile@1:vip": null, "profile@1:country": "de" }));
    },
  };
  return { joiner: new LabelJoiner(predictions, pointInTime, 3600e6), asked };
}

describe("LabelJoiner", () => {
  it("joins outcome labels with the values their prediction read, row by row", async () => {
    const { joiner } = ports();
    const { records, unmatched } = await joiner.join(
      definition,
      [
        { requestId: "r1", row: 1, label: { kind: "bool", value: true }, requestFeatures: {} },
        { requestId: "r1", row: 0, label: { kind: "int64", value: 0n }, requestFeatures: {} },
        { requestId: "nope", row: 0, label: { kind: "double", value: 1 }, requestFeatures: {} },
        { requestId: "r1", row: 5, label: { kind: "double", value: 1 }, requestFeatures: {} },
      ],
      10_000_000,
    );
    expect(records[0]).toEqual({
      kind: "example",
      features: { age: 40, vip: 0, country: null, hour: 22 },
      label: 1,
      eventTime: 5_000_000,
      requestId: "r1",
    });
    expect(records[1]).toMatchObject({ features: { age: 31, vip: 1, country: "fr", hour: 9 }, label: 0 });
    expect(records[2]).toMatchObject({ kind: "unmatched", requestId: "nope", reason: "no logged prediction has this request id" });
    expect(records[3]).toMatchObject({ kind: "unmatched", reason: "the prediction has no row 5 (its log keeps 2)" });
    expect(unmatched.map((u) => u.index)).toEqual([2, 3]);
  });

  it("joins entity labels with point-in-time values, and reads a missing number as 0", async () => {
    const { joiner, asked } = ports();
    const { records } = await joiner.join(
      definition,
      [
        {
          entity: { joinKeys: { user_id: { kind: "int64", value: 1n } }, eventTime: 7 },
          row: 0,
          label: { kind: "int32", value: 1 },
          requestFeatures: { hour: { kind: "int32", value: 3 } },
        },
      ],
      10,
    );
    expect(asked.pointInTime).toEqual([{ refs: ["profile@1:age", "profile@1:vip", "profile@1:country"], rows: 1 }]);
    expect(records[0]).toEqual({
      kind: "example",
      features: { age: 50, vip: 0, country: "de", hour: 3 },
      label: 1,
      eventTime: 7,
      requestId: "",
    });
  });

  it("refuses a message with any bad label, naming every field, before looking anything up", async () => {
    const { joiner, asked } = ports();
    const error = await joiner
      .join(
        definition,
        [
          { requestId: "r1", row: 0, label: { kind: "double", value: 1 }, requestFeatures: {} },
          { requestId: "r1", row: 0, label: { kind: "double", value: 0.5 }, requestFeatures: {} },
          {
            entity: { joinKeys: {}, eventTime: 0 },
            row: 0,
            label: { kind: "string", value: "yes" },
            requestFeatures: { hour: { kind: "double", value: Number.NaN } },
          },
        ],
        10,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).violations.map((v) => v.field)).toEqual([
      "labels[1].label",
      "labels[2].entity.join_keys",
      "labels[2].entity.event_time",
      'labels[2].request_features["hour"]',
      "labels[2].label",
    ]);
    expect(asked.ids).toEqual([]);
  });
});
