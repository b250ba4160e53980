#!/usr/bin/env -S node --max-old-space-size=1024 --max-semi-space-size=64
/**
 * The `sluice` command: `sluice serve` runs the server, `sluice demo` runs the guided demo
 * against a fresh server of its own.
 */
import { Command, Option } from "commander";
import { ConfigError, loadConfig, redactedConfig } from "../config/config.js";
import { createLogger } from "../logging/logger.js";
import { VERSION } from "../version.js";

interface ServeOptions {
  config?: string;
  listen?: string;
  dataDir?: string;
  logLevel?: string;
  reflection?: boolean;
  set: string[];
  checkConfig?: boolean;
}

const program = new Command("sluice").version(VERSION).description("Sluice: a feature store and model server in one gRPC service.");

program
  .command("serve")
  .description("run the gRPC server")
  .option("-c, --config <file>", "YAML or JSON config file (or set SLUICE_CONFIG)")
  .option("-l, --listen <host:port>", "address to listen on (default 127.0.0.1:50051)")
  .option("-d, --data-dir <dir>", "directory of the embedded stores (default ./.sluice-data)")
  .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
  .option("--no-reflection", "do not serve gRPC server reflection")
  .option("--set <key=value>", "set any config key, e.g. --set grpc.shutdownGraceMs=5000 (repeatable)", collect, [])
  .option("--check-config", "validate the configuration, print it, and exit")
  .action(async (options: ServeOptions, command: Command) => {
    const flags: Record<string, string | boolean> = {};
    for (const assignment of options.set) {
      const eq = assignment.indexOf("=");
      if (eq <= 0) throw new ConfigError(`--set expects key=value, got "${assignment}"`);
      flags[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
    if (options.listen !== undefined) flags.listen = options.listen;
    if (options.dataDir !== undefined) flags.dataDir = options.dataDir;
    if (options.logLevel !== undefined) flags.logLevel = options.logLevel;
    if (command.getOptionValueSource("reflection") === "cli") flags.reflection = false;
    const config = loadConfig({ file: options.config, env: process.env, flags });
    if (options.checkConfig) {
      process.stdout.write(`${JSON.stringify(redactedConfig(config), null, 2)}\nconfiguration is valid\n`);
      return;
    }
    const logger = createLogger(config.logLevel);
    // Loaded here, not at the top: `sluice health` (a container's health check, run every few
    // seconds), `--check-config` and a refused configuration answer without loading the server's
    // engines (chDB, ONNX Runtime, LMDB), in a fraction of the time.
    const { startServer } = await import("../server/sluice-server.js");
    const server = await startServer(config, logger);
    if (server.metricsPort === undefined) {
      logger.info('metrics are off (metrics.listen is "")');
    } else {
      const host = config.metrics.listen.slice(0, config.metrics.listen.lastIndexOf(":"));
      const url = `http://${host}:${server.metricsPort}/metrics`;
      // Port 0 (the default) is a new port at each start: fine for a look with curl, not for a scraper.
      const hint = config.metrics.listen.endsWith(":0")
        ? { hint: "the port changes at each start; for Prometheus set metrics.listen to a fixed HOST:PORT" }
        : {};
      logger.info({ url, ...hint }, "metrics are served");
    }
    // SIGHUP re-reads the TLS files (a renewed certificate) without dropping a connection.
    process.on("SIGHUP", () => {
      server.reloadTls().then((outcome) => logger.info({ signal: "SIGHUP", tls: outcome }, "TLS files re-read"));
    });
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        logger.info({ signal }, "signal received");
        server.shutdown().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, "shutdown failed");
            process.exit(1);
          },
        );
      });
    }
  });

program
  .command("health")
  .description("check a server's gRPC health (exit 0 when SERVING): for container health checks and probes")
  .option("-a, --address <host:port>", "server address", "127.0.0.1:50051")
  .option("-s, --service <name>", "one service instead of the whole server", "")
  .option("--timeout-ms <ms>", "give up after this long", "3000")
  .action(async (options: { address: string; service: string; timeoutMs: string }) => {
    const { SluiceClient } = await import("../../clients/typescript/src/index.js");
    const client = new SluiceClient({ address: options.address, deadlineMs: Number(options.timeoutMs) });
    try {
      const serving = await client.isServing(options.service);
      process.stdout.write(`${serving ? "SERVING" : "NOT_SERVING"}\n`);
      process.exitCode = serving ? 0 : 1;
    } finally {
      client.close();
    }
  });

program
  .command("demo")
  .description("start a throwaway server and walk through what Sluice does")
  .option("-d, --data-dir <dir>", "keep the demo's data here instead of a temporary directory")
  .action(async (options: { dataDir?: string }) => {
    const { runDemo } = await import("./demo.js");
    await runDemo({ dataDir: options.dataDir, out: process.stdout });
  });

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
