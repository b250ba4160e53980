/**
 * The one place every call passes before any handler runs: a grpc-js server interceptor that
 * authenticates the caller, applies its rate limit, checks the permission the method's rule
 * names on every project the request acts on, refuses messages the wire limits rejected, and
 * writes the audit record of every mutating or denied call before its status is sent.
 */
import { createHash } from "node:crypto";
import {
  Metadata,
  type MethodDefinition,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServiceDefinition,
  status,
} from "@grpc/grpc-js";
import type { PartialStatusObject } from "@grpc/grpc-js/build/src/call-interface.js";
import type { Logger } from "pino";
import type { AuditEventInput, AuditSink } from "../audit/audit-log.js";
import { PermissionDeniedError, RateLimitedError, type SluiceError, ValidationError } from "../common/errors.js";
import type { Authenticator } from "../security/authenticator.js";
import type { MethodRule } from "../security/permissions.js";
import { ANONYMOUS, can, type Principal } from "../security/principal.js";
import { RateLimiter } from "../security/rate-limiter.js";
import { attachPrincipal, createCallContext, REQUEST_ID_HEADER } from "./call-context.js";
import { failure } from "./errors.js";
import { rejectedMessage, rejectionOf } from "./rejected-message.js";

/** What the guard checks calls against. */
export interface GuardOptions {
  /** The permission table (src/security/permissions.ts). */
  rules: ReadonlyMap<string, MethodRule>;
  /** Undefined when authentication is off: every caller is {@link ANONYMOUS}. */
  authenticator: Authenticator | undefined;
  /** Reflection answers without credentials. */
  openReflection: boolean;
  limiter: RateLimiter | undefined;
  audit: AuditSink | undefined;
  logger: Logger;
  /** Counts calls the rate limit refused. */
  onRateLimited?: () => void;
  /** Counts denials left out of the audit trail because denials came faster than {@link DENIALS_AUDITED_PER_SECOND}. */
  onDenialNotAudited?: () => void;
}

/**
 * Denials audited per second, server-wide (with a burst of ten times that). A flood of refused
 * calls — from a client with a bad key, or none — must not fill the audit queue that mutating
 * calls wait on; denials beyond it are counted instead, in `sluice_audit_denials_not_recorded_total`.
 */
const DENIALS_AUDITED_PER_SECOND = 200;

/** The caller of a call whose credentials have not (yet) checked out. */
const UNAUTHENTICATED: Principal = Object.freeze({ name: "", authentication: "none", grants: Object.freeze([]) });

/**
 * The wire bytes a decoded request of an audited method came from, for the audit digest. A
 * WeakMap rather than a property, so decoded messages keep the shape handlers' hot paths expect.
 */
const wireBytes = new WeakMap<object, Buffer>();
/** Resource names kept per audited call; a stream naming more is summarised. */
const MAX_AUDITED_RESOURCES = 16;

/**
 * Wraps each method's request decoder: a message the wire limits refuse, or bytes that do not
 * decode, become a {@link rejectedMessage} (the guard ends the call with its error), and a decoded
 * message of an `audited` method keeps a reference to its bytes for the audit digest.
 */
export function withGuardedDecoding(
  definition: ServiceDefinition,
  wireViolation: (methodPath: string, bytes: Buffer) => SluiceError | undefined,
  audited: (methodPath: string) => boolean = () => false,
): ServiceDefinition {
  const guarded: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [key, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    const keepBytes = audited(method.path);
    guarded[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const violation = wireViolation(method.path, bytes);
        if (violation) return rejectedMessage(violation);
        let message: object;
        try {
          message = decode(bytes) as object;
        } catch {
          // grpc-js would answer INTERNAL; bytes that are not the request message are the client's error.
          return rejectedMessage(
            new ValidationError("MALFORMED_REQUEST", [
              { field: "", description: "the request's bytes are not a valid protobuf message of its type" },
            ]),
          );
        }
        if (keepBytes) wireBytes.set(message, bytes);
        return message;
      },
    };
  }
  return guarded as ServiceDefinition;
}

/** Builds the server interceptor. */
export function createGuard(options: GuardOptions): ServerInterceptor {
  const denials = new RateLimiter(DENIALS_AUDITED_PER_SECOND, DENIALS_AUDITED_PER_SECOND * 10);
  return (descriptor, call) => new GuardedCall(descriptor.path, options.rules.get(descriptor.path), call, options, denials).intercepting;
}

