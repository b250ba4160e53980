import { once } from "node:events";
import { type handleServerStreamingCall, Metadata } from "@grpc/grpc-js";
import { type CallContext, createCallContext, type HandlerEnv, REQUEST_ID_HEADER } from "./call-context.js";
import { failure } from "./errors.js";

/**
 * Adapts an async generator to a grpc-js server-streaming handler: each yielded response is sent
 * (waiting while the client is not reading), a thrown error ends the stream with the mapped
 * status, and a cancelled call aborts `signal` so the generator stops its work.
 */
export function serverStreamHandler<Req, Res>(
  method: string,
  env: HandlerEnv,
  implementation: (request: Req, signal: AbortSignal, context: CallContext) => AsyncIterable<Res>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const ended = env.calls.start();
    const context = createCallContext(method, call.metadata, env.logger);
    const aborter = new AbortController();
    call.on("cancelled", () => aborter.abort());
    (async () => {
      for await (const response of implementation(call.request, aborter.signal, context)) {
        if (aborter.signal.aborted) return;
        if (!call.write(response)) await once(call, "drain");
      }
    })().then(
      () => {
        const trailer = new Metadata();
        trailer.set(REQUEST_ID_HEADER, context.requestId);
        call.end(trailer);
        ended();
      },
      (error: unknown) => {
        if (!call.cancelled) call.emit("error", failure(error, context));
        ended();
      },
    );
  };
}
