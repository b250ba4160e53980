import { describe, expect, it } from "vitest";
import { EndpointStats } from "./endpoint-stats.js";

const guard = { minRequests: 10, maxErrorRateIncrease: 0.05, maxP99LatencyRatio: 2 };

describe("EndpointStats", () => {
  it("reports each version's requests, errors, latency and shadow agreement", () => {
    const stats = new EndpointStats();
    for (let i = 1; i <= 100; i++) stats.recordRequest("p/e", 1, "v1", "stable", i * 10, i !== 50);
    stats.recordShadow("p/e", 1, "v3", 200, true, { agreed: true, absoluteDifferenceSum: 0.002, valueCount: 2 });
    stats.recordShadow("p/e", 1, "v3", 400, true, { agreed: false, absoluteDifferenceSum: 0.5, valueCount: 2 });
    stats.recordShadow("p/e", 1, "v3", 300, true, undefined); // ran, but stable's outputs were not to be had
    stats.recordShadow("p/e", 1, "v3", 100, false, undefined);
    stats.recordShed("p/e", 1, "v3");
    const [stable, shadow] = stats.report("p/e");
    expect(stable).toMatchObject({ modelVersion: "v1", role: "stable", requestCount: 100, errorCount: 1 });
    expect(stable?.latencyP50Micros).toBeCloseTo(500, -1);
    expect(stable?.latencyP99Micros).toBeCloseTo(990, -1);
    expect(shadow).toMatchObject({ role: "shadow", requestCount: 4, errorCount: 1, agreementRate: 0.5, shedCount: 1 });
    expect(shadow?.meanAbsoluteDifference).toBeCloseTo(0.502 / 4, 9);
    expect(stats.report("p/other")).toEqual([]);
  });

  it("starts afresh with a new revision and ignores late records of an older one", () => {
    const stats = new EndpointStats();
    stats.recordRequest("p/e", 1, "v1", "stable", 10, true);
    stats.recordRequest("p/e", 2, "v2", "stable", 10, true);
    stats.recordRequest("p/e", 1, "v1", "stable", 10, false);
    expect(stats.report("p/e").map((r) => [r.modelVersion, r.requestCount])).toEqual([["v2", 1]]);
  });

  it("judges a canary only after its minimum requests, on error rate and on p99 latency", () => {
    const erring = new EndpointStats();
    for (let i = 0; i < 100; i++) erring.recordRequest("p/e", 1, "v1", "stable", 100, i % 50 !== 0); // 2% errors
    for (let i = 0; i < 9; i++) erring.recordRequest("p/e", 1, "v2", "canary", 100, i % 9 !== 0);
    expect(erring.judgeCanary("p/e", guard)).toBeUndefined(); // 9 of 10 requests
    erring.recordRequest("p/e", 1, "v2", "canary", 100, true); // 1 in 10: 10% vs 2%, over 5 points
    expect(erring.judgeCanary("p/e", guard)).toBe("canary error rate 10.0% exceeds stable's 2.0% by more than 5.0%");
    expect(erring.judgeCanary("p/e", { ...guard, maxErrorRateIncrease: 0.1 })).toBeUndefined();

    const slow = new EndpointStats();
    for (let i = 0; i < 100; i++) slow.recordRequest("p/e", 1, "v1", "stable", 100, true);
    for (let i = 0; i < 100; i++) slow.recordRequest("p/e", 1, "v2", "canary", i < 95 ? 100 : 250, true);
    expect(slow.judgeCanary("p/e", guard)).toMatch(/^canary p99 latency 25\d µs exceeds 2x stable's 100 µs$/);
    expect(slow.judgeCanary("p/e", { ...guard, maxP99LatencyRatio: 3 })).toBeUndefined();
    expect(slow.judgeCanary("p/e", { ...guard, maxP99LatencyRatio: 0 })).toBeUndefined(); // 0: not judged
  });
});
