/**
 * The audit trail's writer and reader (docs/security.md, "Audit trail"). Every recorded call is
 * chained, in arrival order, onto this server's hash chain: it gets the next sequence and a
 * SHA-256 over the previous hash and its fields. Records are appended to the offline store by
 * group commit: one append at a time, and as soon as one finishes the next takes every record
 * that arrived meanwhile, so a lone call waits for one insert and a burst shares inserts.
 *
 * A failed append never leaves a gap. Its records are retried, identically and with the same
 * deduplication token, until they are stored; nothing behind them is appended before they are.
 * The store therefore always holds a gap-free prefix of the chain, and a retry whose first
 * attempt was in fact stored (a lost acknowledgement) is dropped by the store, not duplicated.
 * The callers of the failed attempt (and those waiting behind it) are told at once, so the guard
 * fails their calls with UNAVAILABLE; their records are kept, because the actions they describe
 * took place.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import { ResourceNotFoundError, SluiceError } from "../common/errors.js";
import type { Page } from "../common/pagination.js";
import { unknownNameHint } from "../common/suggest.js";
import type { AuditRecord, OfflineStore } from "../storage/offline/offline-store.js";
import { type AuditChainVerdict, verifyAuditChain } from "./audit-chain-verifier.js";
import { type AuditFilter, type AuditPageRequest, auditPage, auditPageQuery } from "./audit-filter.js";
import { auditRecordHash, wellFormed } from "./audit-hash.js";

/** One call to record: who, what, when, from where, and how it ended. */
export interface AuditEventInput {
  time: Date;
  principal: string;
  /** api_key, jwt, mtls or none. */
  authentication: string;
  /** The full gRPC method, "/sluice.v1.ModelService/PromoteCanary". */
  method: string;
  /** The project the call acted on; "" for server-wide calls. */
  project: string;
  resources: readonly string[];
  /** SHA-256 (hex) of the request. */
  requestDigest: string;
  peer: string;
  /** The gRPC status code name. */
  outcome: string;
  /** The status message when not OK. */
  detail: string;
  requestId: string;
}

/** Where the guard records calls. */
export interface AuditSink {
  /** Resolves once the record is durable in the offline store; rejects (UNAVAILABLE) when that is not known. */
  record(event: AuditEventInput): Promise<void>;
}

/** How an {@link AuditLog} writes. */
export interface AuditLogOptions {
  /** This server's chain (`audit.chainId`); "" means the host name. */
  chainId: string;
  logger: Logger;
  /** Records chained but not yet stored, at most; beyond it record() rejects at once. */
  maxQueued?: number;
  /** Records per append, at most. */
  maxBatch?: number;
  /** The first delay before a failed append is retried; it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long close() keeps trying to store what is queued. */
  closeTimeoutMs?: number;
}

/** The audit trail cannot take or store a record; the call it describes must not report success. */
export class AuditUnavailableError extends SluiceError {
  constructor(reason: "AUDIT_UNAVAILABLE" | "AUDIT_QUEUE_FULL" | "AUDIT_CLOSED", message: string, cause?: unknown) {
    super("unavailable", reason, message, {}, { cause });
  }
}

/** Records read per query while verifying a chain. */
const VERIFY_CHUNK_ROWS = 10_000;

/** A chained record waiting to be stored, and its caller. */
interface Queued {
  record: AuditRecord;
  settled: boolean;
  resolve(): void;
  reject(error: Error): void;
}

/** The audit trail: {@link AuditSink} with group commit onto one hash chain, and its listing and verification. */
export class AuditLog implements AuditSink {
  /** Chained and not yet stored, in sequence order; the head `batchSize` records are the append in flight or to retry. */
  private queue: Queued[] = [];
  private batchSize = 0;
  private appending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private drainWaiters: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  /** Set when close() gave up: no more retries. */
  private abandoned = false;
  private readonly maxQueued: number;
  private readonly maxBatch: number;

