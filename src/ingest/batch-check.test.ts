import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../common/errors.js";
import type { TaggedValue } from "../common/feature-value.js";
import { MAX_HINTED_NAMES } from "../common/suggest.js";
import type { Entity, FeatureViewVersion } from "../registry/model.js";
import { type CheckedBatch, type CheckTarget, checkColumns, checkRows, MAX_ROW_VIOLATIONS, viewSchema } from "./batch-check.js";
import type { ColumnarRows, RowInput } from "./model.js";

const NOW = Date.UTC(2026, 10, 24) * 1000;
const docs = { description: "", owner: "", tags: {} };
const entity: Entity = {
  ...docs,
  project: "default",
  name: "customer",
  joinKeys: [{ name: "id", type: "int64" }],
  revision: 1,
  createTime: new Date(0),
  updateTime: new Date(0),
};
const view: FeatureViewVersion = {
  ...docs,
  project: "default",
  name: "stats",
  entity: "customer",
  ttlMillis: 0,
  version: 1,
  historyVersion: 1,
  changes: [],
  createTime: new Date(0),
  features: [
    { name: "spend", type: "double", description: "", tags: {} },
    { name: "label", type: "string", description: "", tags: {} },
  ],
};
const target: CheckTarget = {
  view: viewSchema(view),
  entity,
  nowMicros: NOW,
  limits: { maxStringBytes: 8, maxBytesLength: 8, maxListLength: 4, maxFutureSkewMs: 1000 },
};

/** A check's outcome without field paths (which name rows or columns), to compare the two forms. */
const outcome = ({ rejections, features, ...accepted }: CheckedBatch) => ({
  ...accepted,
  // Columns compared by their values: a number column without nulls may be a Float64Array.
  features: features.map((column) => Array.from(column)),
  rejections: rejections.map((r) => ({ rowIndex: r.rowIndex, descriptions: r.violations.map((v) => v.description) })),
});
/** The field paths of each rejected row. */
const rejectedFields = (batch: CheckedBatch) => batch.rejections.map((r) => r.violations.map((v) => v.field));

