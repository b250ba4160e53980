/**
 * Server configuration: defaults, then a YAML/JSON file, then SLUICE_* environment variables,
 * then command-line flags; each layer overrides the one before. The result is validated once at
 * start; a bad or unknown key stops the server with a message naming the key and where it came from.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
const MIB = 1024 * 1024;

const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, "must be HOST:PORT, e.g. 127.0.0.1:50051 or [::]:50051")
  .refine((value) => Number(value.slice(value.lastIndexOf(":") + 1)) <= 65535, "port must be at most 65535");

const positiveInt = (max: number) => z.number().int().positive().max(max);
const nonNegativeInt = (max: number) => z.number().int().min(0).max(max);

/** A Kafka topic name: 1 to 249 of [A-Za-z0-9._-], not "." or "..". */
const kafkaTopic = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, "must be a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'")
  .refine((topic) => topic !== "." && topic !== "..", 'must not be "." or ".."');

/** Who a caller is: an API key's owner, a JWT subject, a certificate's subject. */
const principalName = z.string().regex(/^[^\s\p{Cc}]{1,256}$/u, "must be 1 to 256 characters without spaces");
/** A role granted on a project, "project:role", or server-wide, "*:admin". */
const roleGrant = z
  .string()
  .regex(
    /^(\*|[a-z][a-z0-9_]{0,62}):(viewer|writer|trainer|deployer|admin)$/,
    'must be "project:role" (viewer, writer, trainer, deployer or admin) or "*:admin"',
  )
  .refine((grant) => !grant.startsWith("*:") || grant === "*:admin", 'only "admin" is granted server-wide ("*:admin")');

/** One topic consumed into one event stream (docs/kafka.md). */
const kafkaSourceSchema = z.strictObject({
  topic: kafkaTopic,
  /** The project of the stream. */
  project: z.string().min(1).default("default"),
  /** The event stream the topic's events go to: "name" (its latest version) or "name@2". Or `learner`. */
  stream: z.string().min(1).optional(),
  /** The learner the topic's labels go to (docs/learning.md): its id in `project`. Or `stream`. */
  learner: z.string().min(1).optional(),
  /** How messages are encoded: a JSON object per message, or a Protobuf message of `messageType`. */
  format: z.enum(["json", "protobuf"]).default("json"),
  /** The .proto file defining `messageType` (imports resolve beside it). */
  protoFile: z.string().min(1).optional(),
  /** The fully qualified Protobuf message type, e.g. "shop.v1.Transaction". */
  messageType: z.string().min(1).optional(),
  /** Where undecodable and invalid messages go; `{topic}.dlq` when unset. */
  deadLetterTopic: kafkaTopic.optional(),
  /** The unit of epoch numbers in time fields (ISO-8601 text needs none). */
  eventTimeUnit: z.enum(["seconds", "milliseconds", "microseconds", "nanoseconds"]).default("milliseconds"),
  /** Leave out message fields the stream does not declare, instead of dead-lettering the message. */
  ignoreUnknownFields: z.boolean().default(false),
});

/** One configured Kafka source, with its defaults filled in. */
export type KafkaSourceConfig = z.infer<typeof kafkaSourceSchema>;

