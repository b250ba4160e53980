/**
 * The composition root: opens the stores the config names, builds the core services on them,
 * and serves every gRPC service (Sluice v1, KServe v2, health, reflection) on one port.
 */

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { Server, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { AuditLog, type AuditSink } from "../audit/audit-log.js";
import { BufferedLog } from "../common/buffered-log.js";
import type { SluiceConfig } from "../config/config.js";
import { GRPCInferenceServiceService } from "../gen/inference/grpc_predict_v2.pb.js";
import { AccessServiceService } from "../gen/sluice/v1/access.pb.js";
import { InferenceServiceService } from "../gen/sluice/v1/inference.pb.js";
import { IngestionServiceService } from "../gen/sluice/v1/ingestion.pb.js";
import { LearningServiceService } from "../gen/sluice/v1/learning.pb.js";
import { ModelServiceService } from "../gen/sluice/v1/model.pb.js";
import { MonitoringServiceService } from "../gen/sluice/v1/monitoring.pb.js";
import { RegistryServiceService } from "../gen/sluice/v1/registry.pb.js";
import { accessServiceHandlers } from "../grpc/access-service.js";
import { auditServiceHandlers } from "../grpc/audit-service.js";
import { type HandlerEnv, InFlightCalls } from "../grpc/call-context.js";
import { releaseClosedStreams } from "../grpc/closed-streams.js";
import { loadServedDescriptors } from "../grpc/descriptors.js";
import { createGuard, withGuardedDecoding } from "../grpc/guard.js";
import { inferenceServiceHandlers } from "../grpc/inference-service.js";
import { ingestionServiceHandlers } from "../grpc/ingestion-service.js";
import { kserveServiceHandlers } from "../grpc/kserve-service.js";
import { learningServiceHandlers } from "../grpc/learning-service.js";
import { modelServiceHandlers } from "../grpc/model-service.js";
import { monitoringServiceHandlers } from "../grpc/monitoring-service.js";
import { ONLINE_SERVICE_DEFINITION, onlineServiceHandlers } from "../grpc/online-service.js";
import { registryServiceHandlers } from "../grpc/registry-service.js";
import { TRAINING_SERVICE_DEFINITION, trainingServiceHandlers } from "../grpc/training-service.js";
import { type ServiceHandlers, withUnimplementedMethods } from "../grpc/unimplemented.js";
import { createWireLimits } from "../grpc/wire-limits.js";
import { EndpointStats } from "../inference/endpoint-stats.js";
import { PredictionLog } from "../inference/prediction-log.js";
import { Predictor } from "../inference/predictor.js";
import { ServingRouter } from "../inference/serving-router.js";
import { EventWriter, eventsTableOf } from "../ingest/event-writer.js";
import { FeatureWriter, offlineTableOf } from "../ingest/feature-writer.js";
import { FileImporter } from "../ingest/file-importer.js";
import { Materializer } from "../ingest/materializer.js";
import { LabelJoiner } from "../learners/label-joiner.js";
import { LearnerDefinitions } from "../learners/learner-definitions.js";
import { LearnerRuntime } from "../learners/learner-runtime.js";
import { Learning } from "../learners/learning.js";
import { liveModelVersion } from "../learners/model.js";
import { RetrieverLookup } from "../learners/retriever-lookup.js";
import { ArtifactStore } from "../models/artifact-store.js";
import { Deployments } from "../models/deployments.js";
import { ModelRegistry } from "../models/model-registry.js";
import { ServedConsistencyChecker } from "../monitoring/served-values.js";
import { OnlineReader } from "../online/online-reader.js";
import { Registry } from "../registry/registry.js";
import { AccessControl } from "../security/access-control.js";
import { Authenticator } from "../security/authenticator.js";
import { JwtVerifier } from "../security/jwt.js";
import { methodRules } from "../security/permissions.js";
import { RateLimiter } from "../security/rate-limiter.js";
import { InferencePool } from "../serving/inference-pool.js";
import { openLearningStore } from "../storage/learning/open-learning-store.js";
import type { OfflineStore, ServedValueRecord } from "../storage/offline/offline-store.js";
import { openOfflineStore } from "../storage/offline/open-offline-store.js";
import { openOnlineStore } from "../storage/online/open-online-store.js";
import { openRegistryStore } from "../storage/registry/open-registry-store.js";
import { KafkaSource } from "../streams/kafka-source.js";
import { TileApplier } from "../streams/tile-applier.js";
import { HistoricalRetriever } from "../training/historical-retriever.js";
import { TrainingDatasets } from "../training/training-datasets.js";
import { VERSION } from "../version.js";
import { lockDataDir } from "./data-dir-lock.js";
import { ServingMetrics, serveMetrics } from "./metrics.js";
import { loadServerTls, type ServerTls } from "./tls.js";

/** How long shutdown lets finished calls' statuses flush before closing connections that stay open. */
const STATUS_FLUSH_MS = 250;

/** A started server. */
export interface RunningServer {
  /** The bound address, with the real port when 0 was asked for. */
  address: string;
  port: number;
  /** The port of the Prometheus /metrics endpoint, when it is on. */
  metricsPort?: number;
  /**
   * Graceful stop: health turns NOT_SERVING, new calls are refused, in-flight calls get
   * `grpc.shutdownGraceMs` to finish, then stores close. Safe to call more than once.
   */
  shutdown(): Promise<void>;
  /** Re-reads the TLS certificate, key and CA files (SIGHUP); open connections stay up. */
  reloadTls(): Promise<string>;
}

/** The core services every adapter is built from. */
interface Core {
  registry: Registry;
  writer: FeatureWriter;
  eventWriter: EventWriter;
  deadLettered: () => number;
  materializer: Materializer;
  importer: FileImporter;
  uploadDir: string;
  maxUploadBytes: number;
  reader: OnlineReader;
  retriever: HistoricalRetriever;
  datasets: TrainingDatasets;
  models: ModelRegistry;
  learning: Learning;
  deployments: Deployments;
  router: ServingRouter;
  pool: InferencePool;
  predictor: Predictor;
  stats: EndpointStats;
  consistency: ServedConsistencyChecker;
  access: AccessControl;
  /** Undefined when authentication is off. */
  authenticator: Authenticator | undefined;
  metrics: ServingMetrics;
  audit: AuditLog;
  auditSink: AuditSink | undefined;
  /** Whether the server still takes traffic (false once shutdown begins). */
  serving: () => boolean;
}

/** Every service the server answers, keyed by full name, with what is implemented so far. */
function serviceTable(core: Core, env: HandlerEnv): Array<[string, ServiceDefinition, ServiceHandlers]> {
  return [
    ["sluice.v1.RegistryService", RegistryServiceService, registryServiceHandlers(core.registry, env)],
    ["sluice.v1.IngestionService", IngestionServiceService, ingestionServiceHandlers(core, env)],
    ["sluice.v1.OnlineService", ONLINE_SERVICE_DEFINITION, onlineServiceHandlers(core.reader, env)],
    ["sluice.v1.TrainingService", TRAINING_SERVICE_DEFINITION, trainingServiceHandlers(core.retriever, core.datasets, env)],
    ["sluice.v1.ModelService", ModelServiceService, modelServiceHandlers(core.models, core.deployments, env)],
    ["sluice.v1.LearningService", LearningServiceService, learningServiceHandlers(core.learning, env)],
    ["sluice.v1.InferenceService", InferenceServiceService, inferenceServiceHandlers(core.predictor, env)],
    [
      "sluice.v1.MonitoringService",
      MonitoringServiceService,
      monitoringServiceHandlers(
        core.stats,
        core.router,
        core.consistency,
        async (project, learner) => (await core.learning.get(project, learner)).status,
        env,
      ),
    ],
    ["sluice.v1.AccessService", AccessServiceService, accessServiceHandlers(core.access, auditServiceHandlers(core.audit, env), env)],
    [
      "inference.GRPCInferenceService",
      GRPCInferenceServiceService,
      kserveServiceHandlers(core.models, core.router, core.pool, env, core.serving),
    ],
  ];
}

/** The authentication methods a config turns on, for the start log. */
function authenticationMethods(config: SluiceConfig): string[] {
  const methods = ["api_key"];
  if (config.auth.jwt.jwksFile !== "" || config.auth.jwt.jwksUrl !== "") methods.push("jwt");
  if (config.tls.clientCaFile !== "") methods.push("mtls");
  return methods;
}

/**
 * This replica's name in learner leases. The embedded stores belong to one process at a time (the
 * data dir is locked), so a restarted server is the same replica and takes its leases back at
 * once; on shared stores each process is a replica of its own, and a restarted one waits for its
 * predecessor's leases to lapse (the predecessor might still be alive).
 */
function defaultReplicaId(config: SluiceConfig): string {
  return config.registry.backend === "embedded" ? `${hostname()}:embedded` : `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Whether a HOST:PORT listen address is reachable only from this machine. */
export function isLoopback(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Opens the stores and starts serving. Rejects (after closing what it opened) when anything fails. */
export async function startServer(config: SluiceConfig, logger: Logger): Promise<RunningServer> {
  if (!config.auth.enabled) {
    if (!isLoopback(config.listen) && !config.auth.allowUnauthenticatedRemote) {
      throw new Error(
        `refusing to serve ${config.listen} without authentication: anyone who reaches it could read and change everything. ` +
          "Turn auth.enabled on (docs/security.md), listen on 127.0.0.1, or set auth.allowUnauthenticatedRemote to accept the risk",
      );
    }
    logger.warn(
      { listen: config.listen },
      "authentication is OFF: every caller is an anonymous admin (fine on a laptop; set auth.enabled for anything shared)",
    );
  }
  // Resources are released in reverse order of opening, on a failed start as on shutdown.
  const releases: Array<() => Promise<void> | void> = [];
  const releaseAll = async () => {
    for (const release of releases.reverse().splice(0)) await release();
  };
  let core: Core;
  let backends: Record<string, string>;
  let metricsPort: number | undefined;
  let tls: ServerTls;
  let stopping: Promise<void> | undefined;
  try {
    releases.push(lockDataDir(config.dataDir));
    tls = loadServerTls(config.tls, logger);
    const serverTls = tls;
    releases.push(() => serverTls.close());
    // Served before the stores open, so a taken metrics port fails the start at once; the gauges
    // read the pool and the prediction log once they exist.
    const gauged: {
      pool?: InferencePool;
      predictionLog?: PredictionLog;
      authenticator?: Authenticator;
      learners?: LearnerRuntime;
      offline?: OfflineStore;
    } = {};
    const metrics = new ServingMetrics({
      loadedModels: () => gauged.pool?.loadedCount ?? 0,
      predictionLogDropped: () => gauged.predictionLog?.dropped ?? 0,
      heldSpineBytes: () => gauged.offline?.heldSpineBytes() ?? 0,
      learners: async () =>
        ((await gauged.learners?.statuses()) ?? []).map(({ definition, status }) => ({
          learner: `${definition.project}/${definition.name}`,
          status,
        })),
    });
    if (config.metrics.listen !== "") {
      const endpoint = await serveMetrics(metrics, config.metrics.listen, {
        tls,
        logger,
        // Any authenticated principal may scrape; until the access store is open, nobody can.
        authorize:
          config.auth.enabled && !config.auth.openMetrics
            ? async (headers, peerCertificate) => {
                if (!gauged.authenticator) return false;
                const authorization = headers.authorization;
                const apiKey = headers["x-api-key"];
                try {
                  await gauged.authenticator.authenticate({
                    ...(typeof authorization === "string" ? { authorization } : {}),
                    ...(typeof apiKey === "string" ? { apiKey } : { peerCertificate }),
                  });
                  return true;
                } catch {
                  return false;
                }
              }
            : undefined,
      });
      metricsPort = endpoint.port;
      releases.push(() => endpoint.close());
    }
    const registryStore = await openRegistryStore(config);
    releases.push(() => registryStore.close());
    const registry = await Registry.open(registryStore);
    releases.push(() => registry.close());
    const access = await AccessControl.open(registryStore, config.auth);
    releases.push(() => access.close());
    const authenticator = config.auth.enabled
      ? new Authenticator(access, JwtVerifier.fromConfig(config.auth.jwt), config.auth.mtlsPrincipal)
      : undefined;
    gauged.authenticator = authenticator;
    const offline = await openOfflineStore(config, logger);
    gauged.offline = offline;
    releases.push(() => offline.close());
    const audit = await AuditLog.open(offline, { chainId: config.audit.chainId, logger });
    // Closed before the offline store, with what is queued stored.
    releases.push(() => audit.close());
    const online = await openOnlineStore(config);
    releases.push(() => online.close());
    const limits = { ...config.limits, maxEntityRows: config.limits.maxEntityRowsPerRead };
    const writer = new FeatureWriter(registry, offline, online, limits);
    // One applier: reads reuse the tile records the write path decoded.
    const tiles = new TileApplier(online);
    const eventWriter = new EventWriter(registry, offline, online, tiles, limits, metrics);
    // Each view version's history table (an aggregation view version: its tiles) and each stream
    // version's events table exist from the moment the version does.
    registry.onFeatureViewApplied(async (view, entity) => {
      if (!view.stream) return offline.ensureTable(offlineTableOf(view, entity));
      const started = performance.now();
      const events = await eventWriter.backfillTiles(view, (applied) =>
        logger.info({ featureView: `${view.name}@${view.version}`, events: applied }, "building aggregation tiles from stored events"),
      );
      logger.info(
        { featureView: `${view.name}@${view.version}`, events, durationMs: Math.round(performance.now() - started) },
        "aggregation tiles built",
      );
    });
    registry.onEventStreamApplied((stream, entity) => offline.ensureTable(eventsTableOf(stream, entity)));
    const retriever = new HistoricalRetriever(registry, offline, limits);
    const datasets = new TrainingDatasets(registryStore, retriever, offline, join(config.dataDir, "datasets"), logger);
    // Before the stores close: running dataset jobs stop and record that they did not finish.
    releases.push(() => datasets.close());

    const pool = await InferencePool.start(
      {
        workers: config.serving.inferenceWorkers,
        maxBatchSize: config.serving.maxBatchSize,
        maxQueueDelayMicros: config.serving.maxQueueDelayMicros,
        inlineMaxMicros: config.serving.inlineMaxMicros,
        graphEvaluator: config.serving.graphEvaluator,
        maxQueuedRequests: config.serving.maxQueuedRequests,
        maxInputElements: config.limits.maxModelInputElements,
        maxOutputElements: config.limits.maxModelOutputElements,
      },
      logger,
    );
    releases.push(() => pool.close());
    const artifacts = new ArtifactStore(config.serving.modelDir || join(config.dataDir, "models"));
    const learnerDefinitions = new LearnerDefinitions(registryStore, registry);
    const models = new ModelRegistry(
      registryStore,
      registry,
      artifacts,
      pool,
      datasets,
      config.limits.maxModelBytes,
      async (project, model) => liveModelVersion(await learnerDefinitions.get(project, model)),
    );
    const learningStore = await openLearningStore(config);
    releases.push(() => learningStore.close());
    const learnerRuntime = new LearnerRuntime(learningStore, learnerDefinitions, registryStore, metrics, logger, {
      replicaId: config.learning.replicaId || defaultReplicaId(config),
      leaseTtlMs: config.learning.leaseTtlMs,
      readBatch: config.learning.readBatch,
      sliceMs: config.learning.sliceMs,
      pollMs: config.learning.pollMs,
      standbyRefreshMs: config.learning.standbyRefreshMs,
      logRetentionEntries: config.learning.logRetentionEntries,
    });
    let deployments: Deployments | undefined;
    const router = new ServingRouter(
      registryStore,
      () => deployments as Deployments,
      models,
      artifacts,
      pool,
      (project, model) => learnerRuntime.worker(project, model),
      logger,
    );
    releases.push(() => router.close());
    deployments = new Deployments(registryStore, models, (versions) => router.prepare(versions));
    const predictionLog = new PredictionLog(offline, config.serving.predictionLogFlushRows, config.serving.predictionLogFlushMs, logger);
    // Written out before the offline store closes.
    releases.push(() => predictionLog.close());
    gauged.pool = pool;
    gauged.predictionLog = predictionLog;
    pool.onBatch((event) => metrics.batched(event.key, event.rows));
    const stats = new EndpointStats();
    const servedValues = new BufferedLog(
      "served-value log",
      (project, records: ServedValueRecord[]) => offline.appendServedValues(project, records),
      config.serving.predictionLogFlushRows,
      config.serving.predictionLogFlushMs,
      logger,
    );
    // Written out before the offline store closes.
    releases.push(() => servedValues.close());
    const reader = new OnlineReader(registry, online, limits, tiles, servedValues);
    const predictor = new Predictor(
      router,
      reader,
      pool,
      stats,
      predictionLog,
      deployments,
      metrics,
      { queueSize: config.serving.shadowQueueSize, tolerance: config.serving.shadowAgreementTolerance },
      logger,
    );
    // Shadow copies still queued run before the prediction log is written out.
    releases.push(() => predictor.shadowsIdle());
    const learning = new Learning(
      learnerDefinitions,
      learnerRuntime,
      learningStore,
      new LabelJoiner(
        { find: (project, ids, since) => offline.readPredictions(project, ids, since) },
        new RetrieverLookup(retriever),
        config.learning.maxLabelDelaySeconds * 1e6,
      ),
      models,
      () => predictionLog.flush(),
    );
    await learnerRuntime.start();
    gauged.learners = learnerRuntime;
    // Stopped before the stores close: leaders write a last checkpoint and hand their leases on.
    releases.push(() => learnerRuntime.close());
    // Started last and so stopped first: its batch in progress ends before any store closes.
    const kafka =
      config.kafka.sources.length > 0
        ? new KafkaSource(config.kafka, { registry, writer: eventWriter, labels: learning, logger, observer: metrics })
        : undefined;
    if (kafka) {
      kafka.start();
      releases.push(() => kafka.stop());
    }
    core = {
      models,
      learning,
      deployments,
      router,
      pool,
      predictor,
      stats,
      serving: () => stopping === undefined,
      retriever,
      consistency: new ServedConsistencyChecker(registry, offline, retriever),
      datasets,
      registry,
      writer,
      eventWriter,
      deadLettered: () => kafka?.deadLettered ?? 0,
      importer: new FileImporter(
        registry,
        writer,
        eventWriter,
        Math.min(100_000, config.limits.maxRowsPerBatch),
        config.imports.allowedDirs,
      ),
      uploadDir: join(config.dataDir, "uploads"),
      maxUploadBytes: config.limits.maxUploadBytes,
      materializer: new Materializer(registry, offline, online, config.limits.materializeChunkRows),
      reader,
      access,
      authenticator,
      metrics,
      audit,
      auditSink: config.audit.enabled ? audit : undefined,
    };
    backends = { registry: registryStore.backend, online: online.backend, offline: offline.backend };
  } catch (error) {
    await releaseAll();
    throw error;
  }

  const metricsCounters = core.metrics;
  const rules = methodRules((id) => core.access.keyProjects(id));
  const audited = (path: string) => config.audit.enabled && rules.get(path)?.mutating === true;
  const server = new Server({
    "grpc.max_receive_message_length": config.grpc.maxReceiveMessageBytes,
    "grpc.max_send_message_length": config.grpc.maxSendMessageBytes,
    "grpc.max_concurrent_streams": config.grpc.maxConcurrentStreams,
    "grpc.keepalive_time_ms": config.grpc.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": config.grpc.keepaliveTimeoutMs,
    "grpc.max_connection_age_ms": config.grpc.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": config.grpc.maxConnectionAgeGraceMs,
    "grpc.max_connection_idle_ms": config.grpc.maxConnectionIdleMs,
    "grpc.max_metadata_size": config.grpc.maxMetadataBytes,
    // Channelz is not served here, yet tracking it cost each call closures, a close listener and
    // timestamps: about 1.5% of the server's CPU at 16 online reads in flight (a profile, 2026-11-28).
    "grpc.enable_channelz": 0,
    interceptors: [
      createGuard({
        rules,
        authenticator: core.authenticator,
        openReflection: config.auth.openReflection,
        limiter:
          config.auth.rateLimitPerSecond > 0 ? new RateLimiter(config.auth.rateLimitPerSecond, config.auth.rateLimitBurst) : undefined,
        audit: core.auditSink,
        logger,
        onRateLimited: () => metricsCounters.rateLimited(),
        onDenialNotAudited: () => metricsCounters.denialNotAudited(),
      }),
    ],
  });
  if (!releaseClosedStreams(server)) {
    logger.warn("this @grpc/grpc-js has no Server.createHttp2Server: closed HTTP/2 streams keep their calls until a full collection");
  }
  const env: HandlerEnv = { logger, calls: new InFlightCalls(), streamIdleTimeoutMs: config.grpc.streamIdleTimeoutMs };
  const services = serviceTable(core, env);
  const health = new HealthImplementation(Object.fromEntries([["", "SERVING"], ...services.map(([name]) => [name, "SERVING"])]));
  let port: number;
  try {
    // Counts of repeated fields, lengths, enum values and timestamps checked on the wire, before decoding.
    const wireViolation = createWireLimits(config.limits);
    for (const [, definition, implemented] of services) {
      server.addService(withGuardedDecoding(definition, wireViolation, audited), withUnimplementedMethods(definition, implemented, env));
    }
    // The libraries' services get the same guarded decoding: garbage sent to them is INVALID_ARGUMENT, not INTERNAL.
    const guarded = {
      addService: (definition: ServiceDefinition, implementation: UntypedServiceImplementation) =>
        server.addService(withGuardedDecoding(definition, wireViolation), implementation),
    } as unknown as Server;
    health.addToServer(guarded);
    if (config.reflection) new ReflectionService(loadServedDescriptors()).addToServer(guarded);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(config.listen, tls.credentials, (error, boundPort) =>
        error ? reject(new Error(`cannot listen on ${config.listen}: ${error.message}`, { cause: error })) : resolve(boundPort),
      ),
    );
  } catch (error) {
    server.forceShutdown();
    await releaseAll();
    throw error;
  }
  const address = `${config.listen.slice(0, config.listen.lastIndexOf(":"))}:${port}`;
  logger.info(
    {
      address,
      dataDir: config.dataDir,
      ...backends,
      reflection: config.reflection,
      metricsPort,
      tls: tls.enabled ? tls.clientCertificates : "off",
      authentication: config.auth.enabled ? authenticationMethods(config) : "off",
      audit: config.audit.enabled,
      version: VERSION,
    },
    "sluice is serving",
  );

  const shutdown = () => {
    stopping ??= (async () => {
      logger.info({ graceMs: config.grpc.shutdownGraceMs }, "shutting down: health is NOT_SERVING, waiting for in-flight calls");
      health.setStatus("", "NOT_SERVING");
      for (const [name] of services) health.setStatus(name, "NOT_SERVING");
      // New calls are refused from here on; calls in flight in Sluice's handlers may finish.
      const sessionsClosed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const deadline = Date.now() + config.grpc.shutdownGraceMs;
      const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
      const finished = await Promise.race([env.calls.idle().then(() => true), wait(config.grpc.shutdownGraceMs).then(() => false)]);
      if (!finished) logger.warn("grace period over: cancelling the calls still in flight");
      // A handler that has returned may still have its status queued on the connection; give the
      // connections a moment to flush (they close by themselves unless a health watcher holds one).
      await Promise.race([sessionsClosed, wait(Math.min(STATUS_FLUSH_MS, deadline - Date.now()))]);
      // Ends what is left: health watchers, and calls that outlived the grace period.
      server.forceShutdown();
      await releaseAll();
      logger.info("sluice stopped");
    })();
    return stopping;
  };
  return { address, port, metricsPort, shutdown, reloadTls: () => tls.reload() };
}
