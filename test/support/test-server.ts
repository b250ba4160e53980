/**
 * Starts a real Sluice server on 127.0.0.1:0 with a fresh data dir, and a real client for it. Its
 * metrics endpoint takes a free port too (the default), so test servers run side by side.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SluiceClient } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG, type SluiceConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/logging/logger.js";
import { type RunningServer, startServer } from "../../src/server/sluice-server.js";

/** A running server, its client, and its data dir (reuse it to test restarts). */
export interface TestServer {
  server: RunningServer;
  client: SluiceClient;
  dataDir: string;
  config: SluiceConfig;
  /** Closes the client and shuts the server down. */
  stop(): Promise<void>;
}

/** Starts a server; pass `dataDir` to reopen the data of an earlier one. */
export async function startTestServer(overrides: Partial<SluiceConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), "sluice-e2e-"));
  const config: SluiceConfig = {
    ...DEFAULT_CONFIG,
    listen: "127.0.0.1:0",
    logLevel: "silent",
    ...overrides,
    dataDir,
  };
  const server = await startServer(config, createLogger(config.logLevel));
  const client = await SluiceClient.connect({ address: server.address, deadlineMs: 10_000 });
  return {
    server,
    client,
    dataDir,
    config,
    stop: async () => {
      client.close();
      await server.shutdown();
    },
  };
}
