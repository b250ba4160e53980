/**
 * A throwaway Apache Kafka broker for tests: one KRaft node that is both broker and controller, on free
 * loopback ports, with its data in a temporary directory, run from the jars that test/kafka/fetch-broker.sh
 * fetches from Maven Central into a cache outside the checkout ($HOME/.cache/sluice-ci/kafka/<version>, or
 * KAFKA_LIBS_DIR). Where Java 17 or the jars are missing the suites say so in one line and skip, unless
 * REQUIRE_KAFKA_TESTS=1 (set by CI) makes that a failure, as REQUIRE_REDIS_TESTS does for Redis.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { freePort } from "./ports.js";

const FETCH = "test/kafka/fetch-broker.sh";

/** The Kafka version test/kafka/pom.xml pins (the fetch script reads the same line). */
export const kafkaVersion: string = (() => {
  const pom = readFileSync(join(import.meta.dirname, "../kafka/pom.xml"), "utf8");
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error("test/kafka/pom.xml names no <kafka.version>");
  return version;
})();

/** The directory of the broker's jars: KAFKA_LIBS_DIR, or the fetch script's cache. */
export const kafkaLibs: string = process.env.KAFKA_LIBS_DIR || join(homedir(), ".cache/sluice-ci/kafka", kafkaVersion);

/** The java that runs the broker: $JAVA_HOME/bin/java as Kafka's own scripts choose it, else java from the PATH. */
const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin/java") : "java";

let missing: string | undefined | null = null;

