import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_CONFIG, envName, loadConfig, redactedConfig } from "./config.js";

function writeConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "sluice-config-")), "sluice.yaml");
  writeFileSync(path, text);
  return path;
}

describe("loadConfig", () => {
  it("gives the defaults with no sources", () => {
    expect(loadConfig()).toEqual(DEFAULT_CONFIG);
  });

  it("serves metrics on loopback at a port the system picks unless told otherwise, so servers side by side never collide", () => {
    expect(loadConfig().metrics.listen).toBe("127.0.0.1:0");
    expect(loadConfig({ env: { SLUICE_METRICS_LISTEN: "0.0.0.0:9464" } }).metrics.listen).toBe("0.0.0.0:9464");
    expect(loadConfig({ flags: { "metrics.listen": "" } }).metrics.listen).toBe("");
    expect(() => loadConfig({ flags: { "metrics.listen": "9464" } })).toThrow(/"metrics.listen"/);
  });

  it("layers file, then environment, then flags", () => {
    const file = writeConfig("listen: 0.0.0.0:6000\ndataDir: /from/file\ngrpc:\n  shutdownGraceMs: 111\n");
    const config = loadConfig({
      file,
      env: { SLUICE_DATA_DIR: "/from/env", SLUICE_GRPC_SHUTDOWN_GRACE_MS: "222", SLUICE_REFLECTION: "false", PATH: "/bin" },
      flags: { "grpc.shutdownGraceMs": "333" },
    });
    expect(config.listen).toBe("0.0.0.0:6000");
    expect(config.dataDir).toBe("/from/env");
    expect(config.reflection).toBe(false);
    expect(config.grpc.shutdownGraceMs).toBe(333);
  });

  it("reads the file named by SLUICE_CONFIG", () => {
    const file = writeConfig('{"logLevel": "debug"}');
    expect(loadConfig({ env: { SLUICE_CONFIG: file } }).logLevel).toBe("debug");
  });

  it.each<[string, () => unknown, RegExp]>([
    ["an unknown file key", () => loadConfig({ file: writeConfig("listne: 1.2.3.4:5\n") }), /unknown key "listne"/],
    ["an unknown nested key", () => loadConfig({ file: writeConfig("grpc:\n  maxMessage: 5\n") }), /unknown key "grpc.maxMessage"/],
    ["an unknown variable", () => loadConfig({ env: { SLUICE_LISTN: "x" } }), /SLUICE_LISTN/],
    ["an unknown flag key", () => loadConfig({ flags: { nope: "1" } }), /"nope"/],
    ["a bad address", () => loadConfig({ env: { SLUICE_LISTEN: "localhost" } }), /"listen".*SLUICE_LISTEN/],
    ["a bad port", () => loadConfig({ flags: { listen: "127.0.0.1:70000" } }), /"listen".*port/],
    ["a non-number", () => loadConfig({ env: { SLUICE_GRPC_MAX_SEND_MESSAGE_BYTES: "lots" } }), /"grpc.maxSendMessageBytes"/],
    ["a bad log level", () => loadConfig({ flags: { logLevel: "loud" } }), /"logLevel"/],
    ["an unknown backend", () => loadConfig({ env: { SLUICE_REGISTRY_BACKEND: "mongo" } }), /"registry.backend"/],
    ["a prototype key", () => loadConfig({ file: writeConfig('{"__proto__": {"polluted": "yes"}}') }), /unknown key "__proto__.polluted"/],
    ["a missing file", () => loadConfig({ file: "/nonexistent/sluice.yaml" }), /cannot read config file/],
    ["malformed YAML", () => loadConfig({ file: writeConfig("listen: [\n") }), /not valid YAML/],
  ])("stops on %s, naming it", (_label, load, message) => {
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it("does not let a config file reach Object.prototype", () => {
    expect(() => loadConfig({ file: writeConfig('{"__proto__": {"polluted": "yes"}}') })).toThrow(ConfigError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("requires the settings a chosen backend needs", () => {
    expect(() => loadConfig({ flags: { "online.backend": "redis" } })).toThrow(/"online.redisUrl" is required/);
    expect(() => loadConfig({ flags: { "online.backend": "redis-cluster" } })).toThrow(/"online.redisClusterNodes"/);
    expect(() => loadConfig({ flags: { "offline.backend": "clickhouse" } })).toThrow(/"offline.clickhouseUrl" is required/);
  });

  it("ignores the variables Kubernetes sets for a Service named sluice, and masks the password when printed", () => {
    const config = loadConfig({
      env: {
        SLUICE_SERVICE_HOST: "10.0.0.1",
        SLUICE_SERVICE_PORT: "50051",
        SLUICE_SERVICE_PORT_GRPC: "50051",
        SLUICE_PORT: "tcp://10.0.0.1:50051",
        SLUICE_PORT_50051_TCP: "tcp://10.0.0.1:50051",
        SLUICE_PORT_50051_TCP_PROTO: "tcp",
        SLUICE_OFFLINE_CLICKHOUSE_PASSWORD: "secret",
      },
    });
    expect(config.listen).toBe(DEFAULT_CONFIG.listen);
    expect(redactedConfig(config).offline.clickhousePassword).toBe("(set)");
    expect(config.offline.clickhousePassword).toBe("secret");
    expect(() => loadConfig({ env: { SLUICE_PORTS: "1" } })).toThrow(/SLUICE_PORTS/);
  });

  it("reads lists from the environment as comma-separated values", () => {
    const config = loadConfig({
      env: { SLUICE_ONLINE_BACKEND: "redis-cluster", SLUICE_ONLINE_REDIS_CLUSTER_NODES: "10.0.0.1:7000, 10.0.0.2:7000" },
    });
    expect(config.online.redisClusterNodes).toEqual(["10.0.0.1:7000", "10.0.0.2:7000"]);
  });

  it("leaves the Kafka source off until a source is configured, and fills in each source's defaults", () => {
    expect(loadConfig().kafka.sources).toEqual([]);
    const file = writeConfig(
      [
        "kafka:",
        "  brokers: [10.0.0.1:9092, 10.0.0.2:9092]",
        "  groupId: features",
        "  sources:",
        "    - { topic: card-txns, stream: txn }",
        "    - { topic: clicks, project: web, stream: clicks@2, format: protobuf, protoFile: /p/click.proto, messageType: web.Click,",
        "        deadLetterTopic: clicks-bad, eventTimeUnit: seconds, ignoreUnknownFields: true }",
      ].join("\n"),
    );
    const { kafka } = loadConfig({ file });
    expect(kafka.brokers).toEqual(["10.0.0.1:9092", "10.0.0.2:9092"]);
    expect(kafka.groupId).toBe("features");
    expect(kafka.sessionTimeoutMs).toBe(DEFAULT_CONFIG.kafka.sessionTimeoutMs);
    expect(kafka.sources).toEqual([
      { topic: "card-txns", project: "default", stream: "txn", format: "json", eventTimeUnit: "milliseconds", ignoreUnknownFields: false },
      {
        topic: "clicks",
        project: "web",
        stream: "clicks@2",
        format: "protobuf",
        protoFile: "/p/click.proto",
        messageType: "web.Click",
        deadLetterTopic: "clicks-bad",
        eventTimeUnit: "seconds",
        ignoreUnknownFields: true,
      },
    ]);
  });

  it("reads Kafka sources from the environment as a JSON list, and brokers as a comma-separated one", () => {
    const { kafka } = loadConfig({
      env: { SLUICE_KAFKA_BROKERS: "k1:9092,k2:9092", SLUICE_KAFKA_SOURCES: '[{"topic": "txns", "stream": "txn"}]' },
    });
    expect(kafka.brokers).toEqual(["k1:9092", "k2:9092"]);
    expect(kafka.sources.map((s) => [s.topic, s.stream])).toEqual([["txns", "txn"]]);
    expect(() => loadConfig({ env: { SLUICE_KAFKA_SOURCES: "[{topic: txns}]" } })).toThrow(
      /SLUICE_KAFKA_SOURCES starts with "\[" but is not a JSON list/,
    );
  });

  const kafkaFile = (sources: string, extra = "") => writeConfig(`kafka:\n  brokers: [127.0.0.1:9092]\n${extra}  sources:\n${sources}`);
  it.each<[string, () => unknown, RegExp]>([
    [
      "sources without brokers",
      () => loadConfig({ file: writeConfig("kafka:\n  sources: [{topic: t, stream: s}]\n") }),
      /"kafka.brokers" needs at least one broker/,
    ],
    [
      "a protobuf source without its proto file",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s, format: protobuf, messageType: a.B}\n") }),
      /"kafka.sources.0.protoFile" is required when format is "protobuf"/,
    ],
    [
      "a protobuf source without its message type",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s, format: protobuf, protoFile: x.proto}\n") }),
      /"kafka.sources.0.messageType" is required/,
    ],
    [
      "a JSON source with a proto file",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s, protoFile: x.proto}\n") }),
      /"kafka.sources.0.format" is "json"/,
    ],
    [
      "a topic consumed twice",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s}\n    - {topic: t, stream: u}\n") }),
      /"kafka.sources.1.topic" "t" is consumed by an earlier source/,
    ],
    [
      "a dead-letter topic that is consumed",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s}\n    - {topic: t.dlq, stream: u}\n") }),
      /"kafka.sources.0.deadLetterTopic" "t.dlq" is a consumed topic/,
    ],
    [
      "a bad topic name",
      () => loadConfig({ file: kafkaFile("    - {topic: 'card txns', stream: s}\n") }),
      /"kafka.sources.0.topic" must be a Kafka topic name.*\(from file/,
    ],
    [
      "an unknown source key",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s, partitions: 3}\n") }),
      /unknown key "kafka.sources.0.partitions"/,
    ],
    ["a source without a stream", () => loadConfig({ file: kafkaFile("    - {topic: t}\n") }), /"kafka.sources.0" give stream or learner/],
    [
      "a source with a stream and a learner",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s, learner: l}\n") }),
      /"kafka.sources.0" give stream or learner/,
    ],
    [
      "an unknown time unit",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s, eventTimeUnit: days}\n") }),
      /"kafka.sources.0.eventTimeUnit"/,
    ],
    [
      "a heartbeat slower than the session",
      () => loadConfig({ file: kafkaFile("    - {topic: t, stream: s}\n", "  sessionTimeoutMs: 3000\n") }),
      /"kafka.heartbeatIntervalMs" must be less than kafka.sessionTimeoutMs/,
    ],
  ])("stops on %s, naming the key", (_label, load, message) => {
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it("derives environment variable names from keys", () => {
    expect(envName("grpc.maxReceiveMessageBytes")).toBe("SLUICE_GRPC_MAX_RECEIVE_MESSAGE_BYTES");
    expect(envName("dataDir")).toBe("SLUICE_DATA_DIR");
  });
});
