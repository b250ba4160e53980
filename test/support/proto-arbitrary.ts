/**
 * Random request bytes for every served method, built from the served descriptors
 * (src/gen/descriptors.binpb), for the wire-limit property tests and the fuzz suite: messages
 * with extreme values (int64 limits, NaN and infinities, unknown enum values, long strings,
 * out-of-range timestamps), and byte-level damage (cut short, flipped bytes, garbage, unknown
 * fields, groups, overlong varints, a message repeated until its lists are huge).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create, createFileRegistry, type DescField, type DescMessage, fromBinary, ScalarType, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";

/** One served method and its request type. */
export interface ServedMethod {
  /** "/sluice.v1.OnlineService/GetOnlineFeatures". */
  path: string;
  input: DescMessage;
  clientStreaming: boolean;
  serverStreaming: boolean;
}

/** Every method of every service in the descriptor set, health included. */
export function servedMethods(): ServedMethod[] {
  const path = fileURLToPath(new URL("../../src/gen/descriptors.binpb", import.meta.url));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(path)));
  const methods: ServedMethod[] = [];
  for (const type of registry) {
    if (type.kind !== "service") continue;
    for (const method of type.methods) {
      methods.push({
        path: `/${type.typeName}/${method.name}`,
        input: method.input,
        clientStreaming: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        serverStreaming: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      });
    }
  }
  return methods;
}

/** How big generated messages get. */
export interface ArbitraryOptions {
  /** Nesting of generated messages. */
  maxDepth: number;
  /** Items of a generated list or map (huge counts come from {@link repeatedMessage}). */
  maxItems: number;
  /** Longest generated string or bytes value. */
  maxLongBytes: number;
  /** Names worth trying: existing resources make requests reach deeper than random text does. */
  words: readonly string[];
}

const DEFAULT_OPTIONS: ArbitraryOptions = { maxDepth: 4, maxItems: 4, maxLongBytes: 100_000, words: [] };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Well-formed (encodable) messages of `desc`, values drawn from the usual and the extreme. */
export function messageBytes(desc: DescMessage, options: Partial<ArbitraryOptions> = {}): fc.Arbitrary<Uint8Array> {
  const settings = { ...DEFAULT_OPTIONS, ...options };
  return messageInit(desc, settings, 0).map((init) => toBinary(desc, create(desc, init as never)));
}