/** Why the broker cannot run here (no Java 17, or the jars not fetched), or undefined. */
export function kafkaMissing(): string | undefined {
  if (missing !== null) return missing;
  missing = (() => {
    // `java -version` writes to stderr.
    const result = spawnSync(java, ["-version"], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
    if (result.error || result.status !== 0) return `${java} is not installed (Kafka ${kafkaVersion} needs Java 17 or later)`;
    const major = Number(/version "(?:1\.)?(\d+)/.exec(result.stderr)?.[1] ?? 0);
    if (major < 17) return `${java} is Java ${major || "of an unknown version"}, and Kafka ${kafkaVersion} needs Java 17 or later`;
    if (!existsSync(join(kafkaLibs, ".complete")) || !existsSync(join(kafkaLibs, `kafka_2.13-${kafkaVersion}.jar`))) {
      return `Kafka ${kafkaVersion} is not fetched into ${kafkaLibs} (run ${FETCH})`;
    }
    return undefined;
  })();
  return missing;
}

/** Call at the top of a Kafka suite: returns whether to skip it, failing instead when Kafka is required. */
export function skipWithoutKafka(suite: string): boolean {
  const reason = kafkaMissing();
  if (!reason) return false;
  if (process.env.REQUIRE_KAFKA_TESTS === "1") throw new Error(`${suite}: ${reason}, but REQUIRE_KAFKA_TESTS=1`);
  process.stdout.write(`${suite}: skipped, ${reason}\n`);
  return true;
}

/** A running broker. */
export interface KafkaBroker {
  /** "127.0.0.1:PORT", the bootstrap address for clients. */
  readonly brokers: string;
  /** The temporary directory of the broker's configuration, data (data/) and log (broker.log). */
  readonly directory: string;
  /** The broker's log file. */
  readonly logFile: string;
  /** A kafkajs client for this broker, quiet unless `logLevel` says otherwise. */
  client(config?: Partial<KafkaConfig>): Kafka;
  /** Kills the process (SIGKILL: as abrupt as a crash), keeping its data, and waits for it to exit. */
  kill(): Promise<void>;
  /** Stops the process gracefully (SIGTERM, a controlled shutdown), keeping its data. */
  shutdown(): Promise<void>;
  /** Starts the broker again on the same ports and data, after {@link kill} or {@link shutdown} (or shuts it down first). */
  restart(): Promise<void>;
  /** Ends the process (SIGKILL) and removes its directory; safe to call twice, or after a failed start. */
  stop(): Promise<void>;
  /** The last lines of the broker's log. */
  logTail(lines?: number): string;
}

/** Brokers not yet stopped: killed when the test process exits, whatever the tests did. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Options of {@link startKafka}. */
export interface StartKafkaOptions {
  /** Extra server.properties lines, which override the harness's. */
  properties?: Record<string, string | number | boolean>;
  /** How long to wait for the broker to answer (ms), 60 s by default. */
  timeoutMs?: number;
}

/**
 * Formats a fresh KRaft storage directory and starts a broker on free loopback ports; resolves once it
 * answers a DescribeCluster request. A port another process takes between the search and the bind is
 * given up for another pair. Rejects with the tail of the broker's log if it exits or does not answer.
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const reason = kafkaMissing();
  if (reason) throw new Error(reason);
  const directory = mkdtempSync(join(tmpdir(), "sluice-kafka-"));
  const broker = new Broker(directory, options);
  try {
    await broker.format();
    for (let attempt = 1; ; attempt++) {
      await broker.choosePorts();
      try {
        await broker.launch();
        return broker;
      } catch (error) {
        if (attempt >= 3 || !String(error).includes("Address already in use")) throw error;
      }
    }
  } catch (error) {
    await broker.stop();
    throw error;
  }
}

class Broker implements KafkaBroker {
  readonly logFile: string;
  private process?: ChildProcess;
  private exited?: Promise<void>;
  private brokerPort = 0;
  private controllerPort = 0;
  private readonly clusterId = kafkaUuid();
  private readonly timeoutMs: number;

  constructor(
    readonly directory: string,
    private readonly options: StartKafkaOptions,
  ) {
    this.logFile = join(directory, "broker.log");
    this.timeoutMs = options.timeoutMs ?? 60_000;
    // Log4j 2 (the logging of Kafka's own distribution) to stdout, which goes to broker.log.
    writeFileSync(
      join(directory, "log4j2.properties"),
      [
        "rootLogger.level=INFO",
        "rootLogger.appenderRef.out.ref=out",
        "appender.out.type=Console",
        "appender.out.name=out",
        "appender.out.layout.type=PatternLayout",
        "appender.out.layout.pattern=[%d] %p %m (%c)%n",
        // The configuration dumps (hundreds of lines per client and server) only hide what matters.
        "logger.config.name=org.apache.kafka.common.config.AbstractConfig",
        "logger.config.level=WARN",
        "",
      ].join("\n"),
    );
  }

  get brokers(): string {
    return `127.0.0.1:${this.brokerPort}`;
  }

  client(config: Partial<KafkaConfig> = {}): Kafka {
    return new Kafka({ clientId: "sluice-test", brokers: [this.brokers], logLevel: logLevel.NOTHING, ...config });
  }

  async choosePorts(): Promise<void> {
    this.brokerPort = await freePort();
    do this.controllerPort = await freePort();
    while (this.controllerPort === this.brokerPort);
    this.writeProperties();
  }

  /**
   * server.properties of one combined node. The quorum is static (controller.quorum.voters), so that the
   * ports live only in this file and not in the formatted metadata: another pair of ports needs no new
   * format. Replication factors of the internal topics are 1 (one broker), the offsets topic has one
   * partition instead of 50 (each is a log and files to create), and groups start without the 3 s wait.
   */
  private writeProperties(): void {
    const properties: Record<string, string | number | boolean> = {
      "process.roles": "broker,controller",
      "node.id": 1,
      "controller.quorum.voters": `1@127.0.0.1:${this.controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${this.brokerPort},CONTROLLER://127.0.0.1:${this.controllerPort}`,
      "advertised.listeners": `PLAINTEXT://127.0.0.1:${this.brokerPort}`,
      "controller.listener.names": "CONTROLLER",
      "inter.broker.listener.name": "PLAINTEXT",
      "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      "log.dirs": join(this.directory, "data"),
      "num.partitions": 1,
      "offsets.topic.replication.factor": 1,
      "offsets.topic.num.partitions": 1,
      "transaction.state.log.replication.factor": 1,
      "transaction.state.log.min.isr": 1,
      "transaction.state.log.num.partitions": 1,
      "share.coordinator.state.topic.replication.factor": 1,
      "share.coordinator.state.topic.min.isr": 1,
      "share.coordinator.state.topic.num.partitions": 1,
      "group.initial.rebalance.delay.ms": 0,
      // A broker killed by a test comes back as soon as its old registration has expired: without a clean
      // shutdown the controller refuses the new one until then (DUPLICATE_BROKER_REGISTRATION), 9 s by default.
      "broker.heartbeat.interval.ms": 500,
      "broker.session.timeout.ms": 3000,
      // Fewer threads than the defaults (8 I/O, 3 network) for a small machine and a few clients.
      "num.io.threads": 2,
      "num.network.threads": 2,
      "num.recovery.threads.per.data.dir": 1,
      ...this.options.properties,
    };
    writeFileSync(
      join(this.directory, "server.properties"),
      `${Object.entries(properties)
        .map(([key, value]) => `${key}=${value}`)
        .join("\n")}\n`,
    );
  }

  /** The java command line of a Kafka main class, its output appended to broker.log. */
  private java(mainClass: string, args: string[]): ChildProcess {
    const log = openSync(this.logFile, "a");
    try {
      return spawn(
        java,
        [
          // A small heap, one GC thread, and only the quick JIT: a test broker starts sooner and moves little data.
          "-Xmx256m",
          "-Xms64m",
          "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1",
          "-Djava.awt.headless=true",
          `-Dlog4j2.configurationFile=${join(this.directory, "log4j2.properties")}`,
          "-cp",
          join(kafkaLibs, "*"),
          mainClass,
          ...args,
        ],
        { cwd: this.directory, stdio: ["ignore", log, log] },
      );
    } finally {
      closeSync(log);
    }
  }

  /** Formats the storage directory (kafka-storage.sh format), which the broker refuses to start without. */
  async format(): Promise<void> {
    // Ports are not stored by the format (the quorum is static): placeholders until choosePorts.
    this.brokerPort = 0;
    this.controllerPort = 1;
    this.writeProperties();
    const child = this.java("kafka.tools.StorageTool", [
      "format",
      "--cluster-id",
      this.clusterId,
      "--config",
      join(this.directory, "server.properties"),
    ]);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (exitCode) => resolve(exitCode));
    });
    if (code !== 0) throw new Error(`kafka-storage format exited with ${code}; the tail of its output:\n${this.logTail()}`);
  }

  /** Starts kafka.Kafka and waits until it answers; rejects with the tail of its log if it exits or does not answer. */
  async launch(): Promise<void> {
    const started = Date.now();
    const logStart = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    writeFileSync(this.logFile, `\n==== sluice kafka-harness: starting the broker on ${this.brokers} ====\n`, { flag: "a" });
    const child = this.java("kafka.Kafka", [join(this.directory, "server.properties")]);
    this.process = child;
    live.add(child);
    const watchdog = orphanWatchdog(child, this.directory);
    let exit: string | undefined;
    this.exited = new Promise((resolve) => {
      const ended = (how: string) => {
        exit = how;
        live.delete(child);
        watchdog?.kill("SIGKILL");
        resolve();
      };
      child.once("exit", (code, signal) => ended(signal ? `was killed by ${signal}` : `exited with ${code}`));
      child.once("error", (error) => ended(`could not start (${error.message})`));
    });
    const deadline = started + this.timeoutMs;
    for (;;) {
      if (exit) throw new Error(`the Kafka broker on ${this.brokers} ${exit} at start${this.startFailure(logStart)}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`the Kafka broker on ${this.brokers} did not answer within ${this.timeoutMs} ms${this.startFailure(logStart)}`);
      }
      // A connect first: cheap, and a kafkajs client started before the port is bound would only log and back off.
      if ((await accepts(this.brokerPort)) && (await this.answers())) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Whether the broker answers a DescribeCluster request listing itself. */
  private async answers(): Promise<boolean> {
    const admin = this.client({ connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.some((b) => b.port === this.brokerPort);
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  async shutdown(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.shutdown();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.directory, { recursive: true, force: true });
  }

  /**
   * What the log of the launch that began at byte `logStart` says about its failure: its first ERROR line
   * (the cause, which the shutdown that follows pushes out of the tail; "Address already in use" where a
   * port was taken, which {@link startKafka} retries on) and its last lines.
   */
  private startFailure(logStart: number): string {
    let log: string;
    try {
      log = readFileSync(this.logFile).subarray(logStart).toString("utf8");
    } catch {
      return " (it wrote no log)";
    }
    const lines = log.trimEnd().split("\n");
    const at = lines.findIndex((line) => / (ERROR|FATAL) /.test(line));
    // The error line and the exception that follows it, if any.
    const firstError = at < 0 ? undefined : [lines[at], ...lines.slice(at + 1, at + 2).filter((line) => !line.startsWith("["))].join("\n");
    const taken = log.includes("Address already in use") ? "; a port was taken (Address already in use)" : "";
    return `${taken}${firstError ? `; its first error: ${firstError}` : ""}; the tail of its log:\n${lines.slice(-30).join("\n")}`;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

/**
 * A shell that SIGKILLs the broker and removes its directory once its stdin, a pipe from this process,
 * reaches its end: when this process dies in any way, even by a SIGKILL that runs no exit handler (a test
 * worker killed on a timeout), the broker does not outlive it. Killed itself when the broker exits, so
 * that it never signals a process id the system has given to another process.
 */
function orphanWatchdog(child: ChildProcess, directory: string): ChildProcess | undefined {
  if (child.pid === undefined) return undefined;
  // After the kill, up to 5 s for the process to be gone before its files are removed.
  const script =
    'read _ ; kill -9 "$1" 2>/dev/null; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; rm -rf "$2"';
  const watchdog = spawn("sh", ["-c", script, "sh", String(child.pid), directory], { stdio: ["pipe", "ignore", "ignore"] });
  watchdog.on("error", () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * A random Kafka Uuid as `kafka-storage random-uuid` prints it: 16 random bytes in URL-safe base64
 * without padding, never starting with "-" (which a command line would take for an option).
 */
function kafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
