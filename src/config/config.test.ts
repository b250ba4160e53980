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

  it("derives environment variable names from keys", () => {
    expect(envName("grpc.maxReceiveMessageBytes")).toBe("SLUICE_GRPC_MAX_RECEIVE_MESSAGE_BYTES");
    expect(envName("dataDir")).toBe("SLUICE_DATA_DIR");
  });
});
