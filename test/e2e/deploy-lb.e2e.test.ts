/**
 * deploy/docker-compose.yml's topology without Docker: deploy/nginx.conf as the nginx image renders it
 * (its replica names and port pointed at loopback) in front of two real Sluice replicas sharing one
 * Redis, and a client that knows only nginx's address. Calls must be balanced across both replicas,
 * streams must pass through, and a replica that dies must be routed around.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClient } from "../../clients/typescript/src/index.js";
import { nginxMissing, skipWithoutToolchain } from "../support/client-toolchains.js";
import { freePort, RedisProcess, skipWithoutRedis } from "../support/redis-harness.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

const root = join(import.meta.dirname, "../..");

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

/** The local nginx's version (`nginx -v` prints it on stderr). */
function nginxVersion(): number[] {
  const version = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(spawnSync("nginx", ["-v"], { encoding: "utf8" }).stderr);
  if (!version) throw new Error("nginx -v printed no version");
  return version.slice(1).map(Number);
}
const atLeast = (version: number[], minimum: number[]) => {
  const first = version.findIndex((v, i) => v !== minimum[i]);
  return first < 0 || (version[first] as number) > (minimum[first] as number);
};

/** Replaces every match of `pattern` (global), which must match exactly `count` times. */
function replaceExactly(text: string, pattern: RegExp, replacement: string, count: number): string {
  expect(text.match(pattern)?.length ?? 0, `${pattern} in deploy/nginx.conf`).toBe(count);
  return text.replace(pattern, replacement);
}

/**
 * deploy/nginx.conf as the nginx image renders it, pointed at these upstreams and port, and adapted to
 * the local nginx only where it is older than what the file needs (as in deploy.test.ts, which says
 * why): before 1.25.1 `http2 on;` is `listen ... http2`; before 1.27.3 there is no `resolve` (the
 * upstreams here are addresses, which nginx never resolves anyway). Debian's nginx-light needs both.
 */
function nginxConf(upstreams: string[], port: number): string {
  // The resolver is never asked: the upstreams are addresses.
  let conf = replaceExactly(readFileSync(join(root, "deploy/nginx.conf"), "utf8"), /\$\{NGINX_LOCAL_RESOLVERS\}/g, "127.0.0.1", 1);
  conf = replaceExactly(conf, /listen 50051;/g, `listen 127.0.0.1:${port};`, 1);
  for (const [i, name] of ["sluice-a", "sluice-b"].entries())
    conf = replaceExactly(conf, new RegExp(`server ${name}:50051 `, "g"), `server ${upstreams[i]} `, 1);
  const version = nginxVersion();
  const adapted: string[] = [];
  if (!atLeast(version, [1, 25, 1])) {
    conf = replaceExactly(conf, /^\s*http2 on;\n/gm, "", 1);
    conf = replaceExactly(conf, /listen (\S+);/g, "listen $1 http2;", 1);
    adapted.push("`http2 on;` as `listen ... http2`");
  }
  if (!atLeast(version, [1, 27, 3])) {
    conf = replaceExactly(conf, /^(\s*server \S+) resolve /gm, "$1 ", 2);
    adapted.push("`resolve` dropped");
  }
  if (adapted.length) process.stdout.write(`deploy/nginx.conf on nginx ${version.join(".")} here: ${adapted.join(", ")}\n`);
  return conf;
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
