/**
 * Thin gRPC adapter of sluice.v1.MonitoringService. GetDeploymentReport is served from this
 * server's own figures of the endpoint's current revision (stable, canary and shadows side by
 * side, with a live learner's prequential metrics); CheckServedConsistency replays logged online values through the historical path;
 * feature statistics and drift reports are not implemented yet.
 */

import { ValidationError } from "../common/errors.js";
import type { CheckServedConsistencyRequest, GetDeploymentReportRequest, MonitoringServiceServer } from "../gen/sluice/v1/monitoring.pb.js";
import type { EndpointStats } from "../inference/endpoint-stats.js";
import type { ServingRouter } from "../inference/serving-router.js";
import type { LearnerStatus } from "../learners/model.js";
import { LIVE_VERSION } from "../models/model.js";
import { parseVersionName } from "../models/model-registry.js";
import { FLOAT_COMPARISON, type ServedConsistencyChecker } from "../monitoring/served-values.js";
import { parseProjectName, parseResourceName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { metricsToWire } from "./mapping/learning.js";
import { microsToTimestamp, timestampToMicros } from "./mapping/values.js";
import { unaryHandler } from "./unary-handler.js";

/** Builds the implemented MonitoringService handlers. */
export function monitoringServiceHandlers(
  stats: EndpointStats,
  router: ServingRouter,
  consistency: ServedConsistencyChecker,
  learnerStatus: (project: string, learner: string) => Promise<LearnerStatus>,
  env: HandlerEnv,
): Pick<MonitoringServiceServer, "getDeploymentReport" | "checkServedConsistency"> {
  return {
    checkServedConsistency: unaryHandler(
      "sluice.v1.MonitoringService/CheckServedConsistency",
      env,
      async (request: CheckServedConsistencyRequest) => {
        if (request.maxValues < 0 || request.maxExamples < 0)
          throw new ValidationError("INVALID_LIMIT", [
            { field: request.maxValues < 0 ? "max_values" : "max_examples", description: "must not be negative" },
          ]);
        const result = await consistency.check({
          project: parseProjectName(request.project, "project", true),
          featureView: request.featureView,
          range: {
            start: request.window?.startTime ? timestampToMicros(request.window.startTime, "window.start_time") : undefined,
            end: request.window?.endTime ? timestampToMicros(request.window.endTime, "window.end_time") : undefined,
          },
          maxValues: Math.min(request.maxValues || DEFAULT_MAX_VALUES, MAX_VALUES),
          maxExamples: Math.min(request.maxExamples || DEFAULT_MAX_EXAMPLES, MAX_EXAMPLES),
        });
        return {
          features: result.features.map((f) => ({
            feature: f.feature,
            compared: BigInt(f.compared),
            mismatches: BigInt(f.mismatches),
            mismatchRate: f.compared === 0 ? 0 : f.mismatches / f.compared,
            examples: f.examples.map((e) => ({
              entityKey: e.entityKey,
              servedTime: microsToTimestamp(e.servedTime),
              servedValue: e.servedValue,
              historicalValue: e.historicalValue,
            })),
          })),
          servedValues: BigInt(result.servedValues),
          comparison: FLOAT_COMPARISON,
        };
      },
    ),
    getDeploymentReport: unaryHandler(
      "sluice.v1.MonitoringService/GetDeploymentReport",
      env,
      async (request: GetDeploymentReportRequest) => {
        const { project, id } = parseResourceName(request.endpoint, "endpoints", "endpoint");
        // NOT_FOUND for an endpoint that does not exist, rather than an empty report.
        await router.routing(project, id);
        const reports = stats.report(`${project}/${id}`);
        const learners = await Promise.all(
          reports.map((v) => {
            const ref = parseVersionName(v.modelVersion, "model_version");
            return ref.version === LIVE_VERSION ? learnerStatus(ref.project, ref.model).catch(() => undefined) : undefined;
          }),
        );
        return {
          versions: reports.map((v, i) => ({
            modelVersion: v.modelVersion,
            role: v.role,
            requestCount: BigInt(v.requestCount),
            errorCount: BigInt(v.errorCount),
            latencyP50: microsToDuration(v.latencyP50Micros),
            latencyP99: microsToDuration(v.latencyP99Micros),
            agreementRate: v.agreementRate,
            meanAbsoluteDifference: v.meanAbsoluteDifference,
            shedCount: BigInt(v.shedCount),
            learnerRolling: learners[i] ? metricsToWire((learners[i] as LearnerStatus).rolling) : undefined,
            learnerCumulative: learners[i] ? metricsToWire((learners[i] as LearnerStatus).cumulative) : undefined,
          })),
        };
      },
    ),
  };
}

const DEFAULT_MAX_VALUES = 100_000;
const MAX_VALUES = 1_000_000;
const DEFAULT_MAX_EXAMPLES = 5;
const MAX_EXAMPLES = 100;

function microsToDuration(micros: number) {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}
