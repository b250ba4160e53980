/**
 * inference.GRPCInferenceService, the KServe v2 / Open Inference Protocol: the same model
 * versions as ModelService, for clients that send tensors themselves (no features fetched). A
 * model is named "m" (project "default") or "projects/p/models/m"; a version is its number, or
 * empty for the latest. A version is loaded on first use and stays loaded. Typed contents and
 * raw_input_contents are both taken; a request with raw inputs gets raw outputs back.
 */
import { ValidationError } from "../common/errors.js";
import {
  type GRPCInferenceServiceServer,
  InferTensorContents,
  type ModelInferRequest,
  type ModelInferResponse_InferOutputTensor,
} from "../gen/inference/grpc_predict_v2.pb.js";
import type { ServingRouter } from "../inference/serving-router.js";
import type { VersionRef } from "../models/model.js";
import type { ModelRegistry } from "../models/model-registry.js";
import { DEFAULT_PROJECT, describeInvalidResourceId, parseResourceName, parseVersionNumber } from "../registry/names.js";
import type { InferencePool } from "../serving/inference-pool.js";
import { type ElementType, elementCount, type Tensor, type TensorData } from "../serving/tensors.js";
import { VERSION } from "../version.js";
import type { HandlerEnv } from "./call-context.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "inference.GRPCInferenceService";

/** KServe datatypes and Sluice element types, both ways. */
const DATATYPES: Record<string, ElementType> = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
};
const DATATYPE_OF = Object.fromEntries(Object.entries(DATATYPES).map(([datatype, type]) => [type, datatype])) as Record<
  ElementType,
  string
>;

/** Builds the KServe v2 handlers. */
export function kserveServiceHandlers(
  models: ModelRegistry,
  router: ServingRouter,
  pool: InferencePool,
  env: HandlerEnv,
  isServing: () => boolean,
): GRPCInferenceServiceServer {
  const resolve = async (name: string, version: string): Promise<VersionRef> => {
    const model = modelOf(name);
    const number = version === "" ? (await models.getModel(model.project, model.model)).latestVersion : parseVersionNumber(version);
    if (number === undefined)
      throw new ValidationError("INVALID_MODEL_VERSION", [{ field: "version", description: `"${version}" is not a version number` }]);
    return { ...model, version: number };
  };
  return {
    serverLive: unaryHandler(`${SERVICE}/ServerLive`, env, async () => ({ live: true })),
    serverReady: unaryHandler(`${SERVICE}/ServerReady`, env, async () => ({ ready: isServing() })),
    modelReady: unaryHandler(`${SERVICE}/ModelReady`, env, async (request) => {
      await router.pinnedVersion(await resolve(request.name, request.version));
      return { ready: true };
    }),
    serverMetadata: unaryHandler(`${SERVICE}/ServerMetadata`, env, async () => ({ name: "sluice", version: VERSION, extensions: [] })),
    modelMetadata: unaryHandler(`${SERVICE}/ModelMetadata`, env, async (request) => {
      const ref = await resolve(request.name, request.version);
      const version = await models.getVersion(ref.project, ref.model, ref.version);
      const page = await models.listVersions(ref.project, ref.model, 1000, "");
      const tensor = (t: (typeof version.inputs)[number]) => ({
        name: t.name,
        datatype: DATATYPE_OF[t.elementType as ElementType] ?? t.elementType.toUpperCase(),
        shape: t.shape.map(BigInt),
      });
      return {
        name: request.name,
        versions: page.items.map((v) => String(v.version)),
        platform: "onnxruntime_onnx",
        inputs: version.inputs.map(tensor),
        outputs: version.outputs.map(tensor),
      };
    }),
    modelInfer: unaryHandler(`${SERVICE}/ModelInfer`, env, async (request) => {
      const ref = await resolve(request.modelName, request.modelVersion);
      const serving = await router.pinnedVersion(ref);
      const { inputs, rows, raw } = tensorsOf(request, serving.version.inputs);
      const release = router.acquire(serving);
      let outputs: Record<string, Tensor>;
      try {
        outputs = await pool.run(serving.version.sha256, inputs, rows);
      } finally {
        release();
      }
      const wanted = request.outputs.length > 0 ? request.outputs.map((o) => o.name) : serving.version.outputs.map((o) => o.name);
      const unknown = wanted.filter((name) => !outputs[name]);
      if (unknown.length > 0) {
        throw new ValidationError(
          "UNKNOWN_OUTPUT",
          unknown.map((name) => ({ field: "outputs", description: `the model has no output "${name}"` })),
        );
      }
      const tensors = wanted.map((name) => outputs[name] as Tensor);
      return {
        modelName: request.modelName,
        modelVersion: String(ref.version),
        id: request.id,
        parameters: {},
        outputs: tensors.map(
          (tensor, i): ModelInferResponse_InferOutputTensor => ({
            name: wanted[i] as string,
            datatype: DATATYPE_OF[tensor.type],
            shape: tensor.dims.map(BigInt),
            parameters: {},
            contents: raw ? undefined : contentsOf(tensor),
          }),
        ),
        rawOutputContents: raw ? tensors.map(rawOf) : [],
      };
    }),
  };
}