  private constructor(
    private readonly store: OfflineStore,
    /** This server's chain. */
    readonly chainId: string,
    /** The sequence the next record gets. */
    private nextSequence: number,
    /** The hash of the last record chained ("" before the first). */
    private lastHash: string,
    /** The highest sequence known to be stored. */
    private storedThrough: number,
    private readonly logger: Logger,
    private readonly options: AuditLogOptions,
  ) {
    this.maxQueued = options.maxQueued ?? 10_000;
    this.maxBatch = options.maxBatch ?? 1_000;
    this.retryDelayMs = options.retryDelayMs ?? 100;
  }

  /**
   * Opens the trail on the offline store, resuming this server's chain after its last stored
   * record; fails (UNAVAILABLE) when the store cannot say where the chain stands.
   */
  static async open(store: OfflineStore, options: AuditLogOptions): Promise<AuditLog> {
    const chainId = options.chainId || defaultChainId();
    const last = await store.lastAuditRecord(chainId);
    const logger = options.logger;
    if (last && auditRecordHash(last) !== last.hash) {
      logger.error(
        { chainId, sequence: last.sequence },
        "the audit chain's last stored record does not match its hash; continuing after it",
      );
    }
    logger.info({ chainId, sequence: last?.sequence ?? 0 }, "audit chain resumed");
    return new AuditLog(store, chainId, (last?.sequence ?? 0) + 1, last?.hash ?? "", last?.sequence ?? 0, logger, options);
  }

  /** Records not yet stored. */
  get queued(): number {
    return this.queue.length;
  }

