import type { EventEmitter } from "node:events";
import { Metadata } from "@grpc/grpc-js";
import { SluiceError } from "../common/errors.js";
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
  write(message: Res, written?: () => void): boolean;
}

/**
 * Bytes of pre-encoded messages (Buffers: the parts of a large result) a call may have queued
 * before its handler waits. The stream's own limit counts messages (16): with parts of about
 * 10 MB, a 1M-row training set had some 150 MB queued for a client reading more slowly than the
 * join wrote (the training benchmark's server peak RSS).
 */
export const MAX_QUEUED_BYTES = 16 << 20;

/** A call's pre-encoded bytes written but not yet handed to HTTP/2, and the handler waiting for room. */
interface QueuedBytes {
  bytes: number;
  wake?: () => void;
}
const queuedBytes = new WeakMap<object, QueuedBytes>();

/** Thrown into a handler when its client went away while it was waiting to write. */
export class ClientGoneError extends Error {
  constructor() {
    super("the client cancelled the call");
  }
}

/** A stream whose client sent nothing, or read nothing, for longer than `grpc.streamIdleTimeoutMs`. */
export class StreamIdleError extends SluiceError {
  constructor(what: "sent" | "read", idleMs: number) {
    super(
      "deadline_exceeded",
      "STREAM_IDLE",
      `the client ${what} nothing for ${idleMs} ms (grpc.streamIdleTimeoutMs); the stream was ended`,
      { idle_ms: String(idleMs) },
    );
  }
}

/**
 * Writes one message, waiting while the client is not reading: while the stream holds its 16
 * messages, or more than {@link MAX_QUEUED_BYTES} of pre-encoded ones. A cancelled call never drains, so
 * the wait also ends on cancel or close, and then throws {@link ClientGoneError} to stop the work;
 * a client that reads nothing for `stallMs` gets {@link StreamIdleError}, so a silent reader
 * cannot hold the work (and what it buffered) forever.
 */
export async function writeWithBackpressure<Res>(call: WritableCall<Res>, message: Res, stallMs?: number): Promise<void> {
  if (call.cancelled) throw new ClientGoneError();
  const bytes = message instanceof Uint8Array ? message.byteLength : 0;
  if (bytes === 0) {
    if (!call.write(message)) await drained(call, stallMs);
    return;
  }
  const own = queuedBytesOf(call);
  own.bytes += bytes;
  const room = call.write(message, () => {
    own.bytes -= bytes;
    if (own.bytes <= MAX_QUEUED_BYTES) own.wake?.();
  });
  if (!room) await drained(call, stallMs);
  if (own.bytes > MAX_QUEUED_BYTES) {
    await waitUntil(call, stallMs, (wake) => {
      own.wake = wake;
      return () => {
        own.wake = undefined;
      };
    });
  }
}

function queuedBytesOf(call: object): QueuedBytes {
  let queued = queuedBytes.get(call);
  if (!queued) {
    queued = { bytes: 0 };
    queuedBytes.set(call, queued);
  }
  return queued;
}

function drained(call: EventEmitter, stallMs: number | undefined): Promise<void> {
  return waitUntil(call, stallMs, (wake) => {
    call.once("drain", wake);
    return () => call.off("drain", wake);
  });
}

/**
 * Resolves when `subscribe`'s wake is called; rejects with {@link ClientGoneError} when the call is
 * cancelled or closed first (a cancelled call never drains), or {@link StreamIdleError} after `stallMs`.
 */
function waitUntil(call: EventEmitter, stallMs: number | undefined, subscribe: (wake: () => void) => () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = stallMs ? setTimeout(() => settle(new StreamIdleError("read", stallMs)), stallMs) : undefined;
    const settle = (error?: Error) => {
      clearTimeout(timer);
      unsubscribe();
      call.off("close", onGone);
      call.off("cancelled", onGone);
      if (error) reject(error);
      else resolve();
    };
    const unsubscribe = subscribe(() => settle());
    const onGone = () => settle(new ClientGoneError());
    call.once("close", onGone);
    call.once("cancelled", onGone);
  });
}

/**
 * The requests of a client stream, ended with {@link StreamIdleError} when the next one does not
 * come within `idleMs` (the time the handler spends on a message does not count).
 */
export async function* idleLimited<T>(requests: AsyncIterable<T>, idleMs: number | undefined): AsyncGenerator<T> {
  if (!idleMs) return yield* requests;
  const iterator = requests[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StreamIdleError("sent", idleMs)), idleMs);
    });
    let next: IteratorResult<T>;
    try {
      next = await Promise.race([iterator.next(), idle]);
    } finally {
      clearTimeout(timer);
    }
    if (next.done) return;
    yield next.value;
  }
}
