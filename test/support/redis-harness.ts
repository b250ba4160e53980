/**
 * Throwaway Redis servers for tests: a single server, or a 3-master cluster built with
 * `redis-cli --cluster create`, each on free loopback ports, from the `redis-server` binary.
 * Where the binary is missing the suites say so in one line and skip, unless
 * REQUIRE_REDIS_TESTS=1 (set by CI) makes that a failure.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.js";

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

// A free TCP port on 127.0.0.1 (for cluster nodes, below 55,000 so that the bus port, +10000, is a valid port).
export { freePort };

/** A running redis-server process. */
export class RedisProcess {
  private process?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly directory: string,
    private readonly extraArgs: string[],
  ) {}

  /**
   * Starts a server on a free port; `cluster` enables cluster mode. A port another process takes
   * between the search and the bind (tests run side by side) is given up for another one.
   */
  static async start(options: { cluster?: boolean } = {}): Promise<RedisProcess> {
    const directory = mkdtempSync(join(tmpdir(), "sluice-redis-"));
    const extra = options.cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", join(directory, "nodes.conf")] : [];
    for (let attempt = 1; ; attempt++) {
      let port = await freePort();
      while (options.cluster && port > 55_000) port = await freePort();
      const redis = new RedisProcess(port, directory, extra);
      try {
        await redis.launch();
        return redis;
      } catch (error) {
        if (attempt >= 3 || !String(error).includes("Address already in use")) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts the process again on the same port and data (after {@link stop}); rejects with
   * redis-server's own output if it exits instead of answering.
   */
  async launch(): Promise<void> {
    const child = spawn(
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
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.process = child;
    let output = "";
    const collect = (chunk: Buffer) => {
      // Only the start matters (why it could not start); the log of a long run is dropped.
      if (output.length < 16_384) output += chunk;
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    await waitUntil(async () => {
      if (exited) throw new Error(`redis-server on port ${this.port} exited at start:\n${output.trim()}`);
      return (await redisCommand(this.port, "PING")).startsWith("+PONG");
    }, `redis-server on port ${this.port}`);
  }

  /** Kills the process (SIGKILL: as abrupt as a crash) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
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
    await promisify(execFile)("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${error.stderr || error.stdout || error.message}`);
    });
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

/**
 * Sends one inline command to the Redis on `port` and resolves with the start of its answer ("" when
 * nothing answers): cheaper than starting redis-cli every few milliseconds while waiting.
 */
function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = "";
    const socket = connect({ port, host: "127.0.0.1" }, () => socket.write(`${command}\r\n`));
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1000, done);
    socket.on("error", done);
    socket.on("data", (chunk) => {
      answer += chunk;
      // A simple string (+OK), an error (-ERR), or a bulk string ($n) read to its end.
      const bulk = /^\$(\d+)\r\n/.exec(answer);
      if (!bulk ? answer.includes("\r\n") : Buffer.byteLength(answer) >= bulk[0].length + Number(bulk[1]) + 2) done();
    });
  });
}

async function clusterOk(port: number): Promise<boolean> {
  return (await redisCommand(port, "CLUSTER INFO")).includes("cluster_state:ok");
}

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
