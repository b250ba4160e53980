/**
 * Per-principal token buckets: each call (and each message of a client stream) takes a token;
 * a principal whose bucket is empty is told when the next token arrives. One flooding principal
 * is limited while every other keeps its own full bucket.
 */

/** Principals tracked at most; beyond it the least recently refilled bucket is dropped (it would be full anyway, or nearly). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Token buckets keyed by principal name. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * @param perSecond tokens added per second (the sustained rate)
   * @param burst bucket size (the burst a principal may spend at once)
   */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token; returns 0 when granted, else the milliseconds until a token is available. */
  take(principal: string): number {
    const now = this.now();
    let bucket = this.buckets.get(principal);
    if (bucket) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedMs) * this.perSecond) / 1000);
      bucket.updatedMs = now;
      // Re-inserted so the map stays ordered by last use, oldest first.
      this.buckets.delete(principal);
    } else {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = { tokens: this.burst, updatedMs: now };
    }
    this.buckets.set(principal, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / this.perSecond));
  }
}
