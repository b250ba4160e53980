import { Field, Float64, Int64, RecordBatchReader, Schema, Table, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../common/errors.js";
import type { FeatureServiceVersion } from "../registry/model.js";
import type { ArrowChunk } from "../storage/offline/offline-store.js";
import { ArrowStreamJoiner, arrowRows, arrowSchemaOf } from "./arrow-values.js";
import {
  appendDerivedColumns,
  checkRequestInputColumns,
  type DerivedColumnsPlan,
  derivedColumnsPlanOf,
  derivedOutputColumns,
  withDerivedColumns,
} from "./derived-columns.js";

const service: FeatureServiceVersion = {
  project: "default",
  name: "scoring",
  version: 2,
  features: ["stats:spend_mean", "stats:segment"],
  requestInputs: [
    { name: "amount", type: "double", description: "" },
    { name: "country", type: "string", description: "" },
  ],
  derivedFeatures: [
    { name: "ratio", expression: "amount / stats:spend_mean", description: "", type: "double" },
    { name: "same_country", expression: "stats:segment = country", description: "", type: "bool" },
    { name: "size", expression: "if(amount > 100, 'big', 'small')", description: "", type: "string" },
  ],
  description: "",
  owner: "",
  tags: {},
  changes: [],
  createTime: new Date(0),
};

const plan = derivedColumnsPlanOf(service, [{ type: "double" }, { type: "string" }], ["spend_mean", "segment"]) as DerivedColumnsPlan;

/** A result chunk as the offline store streams it: keys, event_time, spine extras, then features. */
function chunk(rows: Array<{ id: bigint; amount: bigint | null; country: string | null; mean: number | null; segment: string | null }>) {
  const table = new Table({
    customer_id: vectorFromArray(
      rows.map((r) => r.id),
      new Int64(),
    ),
    amount: vectorFromArray(
      rows.map((r) => r.amount),
      new Int64(),
    ),
    country: vectorFromArray(
      rows.map((r) => r.country),
      new Utf8(),
    ),
    spend_mean: vectorFromArray(
      rows.map((r) => r.mean),
      new Float64(),
    ),
    segment: vectorFromArray(
      rows.map((r) => r.segment),
      new Utf8(),
    ),
  });
  return { ipc: tableToIPC(table, "stream"), rows: rows.length };
}

describe("derived columns of a retrieval", () => {
  it("appends one column per derived feature, after the features, computed row by row", () => {
    const extended = withDerivedColumns(
      chunk([
        { id: 1n, amount: 150n, country: "NL", mean: 50, segment: "NL" },
        { id: 2n, amount: 10n, country: "DE", mean: 0, segment: "NL" },
        { id: 3n, amount: null, country: null, mean: null, segment: null },
      ]),
      plan,
    );
    expect(extended.rows).toBe(3);
    const reader = RecordBatchReader.from(extended.ipc);
    reader.open();
    expect(reader.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      "customer_id:Int64",
      "amount:Int64",
      "country:Utf8",
      "spend_mean:Float64",
      "segment:Utf8",
      "ratio:Float64",
      "same_country:Bool",
      "size:Utf8",
    ]);
    expect([...arrowRows(extended.ipc)].map((row) => row.slice(5))).toEqual([
      [3, true, "big"],
      // Division by zero is null.
      [null, false, "small"],
      // Nulls propagate; a null condition takes the else branch.
      [null, null, "small"],
    ]);
  });

  it("names the derived columns with their type and the service that derives them", () => {
    expect(derivedOutputColumns(plan)).toEqual([
      { name: "ratio", type: "double", role: "derived", derivedBy: { project: "default", name: "scoring", version: 2 } },
      { name: "same_country", type: "bool", role: "derived", derivedBy: { project: "default", name: "scoring", version: 2 } },
      { name: "size", type: "string", role: "derived", derivedBy: { project: "default", name: "scoring", version: 2 } },
    ]);
    expect(derivedOutputColumns(undefined)).toEqual([]);
  });

  it("extends a chunk without rows and keeps the schema an empty result is given", () => {
    const empty = new Table(new Schema([new Field("customer_id", new Int64(), false), new Field("spend_mean", new Float64(), true)]));
    const extended = withDerivedColumns({ ipc: tableToIPC(empty, "stream"), rows: 0 }, plan);
    const reader = RecordBatchReader.from(extended.ipc);
    reader.open();
    expect(reader.schema.fields.map((f) => f.name)).toEqual(["customer_id", "spend_mean", "ratio", "same_country", "size"]);
    const columns = derivedOutputColumns(plan);
    expect(arrowSchemaOf(columns).fields.map((f) => String(f.type))).toEqual(["Float64", "Bool", "Utf8"]);
  });

  it("streams chunk by chunk, joinable into one Arrow stream", async () => {
    async function* chunks(): AsyncGenerator<ArrowChunk> {
      yield chunk([{ id: 1n, amount: 4n, country: "NL", mean: 2, segment: "NL" }]);
      yield chunk([{ id: 2n, amount: 9n, country: "NL", mean: 3, segment: "BE" }]);
    }
    const joiner = new ArrowStreamJoiner();
    const parts: Uint8Array[] = [];
    for await (const part of appendDerivedColumns(chunks(), plan)) parts.push(...joiner.next(part.ipc));
    parts.push(joiner.end([]));
    const joined = Buffer.concat(parts);
    expect([...arrowRows(joined)].map((row) => row.slice(5))).toEqual([
      [2, true, "small"],
      [3, false, "small"],
    ]);
    // Without derived features the chunks pass through untouched.
    const original = chunk([{ id: 1n, amount: 4n, country: "NL", mean: 2, segment: "NL" }]);
    async function* one() {
      yield original;
    }
    for await (const part of appendDerivedColumns(one(), undefined)) expect(part).toBe(original);
  });

  it("needs a spine column of an accepted type for every request input read, before any join", () => {
    const source = { kind: "inline" } as const;
    checkRequestInputColumns(
      plan,
      {
        extraColumns: [
          { name: "amount", type: "int64" },
          { name: "country", type: "string" },
        ],
      },
      source,
    );
    checkRequestInputColumns(undefined, { extraColumns: [] }, source);
    const problem = (extraColumns: Array<{ name: string; type: "string" | "double" | "bool" }>, kind: "inline" | "table") => {
      try {
        checkRequestInputColumns(plan, { extraColumns }, kind === "inline" ? source : { kind: "table", table: "t" });
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        const { reason, violations } = error as ValidationError;
        return [reason, violations.map((v) => `${v.field}: ${v.description}`)];
      }
      return expect.unreachable("should be refused");
    };
    expect(problem([{ name: "country", type: "string" }], "inline")).toEqual([
      "MISSING_REQUEST_INPUT",
      [
        'spine_batches: derived features "ratio", "size" of feature service scoring@2 read request input "amount" (double): the spine needs an extra column "amount"',
      ],
    ]);
    expect(
      problem(
        [
          { name: "amount", type: "double" },
          { name: "country", type: "bool" },
        ],
        "table",
      ),
    ).toEqual([
      "INVALID_REQUEST_INPUT",
      ['query.offline_spine.table: spine column "country" is bool; request input "country" of feature service scoring@2 is string'],
    ]);
  });
});
