/**
 * deploy/docker-compose.yml's topology without Docker: deploy/nginx.conf as the nginx image renders it
 * (its replica names and port pointed at loopback) in front of two real Sluice replicas sharing one
 * Redis, and a client that knows only nginx's address. Calls must be balanced across both replicas,
 * streams must pass through, and a replica that dies must be routed around.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClient } from "../../clients/typescript/src/index.js";
import { nginxMissing, skipWithoutToolchain } from "../support/client-toolchains.js";
import { renderNginxConf, replaceExactly } from "../support/nginx-conf.js";
import { freePort, RedisProcess, skipWithoutRedis } from "../support/redis-harness.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// Skipped where redis-server or nginx is missing (one line says so); CI installs both and sets
// REQUIRE_REDIS_TESTS=1 and REQUIRE_CLIENT_TESTS=1, which turn those skips into failures.
const skip = skipWithoutRedis("load-balancer test") || skipWithoutToolchain("load-balancer test", nginxMissing());

/** A replica with the Compose file's backends (Redis for both registry and online), logging each call. */
async function startReplica(redisUrl: string): Promise<{ server: ServerProcess; calls: () => number }> {
  const server = await spawnServer(["--data-dir", mkdtempSync(join(tmpdir(), "sluice-lb-"))], {
    env: {
      SLUICE_LOG_LEVEL: "debug",
      SLUICE_REGISTRY_BACKEND: "redis",
      SLUICE_REGISTRY_REDIS_URL: redisUrl,
      SLUICE_ONLINE_BACKEND: "redis",
      SLUICE_ONLINE_REDIS_URL: redisUrl,
    },
  });
  let completed = 0;
  server.child.stdout.on("data", (chunk: Buffer) => {
    completed += chunk.toString().split('"msg":"call completed"').length - 1;
  });
  return { server, calls: () => completed };
}

/**
 * Waits up to 5 s for `count` to reach `expected` (or, without one, to stay put for 250 ms): a replica
 * logs a call after answering it, and on a busy machine the line can arrive after the client has its
 * response.
 */
async function logged(count: () => number, expected?: number): Promise<void> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let end = Date.now() + 5000, last = -1; Date.now() < end; await sleep(expected === undefined ? 250 : 20)) {
    if (expected === undefined ? count() === last : count() >= expected) return;
    last = count();
  }
}

/**
 * deploy/nginx.conf as the nginx image renders it, pointed at these upstreams and port, and adapted to
 * the local nginx where it is older than the file needs (see renderNginxConf). The resolver is never
 * asked: the upstreams are addresses.
 */
function nginxConf(upstreams: string[], port: number): string {
  return renderNginxConf("127.0.0.1", (conf) => {
    let rewritten = replaceExactly(conf, /listen 50051;/g, `listen 127.0.0.1:${port};`, 1);
    for (const [i, name] of ["sluice-a", "sluice-b"].entries())
      rewritten = replaceExactly(rewritten, new RegExp(`server ${name}:50051 `, "g"), `server ${upstreams[i]} `, 1);
    return rewritten;
  }).conf;
}

/** Runs nginx in the foreground with deploy/nginx.conf, its upstreams and listen port rewritten. */
async function startNginx(upstreams: string[]): Promise<{ process: ChildProcess; address: string }> {
  const prefix = mkdtempSync(join(tmpdir(), "sluice-nginx-"));
  mkdirSync(join(prefix, "logs"));
  const port = await freePort();
  const conf = nginxConf(upstreams, port);
  // Temporary files under the prefix, so nginx needs nothing outside it.
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `${t}_temp_path ${prefix}/${t};`).join(" ");
  writeFileSync(join(prefix, "nginx.conf"), conf.replace("http {", `http {\n  ${temp}\n  access_log off;`));
  const nginx = spawn(
    "nginx",
    ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-g", `daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log;`],
    {
      stdio: "ignore",
    },
  );
  return { process: nginx, address: `127.0.0.1:${port}` };
}

describe.skipIf(skip)("deploy/nginx.conf in front of two replicas", () => {
  let redis: RedisProcess;
  let a: Awaited<ReturnType<typeof startReplica>>;
  let b: Awaited<ReturnType<typeof startReplica>>;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let client: SluiceClient;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    [a, b] = await Promise.all([startReplica(redis.url), startReplica(redis.url)]);
    nginx = await startNginx([a.server.address, b.server.address]);
    client = await SluiceClient.connect({ address: nginx.address, deadlineMs: 10_000 });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    nginx?.process.kill("SIGTERM");
    for (const replica of [a, b]) {
      if (replica && replica.server.child.exitCode === null) {
        replica.server.child.kill("SIGTERM");
        await replica.server.exited;
      }
    }
    await redis?.destroy();
  });

  it("balances calls over both replicas, which share definitions and values", async () => {
    await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    await client.applyFeatureView({ name: "customer_stats", entity: "customer", features: [{ name: "orders_30d", type: "int64" }] });
    await logged(() => a.calls() + b.calls());
    const [beforeA, beforeB] = [a.calls(), b.calls()];
    for (let i = 0; i < 10; i++) expect((await client.getFeatureView("customer_stats")).version).toBe(1);
    await logged(() => a.calls() - beforeA + b.calls() - beforeB, 10);
    const [servedA, servedB] = [a.calls() - beforeA, b.calls() - beforeB];
    expect(servedA + servedB).toBe(10);
    expect(servedA).toBeGreaterThan(0);
    expect(servedB).toBeGreaterThan(0);
  });

  it("passes a WriteFeatures stream through, and reads what it wrote", async () => {
    const stream = client.openWriteStream();
    const acks = await Promise.all(
      [1n, 2n].map((id) =>
        stream.write({
          featureView: "customer_stats",
          rows: [{ entityKey: { customer_id: id }, eventTime: new Date(), features: { orders_30d: id * 10n } }],
        }),
      ),
    );
    await stream.close();
    expect(acks.map((ack) => ack.acceptedCount)).toEqual([1, 1]);
    const [orders] = await client.getOnlineFeatures({ features: ["customer_stats:orders_30d"], entities: { customer_id: [1n, 2n] } });
    expect(orders?.values).toEqual([10n, 20n]);
  });

  it("routes around a replica that died", async () => {
    b.server.child.kill("SIGKILL");
    await b.server.exited;
    await logged(a.calls);
    const before = a.calls();
    for (let i = 0; i < 10; i++) expect((await client.getFeatureView("customer_stats")).version).toBe(1);
    await logged(() => a.calls() - before, 10);
    expect(a.calls() - before).toBe(10);
  });
});
