import { describe, expect, it } from "vitest";
import { StoreUnavailableError, ValidationError } from "../../common/errors.js";
import { killOnAbort, killStatement, querySettings } from "./query-control.js";
import { classifyQueryError, QueryCancelledError, QueryLimitError, redactPaths } from "./query-errors.js";

/** An error shaped as @clickhouse/client raises them. */
function clickhouseError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const limits = { timeoutMs: 300_000, maxMemoryBytes: 4 * 1024 ** 3 };

describe("classifyQueryError", () => {
  it("makes the client's SQL errors INVALID_ARGUMENT on its field, only when the query ran the client's SQL", () => {
    const unknown = clickhouseError("47", "Unknown expression identifier `x` in scope SELECT x\nStack trace: ...");
    const refused = classifyQueryError(unknown, { store: "s", field: "query.offline_spine.sql" });
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).violations).toEqual([
      { field: "query.offline_spine.sql", description: "ClickHouse refused it: Unknown expression identifier `x` in scope SELECT x" },
    ]);
    expect(classifyQueryError(unknown, { store: "s" })).toBeInstanceOf(StoreUnavailableError);
  });

  it("names the limit a query ran over", () => {
    const slow = classifyQueryError(clickhouseError("159", "Timeout exceeded: elapsed 1000 ms"), { store: "s", limits });
    expect([slow.constructor, (slow as QueryLimitError).kind, (slow as QueryLimitError).reason]).toEqual([
      QueryLimitError,
      "deadline_exceeded",
      "QUERY_TIMEOUT",
    ]);
    expect(slow.message).toContain("limits.queryTimeoutMs (300000 ms)");
    const hungry = classifyQueryError(clickhouseError("241", "Query memory limit exceeded"), { store: "s", limits });
    expect([(hungry as QueryLimitError).kind, (hungry as QueryLimitError).reason]).toEqual(["resource_exhausted", "QUERY_MEMORY_LIMIT"]);
  });

  it("reports a killed query as cancelled", () => {
    expect(classifyQueryError(clickhouseError("394", "Query was cancelled"), { store: "s" })).toBeInstanceOf(QueryCancelledError);
    expect(classifyQueryError(new Error("anything"), { store: "s", cancelled: true })).toBeInstanceOf(QueryCancelledError);
  });

  it("never shows the server's paths", () => {
    const error = clickhouseError(
      "76",
      "Cannot open file /var/lib/sluice/offline/store/a1b/a1b2/data.bin, errno: 2; see ./.sluice-data/offline/metadata",
    );
    const unavailable = classifyQueryError(error, { store: "embedded ClickHouse (chDB)", knownPaths: ["./.sluice-data"] });
    expect(unavailable.message).toBe("embedded ClickHouse (chDB) is unavailable: Cannot open file <path>, errno: 2; see <path>");
    expect(redactPaths("at http://host:8123/a/b and 'a/b' and /tmp/x/y")).toBe("at http://host:8123/a/b and 'a/b' and <path>");
  });
});

describe("query control", () => {
  it("tags each query with its limits and a marker that KILL QUERY finds", () => {
    expect(querySettings({ limits: { timeoutMs: 1500, maxMemoryBytes: 1024 } }, "sluice_query_ab")).toEqual({
      max_execution_time: 2,
      timeout_overflow_mode: "throw",
      max_memory_usage: 1024,
      log_comment: "sluice_query_ab",
    });
    expect(querySettings({}, "sluice_query_ab")).toEqual({ log_comment: "sluice_query_ab" });
    expect(killStatement("sluice_query_ab")).toBe("KILL QUERY WHERE Settings['log_comment'] = 'sluice_query_ab' ASYNC");
    expect(killStatement("sluice_query_ab", "main")).toContain("KILL QUERY ON CLUSTER `main` WHERE");
    expect(() => killStatement("x' OR 1 = 1 --")).toThrow();
  });

  it("kills on abort, again until the query ends, and never without an abort", async () => {
    const controller = new AbortController();
    let kills = 0;
    const stop = killOnAbort(controller.signal, async () => {
      kills++;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(kills).toBe(0);
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(kills).toBe(2);
    stop();
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(kills).toBe(2);
  });
});
