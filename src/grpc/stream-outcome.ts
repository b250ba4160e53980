import type { EventEmitter } from "node:events";
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

/** The parts of a server-side stream call that writing to it touches. */
interface WritableCall<Res> extends EventEmitter {
  cancelled: boolean;
  write(message: Res): boolean;
}

/** Thrown into a handler when its client went away while it was waiting to write. */
export class ClientGoneError extends Error {
  constructor() {
    super("the client cancelled the call");
  }
}

/**
 * Writes one message, waiting while the client is not reading. A cancelled call never drains, so
 * the wait also ends on cancel or close, and then throws {@link ClientGoneError} to stop the work.
 */
export async function writeWithBackpressure<Res>(call: WritableCall<Res>, message: Res): Promise<void> {
  if (call.cancelled) throw new ClientGoneError();
  if (call.write(message)) return;
  await new Promise<void>((resolve, reject) => {
    const settle = (gone: boolean) => {
      call.off("drain", onDrain);
      call.off("close", onGone);
      call.off("cancelled", onGone);
      if (gone) reject(new ClientGoneError());
      else resolve();
    };
    const onDrain = () => settle(false);
    const onGone = () => settle(true);
    call.once("drain", onDrain);
    call.once("close", onGone);
    call.once("cancelled", onGone);
  });
}
