import type { handleBidiStreamingCall } from "@grpc/grpc-js";
import { type CallContext, createCallContext, type HandlerEnv } from "./call-context.js";
import { endStreamWhenDone, idleLimited, writeWithBackpressure } from "./stream-outcome.js";

/**
 * Adapts an async function to a grpc-js bidirectional streaming handler. The function reads
 * requests as an async iterable (so a slow handler applies backpressure to the client) and sends
 * responses through `send`, which waits while the client is not reading. A thrown error ends the
 * stream with the mapped status; responses already sent stay sent. A cancelled call aborts
 * `signal`, so long work can stop.
 */
export function bidiHandler<Req, Res>(
  method: string,
  env: HandlerEnv,
  implementation: (
    requests: AsyncIterable<Req>,
    send: (response: Res) => Promise<void>,
    context: CallContext,
    signal: AbortSignal,
  ) => Promise<void>,
): handleBidiStreamingCall<Req, Res> {
  return (call) => {
    const ended = env.calls.start();
    const context = createCallContext(method, call.metadata, env.logger);
    const aborter = new AbortController();
    call.on("cancelled", () => aborter.abort());
    const send = (response: Res) => writeWithBackpressure(call, response, env.streamIdleTimeoutMs);
    // destroyOnReturn: false — the default async iterator destroys the whole duplex when reading
    // ends, which would drop the responses and status still to be written.
    const requests = idleLimited(call.iterator({ destroyOnReturn: false }) as AsyncIterable<Req>, env.streamIdleTimeoutMs);
    endStreamWhenDone(call, context, implementation(requests, send, context, aborter.signal), ended);
  };
}
