import {
  Binary,
  Bool,
  type DataType,
  DateDay,
  Dictionary,
  Field,
  Float16,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  Null,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  type TypeMap,
  tableToIPC,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import { describe, expect, it } from "vitest";
import { validationFailure } from "../../test/support/expect-failure.js";
import { readArrowSpine } from "./arrow-spine.js";

const US = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in microseconds

/** One Arrow IPC stream of `columns` (each a vector of one chunk), in one record batch or, with `cut`, several. */
function ipc(columns: Record<string, Vector>, cut?: number): Uint8Array {
  const fields = Object.entries(columns).map(([name, vector]) => new Field(name, vector.type, true));
  const schema = new Schema(fields);
  const length = Object.values(columns)[0]?.length ?? 0;
  const batch = (from: number, to: number) =>
    new RecordBatch(
      schema,
      makeData({
        type: new Struct<TypeMap>(fields),
        length: to - from,
        nullCount: 0,
        children: Object.values(columns).map((vector) => vector.slice(from, to).data[0] as never),
      }),
    );
  const batches = cut === undefined ? [batch(0, length)] : [batch(0, cut), batch(cut, length)];
  return tableToIPC(new Table(batches), "stream");
}

/** A fixed-width vector of `type` over `data` as it is (vectorFromArray types a typed array by itself), null where `values` has null. */
function fixed(type: DataType, values: Array<bigint | null>): Vector {
  const nullBitmap = new Uint8Array((values.length + 7) >> 3);
  values.forEach((value, i) => {
    if (value !== null) nullBitmap[i >> 3] = (nullBitmap[i >> 3] as number) | (1 << (i & 7));
  });
  const data = BigInt64Array.from(values, (value) => value ?? 0n);
  const nullCount = values.filter((value) => value === null).length;
  return makeVector(makeData({ type: type as Int64, length: values.length, nullCount, nullBitmap, data }));
}

const times = (micros: number[]) => fixed(new TimestampMicrosecond("UTC"), micros.map(BigInt));

describe("readArrowSpine", () => {
  it("reads every column type a spine can hold, numbers without nulls as their typed arrays", () => {
    const batch = readArrowSpine(
      ipc({
        customer_id: fixed(new Int64(), [1n, -(2n ** 63n)]),
        event_time: times([US, US + 1]),
        i8: vectorFromArray([-1, null], new Int8()),
        i16: vectorFromArray([300, 2], new Int16()),
        i32: makeVector(Int32Array.of(7, -7)),
        u8: vectorFromArray([255, 0], new Uint8()),
        u16: vectorFromArray([65535, 0], new Uint16()),
        u32: vectorFromArray([4294967295, null], new Uint32()),
        half: vectorFromArray([0.5, 1], new Float16()),
        single: vectorFromArray([0.1, null], new Float32()),
        double: makeVector(Float64Array.of(Math.PI, -0)),
        nullable_double: vectorFromArray([1.5, null], new Float64()),
        flag: vectorFromArray([true, null], new Bool()),
        text: vectorFromArray(["wé", null], new Utf8()),
        blob: vectorFromArray([new Uint8Array([0, 255]), null], new Binary()),
        seen: fixed(new TimestampMillisecond(), [BigInt(Date.UTC(2026, 2, 4)), null]),
        segment: vectorFromArray(["gold", "silver"], new Dictionary(new Utf8(), new Int32())),
        nothing: makeVector(makeData({ type: new Null(), length: 2, nullCount: 2 })),
      }),
      "spine_batches[0]",
      100,
    );
    expect(batch.length).toBe(2);
    expect(Array.from(batch.eventTimes ?? [])).toEqual([US, US + 1]);
    const { columns } = batch;
    expect(columns.customer_id).toEqual({ kind: "int64", values: BigInt64Array.of(1n, -(2n ** 63n)) });
    expect(columns.i32).toEqual({ kind: "int32", values: Int32Array.of(7, -7) });
    expect(columns.double).toEqual({ kind: "double", values: Float64Array.of(Math.PI, -0) });
    expect(columns.i8).toEqual({ kind: "int32", values: [-1, null] });
    expect(columns.i16).toEqual({ kind: "int32", values: [300, 2] });
    expect(columns.u8).toEqual({ kind: "int32", values: [255, 0] });
    expect(columns.u16).toEqual({ kind: "int32", values: [65535, 0] });
    expect(columns.u32).toEqual({ kind: "int64", values: [4294967295n, null] });
    expect(columns.half).toEqual({ kind: "float", values: [0.5, 1] });
    expect(columns.single).toEqual({ kind: "float", values: [Math.fround(0.1), null] });
    expect(columns.nullable_double).toEqual({ kind: "double", values: [1.5, null] });
    expect(columns.flag).toEqual({ kind: "bool", values: [true, null] });
    expect(columns.text).toEqual({ kind: "string", values: ["wé", null] });
    expect(columns.blob).toEqual({ kind: "bytes", values: [new Uint8Array([0, 255]), null] });
    expect(columns.seen).toEqual({ kind: "timestamp", values: [new Date(Date.UTC(2026, 2, 4)), null] });
    expect(columns.segment).toEqual({ kind: "string", values: ["gold", "silver"] });
    expect(columns.nothing).toEqual({
      tagged: [
        { kind: "null", value: null },
        { kind: "null", value: null },
      ],
    });
    expect(Object.keys(columns)).not.toContain("event_time");
  });

  it("joins the record batches of a stream into one column each", () => {
    const batch = readArrowSpine(
      ipc(
        {
          customer_id: fixed(new Int64(), [1n, 2n, 3n]),
          event_time: times([US, US + 1, US + 2]),
          weight: makeVector(Float64Array.of(0.5, 1.5, 2.5)),
          // One row, then two: each batch's buffer padded to 8 bytes.
          shop: makeVector(Int32Array.of(7, 8, 9)),
          note: vectorFromArray(["a", null, "c"], new Utf8()),
        },
        1,
      ),
      "spine_batches[0]",
      100,
    );
    expect(batch.length).toBe(3);
    expect(Array.from(batch.eventTimes ?? [])).toEqual([US, US + 1, US + 2]);
    expect(batch.columns.customer_id).toEqual({ kind: "int64", values: BigInt64Array.of(1n, 2n, 3n) });
    expect(batch.columns.weight).toEqual({ kind: "double", values: Float64Array.of(0.5, 1.5, 2.5) });
    expect(batch.columns.shop).toEqual({ kind: "int32", values: Int32Array.of(7, 8, 9) });
    expect(batch.columns.note).toEqual({ kind: "string", values: ["a", null, "c"] });
  });

  it("reads event times of every unit in microseconds, nanoseconds floored, nulls as missing", () => {
    const read = (vector: Vector) => Array.from(readArrowSpine(ipc({ event_time: vector }), "b", 100).eventTimes ?? []);
    expect(read(fixed(new TimestampSecond(), [1n, -2n]))).toEqual([1_000_000, -2_000_000]);
    expect(read(fixed(new TimestampMillisecond("UTC"), [1n, -2n]))).toEqual([1000, -2000]);
    expect(read(fixed(new TimestampMicrosecond(), [BigInt(US), null]))).toEqual([US, undefined]);
    const nanos = [1999n, -1n, -1000n, -1001n, BigInt(US) * 1000n + 999n, 2n ** 63n - 1n, -(2n ** 63n)];
    expect(read(fixed(new TimestampNanosecond("Europe/Paris"), nanos))).toEqual(
      nanos.map((n) => Number(n / 1000n - (n % 1000n < 0n ? 1n : 0n))),
    );
    // Beyond 2^53 µs (after 2255) rounded to the nearest double, as a packed column's int64 is; the writer checks the range.
    expect(read(fixed(new TimestampMicrosecond(), [2n ** 53n + 1n, -(2n ** 60n)]))).toEqual([2 ** 53, -(2 ** 60)]);
  });

  it("refuses what is not an Arrow stream, too many rows, a name used twice, types a spine cannot hold, and a time that is not a timestamp", async () => {
    const garbage = await validationFailure(() => readArrowSpine(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), "spine_batches[2]", 100));
    expect(garbage.reason).toBe("INVALID_SPINE_BATCH");
    expect(garbage.violations[0]?.field).toBe("spine_batches[2].arrow_ipc");
    expect(garbage.violations[0]?.description).toContain("is not one Arrow IPC stream");

    const stray = await validationFailure(() => readArrowSpine(new Uint8Array([1, 2, 3]), "b", 100));
    expect(stray.violations[0]?.description).toContain("it ends inside a message's length");
    // An end-of-stream marker alone: Arrow's reader makes an empty table of it.
    const bare = await validationFailure(() => readArrowSpine(new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0]), "b", 100));
    expect(bare.violations[0]?.description).toContain("it holds no schema");
    const timeless = await validationFailure(() => readArrowSpine(ipc({ id: vectorFromArray([1], new Int32()) }), "b", 100));
    expect(timeless.violations.map((v) => [v.field, v.description])).toEqual([
      ["b.arrow_ipc", 'has no "event_time" column: every spine row needs its time to look back from (a timestamp)'],
    ]);

    // Bytes after the stream would be left unread, their rows lost: a second stream, trailing bytes, an Arrow file.
    const one = ipc({ event_time: times([US]) });
    const framing = async (bytes: Uint8Array) =>
      (await validationFailure(() => readArrowSpine(bytes, "b", 100))).violations[0]?.description;
    expect(await framing(new Uint8Array([...one, ...one]))).toContain("bytes follow its end-of-stream marker");
    expect(await framing(new Uint8Array([...one, 1, 2, 3]))).toContain("3 bytes follow its end-of-stream marker");
    expect(await framing(new Uint8Array([...one.subarray(0, one.length - 8), ...one]))).toContain("a second schema");
    expect(await framing(one.subarray(0, one.length - 20))).toContain("runs past the end");
    expect(await framing(tableToIPC(new Table({ event_time: times([US]) }), "file"))).toContain("is not one Arrow IPC stream");

    // A column that declares more rows than its buffers hold (the reader takes the count on trust).
    const short = ipc({ event_time: makeVector(makeData({ type: new TimestampMicrosecond(), length: 4, data: BigInt64Array.of(1000n) })) });
    expect((await validationFailure(() => readArrowSpine(short, "b", 100))).violations.map((v) => [v.field, v.description])).toEqual([
      ['b.arrow_ipc["event_time"]', "declares 4 rows but its buffers hold fewer: the stream is malformed"],
    ]);
    const shortText = makeVector(makeData({ type: new Utf8(), length: 3, valueOffsets: Int32Array.of(0, 1), data: new Uint8Array([97]) }));
    expect(
      (await validationFailure(() => readArrowSpine(ipc({ event_time: times([US, US, US]), note: shortText }), "b", 100))).violations[0]
        ?.field,
    ).toBe('b.arrow_ipc["note"]');

    const tooLong = await validationFailure(() => readArrowSpine(ipc({ event_time: times([US, US, US]) }), "spine_batches[0]", 2));
    expect(tooLong.violations.map((v) => v.description)).toEqual([
      "holds 3 rows; a batch holds at most 2 (limits.maxRowsPerBatch): send smaller batches",
    ]);

    const fields = [new Field("id", new Int32(), true), new Field("id", new Int32(), true)];
    const twice = tableToIPC(
      new Table([
        new RecordBatch(
          new Schema(fields),
          makeData({
            type: new Struct<TypeMap>(fields),
            length: 1,
            nullCount: 0,
            children: [vectorFromArray([1], new Int32()).data[0] as never, vectorFromArray([2], new Int32()).data[0] as never],
          }),
        ),
      ]),
      "stream",
    );
    expect((await validationFailure(() => readArrowSpine(twice, "b", 100))).violations.map((v) => [v.field, v.description])).toEqual([
      ['b.arrow_ipc["id"]', "is a column name used twice"],
      ["b.arrow_ipc", 'has no "event_time" column: every spine row needs its time to look back from (a timestamp)'],
    ]);

    const unsupported = await validationFailure(() =>
      readArrowSpine(
        ipc({
          event_time: vectorFromArray([1, 2], new Int32()),
          big: fixed(new Uint64(), [1n, 2n]),
          day: vectorFromArray([new Date(0), new Date(0)], new DateDay()),
          list: vectorFromArray([[1], [2]], new List(new Field("item", new Int32(), true))),
          // A dictionary of anything but text or bytes.
          when: makeVector(
            makeData({
              type: new Dictionary(new TimestampMicrosecond(), new Int32()),
              length: 2,
              data: Int32Array.of(0, 0),
              dictionary: times([US]),
            }),
          ),
          fine: vectorFromArray([1, 2], new Int32()),
        }),
        "spine_batches[1]",
        100,
      ),
    );
    expect(unsupported.reason).toBe("INVALID_SPINE_BATCH");
    expect(unsupported.violations.map((v) => v.field)).toEqual([
      'spine_batches[1].arrow_ipc["event_time"]',
      'spine_batches[1].arrow_ipc["big"]',
      'spine_batches[1].arrow_ipc["day"]',
      'spine_batches[1].arrow_ipc["list"]',
      'spine_batches[1].arrow_ipc["when"]',
    ]);
    expect(unsupported.violations[0]?.description).toBe(
      "is Int32, not a timestamp: every spine row's event time is a timestamp (any unit)",
    );
    // A type the spine cannot hold is named as such, whatever its buffers (a list has none of a value per row).
    for (const violation of unsupported.violations.slice(1)) expect(violation.description).toContain("which a spine column cannot be");
  });
});
