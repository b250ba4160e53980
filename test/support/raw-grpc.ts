/**
 * Calls any served method by its path with raw bytes (identity serializers), so tests of the guard,
 * the permission table and bad input reach every RPC the same way, whatever its kind, with any
 * bytes at all — including ones no generated client would produce — and see the status, the
 * trailers and how long the answer took. Requests can be written as proto JSON and encoded here.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, type DescMethod, fromBinary, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials as grpcCredentials,
  Metadata,
  makeGenericClientConstructor,
  type StatusObject,
  status,
} from "@grpc/grpc-js";

const descriptorBytes = readFileSync(fileURLToPath(new URL("../../src/gen/descriptors.binpb", import.meta.url)));
/** Every served file's descriptors. */
export const servedRegistry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorBytes));

/** Every served method, by path ("/sluice.v1.ModelService/PromoteCanary"). */
export function servedMethods(): Map<string, DescMethod> {
  const methods = new Map<string, DescMethod>();
  for (const file of servedRegistry.files)
    for (const service of file.services) for (const method of service.methods) methods.set(`/${service.typeName}/${method.name}`, method);
  return methods;
}

/** A method as the raw client calls it: by path, for served methods, or spelled out (any path at all). */
export type RawMethod = string | { path: string; clientStreaming: boolean; serverStreaming: boolean };

/** How a raw call ended. */
export interface RawOutcome {
  code: status;
  details: string;
  trailers: Metadata;
  /** Response messages received. */
  responses: Buffer[];
  /** Milliseconds from the call's start to its status. */
  ms: number;
}

const identity = (bytes: Buffer) => bytes;
const RawClientBase = makeGenericClientConstructor({}, "RawClient");
const SERVED = servedMethods();

/** Sends raw request messages to a server. */
export class RawClient {
  private readonly client: InstanceType<typeof RawClientBase>;

  constructor(address: string, channelCredentials: ChannelCredentials = grpcCredentials.createInsecure(), options: ChannelOptions = {}) {
    this.client = new RawClientBase(address, channelCredentials, options);
  }

  /** Encodes proto JSON as the request type of a served method. */
  encode(path: string, json: JsonValue): Buffer {
    const method = served(path);
    return Buffer.from(toBinary(method.input, fromJson(method.input, json)));
  }

  /**
   * Calls `method` with `messages` (a unary or server-streaming method takes the first; a
   * client-streaming one gets them all, then the half-close) and `headers`. Resolves with the
   * status, whatever it is.
   */
  call(method: RawMethod, messages: readonly Uint8Array[], headers: Record<string, string> = {}, deadlineMs = 10_000): Promise<RawOutcome> {
    const { path, clientStreaming, serverStreaming } = typeof method === "string" ? kindOf(method) : method;
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    const started = performance.now();
    const options = { deadline: new Date(Date.now() + deadlineMs) };
    const responses: Buffer[] = [];
    const first = Buffer.from(messages[0] ?? new Uint8Array());
    const client = this.client;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: StatusObject) => {
        if (settled) return;
        settled = true;
        resolve({ code: outcome.code, details: outcome.details, trailers: outcome.metadata, responses, ms: performance.now() - started });
      };
      const onResponse = (_error: unknown, response?: Buffer) => {
        if (response) responses.push(response);
      };
      if (!clientStreaming && !serverStreaming) {
        client.makeUnaryRequest(path, identity, identity, first, metadata, options, onResponse).on("status", finish);
        return;
      }
      if (!clientStreaming) {
        const call = client.makeServerStreamRequest(path, identity, identity, first, metadata, options);
        call.on("data", (response: Buffer) => responses.push(response));
        call.on("error", () => undefined);
        call.on("status", finish);
        return;
      }
      const call = serverStreaming
        ? client.makeBidiStreamRequest(path, identity, identity, metadata, options)
        : client.makeClientStreamRequest(path, identity, identity, metadata, options, onResponse);
      if (serverStreaming) call.on("data", (response: Buffer) => responses.push(response));
      call.on("error", () => undefined);
      call.on("status", finish);
      for (const message of messages) call.write(Buffer.from(message));
      call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}

function served(path: string): DescMethod {
  const method = SERVED.get(path);
  if (!method) throw new Error(`no served method ${path}`);
  return method;
}

function kindOf(path: string): { path: string; clientStreaming: boolean; serverStreaming: boolean } {
  const kind = served(path).methodKind;
  return {
    path,
    clientStreaming: kind === "client_streaming" || kind === "bidi_streaming",
    serverStreaming: kind === "server_streaming" || kind === "bidi_streaming",
  };
}

/** Bytes a status takes in trailers: every key and value, binary values base64-encoded as on the wire. */
export function trailerBytes(outcome: RawOutcome): number {
  let bytes = Buffer.byteLength(encodeURIComponent(outcome.details));
  for (const [key, values] of Object.entries(outcome.trailers.getMap())) {
    const value = values as string | Buffer;
    bytes += key.length + (Buffer.isBuffer(value) ? Math.ceil((value.length * 4) / 3) : Buffer.byteLength(value));
  }
  return bytes;
}

/** The health check's answer: SERVING, NOT_SERVING, ..., or the status code name when the call failed. */
export async function healthStatus(client: RawClient): Promise<string> {
  const outcome = await client.call("/grpc.health.v1.Health/Check", [new Uint8Array()], {}, 5000);
  if (outcome.code !== status.OK) return status[outcome.code];
  // HealthCheckResponse: field 1 (varint) is the status; absent means UNKNOWN (0).
  const response = outcome.responses[0] ?? Buffer.alloc(0);
  const serving = response.length >= 2 && response[0] === 0x08 ? response[1] : 0;
  return ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][serving ?? 0] ?? String(serving);
}
