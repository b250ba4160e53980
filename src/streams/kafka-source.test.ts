import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/config.js";
import { type DecodeTarget, decodeJson, decodeTargetOf, eventRowOf, protobufDecoder, timeToMicros } from "./kafka-source.js";

const target: DecodeTarget = decodeTargetOf(
  {
    name: "txn",
    eventTimeField: "ts",
    fields: [
      { name: "amount", type: "double", description: "" },
      { name: "merchant", type: "string", description: "" },
      { name: "seen_at", type: "timestamp", description: "" },
      { name: "tags", type: "string_list", description: "" },
    ],
  },
  { joinKeys: [{ name: "card_id", type: "int64" }] },
  { eventTimeUnit: "milliseconds", ignoreUnknownFields: false },
);

describe("timeToMicros", () => {
  it("reads epoch numbers in the source's unit, and their decimal text the same way", () => {
    expect(timeToMicros(1_700_000_000, "seconds")).toBe(1_700_000_000_000_000);
    expect(timeToMicros(1_700_000_000.25, "seconds")).toBe(1_700_000_000_250_000);
    expect(timeToMicros(1_700_000_000_123, "milliseconds")).toBe(1_700_000_000_123_000);
    expect(timeToMicros("1700000000123", "milliseconds")).toBe(1_700_000_000_123_000);
    expect(timeToMicros(1_700_000_000_123_456, "microseconds")).toBe(1_700_000_000_123_456);
    expect(timeToMicros("1700000000123456789", "nanoseconds")).toBe(1_700_000_000_123_456);
    expect(timeToMicros(-1500, "milliseconds")).toBe(-1_500_000);
  });

  it("reads ISO-8601 text to the microsecond, UTC unless it names an offset", () => {
    const base = Date.UTC(2024, 1, 29, 12, 30, 5) * 1000;
    expect(timeToMicros("2024-02-29T12:30:05Z", "seconds")).toBe(base);
    expect(timeToMicros("2024-02-29T12:30:05", "seconds")).toBe(base);
    expect(timeToMicros("2024-02-29 12:30:05.123456789Z", "seconds")).toBe(base + 123_456);
    expect(timeToMicros("2024-02-29T14:30:05.5+02:00", "seconds")).toBe(base + 500_000);
    expect(timeToMicros("2024-02-29T07:00:05-0530", "seconds")).toBe(base);
    expect(timeToMicros("2024-02-29", "seconds")).toBe(Date.UTC(2024, 1, 29) * 1000);
  });

  it("reads a Protobuf Timestamp", () => {
    expect(timeToMicros({ seconds: "1700000000", nanos: 123_456_789 }, "seconds")).toBe(1_700_000_000_123_456);
  });

  it.each([["2023-02-29T00:00:00Z"], ["yesterday"], ["2024-13-01"], ["12:00"], [true], [{ when: 1 }], [Number.NaN]])(
    "says why %j is not a time",
    (raw) => {
      expect(typeof timeToMicros(raw, "milliseconds")).toBe("string");
    },
  );
});

describe("eventRowOf", () => {
  it("converts keys, the event time and fields to their declared types", () => {
    const result = eventRowOf(
      { card_id: "9007199254740993", ts: 1_700_000_000_000, amount: 12, merchant: 42, seen_at: "2024-01-01T00:00:00Z", tags: ["a"] },
      target,
    );
    expect(result).toEqual({
      row: {
        entityKey: { card_id: { kind: "int64", value: 9007199254740993n } },
        eventTime: 1_700_000_000_000_000,
        features: {
          amount: { kind: "double", value: 12 },
          merchant: { kind: "string", value: "42" },
          seen_at: { kind: "timestamp", value: new Date("2024-01-01T00:00:00Z") },
          tags: { kind: "string_list", value: ["a"] },
        },
      },
    });
  });

  it("names every field that is wrong, and requires the event time", () => {
    const result = eventRowOf({ card_id: 2 ** 60, amount: "lots", merchant: { name: "x" }, colour: "red", tags: "a" }, target);
    expect("violations" in result && result.violations.map((v) => v.field)).toEqual([
      "card_id",
      "amount",
      "merchant",
      "colour",
      "tags",
      "ts",
    ]);
    expect(JSON.stringify(result)).toContain("send it as a string");
  });

  it("leaves out undeclared fields when told to", () => {
    const result = eventRowOf({ card_id: 1, ts: 5, colour: "red" }, { ...target, ignoreUnknownFields: true });
    expect("row" in result && result.row.features).toEqual({});
  });
});

describe("decoders", () => {
  it("takes one JSON object per message", () => {
    expect(decodeJson(Buffer.from('{"a": 1}'))).toEqual({ fields: { a: 1 } });
    expect(decodeJson(Buffer.from("[1]"))).toEqual({ problem: "not a JSON object" });
    expect(decodeJson(Buffer.from("{nope"))).toMatchObject({ problem: expect.stringMatching(/^not JSON/) });
    expect(decodeJson(null)).toMatchObject({ problem: expect.stringMatching(/tombstone/) });
  });

  it("decodes a Protobuf message of a .proto file, keeping field names and 64-bit integers exact", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-proto-"));
    const file = join(dir, "txn.proto");
    writeFileSync(
      file,
      [
        'syntax = "proto3";',
        "package shop.v1;",
        'import "google/protobuf/timestamp.proto";',
        "message Transaction {",
        "  int64 card_id = 1;",
        "  google.protobuf.Timestamp ts = 2;",
        "  double amount = 3;",
        "  optional string merchant = 4;",
        "}",
      ].join("\n"),
    );
    const decode = protobufDecoder({ protoFile: file, messageType: "shop.v1.Transaction" }, "kafka.sources.0");
    const type = new protobuf.Root().loadSync(file, { keepCase: true }).lookupType("shop.v1.Transaction");
    const bytes = type
      .encode(type.fromObject({ card_id: "9007199254740993", ts: { seconds: 1_700_000_000, nanos: 5000 }, amount: 0 }))
      .finish();
    const decoded = decode(Buffer.from(bytes));
    expect(decoded).toEqual({ fields: { card_id: "9007199254740993", ts: { seconds: "1700000000", nanos: 5000 }, amount: 0 } });
    expect("fields" in decoded && eventRowOf(decoded.fields, target)).toEqual({
      row: {
        entityKey: { card_id: { kind: "int64", value: 9007199254740993n } },
        eventTime: 1_700_000_000_000_005,
        features: { amount: { kind: "double", value: 0 } },
      },
    });
    expect(decode(Buffer.from("{not protobuf}"))).toMatchObject({ problem: expect.stringMatching(/^not a shop.v1.Transaction message/) });
    expect(() => protobufDecoder({ protoFile: file, messageType: "shop.v1.Nope" }, "kafka.sources.2")).toThrow(ConfigError);
    expect(() => protobufDecoder({ protoFile: join(dir, "missing.proto"), messageType: "a.B" }, "kafka.sources.2")).toThrow(
      /kafka.sources.2.protoFile/,
    );
  });
});