/** The validated shape of the configuration. */
export const configSchema = z
  .strictObject({
    /** Address the gRPC server listens on. Port 0 picks a free port. */
    listen: listenAddress,
    /** Directory of the embedded stores. */
    dataDir: z.string().min(1),
    logLevel: z.enum(LOG_LEVELS),
    /** Serve gRPC server reflection (v1 and v1alpha) so grpcurl and buf curl work without protos. */
    reflection: z.boolean(),
    registry: z.strictObject({
      /** Where definitions live: "embedded" (LMDB under the data dir) or "redis", shared by replicas. */
      backend: z.enum(["embedded", "redis"]),
      /** redis://host:port, for the redis backend. */
      redisUrl: z.string(),
      /** Prefix of every registry key in Redis. */
      redisKeyPrefix: z.string(),
    }),
    grpc: z.strictObject({
      maxReceiveMessageBytes: positiveInt(2047 * MIB),
      maxSendMessageBytes: positiveInt(2047 * MIB),
      /** Concurrent streams per HTTP/2 connection. */
      maxConcurrentStreams: positiveInt(1_000_000),
      /** Server pings idle connections this often, to find dead peers. */
      keepaliveTimeMs: positiveInt(24 * 3600 * 1000),
      keepaliveTimeoutMs: positiveInt(3600 * 1000),
      /** On SIGTERM, in-flight calls get this long to finish before they are cancelled. */
      shutdownGraceMs: positiveInt(3600 * 1000),
      /** A connection is closed (gracefully, with GOAWAY) after this long, so clients rebalance and leaks end. */
      maxConnectionAgeMs: positiveInt(365 * 86_400_000),
      /** Calls still open on a connection past its maximum age get this long to finish. */
      maxConnectionAgeGraceMs: positiveInt(365 * 86_400_000),
      /** A connection with no call open for this long is closed. */
      maxConnectionIdleMs: positiveInt(365 * 86_400_000),
      /** Largest total size of a call's request headers (metadata). */
      maxMetadataBytes: positiveInt(16 * MIB),
      /** A client or bidirectional stream that sends nothing for this long is ended with DEADLINE_EXCEEDED. */
      streamIdleTimeoutMs: positiveInt(24 * 3600 * 1000),
    }),
    online: z.strictObject({
      /** Latest values per entity: "lmdb" under the data dir, or "redis" / "redis-cluster" shared by replicas. */
      backend: z.enum(["lmdb", "redis", "redis-cluster"]),
      /** redis://host:port, for the redis backend. */
      redisUrl: z.string(),
      /** host:port seeds, for the redis-cluster backend. */
      redisClusterNodes: z.array(z.string().regex(/^[^\s:]+:[0-9]{1,5}$/, "must be HOST:PORT")),
      /** Prefix of every Redis key, so several deployments can share one Redis. */
      redisKeyPrefix: z.string(),
      redisCommandTimeoutMs: positiveInt(600_000),
    }),
    offline: z.strictObject({
      /** Feature history: "chdb" (ClickHouse in-process, under the data dir) or "clickhouse" (a server). */
      backend: z.enum(["chdb", "clickhouse"]),
      /** http(s)://host:port of a ClickHouse server, for the clickhouse backend. */
      clickhouseUrl: z.string(),
      clickhouseUsername: z.string(),
      clickhousePassword: z.string(),
      /** A ClickHouse cluster name: tables are created ON CLUSTER, replicated, behind Distributed tables. */
      clickhouseCluster: z.string(),
      /**
       * Up to this many history rows in the views of one retrieval together, a point-in-time join runs
       * in memory (a parallel hash join, up to about 1.7× faster); above it, a sort-merge join with bounded memory. 0: never in memory.
       */
      hashJoinMaxRows: nonNegativeInt(1_000_000_000),
      /**
       * History rows (all tables together) the server holds in memory as columns, so it can join
       * inline spines itself without storing them in the engine. 0: every join runs in the engine.
       */
      memoryJoinMaxRows: nonNegativeInt(1_000_000_000),
      /** The longest inline spine held in memory for such a join; a longer one is stored in the engine. */
      memoryJoinMaxSpineRows: nonNegativeInt(1_000_000_000),
      /**
       * The longest spine whose join over a history above hashJoinMaxRows the server streams through
       * itself instead of the engine's sort-merge join (src/storage/offline/streamed-join.ts); with
       * sorted copies kept, also the longest inline spine held in memory until such a join. 0: never.
       */
      streamedJoinMaxSpineRows: nonNegativeInt(1_000_000_000),
      /**
       * About the most memory the inline spines held in the server until their joins may take
       * together (keys, times, extra columns); a spine that would go beyond is stored in the
       * engine. 0: no spine is held, which also turns off the server's join of a held spine.
       */
      heldSpineMaxBytes: nonNegativeInt(Number.MAX_SAFE_INTEGER),
      /**
       * The most disk the streamed join's sorted copies of histories may take together, under
       * `<dataDir>/sorted-history` (src/storage/offline/sorted-copies.ts). 0: no copies.
       */
      sortedCopyMaxBytes: nonNegativeInt(Number.MAX_SAFE_INTEGER),
    }),
    limits: z.strictObject({
      /** Event times further in the future than this are rejected. */
      maxFutureSkewMs: positiveInt(365 * 86_400_000),
      maxRowsPerBatch: positiveInt(1_000_000),
      maxStringBytes: positiveInt(64 * MIB),
      maxBytesLength: positiveInt(64 * MIB),
      maxListLength: positiveInt(10_000_000),
      /** Entity rows per online read. */
      maxEntityRowsPerRead: positiveInt(1_000_000),
      /** Entities per Materialize chunk (one offline query and one online write each). */
      materializeChunkRows: positiveInt(1_000_000),
      /** Largest file a client may stream up to ImportFeatures. */
      maxUploadBytes: positiveInt(Number.MAX_SAFE_INTEGER),
      /** Largest model a client may upload. */
      maxModelBytes: positiveInt(Number.MAX_SAFE_INTEGER),
      /** Items of any list or map of a request without a more specific limit (docs/security.md). */
      maxRepeatedItems: positiveInt(100_000_000),
      /** List items and map entries of one request message, all fields and depths together. */
      maxRequestItems: positiveInt(1_000_000_000),
      /** Feature refs in one read, resolution, historical query or model input binding. */
      maxFeatureRefs: positiveInt(1_000_000),
      /** Columns (join keys, features, fields, extras, inputs) in one row, batch, spine or read. */
      maxColumns: positiveInt(1_000_000),
      /** Longest write id (and Predict request id); receipts are keyed by it, so at most 1 KiB. */
      maxWriteIdBytes: positiveInt(1024),
      /** Elements of one model input tensor: declared static shapes at upload, sent tensors at prediction. */
      maxModelInputElements: positiveInt(Number.MAX_SAFE_INTEGER),
      /** Elements a model may return for one request (all outputs together): declared shapes at upload, actual outputs at prediction. */
      maxModelOutputElements: positiveInt(Number.MAX_SAFE_INTEGER),
      /** Wall-clock time of one offline query run for a request (a spine, a join, a training set, a read); the engine stops it beyond. */
      queryTimeoutMs: positiveInt(7 * 86_400_000),
      /** Memory one offline query run for a request may use; the engine stops it beyond. */
      queryMaxMemoryBytes: positiveInt(Number.MAX_SAFE_INTEGER),
    }),
    serving: z.strictObject({
      /** Worker threads that run ONNX models (only tiny ones also run on the gRPC thread: inlineMaxMicros). */
      inferenceWorkers: positiveInt(256),
      /** Rows one model run may batch from concurrent requests; 1 turns batching off. */
      maxBatchSize: positiveInt(1_000_000),
      /** How long a request waits for others to join its batch. */
      maxQueueDelayMicros: nonNegativeInt(10_000_000),
      /**
       * A model whose runs take at most this long (90th percentile, measured at load) also runs on the
       * gRPC thread, skipping the hand-off to a worker; 0 never does (inference then never runs on the gRPC thread).
       */
      inlineMaxMicros: nonNegativeInt(10_000),
      /**
       * Whether a model running on the gRPC thread may run in Sluice's graph evaluator instead of
       * onnxruntime: float32 graphs of a few plain operators, used only when the evaluator's outputs
       * agree with onnxruntime's on probe inputs, for the rows it fits inlineMaxMicros at (docs/architecture.md, "Model serving").
       */
      graphEvaluator: z.boolean(),
      /** Requests queued per model beyond which Predict answers UNAVAILABLE. */
      maxQueuedRequests: positiveInt(10_000_000),
      /** Shadow copies waiting to run; beyond it copies are dropped (and counted). */
      shadowQueueSize: positiveInt(10_000_000),
      /** A shadow agrees with stable when no output value differs by more than this. */
      shadowAgreementTolerance: z.number().min(0),
      /** The prediction log is appended to the offline store in batches of this many rows... */
      predictionLogFlushRows: positiveInt(10_000_000),
      /** ...or after this long, whichever comes first. */
      predictionLogFlushMs: positiveInt(3_600_000),
      /** Where model artifacts live, by sha256; "" means <dataDir>/models. Replicas must share it. */
      modelDir: z.string(),
    }),
    metrics: z.strictObject({
      /**
       * HOST:PORT of the Prometheus /metrics endpoint; "" turns it off. Port 0 (the default) takes a
       * free port, logged at start, so servers side by side never collide; a deployment that
       * Prometheus scrapes sets a fixed port (the image and deploy/kubernetes set 0.0.0.0:9464).
       */
      listen: z.union([z.literal(""), listenAddress]),
    }),
    /** Who may call (docs/security.md): off by default on loopback, for a laptop. */
    auth: z.strictObject({
      /** Require credentials on every call except health checks (and reflection when `openReflection`). */
      enabled: z.boolean(),
      /** Start with authentication off on a non-loopback address (otherwise refused). */
      allowUnauthenticatedRemote: z.boolean(),
      /** Reflection answers without credentials, so grpcurl and buf curl can list the API. */
      openReflection: z.boolean(),
      /** The Prometheus endpoint answers without credentials. */
      openMetrics: z.boolean(),
      /** Bootstrap API keys: the SHA-256 (hex) of each key, never the key itself. */
      apiKeys: z.array(
        z.strictObject({
          principal: principalName,
          sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the SHA-256 of the key, 64 lowercase hex digits"),
          roles: z.array(roleGrant),
        }),
      ),
      /** Roles of principals that authenticate by JWT or client certificate. */
      bindings: z.array(z.strictObject({ principal: principalName, roles: z.array(roleGrant) })),
      jwt: z.strictObject({
        /** A JWKS file (JSON) holding the identity provider's public keys; "" when unused. */
        jwksFile: z.string(),
        /** An https URL of the identity provider's JWKS; "" when unused. */
        jwksUrl: z.string(),
        /** Required `iss`; "" accepts any. */
        issuer: z.string(),
        /** Required `aud`; "" accepts any. */
        audience: z.string(),
        /** Claim holding the principal name. */
        principalClaim: z.string().min(1),
        /** Claim holding a list of role grants ("project:role"). */
        rolesClaim: z.string().min(1),
        /** Leeway for exp and nbf. */
        clockToleranceSeconds: nonNegativeInt(3600),
      }),
      /** Which part of a verified client certificate names the principal. */
      mtlsPrincipal: z.enum(["subject-cn", "san-uri", "san-dns"]),
      /** Per-principal token bucket: calls (and stream messages) per second; 0 turns it off. */
      rateLimitPerSecond: z.number().min(0).max(10_000_000),
      /** Bucket size: the burst a principal may spend at once. */
      rateLimitBurst: nonNegativeInt(10_000_000),
    }),
    /** TLS on the gRPC and metrics ports (docs/security.md); off while certFile is "". */
    tls: z.strictObject({
      /** PEM certificate chain. */
      certFile: z.string(),
      /** PEM private key. */
      keyFile: z.string(),
      /** PEM CA bundle that client certificates must chain to; "" asks for none. */
      clientCaFile: z.string(),
      /** Refuse clients without a certificate from clientCaFile. */
      requireClientCert: z.boolean(),
      /** How often the files are checked for a new certificate (SIGHUP checks at once). */
      reloadIntervalMs: positiveInt(24 * 3600 * 1000),
    }),
    /** Server-side files ImportFeatures may read (docs/security.md). */
    imports: z.strictObject({
      /** Directories whose files `source_path` may name (symlinks and ".." resolved first); empty: none. */
      allowedDirs: z.array(z.string().min(1)),
    }),
    /** The audit trail (docs/security.md). */
    audit: z.strictObject({
      /** Record every mutating and every denied call in the offline store. */
      enabled: z.boolean(),
      /** This server's hash chain; replicas writing one shared store need distinct ids. "" means the host name. */
      chainId: z.string().regex(/^[A-Za-z0-9._-]{0,128}$/, "must be letters, digits, '.', '_' or '-'"),
    }),
    /** Online learners (docs/learning.md). */
    learning: z.strictObject({
      /** Names this replica in learner leases; "" means host name, process id and a random suffix. */
      replicaId: z.string().regex(/^[A-Za-z0-9._:-]{0,128}$/, "must be letters, digits, '.', '_', ':' or '-'"),
      /** A learner's lease lasts this long unless renewed (every third of it); a standby takes over after it lapses. */
      leaseTtlMs: positiveInt(3_600_000),
      /** How often a standby replica reloads a learner's latest checkpoint. */
      standbyRefreshMs: positiveInt(600_000),
      /** How often an idle leader looks for labels appended on other replicas. */
      pollMs: positiveInt(60_000),
      /**
       * Longest stretch of learning between two turns of the event loop (serving runs between them),
       * fractions allowed: a request waits up to one slice at each of its few turns.
       */
      sliceMs: z.number().positive().max(1000),
      /** Log entries a leader reads per store round trip. */
      readBatch: positiveInt(100_000),
      /** Example log entries kept behind a learner's latest checkpoint (older ones are deleted after each checkpoint). */
      logRetentionEntries: nonNegativeInt(1_000_000_000),
      /** How long after its prediction a label keyed by request id still finds it; later ones are kept as unmatched. */
      maxLabelDelaySeconds: positiveInt(366 * 24 * 3600),
    }),
    /** The Kafka source (docs/kafka.md): off while `sources` is empty. */
    kafka: z.strictObject({
      /** Bootstrap brokers, HOST:PORT. */
      brokers: z.array(z.string().regex(/^[^\s:]+:[0-9]{1,5}$/, "must be HOST:PORT")),
      clientId: z.string().min(1),
      /** The consumer group every replica joins; replicas share the topics' partitions. */
      groupId: z.string().min(1),
      /** Topics consumed, each into one event stream. */
      sources: z.array(kafkaSourceSchema),
      /** Where a group with no committed offset starts: the oldest retained message (true) or new ones only. */
      fromBeginning: z.boolean(),
      /** A replica that sends no heartbeat for this long loses its partitions. */
      sessionTimeoutMs: positiveInt(3_600_000),
      heartbeatIntervalMs: positiveInt(3_600_000),
      /** How long a rebalance waits for members to finish their batch; must exceed the longest batch write. */
      rebalanceTimeoutMs: positiveInt(3_600_000),
      connectionTimeoutMs: positiveInt(600_000),
      requestTimeoutMs: positiveInt(3_600_000),
      /** How long a fetch waits on the broker for messages before it returns empty. */
      maxWaitTimeMs: positiveInt(600_000),
      /** Bytes fetched per partition and request: bounds a batch. */
      maxBytesPerPartition: positiveInt(1024 * MIB),
      /** Longest wait between retries of a batch whose stores or dead-letter topic fail. */
      maxRetryDelayMs: positiveInt(3_600_000),
    }),
  })
  .superRefine((config, context) => {
    const require = (ok: boolean, path: string[], message: string) => {
      if (!ok) context.addIssue({ code: "custom", path, message });
    };
    config.kafka.sources.forEach((source, i) => {
      require((source.stream === undefined) !== (source.learner === undefined), [
        "kafka",
        "sources",
        String(i),
      ], "give stream or learner, one of them");
      require(source.learner === undefined || source.format === "json", [
        "kafka",
        "sources",
        String(i),
        "format",
      ], "a learner's labels are JSON");
    });
    require(config.registry.backend !== "redis" || config.registry.redisUrl !== "", [
      "registry",
      "redisUrl",
    ], 'is required when registry.backend is "redis"');
    require(config.online.backend !== "redis" || config.online.redisUrl !== "", [
      "online",
      "redisUrl",
    ], 'is required when online.backend is "redis"');
    require(config.online.backend !== "redis-cluster" || config.online.redisClusterNodes.length > 0, [
      "online",
      "redisClusterNodes",
    ], 'needs at least one node when online.backend is "redis-cluster"');
    require((config.tls.certFile === "") === (config.tls.keyFile === ""), ["tls", "keyFile"], "tls.certFile and tls.keyFile go together");
    require(config.tls.clientCaFile === "" || config.tls.certFile !== "", ["tls", "clientCaFile"], "needs tls.certFile and tls.keyFile");
    require(!config.tls.requireClientCert || config.tls.clientCaFile !== "", ["tls", "requireClientCert"], "needs tls.clientCaFile");
    require(config.auth.jwt.jwksFile === "" || config.auth.jwt.jwksUrl === "", [
      "auth",
      "jwt",
      "jwksUrl",
    ], "give jwksFile or jwksUrl, not both");
    require(config.auth.jwt.jwksUrl === "" || /^https?:\/\//.test(config.auth.jwt.jwksUrl), [
      "auth",
      "jwt",
      "jwksUrl",
    ], "must be an http(s) URL");
    require(config.auth.rateLimitPerSecond === 0 || config.auth.rateLimitBurst > 0, [
      "auth",
      "rateLimitBurst",
    ], "must be at least 1 when auth.rateLimitPerSecond is set");
    require(config.offline.backend !== "clickhouse" || config.offline.clickhouseUrl !== "", [
      "offline",
      "clickhouseUrl",
    ], 'is required when offline.backend is "clickhouse"');
    const { kafka } = config;
    if (kafka.sources.length === 0) return;
    require(kafka.brokers.length > 0, ["kafka", "brokers"], "needs at least one broker when kafka.sources is set");
    require(kafka.heartbeatIntervalMs < kafka.sessionTimeoutMs, [
      "kafka",
      "heartbeatIntervalMs",
    ], "must be less than kafka.sessionTimeoutMs");
    const topics = new Set(kafka.sources.map((s) => s.topic));
    kafka.sources.forEach((source, i) => {
      const at = (key: string) => ["kafka", "sources", String(i), key];
      const protobuf = source.format === "protobuf";
      require(!protobuf || source.protoFile !== undefined, at("protoFile"), 'is required when format is "protobuf"');
      require(!protobuf || source.messageType !== undefined, at("messageType"), 'is required when format is "protobuf"');
      require(protobuf || (source.protoFile === undefined && source.messageType === undefined), at(
        "format",
      ), 'is "json": protoFile and messageType are for "protobuf"');
      require(kafka.sources.findIndex((s) => s.topic === source.topic) === i, at(
        "topic",
      ), `"${source.topic}" is consumed by an earlier source`);
      const deadLetters = source.deadLetterTopic ?? `${source.topic}.dlq`;
      require(!topics.has(deadLetters), at(
        "deadLetterTopic",
      ), `"${deadLetters}" is a consumed topic; dead letters need a topic of their own`);
    });
  });

