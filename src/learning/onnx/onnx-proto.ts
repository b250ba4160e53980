/**
 * The part of the official `onnx.proto` (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) that
 * {@link encodeModel} writes, as a protobufjs JSON descriptor: message names and field numbers are the
 * official ones, so the bytes are an ordinary ModelProto; fields this subset leaves out are simply never
 * written. Embedded as a TypeScript object so the compiled build needs no .proto file at run time.
 */
import protobuf from "protobufjs";

/** `TensorProto.DataType` values this code uses. */
export const DataType = { INT64: 7, STRING: 8, DOUBLE: 11 } as const;

/** `AttributeProto.AttributeType` values this code uses. */
export const AttributeType = { INT: 2 } as const;

/** A `TensorProto`: an initializer. Numbers go in `rawData` (little-endian), strings in `stringData` (UTF-8). */
export interface TensorProto {
  name: string;
  dataType: number;
  dims: number[];
  rawData?: Uint8Array;
  stringData?: Uint8Array[];
}

/** An `AttributeProto` of type INT. */
export interface AttributeProto {
  name: string;
  type: number;
  i: number;
}

/** A `NodeProto`. */
export interface NodeProto {
  name: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
}

/** A `ValueInfoProto` of a tensor; a string dim is symbolic (`dim_param`), a number fixed (`dim_value`). */
export interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
}

/** A `GraphProto`. */
export interface GraphProto {
  name: string;
  docString?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}

/** A `ModelProto`. */
export interface ModelProto {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion?: string;
  docString?: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
}

const field = (id: number, type: string) => ({ id, type });
const repeated = (id: number, type: string) => ({ id, type, rule: "repeated" });

const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: field(1, "string"),
            type: field(20, "AttributeType"),
            i: field(3, "int64"),
          },
          nested: {
            AttributeType: {
              values: { UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 },
            },
          },
        },
        ValueInfoProto: {
          fields: { name: field(1, "string"), type: field(2, "TypeProto"), docString: field(3, "string") },
        },
        NodeProto: {
          fields: {
            input: repeated(1, "string"),
            output: repeated(2, "string"),
            name: field(3, "string"),
            opType: field(4, "string"),
            domain: field(7, "string"),
            attribute: repeated(5, "AttributeProto"),
            docString: field(6, "string"),
          },
        },
        ModelProto: {
          fields: {
            irVersion: field(1, "int64"),
            opsetImport: repeated(8, "OperatorSetIdProto"),
            producerName: field(2, "string"),
            producerVersion: field(3, "string"),
            domain: field(4, "string"),
            modelVersion: field(5, "int64"),
            docString: field(6, "string"),
            graph: field(7, "GraphProto"),
            metadataProps: repeated(14, "StringStringEntryProto"),
          },
        },
        StringStringEntryProto: {
          fields: { key: field(1, "string"), value: field(2, "string") },
        },
        GraphProto: {
          fields: {
            node: repeated(1, "NodeProto"),
            name: field(2, "string"),
            initializer: repeated(5, "TensorProto"),
            docString: field(10, "string"),
            input: repeated(11, "ValueInfoProto"),
            output: repeated(12, "ValueInfoProto"),
            valueInfo: repeated(13, "ValueInfoProto"),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated(1, "int64"),
            dataType: field(2, "int32"),
            stringData: repeated(6, "bytes"),
            name: field(8, "string"),
            docString: field(12, "string"),
            rawData: field(9, "bytes"),
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated(1, "Dimension") },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: { dimValue: field(1, "int64"), dimParam: field(2, "string"), denotation: field(3, "string") },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ["tensorType"] } },
          fields: { tensorType: field(1, "Tensor"), denotation: field(6, "string") },
          nested: {
            Tensor: { fields: { elemType: field(1, "int32"), shape: field(2, "TensorShapeProto") } },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: field(1, "string"), version: field(2, "int64") },
        },
      },
    },
  },
};

const modelType = protobuf.Root.fromJSON(descriptor).lookupType("onnx.ModelProto");

/** Serialises a model to ModelProto bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  // encode().finish() may return a view onto a shared pool buffer; hand back bytes of their own.
  return new Uint8Array(modelType.encode(model).finish());
}