/** Any bytes a client could send as a request of `desc`: well-formed, extreme, or damaged. */
export function requestBytes(desc: DescMessage, options: Partial<ArbitraryOptions> & { maxBytes?: number } = {}): fc.Arbitrary<Uint8Array> {
  const wellFormed = messageBytes(desc, options);
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  return fc.oneof(
    { weight: 4, arbitrary: wellFormed },
    {
      weight: 1,
      arbitrary: fc.tuple(wellFormed, fc.nat()).map(([bytes, cut]) => bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(wellFormed, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
        .map(([bytes, flips]) => {
          const copy = new Uint8Array(bytes);
          for (const [at, value] of flips) if (copy.length > 0) copy[at % copy.length] = value;
          return copy;
        }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
    { weight: 1, arbitrary: fc.tuple(wellFormed, damage()).map(([bytes, tail]) => concat([bytes, tail])) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(wellFormed, fc.integer({ min: 2, max: 2_000_000 }))
        .map(([bytes, times]) => repeatedMessage(bytes, times, maxBytes)),
    },
  );
}

/** `bytes` repeated `times` (at most `maxBytes` in all): protobuf merges the copies, so every list grows `times`-fold. */
export function repeatedMessage(bytes: Uint8Array, times: number, maxBytes: number): Uint8Array {
  const copies = bytes.length === 0 ? 0 : Math.max(1, Math.min(times, Math.floor(maxBytes / bytes.length)));
  const out = new Uint8Array(bytes.length * copies);
  for (let i = 0; i < copies; i++) out.set(bytes, i * bytes.length);
  return out;
}

/** Tails that break or stretch the wire format. */
function damage(): fc.Arbitrary<Uint8Array> {
  const tag = (field: number, wire: number) => varint(BigInt(field) * 8n + BigInt(wire));
  return fc.oneof(
    // An unknown field of each wire type, well-formed.
    fc.integer({ min: 1000, max: 536_870_911 }).map((field) => concat([tag(field, 0), varint(300n)])),
    fc
      .tuple(fc.integer({ min: 1000, max: 5000 }), fc.uint8Array({ maxLength: 64 }))
      .map(([field, body]) => concat([tag(field, 2), varint(BigInt(body.length)), body])),
    // A group start or end, and the undefined wire types.
    fc.constantFrom(3, 4, 6, 7).map((wire) => tag(1, wire)),
    // A varint of eleven bytes.
    fc.constant(concat([tag(1, 0), new Uint8Array(10).fill(0xff), Uint8Array.of(1)])),
    // A length past the end.
    fc.integer({ min: 1, max: 20 }).map((field) => concat([tag(field, 2), varint(1_000_000n), Uint8Array.of(1, 2, 3)])),
    // Field number 0, and an overlong tag.
    fc.constant(Uint8Array.of(0x00, 0x01)),
    fc.constant(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
    // Deep nesting of an unknown length-delimited field.
    fc.integer({ min: 1, max: 2000 }).map((levels) => {
      let inner: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < levels; i++) inner = concat([tag(9999, 2), varint(BigInt(inner.length)), inner]);
      return inner;
    }),
  );
}

function messageInit(desc: DescMessage, options: ArbitraryOptions, depth: number): fc.Arbitrary<Record<string, unknown>> {
  if (depth >= options.maxDepth) return fc.constant({});
  const parts: Array<fc.Arbitrary<[string, unknown] | undefined>> = [];
  for (const oneof of desc.oneofs) {
    const members = oneof.fields.map((field) =>
      fieldValue(field, options, depth).map((value): [string, unknown] => [oneof.localName, { case: field.localName, value }]),
    );
    parts.push(fc.option(fc.oneof(...members), { nil: undefined, freq: 2 }));
  }
  for (const field of desc.fields) {
    if (field.oneof) continue;
    parts.push(
      fc.option(
        fieldValue(field, options, depth).map((value): [string, unknown] => [field.localName, value]),
        { nil: undefined, freq: 2 },
      ),
    );
  }
  if (parts.length === 0) return fc.constant({});
  return fc.tuple(...parts).map((entries) => Object.fromEntries(entries.filter((entry) => entry !== undefined)));
}

function fieldValue(field: DescField, options: ArbitraryOptions, depth: number): fc.Arbitrary<unknown> {
  const list = { maxLength: options.maxItems };
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, options);
    case "enum":
      return enumValue(field.enum.values.map((v) => v.number));
    case "message":
      return messageInit(field.message, options, depth + 1);
    case "list":
      if (field.listKind === "scalar") return fc.array(scalarValue(field.scalar, options), list);
      if (field.listKind === "enum") return fc.array(enumValue(field.enum.values.map((v) => v.number)), list);
      return fc.array(messageInit(field.message, options, depth + 1), list);
    case "map": {
      const value =
        field.mapKind === "message"
          ? messageInit(field.message, options, depth + 1)
          : field.mapKind === "enum"
            ? enumValue(field.enum.values.map((v) => v.number))
            : scalarValue(field.scalar, options);
      const key = field.mapKey === ScalarType.STRING ? stringValue(options) : scalarValue(field.mapKey, options).map(String);
      return fc.array(fc.tuple(key, value), list).map((entries) => Object.fromEntries(entries));
    }
  }
}

function enumValue(known: number[]): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    fc.integer({ min: -3, max: 1000 }),
    fc.constantFrom(-2147483648, 2147483647),
  );
}

function stringValue(options: ArbitraryOptions): fc.Arbitrary<string> {
  const words = options.words.length > 0 ? [fc.constantFrom(...options.words)] : [];
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
    ...words.map((arbitrary) => ({ weight: 4, arbitrary })),
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 16 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: options.maxLongBytes }).map((n) => "x".repeat(n)) },
    { weight: 1, arbitrary: fc.constantFrom("", " ", "\u0000", "../../etc/passwd", "a:b:c", "projects/", "@", "v@0:f", "v@99999999999:f") },
  );
}

function scalarValue(scalar: ScalarType, options: ArbitraryOptions): fc.Arbitrary<unknown> {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return fc.oneof(
        fc.double(),
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, Number.MAX_VALUE, Number.MIN_VALUE),
      );
    case ScalarType.FLOAT:
      return fc.oneof(fc.float(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 3.4e38));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(
        fc.bigInt({ min: -1000n, max: 1000n }),
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
        fc.constantFrom(INT64_MIN, INT64_MAX, 2n ** 62n, -(2n ** 62n), 253_402_300_800n, 1_700_000_000_000_000n),
      );
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.integer(), fc.constantFrom(-2147483648, 2147483647, 1_000_000_000));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 4294967295 }));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return stringValue(options);
    case ScalarType.BYTES:
      return fc.oneof(
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 32 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: options.maxLongBytes }).map((n) => new Uint8Array(n)) },
      );
  }
}

function varint(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let rest = BigInt.asUintN(64, value);
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Uint8Array.from(bytes);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
