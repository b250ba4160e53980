/**
 * Prometheus metrics on an HTTP port of their own (`metrics.listen`, path /metrics): per endpoint
 * and model version, predictions, errors and latency; per model artifact, inference batch sizes; per
 * shadow version, agreement with stable's outputs and copies shed. It implements the serving
 * core's observer, so the core knows nothing of Prometheus.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import { type PeerCertificate, TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ServingObserver } from "../inference/predictor.js";
import type { EventObserver } from "../ingest/event-writer.js";
import type { LearnerObserver } from "../learners/learner-runtime.js";
import type { LearnerStatus } from "../learners/model.js";
import type { DeadLetterReason, KafkaSourceObserver } from "../streams/kafka-source.js";
import type { ServerTls } from "./tls.js";

/** Latency buckets in seconds: 100 µs to 5 s. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Batch size buckets in rows. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** The server's metrics. */
export class ServingMetrics implements ServingObserver, EventObserver, KafkaSourceObserver, LearnerObserver {
  readonly registry = new Registry();
  private readonly deniedCallsNotAudited = new Counter({
    name: "sluice_audit_denials_not_recorded_total",
    help: "Denied calls left out of the audit trail because denials came faster than 200 a second (a flood of bad credentials).",
    registers: [this.registry],
  });
  private readonly rateLimitedCalls = new Counter({
    name: "sluice_rate_limited_calls_total",
    help: "Calls refused with RESOURCE_EXHAUSTED because their principal was over auth.rateLimitPerSecond.",
    registers: [this.registry],
  });
  private readonly kafkaDeadLetters = new Counter({
    name: "sluice_kafka_dead_lettered_total",
    help: "Kafka messages sent to their source's dead-letter topic, by consumed topic and reason (UNDECODABLE, INVALID_EVENT).",
    labelNames: ["topic", "reason"],
    registers: [this.registry],
  });
  private readonly streamEvents = new Counter({
    name: "sluice_stream_events_total",
    help: "Events stored per event stream and source (api, kafka:{topic}/{partition}), too-late ones included.",
    labelNames: ["stream", "source"],
    registers: [this.registry],
  });
  private readonly tooLateEvents = new Counter({
    name: "sluice_stream_too_late_events_total",
    help: "Events older than their source's watermark: stored offline, not applied online.",
    labelNames: ["stream", "source"],
    registers: [this.registry],
  });
  private readonly watermark = new Gauge({
    name: "sluice_stream_watermark_seconds",
    help: "Watermark per event stream and source: the largest event time seen minus the allowed lateness (Unix seconds).",
    labelNames: ["stream", "source"],
    registers: [this.registry],
  });
  private readonly predictions = new Counter({
    name: "sluice_predictions_total",
    help: "Predict requests by endpoint, model version and role.",
    labelNames: ["endpoint", "model_version", "role"],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: "sluice_prediction_errors_total",
    help: "Predict requests that failed.",
    labelNames: ["endpoint", "model_version", "role"],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: "sluice_prediction_latency_seconds",
    help: "Predict latency in the server.",
    labelNames: ["endpoint", "model_version", "role"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly batchRows = new Histogram({
    name: "sluice_inference_batch_rows",
    help: "Rows per model run (dynamic batching), by artifact: the first 12 hex digits of the model file's sha256.",
    labelNames: ["artifact"],
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly shadowRuns = new Counter({
    name: "sluice_shadow_runs_total",
    help: "Shadow runs by outcome: agree, disagree or error.",
    labelNames: ["endpoint", "model_version", "outcome"],
    registers: [this.registry],
  });
  private readonly shadowDifference = new Counter({
    name: "sluice_shadow_absolute_difference_total",
    help: "Sum of absolute differences of shadow output values from stable's.",
    labelNames: ["endpoint", "model_version"],
    registers: [this.registry],
  });
  private readonly shadowLatency = new Histogram({
    name: "sluice_shadow_latency_seconds",
    help: "Shadow run latency.",
    labelNames: ["endpoint", "model_version"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly shedCopies = new Counter({
    name: "sluice_shadow_shed_total",
    help: "Shadow copies dropped because the shadow queue was full.",
    labelNames: ["endpoint", "model_version"],
    registers: [this.registry],
  });

  private readonly learnerEntries = new Counter({
    name: "sluice_learner_entries_total",
    help: "Example log entries a learner consumed on this replica, by outcome: learned, unmatched (a label without a logged prediction), refused (a non-finite value), diverged.",
    labelNames: ["learner", "outcome"],
    registers: [this.registry],
  });
  private readonly checkpointSeconds = new Histogram({
    name: "sluice_learner_checkpoint_seconds",
    help: "Time to write a learner checkpoint (encode and store).",
    labelNames: ["learner"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly checkpointBytes = new Gauge({
    name: "sluice_learner_checkpoint_bytes",
    help: "Size of a learner's last checkpoint.",
    labelNames: ["learner"],
    registers: [this.registry],
  });

  /** @param gauges figures read at each scrape */
  constructor(gauges: {
    loadedModels: () => number;
    predictionLogDropped: () => number;
    heldSpineBytes: () => number;
    learners: () => Promise<Array<{ learner: string; status: LearnerStatus }>>;
  }) {
    collectDefaultMetrics({
      register: this.registry,
      prefix: "sluice_",
      // Tail latency is made of sub-millisecond stalls: sample the event loop's delay every
      // millisecond (the default is 10) and bucket GC pauses from 100 µs (the default starts at 1 ms).
      eventLoopMonitoringPrecision: 1,
      gcDurationBuckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1],
    });
    new Gauge({
      name: "sluice_loaded_models",
      help: "Model files loaded in the inference pool (versions routed to, or in use by a request).",
      registers: [this.registry],
      collect() {
        this.set(gauges.loadedModels());
      },
    });
    new Gauge({
      name: "sluice_offline_held_spine_bytes",
      help: "About the memory inline spines held in the server until their joins take (bounded by offline.heldSpineMaxBytes).",
      registers: [this.registry],
      collect() {
        this.set(gauges.heldSpineBytes());
      },
    });
    const learnerMetric = new Gauge({
      name: "sluice_learner_prequential",
      help: "A learner's prequential (test-then-train) metrics: metric log_loss, accuracy, auc, rmse or mae; span rolling (last 1,000 examples) or cumulative.",
      labelNames: ["learner", "metric", "span"],
      registers: [this.registry],
    });
    const learnerGauges = {
      examples: new Gauge({
        name: "sluice_learner_examples_learned",
        help: "Examples a learner has learned (exactly once across restarts).",
        labelNames: ["learner"],
        registers: [this.registry],
      }),
      lag: new Gauge({
        name: "sluice_learner_lag_entries",
        help: "Example log entries not yet learned.",
        labelNames: ["learner"],
        registers: [this.registry],
      }),
      state: new Gauge({
        name: "sluice_learner_state",
        help: "1 for a learner's state on this replica (learning, paused, diverged or standby), 0 for the others.",
        labelNames: ["learner", "state"],
        registers: [this.registry],
      }),
    };
    new Gauge({
      name: "sluice_learners",
      help: "Learners running on this replica.",
      registers: [this.registry],
      async collect() {
        const statuses = await gauges.learners();
        this.set(statuses.length);
        learnerMetric.reset();
        for (const { learner, status } of statuses) {
          learnerGauges.examples.set({ learner }, status.examplesLearned);
          learnerGauges.lag.set({ learner }, status.lag);
          for (const state of ["learning", "paused", "diverged", "standby"])
            learnerGauges.state.set({ learner, state }, status.state === state ? 1 : 0);
          for (const [span, metrics] of [
            ["rolling", status.rolling],
            ["cumulative", status.cumulative],
          ] as const) {
            for (const metric of ["logLoss", "accuracy", "auc", "rmse", "mae"] as const) {
              const value = metrics[metric];
              if (value !== undefined && Number.isFinite(value))
                learnerMetric.set({ learner, metric: metric === "logLoss" ? "log_loss" : metric, span }, value);
            }
          }
        }
      },
    });
    new Counter({
      name: "sluice_prediction_log_dropped_total",
      help: "Prediction log records dropped: the buffer was full or the offline store refused them.",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(gauges.predictionLogDropped());
      },
    });
  }

  predicted(event: Parameters<ServingObserver["predicted"]>[0]): void {
    const labels = { endpoint: event.endpoint, model_version: event.modelVersion, role: event.role };
    this.predictions.inc(labels);
    if (!event.ok) this.errors.inc(labels);
    this.latency.observe(labels, event.micros / 1e6);
  }

  shadowed(event: Parameters<ServingObserver["shadowed"]>[0]): void {
    const labels = { endpoint: event.endpoint, model_version: event.modelVersion };
    this.shadowRuns.inc({ ...labels, outcome: !event.ok ? "error" : event.agreed ? "agree" : "disagree" });
    this.shadowDifference.inc(labels, event.absoluteDifference);
    this.shadowLatency.observe(labels, event.micros / 1e6);
  }

  shed(event: Parameters<ServingObserver["shed"]>[0]): void {
    this.shedCopies.inc({ endpoint: event.endpoint, model_version: event.modelVersion });
  }

  /** Records one model run of the inference pool; versions with the same file share an artifact. */
  eventsStored(stream: string, source: string, accepted: number, tooLate: number): void {
    this.streamEvents.inc({ stream, source }, accepted);
    if (tooLate > 0) this.tooLateEvents.inc({ stream, source }, tooLate);
  }

  watermarkAdvanced(stream: string, source: string, watermarkMicros: number): void {
    this.watermark.set({ stream, source }, watermarkMicros / 1e6);
  }

  messagesDeadLettered(topic: string, reason: DeadLetterReason, count: number): void {
    this.kafkaDeadLetters.inc({ topic, reason }, count);
  }

  applied(learner: string, outcome: Parameters<LearnerObserver["applied"]>[1], count: number): void {
    this.learnerEntries.inc({ learner, outcome }, count);
  }

  checkpointed(learner: string, bytes: number, ms: number): void {
    this.checkpointSeconds.observe({ learner }, ms / 1000);
    this.checkpointBytes.set({ learner }, bytes);
  }

  /** A call refused by the per-principal rate limit. */
  rateLimited(): void {
    this.rateLimitedCalls.inc();
  }

  /** A denied call left out of the audit trail during a flood of denials. */
  denialNotAudited(): void {
    this.deniedCallsNotAudited.inc();
  }

  batched(sha256: string, rows: number): void {
    this.batchRows.observe({ artifact: sha256.slice(0, 12) }, rows);
  }
}

/** How {@link serveMetrics} secures the endpoint; by default it is plaintext and open. */
export interface MetricsEndpointOptions {
  /** Serve HTTPS with the gRPC port's certificate, client-certificate policy and reloads (when TLS is on). */
  tls?: Pick<ServerTls, "httpsOptions" | "onReload">;
  /**
   * Whether a scrape may read the metrics, from its request headers and, when TLS verified one
   * against `tls.clientCaFile`, its client certificate; refused scrapes get 401. Give it when
   * `auth.enabled` and not `auth.openMetrics`; leave it out for an open endpoint.
   */
  authorize?: (headers: IncomingHttpHeaders, clientCertificate?: PeerCertificate) => Promise<boolean>;
  /** Where an `authorize` that throws is logged (the scraper gets a bare 500). */
  logger?: Logger;
}

/**
 * Serves /metrics on `listen` (HOST:PORT; port 0 takes a free port); resolves with the bound port.
 * A port that cannot be bound rejects with an error naming the `metrics.listen` key. With `options.tls`
 * on, it serves HTTPS and takes each reloaded certificate for new connections.
 */
export async function serveMetrics(
  metrics: ServingMetrics,
  listen: string,
  options: MetricsEndpointOptions = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const { authorize, logger } = options;
  const answerScrape = (response: ServerResponse) =>
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    if (request.url !== "/metrics") {
      response.writeHead(404).end("try /metrics\n");
      return;
    }
    if (!authorize) {
      void answerScrape(response);
      return;
    }
    authorize(request.headers, verifiedClientCertificate(request.socket)).then(
      (allowed) => {
        if (allowed) return answerScrape(response);
        response.writeHead(401, { "www-authenticate": 'Bearer realm="sluice metrics"' }).end("credentials required\n");
      },
      (error: unknown) => {
        logger?.error({ err: error }, "metrics endpoint: checking a scrape's credentials failed");
        response.writeHead(500).end("cannot check credentials\n");
      },
    );
  };
  const httpsOptions = options.tls?.httpsOptions();
  const server: Server | HttpsServer = httpsOptions ? createHttpsServer(httpsOptions, listener) : createServer(listener);
  const stopReloads =
    httpsOptions && options.tls ? options.tls.onReload((context) => (server as HttpsServer).setSecureContext(context)) : () => {};
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, "");
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) => {
        const why = error.code === "EADDRINUSE" ? `another process holds the port (${error.message})` : error.message;
        reject(
          new Error(
            `cannot serve metrics on metrics.listen ${listen}: ${why}; set metrics.listen to a free HOST:PORT, to HOST:0 for a port ` +
              'the system picks, or to "" to serve no metrics',
            { cause: error },
          ),
        );
      });
      server.listen(Number(listen.slice(colon + 1)), host, () => resolve());
    });
  } catch (error) {
    stopReloads();
    throw error;
  }
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () => {
      stopReloads();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The client certificate TLS verified against the CA bundle, if the scrape came over TLS with one. */
function verifiedClientCertificate(socket: Socket): PeerCertificate | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate();
  return certificate.raw ? certificate : undefined;
}
