import { type handleClientStreamingCall, Metadata } from "@grpc/grpc-js";
import { type CallContext, createCallContext, type HandlerEnv, REQUEST_ID_HEADER } from "./call-context.js";
import { failure } from "./errors.js";
import { idleLimited } from "./stream-outcome.js";

/**
 * Adapts an async function to a grpc-js client-streaming handler: the function reads the
 * requests as an async iterable (a slow reader applies backpressure to the client) and returns
 * the one response; thrown errors map through {@link failure}; the request id goes in the trailers.
 */
export function clientStreamHandler<Req, Res>(
  method: string,
  env: HandlerEnv,
  implementation: (requests: AsyncIterable<Req>, context: CallContext) => Promise<Res>,
): handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    const ended = env.calls.start();
    const context = createCallContext(method, call.metadata, env.logger);
    const trailer = new Metadata();
    trailer.set(REQUEST_ID_HEADER, context.requestId);
    implementation(idleLimited(call as unknown as AsyncIterable<Req>, env.streamIdleTimeoutMs), context).then(
      (response) => {
        callback(null, response, trailer);
        ended();
      },
      (error: unknown) => {
        // A cancelled call (by its client, or by the guard that refused it) has its status already.
        if (!(call as { cancelled?: boolean }).cancelled) callback(failure(error, context));
        ended();
      },
    );
  };
}