/** "m" (project default) or "projects/p/models/m"; INVALID_ARGUMENT for anything else. */
function modelOf(name: string): { project: string; model: string } {
  if (name.startsWith("projects/")) {
    const { project, id } = parseResourceName(name, "models", "name");
    return { project, model: id };
  }
  // A bare id becomes a store key: checked like every other id.
  const problem = describeInvalidResourceId(name);
  if (problem) throw new ValidationError("INVALID_RESOURCE_NAME", [{ field: "name", description: `model ${problem}` }]);
  return { project: DEFAULT_PROJECT, model: name };
}

/** A request's input tensors, checked against the model's inputs. INVALID_ARGUMENT field by field. */
function tensorsOf(request: ModelInferRequest, specs: ReadonlyArray<{ name: string; elementType: string }>) {
  const raw = request.rawInputContents.length > 0;
  if (raw && request.rawInputContents.length !== request.inputs.length) {
    throw new ValidationError("INVALID_INPUTS", [
      { field: "raw_input_contents", description: "give one raw content per input, in input order" },
    ]);
  }
  const inputs: Record<string, Tensor> = {};
  let rows: number | undefined;
  request.inputs.forEach((input, i) => {
    const field = `inputs[${i}]`;
    const spec = specs.find((s) => s.name === input.name);
    if (!spec)
      throw new ValidationError("INVALID_INPUTS", [
        {
          field: `${field}.name`,
          description: `the model has no input "${input.name}"; its inputs: ${specs.map((s) => s.name).join(", ")}`,
        },
      ]);
    const type = DATATYPES[input.datatype];
    if (type !== spec.elementType) {
      throw new ValidationError("INVALID_INPUTS", [
        {
          field: `${field}.datatype`,
          description: `input "${input.name}" takes ${DATATYPE_OF[spec.elementType as ElementType] ?? spec.elementType}, not ${input.datatype}`,
        },
      ]);
    }
    const dims = input.shape.map(Number);
    const data = raw ? fromRaw(type, request.rawInputContents[i] as Buffer) : fromContents(type, input.contents);
    if (data.length !== elementCount(dims)) {
      throw new ValidationError("INVALID_INPUTS", [
        { field: `${field}.shape`, description: `shape [${dims.join(", ")}] needs ${elementCount(dims)} values; ${data.length} were sent` },
      ]);
    }
    if (rows !== undefined && dims[0] !== rows)
      throw new ValidationError("INVALID_INPUTS", [{ field: `${field}.shape`, description: "every input needs the same first dimension" }]);
    rows = dims[0];
    inputs[input.name] = { type, data, dims };
  });
  return { inputs, rows: rows ?? 0, raw };
}

