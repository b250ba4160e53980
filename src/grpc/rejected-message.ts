/**
 * A request message refused before it was decoded (too many items, a field too long): the
 * wrapped deserializer returns this marker instead of throwing, because grpc-js turns a
 * deserializer's exception into INTERNAL. The guard ends the call with the carried error.
 */
import type { SluiceError } from "../common/errors.js";

const REJECTED = Symbol("sluice.rejectedMessage");

/** A request message that was refused on the wire. */
export interface RejectedMessage {
  [REJECTED]: SluiceError;
}

/** Marks a message as refused with `error`. */
export function rejectedMessage(error: SluiceError): RejectedMessage {
  return { [REJECTED]: error };
}

/** The error a refused message carries, or undefined for a decoded message. */
export function rejectionOf(message: unknown): SluiceError | undefined {
  return typeof message === "object" && message !== null ? (message as Partial<RejectedMessage>)[REJECTED] : undefined;
}
