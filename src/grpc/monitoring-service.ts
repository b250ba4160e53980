/**
 * Thin gRPC adapter of sluice.v1.MonitoringService. GetDeploymentReport is served from this
 * server's own figures of the endpoint's current revision (stable, canary and shadows side by
 * side); feature statistics and drift reports are not implemented yet.
 */
import type { GetDeploymentReportRequest, MonitoringServiceServer } from "../gen/sluice/v1/monitoring.pb.js";
import type { EndpointStats } from "../inference/endpoint-stats.js";
import type { ServingRouter } from "../inference/serving-router.js";
import { parseResourceName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { unaryHandler } from "./unary-handler.js";

/** Builds the implemented MonitoringService handlers. */
export function monitoringServiceHandlers(
  stats: EndpointStats,
  router: ServingRouter,
  env: HandlerEnv,
): Pick<MonitoringServiceServer, "getDeploymentReport"> {
  return {
    getDeploymentReport: unaryHandler(
      "sluice.v1.MonitoringService/GetDeploymentReport",
      env,
      async (request: GetDeploymentReportRequest) => {
        const { project, id } = parseResourceName(request.endpoint, "endpoints", "endpoint");
        // NOT_FOUND for an endpoint that does not exist, rather than an empty report.
        await router.routing(project, id);
        return {
          versions: stats.report(`${project}/${id}`).map((v) => ({
            modelVersion: v.modelVersion,
            role: v.role,
            requestCount: BigInt(v.requestCount),
            errorCount: BigInt(v.errorCount),
            latencyP50: microsToDuration(v.latencyP50Micros),
            latencyP99: microsToDuration(v.latencyP99Micros),
            agreementRate: v.agreementRate,
            meanAbsoluteDifference: v.meanAbsoluteDifference,
            shedCount: BigInt(v.shedCount),
          })),
        };
      },
    ),
  };
}

function microsToDuration(micros: number) {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}
