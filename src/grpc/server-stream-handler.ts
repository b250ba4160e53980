import type { handleServerStreamingCall } from "@grpc/grpc-js";
import { type CallContext, createCallContext, type HandlerEnv } from "./call-context.js";
import { endStreamWhenDone, writeWithBackpressure } from "./stream-outcome.js";

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
    const work = (async () => {
      for await (const response of implementation(call.request, aborter.signal, context)) {
        if (aborter.signal.aborted) return;
        await writeWithBackpressure(call, response, env.streamIdleTimeoutMs);
      }
    })();
    endStreamWhenDone(call, context, work, ended);
  };
}
