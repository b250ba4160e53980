/**
 * Calls any served method by its path with a request given as proto JSON, through a grpc-js
 * client that sends raw bytes: tests of the guard, the permission table and bad input reach
 * every RPC the same way, whatever its kind, without a typed client per service.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, type DescMethod, fromBinary, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type ChannelCredentials, Client, credentials as grpcCredentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";

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

/** How a call ended. */
export interface RawOutcome {
  code: status;
  details: string;
  metadata: Metadata;
  /** Response messages received (raw bytes). */
  responses: Buffer[];
}

const identity = (bytes: Buffer) => bytes;

/** A client that calls methods by path. */
export class RawClient {
  private readonly client: Client;
  private readonly methods = servedMethods();

  constructor(
    address: string,
    channelCredentials: ChannelCredentials = grpcCredentials.createInsecure(),
    options: Record<string, unknown> = {},
  ) {
    this.client = new Client(address, channelCredentials, options);
  }

  /** Encodes `json` as the method's request type. */
  encode(path: string, json: JsonValue): Buffer {
    const method = this.method(path);
    return Buffer.from(toBinary(method.input, fromJson(method.input, json)));
  }

  /** Sends `messages` (encoded requests; one for unary and server-streaming calls) with `headers`. */
  call(path: string, messages: Buffer[], headers: Record<string, string> = {}, deadlineMs = 10_000): Promise<RawOutcome> {
    const method = this.method(path);
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    const options = { deadline: Date.now() + deadlineMs };
    const responses: Buffer[] = [];
    return new Promise((resolve) => {
      const settle = (error: ServiceError | null, trailers?: Metadata) =>
        resolve({
          code: error ? error.code : status.OK,
          details: error ? error.details : "",
          metadata: error?.metadata ?? trailers ?? new Metadata(),
          responses,
        });
      const onUnary = (error: ServiceError | null, response?: Buffer) => {
        if (response) responses.push(response);
        settle(error);
      };
      switch (method.methodKind) {
        case "unary":
          this.client.makeUnaryRequest(path, identity, identity, messages[0] ?? Buffer.alloc(0), metadata, options, onUnary);
          return;
        case "client_streaming": {
          const call = this.client.makeClientStreamRequest(path, identity, identity, metadata, options, onUnary);
          for (const message of messages) call.write(message);
          call.end();
          return;
        }
        case "server_streaming": {
          const call = this.client.makeServerStreamRequest(path, identity, identity, messages[0] ?? Buffer.alloc(0), metadata, options);
          call.on("data", (response: Buffer) => responses.push(response));
          call.on("error", (error: ServiceError) => settle(error));
          call.on("status", (ended) => ended.code === status.OK && settle(null, ended.metadata));
          return;
        }
        default: {
          const call = this.client.makeBidiStreamRequest(path, identity, identity, metadata, options);
          call.on("data", (response: Buffer) => responses.push(response));
          call.on("error", (error: ServiceError) => settle(error));
          call.on("status", (ended) => ended.code === status.OK && settle(null, ended.metadata));
          for (const message of messages) call.write(message);
          call.end();
        }
      }
    });
  }

  close(): void {
    this.client.close();
  }

  private method(path: string): DescMethod {
    const method = this.methods.get(path);
    if (!method) throw new Error(`no served method ${path}`);
    return method;
  }
}
