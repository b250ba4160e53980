/**
 * The composition root: opens the stores the config names, builds the core services on them,
 * and serves every gRPC service (Sluice v1, KServe v2, health, reflection) on one port.
 */
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import type { SluiceConfig } from "../config/config.js";
import { GRPCInferenceServiceService } from "../gen/inference/grpc_predict_v2.pb.js";
import { InferenceServiceService } from "../gen/sluice/v1/inference.pb.js";
import { IngestionServiceService } from "../gen/sluice/v1/ingestion.pb.js";
import { ModelServiceService } from "../gen/sluice/v1/model.pb.js";
import { MonitoringServiceService } from "../gen/sluice/v1/monitoring.pb.js";
import { OnlineServiceService } from "../gen/sluice/v1/online.pb.js";
import { RegistryServiceService } from "../gen/sluice/v1/registry.pb.js";
import { TrainingServiceService } from "../gen/sluice/v1/training.pb.js";
import { loadServedDescriptors } from "../grpc/descriptors.js";
import { registryServiceHandlers } from "../grpc/registry-service.js";
import { withUnimplementedMethods } from "../grpc/unimplemented.js";
import { Registry } from "../registry/registry.js";
import { openRegistryStore } from "../storage/registry/open-registry-store.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import { VERSION } from "../version.js";
import { lockDataDir } from "./data-dir-lock.js";

/** A started server. */
export interface RunningServer {
  /** The bound address, with the real port when 0 was asked for. */
  address: string;
  port: number;
  /**
   * Graceful stop: health turns NOT_SERVING, new calls are refused, in-flight calls get
   * `grpc.shutdownGraceMs` to finish, then stores close. Safe to call more than once.
   */
  shutdown(): Promise<void>;
}

/** Every service the server answers, keyed by full name, with what is implemented so far. */
function serviceTable(registry: Registry, logger: Logger): Array<[string, ServiceDefinition, UntypedServiceImplementation]> {
  return [
    ["sluice.v1.RegistryService", RegistryServiceService, registryServiceHandlers(registry, logger)],
    ["sluice.v1.IngestionService", IngestionServiceService, {}],
    ["sluice.v1.OnlineService", OnlineServiceService, {}],
    ["sluice.v1.TrainingService", TrainingServiceService, {}],
    ["sluice.v1.ModelService", ModelServiceService, {}],
    ["sluice.v1.InferenceService", InferenceServiceService, {}],
    ["sluice.v1.MonitoringService", MonitoringServiceService, {}],
    ["inference.GRPCInferenceService", GRPCInferenceServiceService, {}],
  ];
}

/** Opens the stores and starts serving. Rejects (after closing what it opened) when anything fails. */
export async function startServer(config: SluiceConfig, logger: Logger): Promise<RunningServer> {
  const releaseDataDir = lockDataDir(config.dataDir);
  let registryStore: RegistryStore | undefined;
  let registry: Registry;
  try {
    registryStore = openRegistryStore(config);
    registry = await Registry.open(registryStore);
  } catch (error) {
    await registryStore?.close();
    releaseDataDir();
    throw error;
  }
  const stores = registryStore;

  const server = new Server({
    "grpc.max_receive_message_length": config.grpc.maxReceiveMessageBytes,
    "grpc.max_send_message_length": config.grpc.maxSendMessageBytes,
    "grpc.max_concurrent_streams": config.grpc.maxConcurrentStreams,
    "grpc.keepalive_time_ms": config.grpc.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": config.grpc.keepaliveTimeoutMs,
  });
  const services = serviceTable(registry, logger);
  for (const [, definition, implemented] of services) {
    server.addService(definition, withUnimplementedMethods(definition, implemented, logger));
  }
  const health = new HealthImplementation(Object.fromEntries([["", "SERVING"], ...services.map(([name]) => [name, "SERVING"])]));
  health.addToServer(server);
  if (config.reflection) new ReflectionService(loadServedDescriptors()).addToServer(server);

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(config.listen, ServerCredentials.createInsecure(), (error, boundPort) =>
        error ? reject(error) : resolve(boundPort),
      ),
    );
  } catch (error) {
    registry.close();
    await stores.close();
    releaseDataDir();
    throw new Error(`cannot listen on ${config.listen}: ${(error as Error).message}`, { cause: error });
  }
  const address = `${config.listen.slice(0, config.listen.lastIndexOf(":"))}:${port}`;
  logger.info(
    { address, dataDir: config.dataDir, registry: stores.backend, reflection: config.reflection, version: VERSION },
    "sluice is serving",
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      logger.info({ graceMs: config.grpc.shutdownGraceMs }, "shutting down: health is NOT_SERVING, waiting for in-flight calls");
      health.setStatus("", "NOT_SERVING");
      for (const [name] of services) health.setStatus(name, "NOT_SERVING");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn("grace period over: cancelling the calls still in flight");
          server.forceShutdown();
          resolve();
        }, config.grpc.shutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      registry.close();
      await stores.close();
      releaseDataDir();
      logger.info("sluice stopped");
    })();
    return stopping;
  };
  return { address, port, shutdown };
}