describe("checkColumns", () => {
  it("accepts the same rows, with the same values, as the row form", () => {
    const spend = fc.oneof(fc.double(), fc.constant(null));
    const label = fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null));
    const row = fc.record({
      // Beyond int64 too, so the checks of out-of-range keys are compared as well.
      id: fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), fc.constant(null)),
      eventTime: fc.integer({ min: NOW - 10_000_000, max: NOW + 2_000_000 }),
      spend,
      label,
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
        const tag = (kind: TaggedValue["kind"], value: TaggedValue["value"]): TaggedValue =>
          value === null ? { kind: "null", value } : { kind, value };
        const rowInputs: RowInput[] = rows.map((r) => ({
          entityKey: { id: tag("int64", r.id) },
          eventTime: r.eventTime,
          features: { spend: tag("double", r.spend), label: tag("string", r.label) },
        }));
        const columns: ColumnarRows = {
          entityKey: { id: { kind: "int64", values: rows.map((r) => r.id) } },
          eventTimes: rows.map((r) => r.eventTime),
          features: {
            spend: { kind: "double", values: rows.map((r) => r.spend) },
            label: { kind: "string", values: rows.map((r) => r.label) },
          },
        };
        expect(outcome(checkColumns(target, columns))).toEqual(outcome(checkRows(target, rowInputs)));
      }),
    );
  });

  it("rejects only the bad rows, naming the column and row", () => {
    const checked = checkColumns(target, {
      entityKey: { id: { kind: "int64", values: [1n, null, 3n, 4n] } },
      eventTimes: [NOW, NOW, NOW + 60_000_000, NOW],
      features: {
        spend: { kind: "double", values: [1.5, 2, 3, Number.NaN] },
        label: { kind: "string", values: ["ok", null, "ok", "far too long"] },
      },
    });
    expect(checked).toMatchObject({ rowIndexes: [0], keys: [[1n]], eventTimes: [NOW] });
    // A number column without nulls comes as a Float64Array.
    expect(checked.features).toEqual([Float64Array.of(1.5), ["ok"]]);
    expect(checked.rejections.map((r) => r.rowIndex)).toEqual([1, 2, 3]);
    expect(rejectedFields(checked)).toEqual([
      ['columns.entity_key["id"][1]'],
      ["columns.event_time_micros[2]"],
      ['columns.features["spend"][3]', 'columns.features["label"][3]'],
    ]);
  });

  it("takes tagged columns, whose cells may be of different kinds", () => {
    const checked = checkColumns(target, {
      entityKey: {
        id: {
          tagged: [
            { kind: "int32", value: 7 },
            { kind: "string", value: "x" },
          ],
        },
      },
      eventTimes: [NOW, NOW],
      features: {
        spend: {
          tagged: [
            { kind: "int32", value: 2 },
            { kind: "null", value: null },
          ],
        },
      },
    });
    expect(checked).toMatchObject({ rowIndexes: [0], entityKeys: ['["7"]'], keys: [[7n]], eventTimes: [NOW] });
    expect(checked.features).toEqual([Float64Array.of(2), [null]]);
    expect(checked.rejections).toEqual([
      { rowIndex: 1, violations: [{ field: 'columns.entity_key["id"][1]', description: "expected an int64 value, got string" }] },
    ]);
  });

  it("rejects the whole batch for a malformed column, naming every problem", () => {
    const malformed = () =>
      checkColumns(target, {
        entityKey: { customer: { kind: "int64", values: [1n] } },
        eventTimes: [NOW, NOW],
        features: {
          spend: { kind: "string", values: ["a", "b"] },
          label: { kind: "string", values: ["a"] },
          colour: { kind: "string", values: ["a", "b"] },
        },
      });
    expect(malformed).toThrow(ValidationError);
    try {
      malformed();
    } catch (error) {
      expect((error as ValidationError).violations.map((v) => `${v.field}: ${v.description}`)).toEqual([
        'columns.entity_key["id"]: join key "id" is required',
        'columns.entity_key["customer"]: "customer" is not a join key; expected id',
        'columns.features["colour"]: feature view stats@1 has no feature "colour"; the features are "spend", "label"',
        'columns.features["spend"]: expected double values, got string',
        'columns.features["label"]: has 1 values for 2 event times',
      ]);
    }
  });
});

describe("bounded checks", () => {
  it("answers a row with a million unknown features at once, listing a few and counting the rest", () => {
    const features = Object.fromEntries(Array.from({ length: 1_000_000 }, (_, i) => [`spnd_${i}`, { kind: "double" as const, value: 1 }]));
    const started = performance.now();
    const checked = checkRows(target, [{ entityKey: { id: { kind: "int64", value: 1n } }, eventTime: NOW - 1, features }]);
    expect(performance.now() - started).toBeLessThan(10_000);
    const violations = checked.rejections[0]?.violations ?? [];
    expect(violations).toHaveLength(MAX_ROW_VIOLATIONS + 1);
    expect(violations.at(-1)?.description).toBe(`… and ${1_000_000 - MAX_ROW_VIOLATIONS} more violations in this row`);
    // "Did you mean" for the first few unknown names only.
    expect(violations.filter((v) => v.description.includes("did you mean")).length).toBeLessThanOrEqual(MAX_HINTED_NAMES);
  });

  it("says what is wrong with an event time a Date cannot hold, instead of failing", () => {
    const checked = checkColumns(target, { entityKey: { id: { kind: "int64", values: [1n] } }, eventTimes: [9.2e18], features: {} });
    expect(checked.rejections[0]?.violations[0]?.description).toContain("in the future (9200000000000000000 µs since the epoch)");
  });

  it("lists at most a hundred malformed columns", () => {
    const features = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`nope_${i}`, { kind: "double" as const, values: [1] }]));
    const error = (() => {
      try {
        checkColumns(target, { entityKey: { id: { kind: "int64", values: [1n] } }, eventTimes: [NOW - 1], features });
      } catch (thrown) {
        return thrown as ValidationError;
      }
    })();
    expect(error?.violations).toHaveLength(101);
    expect(error?.violations.at(-1)?.description).toBe("… and 4900 more violations");
  });
});
