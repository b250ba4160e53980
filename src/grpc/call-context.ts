import { randomUUID } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";

/** Header a client may set to correlate its logs with the server's; echoed in the trailers. */
export const REQUEST_ID_HEADER = "x-request-id";

/** What a handler knows about the call it serves, beyond the request message. */
export interface CallContext {
  /** Child logger carrying the method and request id. */
  logger: Logger;
  requestId: string;
  metadata: Metadata;
}

/** Creates the context of one call: a request id (the client's, or a new one) and a child logger. */
export function createCallContext(method: string, metadata: Metadata, logger: Logger): CallContext {
  const given = metadata.get(REQUEST_ID_HEADER)[0];
  const requestId = typeof given === "string" && given.length > 0 && given.length <= 128 ? given : randomUUID();
  return { logger: logger.child({ method, requestId }), requestId, metadata };
}