/** The server configuration. */
export type SluiceConfig = z.infer<typeof configSchema>;

/** Defaults: a server a newcomer can start with no configuration at all. */
export const DEFAULT_CONFIG: SluiceConfig = {
  listen: "127.0.0.1:50051",
  dataDir: "./.sluice-data",
  logLevel: "info",
  reflection: true,
  registry: { backend: "embedded", redisUrl: "", redisKeyPrefix: "sluice:" },
  grpc: {
    maxReceiveMessageBytes: 64 * MIB,
    maxSendMessageBytes: 64 * MIB,
    maxConcurrentStreams: 1000,
    keepaliveTimeMs: 60_000,
    keepaliveTimeoutMs: 20_000,
    shutdownGraceMs: 10_000,
    maxConnectionAgeMs: 24 * 3600 * 1000,
    maxConnectionAgeGraceMs: 5 * 60_000,
    maxConnectionIdleMs: 15 * 60_000,
    maxMetadataBytes: 16 * 1024,
    streamIdleTimeoutMs: 5 * 60_000,
  },
  online: { backend: "lmdb", redisUrl: "", redisClusterNodes: [], redisKeyPrefix: "sluice:", redisCommandTimeoutMs: 5000 },
  offline: {
    backend: "chdb",
    clickhouseUrl: "",
    clickhouseUsername: "default",
    clickhousePassword: "",
    clickhouseCluster: "",
    hashJoinMaxRows: 2_000_000,
    memoryJoinMaxRows: 2_000_000,
    memoryJoinMaxSpineRows: 250_000,
    streamedJoinMaxSpineRows: 2_000_000,
    heldSpineMaxBytes: 256 * MIB,
    sortedCopyMaxBytes: 8 * 1024 * MIB,
  },
  limits: {
    maxFutureSkewMs: 5 * 60_000,
    maxRowsPerBatch: 100_000,
    maxStringBytes: 64 * 1024,
    maxBytesLength: 1 * MIB,
    maxListLength: 4096,
    maxEntityRowsPerRead: 10_000,
    materializeChunkRows: 10_000,
    maxUploadBytes: 10 * 1024 * MIB,
    maxModelBytes: 2 * 1024 * MIB,
    maxRepeatedItems: 100_000,
    maxRequestItems: 2_000_000,
    maxFeatureRefs: 1000,
    maxColumns: 1000,
    maxWriteIdBytes: 128,
    maxModelInputElements: 10_000_000,
    maxModelOutputElements: 1_000_000,
    queryTimeoutMs: 300_000,
    queryMaxMemoryBytes: 4 * 1024 * MIB,
  },
  serving: {
    inferenceWorkers: 1,
    maxBatchSize: 64,
    maxQueueDelayMicros: 0,
    inlineMaxMicros: 50,
    graphEvaluator: true,
    maxQueuedRequests: 10_000,
    shadowQueueSize: 1000,
    shadowAgreementTolerance: 0.001,
    predictionLogFlushRows: 1000,
    predictionLogFlushMs: 1000,
    modelDir: "",
  },
  // Loopback on a port the OS picks: a second server on the machine never fails over a metrics port.
  metrics: { listen: "127.0.0.1:0" },
  auth: {
    enabled: false,
    allowUnauthenticatedRemote: false,
    openReflection: true,
    openMetrics: true,
    apiKeys: [],
    bindings: [],
    jwt: {
      jwksFile: "",
      jwksUrl: "",
      issuer: "",
      audience: "",
      principalClaim: "sub",
      rolesClaim: "sluice_roles",
      clockToleranceSeconds: 30,
    },
    mtlsPrincipal: "subject-cn",
    rateLimitPerSecond: 0,
    rateLimitBurst: 0,
  },
  tls: { certFile: "", keyFile: "", clientCaFile: "", requireClientCert: false, reloadIntervalMs: 60_000 },
  imports: { allowedDirs: [] },
  audit: { enabled: true, chainId: "" },
  learning: {
    replicaId: "",
    leaseTtlMs: 10_000,
    standbyRefreshMs: 1000,
    pollMs: 200,
    sliceMs: 0.5,
    readBatch: 256,
    logRetentionEntries: 1_000_000,
    maxLabelDelaySeconds: 7 * 24 * 3600,
  },
  kafka: {
    brokers: [],
    clientId: "sluice",
    groupId: "sluice",
    sources: [],
    fromBeginning: true,
    sessionTimeoutMs: 30_000,
    heartbeatIntervalMs: 3000,
    rebalanceTimeoutMs: 60_000,
    connectionTimeoutMs: 3000,
    requestTimeoutMs: 30_000,
    maxWaitTimeMs: 500,
    maxBytesPerPartition: 1 * MIB,
    maxRetryDelayMs: 30_000,
  },
};