/** The state of one guarded call. */
class GuardedCall {
  readonly intercepting: ServerInterceptingCall;
  private principal: Principal = ANONYMOUS;
  private metadata: Metadata | undefined;
  /** Set once the call is refused: nothing more reaches the handler. */
  private refused = false;
  /** Whether the refusal is audited (rate-limited and wire-rejected calls are only counted and logged). */
  private auditDenial = false;
  /** Set once the call's record went to the audit trail, so a call is recorded once. */
  private audited = false;
  /** Set once a status is on its way to the client. */
  private statusClaimed = false;
  /** The first project the call acted on and the resources it named, for the audit record. */
  private project = "";
  private readonly resources = new Set<string>();
  private readonly digests: Buffer[] = [];
  private messages = 0;
  /** Projects already allowed in this call (a stream usually names one). */
  private readonly allowed = new Set<string>();

  constructor(
    private readonly method: string,
    private readonly rule: MethodRule | undefined,
    private readonly call: ServerInterceptingCallInterface,
    private readonly options: GuardOptions,
    private readonly denials: RateLimiter,
  ) {
    this.intercepting = new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => this.onMetadata(metadata, forward),
          onReceiveMessage: (message, forward) => this.onMessage(message, forward),
          onReceiveHalfClose: (forward) => {
            if (!this.refused) forward();
          },
          onCancel: () => this.onCancel(),
        }),
      sendStatus: (sent, forward) => this.onStatus(sent, forward),
    });
  }

  private onMetadata(metadata: Metadata, forward: (metadata: Metadata) => void): void {
    this.metadata = metadata;
    const rule = this.rule;
    if (!rule) {
      this.refuse(new PermissionDeniedError("caller", `call ${this.method} (a method missing from the permission table)`, ""));
      return;
    }
    if (rule.access === "public" || (rule.access === "reflection" && this.options.openReflection) || !this.options.authenticator) {
      attachPrincipal(metadata, ANONYMOUS);
      this.admit(metadata, forward, rule.access !== "public");
      return;
    }
    // Until credentials check out, the caller is nobody (audited as "", not as the anonymous admin of auth-off mode).
    this.principal = UNAUTHENTICATED;
    const authorization = metadata.get("authorization")[0];
    const apiKey = metadata.get("x-api-key")[0];
    // Credentials go no further than this guard: no handler can log them.
    metadata.remove("authorization");
    metadata.remove("x-api-key");
    let outcome: Principal | Promise<Principal>;
    try {
      outcome = this.options.authenticator.authenticate({
        ...(typeof authorization === "string" ? { authorization } : {}),
        ...(typeof apiKey === "string" ? { apiKey } : {}),
        ...(authorization === undefined && apiKey === undefined ? { peerCertificate: this.call.getAuthContext().sslPeerCertificate } : {}),
      });
    } catch (error) {
      this.refuse(error);
      return;
    }
    const authenticated = (principal: Principal) => {
      this.principal = principal;
      attachPrincipal(metadata, principal);
      this.admit(metadata, forward, true);
    };
    if (outcome instanceof Promise) outcome.then(authenticated, (error: unknown) => this.refuse(error));
    else authenticated(outcome);
  }

  /** Lets the call's headers through once its first token is taken. */
  private admit(metadata: Metadata, forward: (metadata: Metadata) => void, limited: boolean): void {
    const wait = limited ? this.takeToken() : 0;
    if (wait > 0) {
      this.options.onRateLimited?.();
      this.refuse(new RateLimitedError(this.principal.name, wait), false);
      return;
    }
    forward(metadata);
  }

  private onMessage(message: unknown, forward: (message: unknown) => void): void {
    if (this.refused) return;
    const rejection = rejectionOf(message);
    if (rejection) {
      this.refuse(rejection, false);
      return;
    }
    this.messages++;
    const bytes = this.rule?.mutating ? wireBytes.get(message as object) : undefined;
    if (bytes) this.digests.push(createHash("sha256").update(bytes).digest());
    const rule = this.rule as MethodRule;
    const first = this.messages === 1;
    if (first || rule.perMessage) this.noteResources(rule, message);
    const deliver = () => {
      // Later messages of a stream are paced by the bucket rather than refused: a bulk write slows down.
      const wait = first || !this.options.limiter ? 0 : this.takeToken();
      if (wait > 0)
        setTimeout(() => {
          if (!this.refused) forward(message);
        }, wait).unref();
      else forward(message);
    };
    if (
      rule.access === "public" ||
      rule.access === "reflection" ||
      rule.access === "authenticated" ||
      !rule.projects ||
      !(first || rule.perMessage)
    ) {
      deliver();
      return;
    }
    let projects: readonly string[] | Promise<readonly string[]>;
    try {
      projects = rule.projects(message);
    } catch (error) {
      this.refuse(error);
      return;
    }
    const check = (named: readonly string[]) => {
      if (this.refused) return;
      if (first) this.project = named[0] ?? "";
      for (const project of named) {
        if (this.allowed.has(project)) continue;
        if (!can(this.principal, rule.access as Parameters<typeof can>[1], project)) {
          this.project = project;
          return this.refuse(new PermissionDeniedError(this.principal.name, rule.access, project));
        }
        this.allowed.add(project);
      }
      deliver();
    };
    if (projects instanceof Promise) projects.then(check, (error: unknown) => this.refuse(error));
    else check(projects);
  }

  private noteResources(rule: MethodRule, message: unknown): void {
    if (!rule.resources || this.resources.size >= MAX_AUDITED_RESOURCES) return;
    for (const name of rule.resources(message)) if (this.resources.size < MAX_AUDITED_RESOURCES) this.resources.add(name.slice(0, 512));
  }

  private takeToken(): number {
    const limiter = this.options.limiter;
    if (!limiter) return 0;
    const key = this.principal === ANONYMOUS ? `anonymous@${peerHost(this.call.getPeer())}` : this.principal.name;
    return limiter.take(key);
  }

  /** Ends the call with `error`'s status; a denial is audited (a rate-limited call is only counted). */
  private refuse(error: unknown, audited = true): void {
    if (this.refused) return;
    this.refused = true;
    this.auditDenial = audited;
    const context = createCallContext(this.method.slice(1), this.metadata ?? new Metadata(), this.options.logger);
    const mapped = failure(error, context);
    this.intercepting.sendStatus({
      code: mapped.code ?? status.INTERNAL,
      details: mapped.details ?? "",
      metadata: mapped.metadata ?? null,
    });
    // Once the status is sent, grpc-js tells a streaming handler already started that the call is
    // over (as when a client cancels), so it stops waiting for messages and releases what it holds.
  }

  /**
   * A client that cancels gets no status, but what its call did before (batches of a write stream
   * already applied) is still a change: it is audited as CANCELLED.
   */
  private onCancel(): void {
    if (this.audited || this.refused || !this.rule?.mutating || this.messages === 0 || !this.options.audit) return;
    this.audited = true;
    const record = this.auditRecord({ code: status.CANCELLED, details: "cancelled by the client", metadata: null });
    this.options.audit
      .record(record)
      .catch((error: unknown) => this.options.logger.error({ err: error, audit: record }, "audit record could not be stored"));
  }

  private onStatus(sent: PartialStatusObject, forward: (status: PartialStatusObject) => void): void {
    // The first status wins: after a refusal, the stopped handler's own status is dropped.
    if (this.statusClaimed) return;
    this.statusClaimed = true;
    const audit = this.options.audit;
    const denied = this.refused && this.auditDenial;
    if (!audit || this.audited || !(denied || (this.rule?.mutating && !this.refused))) {
      forward(sent);
      return;
    }
    this.audited = true;
    if (denied && this.denials.take("denials") > 0) {
      this.options.onDenialNotAudited?.();
      forward(sent);
      return;
    }
    const record = this.auditRecord(sent);
    audit.record(record).then(
      () => forward(sent),
      (error: unknown) => {
        this.options.logger.error({ err: error, audit: record }, "audit record could not be stored");
        // A denial is still a denial; a change that cannot be audited must not look like a plain success.
        if (denied || sent.code !== status.OK) {
          forward(sent);
          return;
        }
        const mapped = failure(error, createCallContext(this.method.slice(1), this.metadata ?? new Metadata(), this.options.logger));
        forward({ code: mapped.code ?? status.UNAVAILABLE, details: mapped.details ?? "", metadata: mapped.metadata ?? null });
      },
    );
  }

  private auditRecord(sent: PartialStatusObject): AuditEventInput {
    const requestId = sent.metadata?.get(REQUEST_ID_HEADER)[0] ?? this.metadata?.get(REQUEST_ID_HEADER)[0] ?? "";
    return {
      time: new Date(),
      principal: this.principal.name,
      authentication: this.principal.authentication,
      method: this.method,
      project: this.project,
      resources: [...this.resources],
      requestDigest: requestDigest(this.digests),
      peer: this.call.getPeer(),
      outcome: status[sent.code] ?? String(sent.code),
      detail: sent.code === status.OK ? "" : (sent.details ?? "").slice(0, 1024),
      requestId: String(requestId).slice(0, 128),
    };
  }
}

/** SHA-256 of a unary request's bytes; for a stream, of its messages' digests in order. */
function requestDigest(digests: readonly Buffer[]): string {
  if (digests.length === 0) return "";
  if (digests.length === 1) return (digests[0] as Buffer).toString("hex");
  const hash = createHash("sha256");
  for (const digest of digests) hash.update(digest);
  return hash.digest("hex");
}

function peerHost(peer: string): string {
  return peer.slice(0, peer.lastIndexOf(":")) || peer;
}
