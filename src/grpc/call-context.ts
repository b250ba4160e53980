import { randomUUID } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ANONYMOUS, type Principal } from "../security/principal.js";

/** Header a client may set to correlate its logs with the server's; echoed in the trailers. */
export const REQUEST_ID_HEADER = "x-request-id";

/** What a handler knows about the call it serves, beyond the request message. */
export interface CallContext {
  /** Child logger carrying the method and request id. */
  logger: Logger;
  requestId: string;
  metadata: Metadata;
  /** Who is calling, as the guard authenticated it (anonymous when authentication is off). */
  principal: Principal;
}

/** The principal the guard attached to a call's metadata object; handlers read it through the call context. */
const principals = new WeakMap<Metadata, Principal>();

/**
 * Attaches the authenticated principal to the metadata the handler will see. A WeakMap rather
 * than a header, so nothing a client sends can claim to be a principal.
 */
export function attachPrincipal(metadata: Metadata, principal: Principal): void {
  principals.set(metadata, principal);
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
    principal: principals.get(metadata) ?? ANONYMOUS,
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
  /** A client or bidirectional stream silent for this long is ended with DEADLINE_EXCEEDED. */
  streamIdleTimeoutMs?: number;
}
