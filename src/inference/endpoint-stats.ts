/**
 * How each version of an endpoint is doing, since the endpoint's current revision began (a
 * routing change starts a fresh comparison): requests, errors, latency percentiles (HDR
 * histograms), and for shadows, agreement with stable and shed copies. The canary guard and
 * deployment reports read it. Counts are this server's own; each replica keeps its own.
 */
import * as hdr from "hdr-histogram-js";
import type { CanaryGuard } from "../models/model.js";

/** A version's part in an endpoint. */
export type Role = "stable" | "canary" | "shadow";

/** One version's figures. Latencies in microseconds. */
export interface VersionReport {
  modelVersion: string;
  role: Role;
  requestCount: number;
  errorCount: number;
  latencyP50Micros: number;
  latencyP99Micros: number;
  /** Shadows: share of compared requests whose outputs agreed with stable's. */
  agreementRate: number;
  /** Shadows: mean absolute difference of output values from stable's. */
  meanAbsoluteDifference: number;
  /** Shadows: copies dropped because the shadow queue was full. */
  shedCount: number;
}

/** A shadow run's comparison with stable. */
export interface ShadowComparison {
  agreed: boolean;
  absoluteDifferenceSum: number;
  valueCount: number;
}

interface Figures {
  role: Role;
  requests: number;
  errors: number;
  latency: hdr.Histogram;
  compared: number;
  agreed: number;
  absoluteDifferenceSum: number;
  valueCount: number;
  shed: number;
}

/** Figures per endpoint revision and version. */
export class EndpointStats {
  private readonly endpoints = new Map<string, { revision: number; versions: Map<string, Figures> }>();

  /** Records one request served (or failed) by a version. */
  recordRequest(endpoint: string, revision: number, version: string, role: Role, micros: number, ok: boolean): void {
    const figures = this.figures(endpoint, revision, version, role);
    figures.requests++;
    if (!ok) figures.errors++;
    figures.latency.recordValue(Math.max(1, Math.round(micros)));
  }

  /** Records a shadow run and its comparison with stable (none when stable's outputs were not to be had). */
  recordShadow(
    endpoint: string,
    revision: number,
    version: string,
    micros: number,
    ok: boolean,
    comparison: ShadowComparison | undefined,
  ): void {
    const figures = this.figures(endpoint, revision, version, "shadow");
    figures.requests++;
    figures.latency.recordValue(Math.max(1, Math.round(micros)));
    if (!ok) figures.errors++;
    if (!comparison) return;
    figures.compared++;
    if (comparison.agreed) figures.agreed++;
    figures.absoluteDifferenceSum += comparison.absoluteDifferenceSum;
    figures.valueCount += comparison.valueCount;
  }

  /** Records a shadow copy dropped because the queue was full. */
  recordShed(endpoint: string, revision: number, version: string): void {
    this.figures(endpoint, revision, version, "shadow").shed++;
  }

  /** The figures of every version of an endpoint's current revision. */
  report(endpoint: string): VersionReport[] {
    const current = this.endpoints.get(endpoint);
    if (!current) return [];
    return [...current.versions.entries()].map(([modelVersion, f]) => ({
      modelVersion,
      role: f.role,
      requestCount: f.requests,
      errorCount: f.errors,
      latencyP50Micros: f.requests > 0 ? f.latency.getValueAtPercentile(50) : 0,
      latencyP99Micros: f.requests > 0 ? f.latency.getValueAtPercentile(99) : 0,
      agreementRate: f.compared > 0 ? f.agreed / f.compared : 0,
      meanAbsoluteDifference: f.valueCount > 0 ? f.absoluteDifferenceSum / f.valueCount : 0,
      shedCount: f.shed,
    }));
  }

  /**
   * Why the canary should be rolled back, or undefined: once it has served `minRequests`, when
   * its error rate exceeds stable's by more than the guard allows, or its p99 latency exceeds
   * stable's by more than the allowed ratio.
   */
  judgeCanary(endpoint: string, guard: CanaryGuard): string | undefined {
    const versions = [...(this.endpoints.get(endpoint)?.versions.values() ?? [])];
    const canary = versions.find((f) => f.role === "canary");
    const stable = versions.find((f) => f.role === "stable");
    if (!canary || canary.requests < Math.max(1, guard.minRequests)) return undefined;
    const canaryErrors = canary.errors / canary.requests;
    const stableErrors = stable && stable.requests > 0 ? stable.errors / stable.requests : 0;
    if (guard.maxErrorRateIncrease > 0 && canaryErrors - stableErrors > guard.maxErrorRateIncrease) {
      return `canary error rate ${percent(canaryErrors)} exceeds stable's ${percent(stableErrors)} by more than ${percent(guard.maxErrorRateIncrease)}`;
    }
    if (guard.maxP99LatencyRatio > 0 && stable && stable.requests > 0) {
      const canaryP99 = canary.latency.getValueAtPercentile(99);
      const stableP99 = stable.latency.getValueAtPercentile(99);
      if (canaryP99 > stableP99 * guard.maxP99LatencyRatio) {
        return `canary p99 latency ${canaryP99} µs exceeds ${guard.maxP99LatencyRatio}x stable's ${stableP99} µs`;
      }
    }
    return undefined;
  }

  private figures(endpoint: string, revision: number, version: string, role: Role): Figures {
    let current = this.endpoints.get(endpoint);
    if (!current || current.revision !== revision) {
      if (current && current.revision > revision) return newFigures(role); // a late record of an older revision
      current = { revision, versions: new Map() };
      this.endpoints.set(endpoint, current);
    }
    let figures = current.versions.get(version);
    if (!figures) {
      figures = newFigures(role);
      current.versions.set(version, figures);
    }
    return figures;
  }
}

function newFigures(role: Role): Figures {
  return {
    role,
    requests: 0,
    errors: 0,
    latency: hdr.build({
      useWebAssembly: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 600_000_000,
      numberOfSignificantValueDigits: 2,
    }),
    compared: 0,
    agreed: 0,
    absoluteDifferenceSum: 0,
    valueCount: 0,
    shed: 0,
  };
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