  record(event: AuditEventInput): Promise<void> {
    if (this.closing) return Promise.reject(new AuditUnavailableError("AUDIT_CLOSED", "the audit trail is closed: the server is stopping"));
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new AuditUnavailableError("AUDIT_QUEUE_FULL", `the audit trail has ${this.queue.length} records waiting for the offline store`),
      );
    }
    const time = event.time.getTime();
    if (!Number.isFinite(time)) return Promise.reject(new TypeError("audit event time is not a valid date"));
    const unhashed: Omit<AuditRecord, "hash"> = {
      chainId: this.chainId,
      sequence: this.nextSequence,
      time: time * 1000,
      principal: wellFormed(event.principal),
      authentication: wellFormed(event.authentication),
      method: wellFormed(event.method),
      project: wellFormed(event.project),
      resources: event.resources.map(wellFormed),
      requestDigest: wellFormed(event.requestDigest),
      peer: wellFormed(event.peer),
      outcome: wellFormed(event.outcome),
      detail: wellFormed(event.detail),
      requestId: wellFormed(event.requestId),
      previousHash: this.lastHash,
    };
    const record: AuditRecord = { ...unhashed, hash: auditRecordHash(unhashed) };
    this.nextSequence++;
    this.lastHash = record.hash;
    this.logger.info({ audit: { ...record, time: event.time.toISOString() } }, "audit");
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, settled: false, resolve, reject });
      this.pump();
    });
  }

  /** A page of audit events, newest first; INVALID_ARGUMENT for a bad filter or page request. */
  async list(filter: AuditFilter, page: AuditPageRequest): Promise<Page<AuditRecord>> {
    const query = auditPageQuery(filter, page);
    return auditPage(filter, query, await this.store.readAuditRecords(query));
  }

  /**
   * Verifies one chain, or every chain when `chainId` is undefined or "": NOT_FOUND for a chain
   * with no records. This server's own chain is also checked against what it stored itself, so
   * a cut tail is found while it runs.
   */
  async verify(chainId?: string): Promise<AuditChainVerdict[]> {
    const chains = await this.store.auditChains();
    const selected = chainId ? chains.filter((chain) => chain.chainId === chainId) : chains;
    if (chainId && selected.length === 0) {
      const hint = unknownNameHint(
        chainId,
        chains.map((chain) => chain.chainId),
        "audit chains",
      );
      throw new ResourceNotFoundError("audit chain", chainId, hint || undefined);
    }
    const verdicts: AuditChainVerdict[] = [];
    for (const chain of selected) {
      const storedThrough = chain.chainId === this.chainId ? this.storedThrough : 0;
      const verdict = await verifyAuditChain(chain.chainId, this.store.scanAuditChain(chain.chainId, VERIFY_CHUNK_ROWS), storedThrough);
      // A broken chain is read only up to its first problem: its size is the stored count.
      verdicts.push({ ...verdict, records: Math.max(verdict.records, chain.records) });
    }
    return verdicts;
  }

  /**
   * Stops taking records and stores what is queued, retrying for up to `closeTimeoutMs`; records
   * still not stored then are given up (their callers were told), and logged as lost.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.pump();
    }
    if (this.queue.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<true>((resolve) => this.drainWaiters.push(() => resolve(true))),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.options.closeTimeoutMs ?? 5_000);
      }),
    ]);
    clearTimeout(timer);
    if (drained) return;
    this.abandoned = true;
    clearTimeout(this.retryTimer);
    const lost = this.queue.splice(0);
    this.batchSize = 0;
    const error = new AuditUnavailableError("AUDIT_UNAVAILABLE", "the audit trail closed before the record was stored");
    for (const entry of lost) settle(entry, error);
    this.logger.error(
      { chainId: this.chainId, records: lost.length, firstSequence: lost[0]?.record.sequence, lastSequence: lost.at(-1)?.record.sequence },
      "audit records not stored: the offline store did not take them before shutdown (the log lines 'audit' keep them)",
    );
  }

  /** Starts the next append when none is running or waiting to be retried. */
  private pump(): void {
    if (this.appending || this.retryTimer || this.abandoned || this.queue.length === 0) return;
    this.appending = true;
    // A retry appends exactly the records of the failed attempt: same rows, same token.
    if (this.batchSize === 0) this.batchSize = Math.min(this.queue.length, this.maxBatch);
    const batch = this.queue.slice(0, this.batchSize);
    const records = batch.map((entry) => entry.record);
    this.store.appendAuditRecords(records, deduplicationToken(records)).then(
      () => this.stored(batch),
      (error: unknown) => this.failed(batch, error),
    );
  }

  private stored(batch: Queued[]): void {
    this.appending = false;
    if (this.queue[0] === batch[0]) {
      this.queue.splice(0, batch.length);
      this.batchSize = 0;
    }
    this.storedThrough = Math.max(this.storedThrough, batch.at(-1)?.record.sequence ?? 0);
    this.retryDelayMs = this.options.retryDelayMs ?? 100;
    for (const entry of batch) settle(entry);
    if (this.queue.length === 0) for (const wake of this.drainWaiters.splice(0)) wake();
    else this.pump();
  }

  private failed(batch: Queued[], cause: unknown): void {
    this.appending = false;
    const first = batch[0]?.record.sequence;
    const last = batch.at(-1)?.record.sequence;
    this.logger.error({ err: cause, chainId: this.chainId, firstSequence: first, lastSequence: last }, "audit append failed; retrying");
    // Nothing behind the failed records can be stored before them: every waiting caller is told now.
    const error = new AuditUnavailableError(
      "AUDIT_UNAVAILABLE",
      `the audit trail could not store the call's record: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    );
    for (const entry of this.queue) settle(entry, error);
    if (this.abandoned) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
    this.retryTimer.unref();
  }
}

/** Resolves (or, with an error, rejects) a caller once. */
function settle(entry: Queued, error?: Error): void {
  if (entry.settled) return;
  entry.settled = true;
  if (error) entry.reject(error);
  else entry.resolve();
}

/** Names one append: the chain, its sequences and last hash, so a retry is recognised and nothing else is. */
function deduplicationToken(records: readonly AuditRecord[]): string {
  const first = records[0];
  const last = records.at(-1);
  return `audit:${first?.chainId}:${first?.sequence}-${last?.sequence}:${last?.hash.slice(0, 16)}`;
}

/** The host name, as a chain id may spell it. */
function defaultChainId(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .slice(0, 128) || "sluice"
  );
}
