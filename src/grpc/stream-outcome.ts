import { Metadata } from "@grpc/grpc-js";
import { type CallContext, REQUEST_ID_HEADER } from "./call-context.js";
import { failure } from "./errors.js";

/** The parts of a server-side stream call that ending it touches. */
interface EndableCall {
  cancelled: boolean;
  end(metadata?: Metadata): void;
  emit(event: "error", error: unknown): boolean;
}

/**
 * Ends a streaming call when `work` settles: with OK and the request id in the trailers, or with
 * the mapped status of what it threw (unless the client already cancelled). Then calls `ended`.
 */
export function endStreamWhenDone(call: EndableCall, context: CallContext, work: Promise<void>, ended: () => void): void {
  work.then(
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
}
