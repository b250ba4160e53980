/**
 * Offline queries run for a client's request end when the request does. Each is tagged with a
 * unique marker (the `log_comment` setting, which both chDB and a ClickHouse server list in
 * `system.processes`), carries the engine's time and memory limits, and is killed by marker when
 * the call's signal aborts. Measured on chDB: an abort of the client library only stops waiting
 * (a single-shot query keeps computing, and a streamed one until its next chunk), while
 * `KILL QUERY ... ASYNC` stops it within a few hundred milliseconds.
 */
import { randomUUID } from "node:crypto";

/** How one query of a request runs: stopped when `signal` aborts, within `limits`. */
export interface QueryRun {
  signal?: AbortSignal;
  limits?: { timeoutMs: number; maxMemoryBytes: number };
}

/** Kill attempts after an abort: the query may not be listed yet when the first one runs. */
const KILL_ATTEMPTS = 10;
const KILL_RETRY_MS = 500;

/** A fresh marker naming one query. */
export function queryMarker(): string {
  return `sluice_query_${randomUUID().replaceAll("-", "")}`;
}

/** The settings of one query of a request: its limits (none when unset) and its marker. */
export function querySettings(run: QueryRun, marker: string): Record<string, string | number> {
  const limits: Record<string, string | number> = run.limits
    ? {
        // Whole seconds: the setting's unit; a partial second rounds up.
        max_execution_time: Math.max(1, Math.ceil(run.limits.timeoutMs / 1000)),
        timeout_overflow_mode: "throw",
        max_memory_usage: run.limits.maxMemoryBytes,
      }
    : {};
  return { ...limits, log_comment: marker };
}

/** The statement that kills the query tagged `marker` (on every node of `cluster`). */
export function killStatement(marker: string, cluster?: string): string {
  if (!/^[a-z0-9_]+$/.test(marker)) throw new Error(`not a query marker: ${marker}`);
  const onCluster = cluster ? ` ON CLUSTER \`${cluster.replace(/[`\\]/g, "\\$&")}\`` : "";
  return `KILL QUERY${onCluster} WHERE Settings['log_comment'] = '${marker}' ASYNC`;
}

/**
 * Calls `kill` when `signal` aborts, and again every {@link KILL_RETRY_MS} until the returned
 * function is called (the query ended) or {@link KILL_ATTEMPTS} were made. Kill failures are
 * ignored: the query's own time limit still ends it.
 */
export function killOnAbort(signal: AbortSignal | undefined, kill: () => Promise<unknown>): () => void {
  if (!signal) return () => undefined;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = (left: number) => {
    if (ended || left === 0) return;
    kill()
      .catch(() => undefined)
      .finally(() => {
        if (!ended) timer = setTimeout(() => attempt(left - 1), KILL_RETRY_MS);
      });
  };
  const onAbort = () => attempt(KILL_ATTEMPTS);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    ended = true;
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  };
}
