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

/**
 * Creates the context of one call: a request id (the client's, or a new one) and a child logger,
 * built on first use only, because most calls on the hot path never log.
 */
export function createCallContext(method: string, metadata: Metadata, logger: Logger): CallContext {
  const given = metadata.get(REQUEST_ID_HEADER)[0];
  const requestId = typeof given === "string" && given.length > 0 && given.length <= 128 ? given : randomUUID();
  let child: Logger | undefined;
  return {
    get logger() {
      child ??= logger.child({ method, requestId });
      return child;
    },
    requestId,
    metadata,
  };
}

/**
 * Counts calls in flight in Sluice's own handlers, so a graceful shutdown waits for them and not
 * for long-lived health watchers, which would otherwise hold it for the whole grace period.
 */
export class InFlightCalls {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** Marks a call as started; call the returned function when it ends. */
  start(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.count--;
      if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** What every handler builder needs from the server. */
export interface HandlerEnv {
  logger: Logger;
  calls: InFlightCalls;
}
