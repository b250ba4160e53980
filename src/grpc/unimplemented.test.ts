import { EventEmitter } from "node:events";
import { Metadata, type ServiceDefinition, status } from "@grpc/grpc-js";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InFlightCalls } from "./call-context.js";
import { withUnimplementedMethods } from "./unimplemented.js";

const method = (path: string, responseStream: boolean) => ({
  path,
  requestStream: false,
  responseStream,
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (value: Buffer) => value,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (value: Buffer) => value,
});

describe("withUnimplementedMethods", () => {
  const definition: ServiceDefinition = { unary: method("/test.S/Unary", false), watch: method("/test.S/Watch", true) };
  const env = { logger: pino({ level: "silent" }), calls: new InFlightCalls() };
  const handlers = withUnimplementedMethods(definition, { done: undefined }, env) as Record<string, (...args: unknown[]) => void>;

  it("answers UNIMPLEMENTED through the callback of unary calls, naming the method", () => {
    let error: { code: number; details: string } | undefined;
    handlers.unary?.({ metadata: new Metadata() }, (e: { code: number; details: string }) => (error = e));
    expect(error?.code).toBe(status.UNIMPLEMENTED);
    expect(error?.details).toContain("test.S/Unary");
  });

  it("answers UNIMPLEMENTED as the error of server-streaming calls", () => {
    const call = Object.assign(new EventEmitter(), { metadata: new Metadata() });
    let error: { code: number } | undefined;
    call.on("error", (e: { code: number }) => (error = e));
    handlers.watch?.(call);
    expect(error?.code).toBe(status.UNIMPLEMENTED);
  });
});
