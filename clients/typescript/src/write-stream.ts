/**
 * The client side of Sluice's acknowledged write streams (WriteFeatures, WriteEvents): the server
 * answers each batch with one acknowledgement, in order, so each batch written waits for the next
 * acknowledgement to arrive after those of the batches before it.
 */
import type { ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { type Check, checkArguments } from "./arguments.js";
import { toClientError } from "./errors.js";

/** A stream of write batches: each `write` resolves with that batch's acknowledgement. */
export interface AcknowledgedWriteStream<Batch, Ack> {
  write(batch: Batch): Promise<Ack>;
  /** Ends the stream; resolves once the server has closed it. */
  close(): Promise<void>;
}

/**
 * Wraps an open bidirectional write call. A stream error rejects every batch still waiting for its
 * acknowledgement, and every later write. A batch that fails `check` is refused (its promise
 * rejects, as `batch` of `method`) without being sent; the stream stays usable.
 */
export function acknowledgedWriteStream<Batch, Request, Ack>(
  stream: ClientDuplexStream<Request, Ack>,
  method: string,
  check: Check,
  toRequest: (batch: Batch) => Request,
): AcknowledgedWriteStream<Batch, Ack> {
  const waiting: Array<{ resolve: (ack: Ack) => void; reject: (error: unknown) => void }> = [];
  let failed: unknown;
  const closed = new Promise<void>((resolve, reject) => {
    stream.on("status", () => resolve());
    stream.on("error", (error: ServiceError) => {
      failed = toClientError(error);
      for (const pending of waiting.splice(0)) pending.reject(failed);
      reject(failed);
    });
  });
  closed.catch(() => undefined);
  stream.on("data", (ack: Ack) => waiting.shift()?.resolve(ack));
  return {
    write: (batch) =>
      new Promise<Ack>((resolve, reject) => {
        if (failed) return reject(failed);
        checkArguments(method, ["batch", batch, check]);
        const request = toRequest(batch);
        waiting.push({ resolve, reject });
        stream.write(request);
      }),
    close: async () => {
      stream.end();
      await closed;
    },
  };
}
