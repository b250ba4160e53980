/**
 * A gRPC client that sends and receives raw bytes (identity serializers), so tests can send any
 * bytes at all to any method, including ones no generated client would produce, and see the
 * status, the trailers and how long the answer took.
 */
import { type ChannelOptions, credentials, Metadata, makeGenericClientConstructor, type StatusObject, status } from "@grpc/grpc-js";

/** A method as the raw client calls it. */
export interface RawMethod {
  path: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}

/** How a raw call ended. */
export interface RawOutcome {
  code: status;
  details: string;
  trailers: Metadata;
  responses: Buffer[];
  /** Milliseconds from the call's start to its status. */
  ms: number;
}

const identity = (bytes: Buffer) => bytes;
const RawClientBase = makeGenericClientConstructor({}, "RawClient");

/** Sends raw request messages to a server. */
export class RawClient {
  private readonly client: InstanceType<typeof RawClientBase>;

  constructor(address: string, options: ChannelOptions = {}) {
    this.client = new RawClientBase(address, credentials.createInsecure(), options);
  }

  /**
   * Calls `method` with `messages` (a unary or server-streaming method takes the first; a
   * client-streaming one gets them all, then the half-close). Resolves with the status, whatever it is.
   */
  call(method: RawMethod, messages: readonly Uint8Array[], deadlineMs: number, metadata = new Metadata()): Promise<RawOutcome> {
    const started = performance.now();
    const deadline = new Date(Date.now() + deadlineMs);
    const responses: Buffer[] = [];
    const first = Buffer.from(messages[0] ?? new Uint8Array());
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: StatusObject) => {
        if (settled) return;
        settled = true;
        resolve({ code: outcome.code, details: outcome.details, trailers: outcome.metadata, responses, ms: performance.now() - started });
      };
      const client = this.client;
      if (!method.clientStreaming && !method.serverStreaming) {
        const call = client.makeUnaryRequest(method.path, identity, identity, first, metadata, { deadline }, (_error, response) => {
          if (response) responses.push(response);
        });
        call.on("status", finish);
        return;
      }
      if (!method.clientStreaming) {
        const call = client.makeServerStreamRequest(method.path, identity, identity, first, metadata, { deadline });
        call.on("data", (response: Buffer) => responses.push(response));
        call.on("error", () => undefined);
        call.on("status", finish);
        return;
      }
      const call = method.serverStreaming
        ? client.makeBidiStreamRequest(method.path, identity, identity, metadata, { deadline })
        : client.makeClientStreamRequest(method.path, identity, identity, metadata, { deadline }, (_error, response) => {
            if (response) responses.push(response);
          });
      if (method.serverStreaming) call.on("data", (response: Buffer) => responses.push(response));
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

/** Bytes a status takes in trailers: every key and value, binary values base64-encoded as on the wire. */
export function trailerBytes(outcome: RawOutcome): number {
  let bytes = Buffer.byteLength(encodeURIComponent(outcome.details));
  for (const [key, values] of Object.entries(outcome.trailers.getMap())) {
    const value = values as string | Buffer;
    bytes += key.length + (Buffer.isBuffer(value) ? Math.ceil((value.length * 4) / 3) : Buffer.byteLength(value));
  }
  return bytes;
}

/** The health check's answer: SERVING (1), NOT_SERVING (2), ..., or the status code name when the call failed. */
export async function healthStatus(client: RawClient): Promise<string> {
  const outcome = await client.call(
    { path: "/grpc.health.v1.Health/Check", clientStreaming: false, serverStreaming: false },
    [new Uint8Array()],
    5000,
  );
  if (outcome.code !== status.OK) return status[outcome.code];
  // HealthCheckResponse: field 1 (varint) is the status; absent means UNKNOWN (0).
  const response = outcome.responses[0] ?? Buffer.alloc(0);
  const serving = response.length >= 2 && response[0] === 0x08 ? response[1] : 0;
  return ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][serving ?? 0] ?? String(serving);
}
