/** The `sluice` command as a user runs it: the built bin, a real process, real signals. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClient } from "../../clients/typescript/src/index.js";
import { holdPort, unusedAddress } from "../support/ports.js";
import { type SluiceProcess, spawnSluice, stopServer } from "../support/server-process.js";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "dist/src/cli/main.js");

beforeAll(() => {
  // `npm test` builds first; this keeps `npx vitest` on its own working too.
  if (!existsSync(bin)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
}, 120_000);

const started: SluiceProcess[] = [];

/** Stops what a failed test left running. */
afterAll(async () => {
  await Promise.all(started.map((child) => stopServer(child)));
});

/** Runs the built `sluice` in a fresh working directory, with no SLUICE_* variables but `env`. */
function sluice(args: string[], env: Record<string, string> = {}): SluiceProcess {
  const child = spawnSluice(args, { built: true, env, cwd: mkdtempSync(join(tmpdir(), "sluice-cli-")) });
  started.push(child);
  return child;
}

/** Resolves when the process has exited, with its exit code and everything it wrote. */
async function outcome(child: SluiceProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** The Prometheus text a server's metrics URL answers with. */
async function scrape(url: unknown): Promise<string> {
  const response = await fetch(String(url));
  expect(response.status).toBe(200);
  return response.text();
}

// Every test runs its own processes on ports of their own, so the tests run at once.
describe("sluice serve", { concurrent: true }, () => {
  it("serves on the address it logs, with structured logs, and stops cleanly on SIGTERM", async () => {
    const server = sluice(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"]);
    const ready = await server.waitForLog("sluice is serving");
    expect(ready).toMatchObject({ level: "info", service: "sluice", registry: "lmdb", reflection: true });
    const client = await SluiceClient.connect({ address: String(ready.address) });
    await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    expect(await client.isServing()).toBe(true);
    client.close();
    const health = await outcome(sluice(["health", "--address", String(ready.address)]));
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout.trim()).toBe("SERVING");

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["signal received", "sluice stopped"]));
  });

  it("runs beside another server with the default settings: each serves metrics on a port of its own, logged at start", async () => {
    // Only the gRPC port is not the default: the README's 127.0.0.1:50051 may be taken on this machine.
    const servers = [0, 1].map(() => sluice(["serve", "--listen", "127.0.0.1:0"]));
    const metrics = await Promise.all(servers.map((s) => s.waitForLog("metrics are served")));
    const urls = metrics.map((line) => String(line.url));
    expect(urls[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(urls[1]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(urls[0]).not.toBe(urls[1]);
    expect(metrics[0]?.hint).toMatch(/metrics\.listen/);
    for (const url of urls) expect(await scrape(url)).toContain("sluice_loaded_models 0");
    for (const server of servers) {
      const ready = await server.waitForLog("sluice is serving");
      const client = await SluiceClient.connect({ address: String(ready.address) });
      expect(await client.isServing()).toBe(true);
      client.close();
    }
    expect(await Promise.all(servers.map((s) => stopServer(s)))).toEqual([0, 0]);
  });

  it("serves metrics on a fixed metrics.listen, and names metrics.listen when its port is taken", async () => {
    const taken = await holdPort();
    try {
      const refused = await outcome(sluice(["serve", "--listen", "127.0.0.1:0", "--set", `metrics.listen=127.0.0.1:${taken.port}`]));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        new RegExp(`^sluice: cannot serve metrics on metrics\\.listen 127\\.0\\.0\\.1:${taken.port}: .*in use`),
      );
    } finally {
      await taken.close();
    }

    // The port is free again: the same setting now serves there, and the log says so without a hint.
    const server = sluice(["serve", "--listen", "127.0.0.1:0"], { SLUICE_METRICS_LISTEN: `127.0.0.1:${taken.port}` });
    const line = await server.waitForLog("metrics are served");
    expect(line.url).toBe(`http://127.0.0.1:${taken.port}/metrics`);
    expect(line.hint).toBeUndefined();
    const metrics = await scrape(line.url);
    expect(metrics).toContain("sluice_process_");
    // What tail latency is made of: event-loop delay and GC pauses, in buckets from 100 µs.
    expect(metrics).toContain("sluice_nodejs_eventloop_lag_p99_seconds");
    expect(metrics).toMatch(/sluice_nodejs_gc_duration_seconds_bucket\{le="0\.0001",kind="/);
  });

  it("logs that metrics are off when metrics.listen is empty", async () => {
    const server = sluice(["serve", "--listen", "127.0.0.1:0", "--set", "metrics.listen="]);
    await server.waitForLog("sluice is serving");
    await server.waitForLog('metrics are off (metrics.listen is "")');
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["an unknown environment variable", [], { SLUICE_LISTN: "1.2.3.4:5" }, /SLUICE_LISTN/],
    ["an unknown --set key", ["--set", "grpc.bogus=1"], {}, /"grpc.bogus"/],
    ["an invalid value", ["--set", "grpc.maxSendMessageBytes=-5"], {}, /"grpc.maxSendMessageBytes"/],
    ["a bad listen address", ["--listen", "nowhere"], {}, /"listen"/],
    ["a bad metrics address", ["--set", "metrics.listen=9464"], {}, /"metrics.listen"/],
  ])("refuses to start on %s, naming it", async (_label, args, env, message) => {
    const { code, stderr } = await outcome(sluice(["serve", ...args], env));
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it("checks a config without serving", async () => {
    const { code, stdout, stderr } = await outcome(sluice(["serve", "--check-config", "--set", "grpc.shutdownGraceMs=1234"]));
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('"shutdownGraceMs": 1234');
    // The default metrics address: loopback, on a port the system picks.
    expect(stdout).toMatch(/"metrics": \{\s*"listen": "127\.0\.0\.1:0"\s*\}/);
    expect(stdout).toContain("configuration is valid");
  });
});

describe("sluice health", { concurrent: true }, () => {
  it("exits non-zero when nothing answers", async () => {
    const { code, stderr } = await outcome(sluice(["health", "--address", await unusedAddress(), "--timeout-ms", "500"]));
    expect(code).not.toBe(0);
    expect(stderr).toContain("sluice:");
  });
});

describe("sluice demo", { concurrent: true }, () => {
  it("tells the whole story and exits 0", async () => {
    const { code, stdout, stderr } = await outcome(sluice(["demo"]));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("APPLY_OUTCOME_NEW_VERSION (COMPATIBILITY_BREAKING) -> version 3");
    // The streaming part: the too-late event is counted and left out online, and both paths agree as known.
    expect(stdout).toContain("batch 2: 2 events stored, 1 too late");
    expect(stdout).toContain("card 7: txn_10m=6, amount_sum_1h=1690, amount_max_1d=640, merchants_1d=4");
    expect(stdout).toContain("historical, as known at the read: card 7 txn_10m=6, amount_sum_1h=1690, amount_max_1d=640");
    expect(stdout).toContain("historical, as it happened: card 7 txn_10m=6, amount_sum_1h=6690, amount_max_1d=5000");
    expect(stdout).toMatch(/fraud_probability: card 7 0\.99\d+/);
    // The security part: the audit trail holds every change (and the refused apply of step 22), and verifies.
    expect(stdout).toContain("23. Security. Authentication is off here: WhoAmI says anonymous (authentication none, roles *:admin).");
    expect(stdout).toContain("holds every call of the demo that changed something or tried to, 25 in all:");
    expect(stdout).toContain("   RegistryService: ApplyEntity ×2, ApplyFeatureView ×6, ApplyFeatureService ×1, ApplyEventStream ×1\n");
    expect(stdout).toContain("   IngestionService: WriteFeatures ×1, WriteFeatureBatch ×4, WriteEvents ×1\n");
    expect(stdout).toContain("   TrainingService: CreateTrainingDataset ×1\n");
    expect(stdout).toContain("   ModelService: UploadModel ×4, ApplyDeployment ×2, PromoteCanary ×1, RollbackDeployment ×1\n");
    expect(stdout).toContain("all by anonymous (authentication none); 24 OK, 1 INVALID_ARGUMENT (ApplyFeatureView)");
    expect(stdout).toContain("VerifyAuditChain: the hash chain is intact (25 records;");
    // The key's id is printed, its secret never.
    expect(stdout).toMatch(/CreateApiKey for churn-dashboard, viewer on project default: id [0-9a-f]{16}, secret sk_…\(shown once\)/);
    expect(stdout).toContain("ListApiKeys shows it without its secret: churn-dashboard, default:viewer, created by anonymous");
    expect(stdout).not.toMatch(/sk_[A-Za-z0-9_-]/);
    // The learning part: late clicks learned, a checkpoint published and canaried, a SIGKILL survived exactly once.
    expect(stdout).toContain(
      "WriteLabels: 1200 clicks and non-clicks, late and shuffled, each joined by request id with what its prediction read; 0 unmatched.",
    );
    expect(stdout).toMatch(/Same weights, two paths: live (0\.\d{6}), ONNX version \1 \(they agree within 1e-6\)/);
    expect(stdout).toMatch(/Restarted: the learner resumed from its last checkpoint \([1-9]\d* examples\), not from scratch/);
    expect(stdout).toContain("After resending every batch: 2400 examples learned, each exactly once");
    expect(stdout).toContain("Done.");
    // The whole story, with a server of its own started twice: ~10 s alone, several times that beside the other suites.
  }, 120_000);
});
