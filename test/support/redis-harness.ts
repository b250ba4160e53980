/**
 * Throwaway Redis servers for tests: a single server, or a 3-master cluster built with
 * `redis-cli --cluster create`, each on free loopback ports, from the `redis-server` binary.
 * Where the binary is missing the suites say so in one line and skip, unless
 * REQUIRE_REDIS_TESTS=1 (set by CI) makes that a failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether redis-server and redis-cli are on the PATH. */
export const redisAvailable: boolean = (() => {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    execFileSync("redis-cli", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Call at the top of a Redis suite: returns whether to skip it, failing instead when Redis is required. */
export function skipWithoutRedis(suite: string): boolean {
  if (redisAvailable) return false;
  if (process.env.REQUIRE_REDIS_TESTS === "1") {
    throw new Error(`${suite}: redis-server is not installed but REQUIRE_REDIS_TESTS=1 (install Debian's redis-server)`);
  }
  process.stdout.write(`${suite}: skipped, redis-server is not installed (apt-get install redis-server)\n`);
  return true;
}

/** A free TCP port on 127.0.0.1 (and, for cluster nodes, its bus port + 10000 is then likely free too). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A running redis-server process. */
export class RedisProcess {
  private process?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly directory: string,
    private readonly extraArgs: string[],
  ) {}

  /** Starts a server on a free port; `cluster` enables cluster mode. */
  static async start(options: { cluster?: boolean } = {}): Promise<RedisProcess> {
    let port = await freePort();
    while (options.cluster && port > 55_000) port = await freePort();
    const directory = mkdtempSync(join(tmpdir(), "sluice-redis-"));
    const extra = options.cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", join(directory, "nodes.conf")] : [];
    const redis = new RedisProcess(port, directory, extra);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the process again on the same port and data (after {@link stop}). */
  async launch(): Promise<void> {
    this.process = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.directory,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        ...this.extraArgs,
      ],
      { stdio: "ignore" },
    );
    await waitUntil(() => ping(this.port), `redis-server on port ${this.port}`);
  }

  /** Kills the process (SIGKILL: as abrupt as a crash) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  /** Stops the process and removes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** A 3-master Redis Cluster of throwaway processes. */
export class RedisCluster {
  private constructor(readonly nodes: RedisProcess[]) {}

  static async start(): Promise<RedisCluster> {
    const nodes = await Promise.all([0, 1, 2].map(() => RedisProcess.start({ cluster: true })));
    execFileSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      {
        stdio: "ignore",
      },
    );
    await waitUntil(() => clusterOk(nodes[0]?.port ?? 0), "the cluster to report cluster_state:ok");
    return new RedisCluster(nodes);
  }

  /** "host:port" of every node. */
  get addresses(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }
}

function ping(port: number): boolean {
  try {
    return (
      execFileSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() === "PONG"
    );
  } catch {
    return false;
  }
}

function clusterOk(port: number): boolean {
  try {
    return execFileSync("redis-cli", ["-p", String(port), "cluster", "info"], { encoding: "utf8" }).includes("cluster_state:ok");
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
