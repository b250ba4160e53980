/** A Sluice server in a child process, for tests that kill it or send it signals. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const root = join(import.meta.dirname, "../..");

/** One JSON log line of the server. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A `sluice` child process, its log lines (stdout) and its stderr. */
export interface SluiceProcess {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (null when killed by a signal) once its output is read to the end. */
  exited: Promise<number | null>;
  /** The JSON log lines so far. */
  logs: LogLine[];
  /** Everything written to stdout so far (log lines, or the text of commands like `sluice demo`). */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /**
   * Resolves with the first log line whose msg is `msg`; rejects with the process's stderr if it
   * exits first, or after `timeoutMs` (25 s, under the tests' 30 s timeouts), so a failing child
   * shows its own message in the test's failure.
   */
  waitForLog(msg: string, timeoutMs?: number): Promise<LogLine>;
}

/** A running server process and the address it logged. */
export interface ServerProcess extends SluiceProcess {
  address: string;
}

/** How to start the server process. */
export interface SpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * true: run the compiled build (`npm run build`) as production does; false: the sources through
   * tsx, whose transpiler adds its own memory and start-up time (about 1.5 s of CPU per start).
   * By default, the build when it is newer than every source file (`npm test` builds before it
   * runs the tests), else the sources, so a test never runs code older than the checkout.
   */
  built?: boolean;
  /** Working directory (the repository by default). */
  cwd?: string;
  /** How long {@link spawnServer} waits for "sluice is serving" (25 s, under the tests' 30 s timeouts). */
  readyTimeoutMs?: number;
}

/** Newest modification time (ms) of the files under `directory` that the build compiles or copies (not tests), or 0. */
function newestMtime(directory: string): number {
  let newest = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(directory, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (entry.isFile() && !/\.(test|contract)\.ts$/.test(entry.name)) {
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

let buildIsFresh: boolean | undefined;

/** Whether dist/ was built after the last change to the sources it is built from. */
export function buildIsCurrent(): boolean {
  if (buildIsFresh === undefined) {
    let built = 0;
    try {
      built = statSync(join(root, "dist/src/cli/main.js")).mtimeMs;
    } catch {
      built = 0;
    }
    const sources = Math.max(newestMtime(join(root, "src")), newestMtime(join(root, "clients/typescript/src")));
    buildIsFresh = built > 0 && built >= sources;
  }
  return buildIsFresh;
}

/** Every process started here, so none outlives the test process, even when a test fails midway. */
const running = new Set<ChildProcessWithoutNullStreams>();
const killAll = () => {
  for (const child of running) child.kill("SIGKILL");
};
process.once("exit", killAll);
// Vitest ends a test file's worker process with SIGTERM, which skips "exit" handlers: stop the
// children first, then end as SIGTERM would have.
process.once("SIGTERM", () => {
  killAll();
  if (process.listenerCount("SIGTERM") === 0) process.kill(process.pid, "SIGTERM");
});

/**
 * The environment of a child: this process's, without SLUICE_* configuration variables (a
 * developer's own settings must not change what a test starts), plus `env`.
 */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SLUICE_")));
  return { ...inherited, ...env };
}

/**
 * The Node flags of the `sluice` bin's shebang (`#!/usr/bin/env -S node <flags>`, kept by the build):
 * every server started here runs with the heap sizes the bin and the image give it (README, "Memory").
 */
export function binNodeFlags(): string[] {
  if (!shebangFlags) {
    const shebang = readFileSync(join(root, "src/cli/main.ts"), "utf8").split("\n", 1)[0] as string;
    const flags = /^#!\/usr\/bin\/env -S node((?: --\S+)*)\s*$/.exec(shebang)?.[1];
    if (flags === undefined) throw new Error(`src/cli/main.ts: not a "#!/usr/bin/env -S node --flag..." shebang: ${shebang}`);
    shebangFlags = flags.split(" ").filter((flag) => flag !== "");
  }
  return shebangFlags;
}

/** The shebang's flags, read once: tests start many servers. */
let shebangFlags: string[] | undefined;

/** Starts `sluice <args>` (the sources through tsx, or the build), collecting its output. */
export function spawnSluice(args: string[], { env = {}, built = buildIsCurrent(), cwd = root }: SpawnOptions = {}): SluiceProcess {
  const profileDir = process.env.SERVER_CPU_PROF_DIR;
  const profiling = profileDir
    ? [
        "--cpu-prof",
        "--cpu-prof-dir",
        profileDir,
        ...(process.env.SERVER_CPU_PROF_INTERVAL ? ["--cpu-prof-interval", process.env.SERVER_CPU_PROF_INTERVAL] : []),
      ]
    : [];
  const entry = built ? [join(root, "dist/src/cli/main.js")] : ["--import", "tsx", join(root, "src/cli/main.ts")];
  const child = spawn(process.execPath, [...profiling, ...binNodeFlags(), ...entry, ...args], { cwd, env: childEnv(env) });
  running.add(child);
  child.once("exit", () => running.delete(child));
  // "close" comes after stdout and stderr are read to their end: a line logged just before exiting is seen first.
  const closed = new Promise<{ code: number | null; how: string }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, how: signal ?? `code ${code}` })),
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const logs: LogLine[] = [];
  const waiters: Array<{ msg: string; resolve: (line: LogLine) => void }> = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (!line.startsWith("{")) return;
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    logs.push(entry);
    for (const waiter of waiters.filter((w) => w.msg === entry.msg)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(entry);
    }
  });
  const waitForLog = (msg: string, timeoutMs = 25_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = logs.find((line) => line.msg === msg);
      if (found) return resolve(found);
      const output = () => {
        const stdoutTail = stdout.trim().split("\n").slice(-10).join("\n");
        return `stderr:\n${stderr.trim() || "(empty)"}${stdoutTail ? `\nstdout ends:\n${stdoutTail}` : ""}`;
      };
      const timer = setTimeout(
        () => reject(new Error(`sluice ${args.join(" ")} did not log "${msg}" within ${timeoutMs / 1000} s; ${output()}`)),
        timeoutMs,
      );
      waiters.push({
        msg,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      closed.then(({ how }) => {
        clearTimeout(timer);
        reject(new Error(`sluice ${args.join(" ")} exited (${how}) before logging "${msg}"; ${output()}`));
      });
    });
  return {
    child,
    exited: closed.then(({ code }) => code),
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForLog,
  };
}

/**
 * Starts `sluice serve` on a free port and waits until it logs (at info) that it is serving.
 * Its metrics endpoint takes a free port too (the default). With SERVER_CPU_PROF_DIR set, the
 * server writes a V8 CPU profile there on exit.
 */
export async function spawnServer(args: string[], options: SpawnOptions = {}): Promise<ServerProcess> {
  const server = spawnSluice(["serve", "--listen", "127.0.0.1:0", ...args], options);
  try {
    const ready = await server.waitForLog("sluice is serving", options.readyTimeoutMs);
    return { ...server, address: String(ready.address) };
  } catch (error) {
    server.child.kill("SIGKILL");
    throw error;
  }
}

/** Stops a server process with SIGTERM and resolves with its exit code. */
export async function stopServer(server: SluiceProcess): Promise<number | null> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGTERM");
  return server.exited;
}
