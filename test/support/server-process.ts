/** A Sluice server in a child process, for tests that kill it or send it signals. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

const root = join(import.meta.dirname, "../..");

/** A running server process and the address it logged. */
export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  address: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** How to start the server process. */
export interface SpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Run the compiled build (`npm run build`) as production does, rather than the sources through
   * tsx, whose transpiler would add its own memory and start-up time to measurements.
   */
  built?: boolean;
}

/**
 * Starts `sluice serve` on a free port and waits until it logs (at info) that it is serving.
 * With SERVER_CPU_PROF_DIR set, the server writes a V8 CPU profile there on exit.
 */
export async function spawnServer(args: string[], { env = {}, built = false }: SpawnOptions = {}): Promise<ServerProcess> {
  const profileDir = process.env.SERVER_CPU_PROF_DIR;
  const profiling = profileDir
    ? [
        "--cpu-prof",
        "--cpu-prof-dir",
        profileDir,
        ...(process.env.SERVER_CPU_PROF_INTERVAL ? ["--cpu-prof-interval", process.env.SERVER_CPU_PROF_INTERVAL] : []),
      ]
    : [];
  // The build runs with the heap cap its shebang and the Dockerfile give it (README: "Memory").
  const entry = built
    ? ["--max-old-space-size=1024", join(root, "dist/src/cli/main.js")]
    : ["--import", "tsx", join(root, "src/cli/main.ts")];
  const child = spawn(process.execPath, [...profiling, ...entry, "serve", "--listen", "127.0.0.1:0", ...args], {
    cwd: root,
    // Servers run side by side: each gets a free metrics port unless the caller says otherwise.
    env: { SLUICE_METRICS_LISTEN: "127.0.0.1:0", ...process.env, ...env },
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const entry = JSON.parse(line) as { msg?: string; address?: string };
      if (entry.msg === "sluice is serving" && entry.address) resolve(entry.address);
    });
    exited.then((code) => reject(new Error(`server exited with ${code} before serving: ${stderr}`)));
  });
  return { child, address, exited };
}
