import { makeData, makeVector, Table, TimestampMicrosecond, tableToIPC, Utf8, type Vector, vectorFromArray } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { validationFailure } from "../../test/support/expect-failure.js";
import type { OfflineColumn, OfflineStore, Spine, SpineColumns } from "../storage/offline/offline-store.js";
import { InlineSpineWriter } from "./inline-spine.js";

const US = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in microseconds
const LIMITS = { maxStringBytes: 1000, maxBytesLength: 1000, maxListLength: 100, maxRowsPerBatch: 100 };

/**
 * The two calls the writer makes of its store, recorded: the engine's side of storing a spine is
 * the point-in-time contract's (point-in-time.contract.ts), run against the real engine.
 */
function recordingStore(spine: Spine) {
  const appended: Array<{ rows: SpineColumns; firstIndex: number }> = [];
  const store = {
    async appendSpine(_spine: Spine, rows: SpineColumns, firstIndex: number) {
      appended.push({ rows, firstIndex });
    },
    async addSpineColumns(_spine: Spine, columns: OfflineColumn[]) {
      spine.extraColumns.push(...columns);
    },
  } as unknown as OfflineStore;
  return { store, appended };
}

const times = (micros: number[]) =>
  makeVector(makeData({ type: new TimestampMicrosecond("UTC"), length: micros.length, data: BigInt64Array.from(micros.map(BigInt)) }));
const arrow = (columns: Record<string, Vector>) => ({ arrowIpc: tableToIPC(new Table(columns), "stream") });

describe("InlineSpineWriter with Arrow batches", () => {
  it("stores Arrow batches as one, typed arrays joined, beside batches of other forms, an extra first seen later null before it", async () => {
    const spine: Spine = { id: "s", project: "p", keyColumns: [{ name: "customer_id", type: "int64" }], extraColumns: [] };
    const { store, appended } = recordingStore(spine);
    const writer = new InlineSpineWriter(store, spine, LIMITS);
    await writer.append(arrow({ customer_id: makeVector(BigInt64Array.of(1n, 2n)), event_time: times([US, US + 1]) }), 0);
    await writer.append(
      arrow({
        customer_id: makeVector(BigInt64Array.of(3n)),
        event_time: times([US + 2]),
        note: vectorFromArray(["late"], new Utf8()),
      }),
      1,
    );
    // An int32 column for the int64 key is widened value by value, as in the other forms.
    await writer.append(arrow({ customer_id: makeVector(Int32Array.of(4)), event_time: times([US + 3]) }), 2);
    await writer.append({ rows: [{ entityKey: { customer_id: { kind: "int64", value: 5n } }, eventTime: US + 4, extras: {} }] }, 3);
    await writer.finish();

    expect(spine.extraColumns).toEqual([{ name: "note", type: "string" }]);
    // Stored once before the new column was added, then the rest.
    expect(appended.map(({ firstIndex, rows }) => [firstIndex, rows.length])).toEqual([
      [0, 2],
      [2, 3],
    ]);
    const [first, rest] = appended.map(({ rows }) => rows);
    expect(first?.keys[0]).toEqual(BigInt64Array.of(1n, 2n));
    expect(first?.eventTimes).toEqual(Float64Array.of(US, US + 1));
    expect(Array.from(rest?.keys[0] ?? [])).toEqual([3n, 4n, 5n]);
    expect(rest?.eventTimes).toEqual(Float64Array.of(US + 2, US + 3, US + 4));
    expect(Array.from(rest?.extras[0] ?? [])).toEqual(["late", null, null]);
  });

  it("names each bad cell by column and row, and a join key the stream lacks, whatever its name", async () => {
    const spine: Spine = {
      id: "s",
      project: "p",
      keyColumns: [
        { name: "customer_id", type: "int64" },
        { name: "constructor", type: "string" },
      ],
      extraColumns: [],
    };
    const { store, appended } = recordingStore(spine);
    const writer = new InlineSpineWriter(store, spine, LIMITS);
    const error = await validationFailure(() =>
      writer.append(
        arrow({
          customer_id: vectorFromArray([1n, null]),
          event_time: makeVector(
            makeData({ type: new TimestampMicrosecond(), length: 2, data: BigInt64Array.of(BigInt(US), -(2n ** 62n)) }),
          ),
        }),
        4,
      ),
    );
    expect(error.reason).toBe("INVALID_SPINE_ROWS");
    expect(error.violations.map((v) => v.field)).toEqual([
      'spine_batches[4].arrow_ipc["constructor"][0]',
      'spine_batches[4].arrow_ipc["customer_id"][1]',
      'spine_batches[4].arrow_ipc["constructor"][1]',
      'spine_batches[4].arrow_ipc["event_time"][1]',
    ]);
    // The same in the other forms, whose maps are plain objects (where "constructor" is Object's own).
    const columns = await validationFailure(() =>
      writer.append({ columns: { entityKey: { customer_id: { kind: "int64", values: [1n] } }, eventTimes: [US], extras: {} } }, 5),
    );
    expect(columns.violations.map((v) => v.field)).toEqual(['spine_batches[5].columns.entity_key["constructor"][0]']);
    const rows = await validationFailure(() =>
      writer.append({ rows: [{ entityKey: { customer_id: { kind: "int64", value: 1n } }, eventTime: US, extras: {} }] }, 6),
    );
    expect(rows.violations.map((v) => [v.field, v.description])).toEqual([
      ['spine_batches[6].rows[0].entity_key["constructor"]', 'join key "constructor" is required'],
    ]);
    await writer.finish();
    expect(appended).toEqual([]);
  });

  it("refuses a batch over limits.maxRowsPerBatch before reading its columns", async () => {
    const spine: Spine = { id: "s", project: "p", keyColumns: [{ name: "customer_id", type: "int64" }], extraColumns: [] };
    const writer = new InlineSpineWriter(recordingStore(spine).store, spine, { ...LIMITS, maxRowsPerBatch: 2 });
    const error = await validationFailure(() =>
      writer.append(arrow({ customer_id: makeVector(BigInt64Array.of(1n, 2n, 3n)), event_time: times([US, US, US]) }), 0),
    );
    expect([error.reason, error.violations[0]?.field]).toEqual(["INVALID_SPINE_BATCH", "spine_batches[0].arrow_ipc"]);
  });
});