/** Environment variable naming the config file, when no --config flag is given. */
export const CONFIG_FILE_ENV = "SLUICE_CONFIG";
const ENV_PREFIX = "SLUICE_";
/**
 * Variables Kubernetes sets in every pod for a Service named "sluice" (service links); they are
 * not configuration, so they are ignored rather than refused as unknown keys.
 */
const SERVICE_LINK = /^SLUICE_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;
/** Credentials the clients' examples read from the environment; a server started in the same shell ignores them. */
const CLIENT_CREDENTIALS = new Set(["SLUICE_API_KEY", "SLUICE_TOKEN"]);

/** The config with its secrets masked, for printing. */
export function redactedConfig(config: SluiceConfig): SluiceConfig {
  const copy = structuredClone(config);
  if (copy.offline.clickhousePassword) copy.offline.clickhousePassword = "(set)";
  return copy;
}

/** A configuration that could not be loaded; the message names the key and its source. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where configuration comes from, beyond the defaults. */
export interface ConfigSources {
  /** Path of a YAML or JSON file. */
  file?: string;
  /** Usually process.env. */
  env?: Record<string, string | undefined>;
  /** Values from flags, by dotted key ("grpc.maxSendMessageBytes"); strings are converted by the key's type. */
  flags?: Record<string, string | number | boolean>;
}