function fromContents(type: ElementType, contents: InferTensorContents | undefined): TensorData {
  const c = contents ?? InferTensorContents.fromPartial({});
  switch (type) {
    case "float32":
      return Float32Array.from(c.fp32Contents);
    case "float64":
      return Float64Array.from(c.fp64Contents);
    case "int64":
      return BigInt64Array.from(c.int64Contents);
    case "uint64":
      return BigUint64Array.from(c.uint64Contents);
    case "int32":
      return Int32Array.from(c.intContents);
    case "int16":
      return Int16Array.from(c.intContents);
    case "int8":
      return Int8Array.from(c.intContents);
    case "uint32":
      return Uint32Array.from(c.uintContents);
    case "uint16":
      return Uint16Array.from(c.uintContents);
    case "uint8":
      return Uint8Array.from(c.uintContents);
    case "bool":
      return Uint8Array.from(c.boolContents, (b) => (b ? 1 : 0));
    case "string":
      return c.bytesContents.map((b) => b.toString("utf8"));
  }
}

function contentsOf(tensor: Tensor): InferTensorContents {
  const contents = InferTensorContents.fromPartial({});
  const data = tensor.data;
  if (Array.isArray(data)) contents.bytesContents = data.map((s) => Buffer.from(s));
  else if (tensor.type === "float32") contents.fp32Contents = Array.from(data as Float32Array);
  else if (tensor.type === "float64") contents.fp64Contents = Array.from(data as Float64Array);
  else if (tensor.type === "int64") contents.int64Contents = Array.from(data as BigInt64Array);
  else if (tensor.type === "uint64") contents.uint64Contents = Array.from(data as BigUint64Array);
  else if (tensor.type === "bool") contents.boolContents = Array.from(data as Uint8Array, (v) => v !== 0);
  else if (tensor.type.startsWith("uint")) contents.uintContents = Array.from(data as Uint32Array);
  else contents.intContents = Array.from(data as Int32Array);
  return contents;
}

/** Little-endian raw bytes (BYTES: each element a 4-byte length, then the bytes) as tensor data. */
function fromRaw(type: ElementType, bytes: Buffer): TensorData {
  if (type === "string") {
    const strings: string[] = [];
    for (let offset = 0; offset + 4 <= bytes.length; ) {
      const length = bytes.readUInt32LE(offset);
      strings.push(bytes.toString("utf8", offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    return strings;
  }
  // Copied into an aligned buffer of its own: the message's bytes may start at any offset.
  const copy = new Uint8Array(bytes).buffer;
  const views: Record<Exclude<ElementType, "string">, (buffer: ArrayBuffer) => TensorData> = {
    float32: (b) => new Float32Array(b),
    float64: (b) => new Float64Array(b),
    int64: (b) => new BigInt64Array(b),
    uint64: (b) => new BigUint64Array(b),
    int32: (b) => new Int32Array(b),
    uint32: (b) => new Uint32Array(b),
    int16: (b) => new Int16Array(b),
    uint16: (b) => new Uint16Array(b),
    int8: (b) => new Int8Array(b),
    uint8: (b) => new Uint8Array(b),
    bool: (b) => new Uint8Array(b),
  };
  try {
    return views[type](copy);
  } catch {
    throw new ValidationError("INVALID_INPUTS", [
      { field: "raw_input_contents", description: `${bytes.length} bytes are not a whole number of ${type} values` },
    ]);
  }
}

function rawOf(tensor: Tensor): Buffer {
  if (Array.isArray(tensor.data)) {
    return Buffer.concat(
      tensor.data.flatMap((s) => {
        const bytes = Buffer.from(s);
        const length = Buffer.alloc(4);
        length.writeUInt32LE(bytes.length);
        return [length, bytes];
      }),
    );
  }
  const data = tensor.data as Uint8Array;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