/** Loads, merges and validates the configuration. Throws {@link ConfigError} naming every bad key. */
export function loadConfig(sources: ConfigSources = {}): SluiceConfig {
  const merged: Record<string, unknown> = structuredClone(DEFAULT_CONFIG);
  const origin = new Map<string, string>();
  const leaves = leafKeys(DEFAULT_CONFIG);

  const filePath = sources.file ?? sources.env?.[CONFIG_FILE_ENV];
  if (filePath) {
    for (const [key, value] of flatten(readConfigFile(filePath))) {
      setPath(merged, key, value);
      origin.set(key, `file ${filePath}`);
    }
  }
  for (const [name, raw] of Object.entries(sources.env ?? {})) {
    if (
      !name.startsWith(ENV_PREFIX) ||
      name === CONFIG_FILE_ENV ||
      raw === undefined ||
      SERVICE_LINK.test(name) ||
      CLIENT_CREDENTIALS.has(name)
    )
      continue;
    const key = [...leaves.keys()].find((k) => envName(k) === name);
    if (!key) throw new ConfigError(`unknown configuration variable ${name}; known: ${[...leaves.keys()].map(envName).join(", ")}`);
    setPath(merged, key, coerce(raw, leaves.get(key), `environment variable ${name}`));
    origin.set(key, `environment variable ${name}`);
  }
  for (const [key, raw] of Object.entries(sources.flags ?? {})) {
    if (!leaves.has(key))
      throw new ConfigError(`unknown configuration key "${key}" (from a flag); known: ${[...leaves.keys()].join(", ")}`);
    setPath(merged, key, typeof raw === "string" ? coerce(raw, leaves.get(key), `flag ${key}`) : raw);
    origin.set(key, "command line");
  }

  const parsed = configSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const unknownKeys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const base = issue.path.join(".");
    if (unknownKeys.length > 0) {
      const keys = unknownKeys.map((k) => (base ? `${base}.${k}` : k));
      return `unknown key ${keys.map((k) => `"${k}"`).join(", ")}${filePath ? ` in file ${filePath}` : ""}`;
    }
    const from = originOf(origin, base);
    return `"${base}" ${issue.message}${from ? ` (from ${from})` : ""}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
}

/** The environment variable of a dotted key: grpc.maxSendMessageBytes -> SLUICE_GRPC_MAX_SEND_MESSAGE_BYTES. */
export function envName(key: string): string {
  return (
    ENV_PREFIX +
    key
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .replace(/\./g, "_")
      .toUpperCase()
  );
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new ConfigError(`config file ${path} must hold a mapping of keys`);
  return value as Record<string, unknown>;
}

/** Dotted keys of leaves that are set, keeping unknown branches whole so the schema reports them. */
function flatten(value: Record<string, unknown>, prefix = ""): Array<[string, unknown]> {
  return Object.entries(value).flatMap(([key, child]): Array<[string, unknown]> => {
    const path = prefix ? `${prefix}.${key}` : key;
    return child !== null && typeof child === "object" && !Array.isArray(child)
      ? flatten(child as Record<string, unknown>, path)
      : [[path, child]];
  });
}

/** Dotted key -> default value, for every leaf of the defaults. */
function leafKeys(defaults: object): Map<string, unknown> {
  return new Map(flatten(defaults as Record<string, unknown>));
}

/** Keys that would reach Object.prototype through a plain object; a config file may not use them. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  if (parts.some((part) => FORBIDDEN_KEYS.has(part))) throw new ConfigError(`unknown key "${key}"`);
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** Where the value at a dotted path came from: its key's origin, or that of the list it is in ("kafka.sources.0.topic"). */
function originOf(origin: Map<string, string>, path: string): string | undefined {
  for (let key = path; key !== ""; key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "") {
    const from = origin.get(key);
    if (from) return from;
  }
  return undefined;
}

/**
 * Converts a string from the environment or a flag to the type of the key's default. Lists are
 * comma-separated, or JSON when the text starts with "[" (the only way to give a list of objects,
 * such as kafka.sources, outside a file).
 */
function coerce(raw: string, example: unknown, from: string): unknown {
  if (Array.isArray(example) && raw.trim().startsWith("[")) {
    try {
      return JSON.parse(raw);
    } catch (error) {
      throw new ConfigError(`${from} starts with "[" but is not a JSON list: ${(error as Error).message}`);
    }
  }
  if (Array.isArray(example))
    return raw
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  if (typeof example === "number") return raw.trim() === "" ? Number.NaN : Number(raw);
  if (typeof example === "boolean") {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    return raw;
  }
  return raw;
}
