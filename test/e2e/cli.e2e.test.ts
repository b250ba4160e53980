/** The `sluice` command as a user runs it: the built bin, a real process, real signals. */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { beforeAll, describe, expect, it } from "vitest";
import { SluiceClient } from "../../clients/typescript/src/index.js";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "dist/src/cli/main.js");

beforeAll(() => {
  // `npm test` builds first; this keeps `npx vitest` on its own working too.
  if (!existsSync(bin)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
}, 120_000);

function sluice(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [bin, ...args], { cwd: mkdtempSync(join(tmpdir(), "sluice-cli-")), env: { ...process.env, ...env } });
}

/** Collects the JSON log lines of a server process and resolves when one matches. */
function logLines(child: ChildProcessWithoutNullStreams) {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout }).on("line", (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const w of waiters.filter((w) => w.match(line))) w.resolve(line);
  });
  return {
    lines,
    waitFor: (msg: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const found = lines.find((l) => l.msg === msg);
        if (found) resolve(found);
        else waiters.push({ match: (l) => l.msg === msg, resolve });
      }),
  };
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stderr })));
}

describe("sluice serve", () => {
  it("serves on the address it logs, with structured logs, and stops cleanly on SIGTERM", async () => {
    const child = sluice(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"]);
    const exited = exitOf(child);
    const logs = logLines(child);
    const ready = await logs.waitFor("sluice is serving");
    expect(ready).toMatchObject({ level: "info", service: "sluice", registry: "lmdb", reflection: true });
    const client = await SluiceClient.connect({ address: String(ready.address) });
    await client.applyEntity({ name: "customer", joinKeys: [{ name: "id", type: "int64" }] });
    expect(await client.isServing()).toBe(true);
    client.close();
    const health = sluice(["health", "--address", String(ready.address)]);
    let healthOut = "";
    health.stdout.on("data", (chunk) => {
      healthOut += chunk;
    });
    expect((await exitOf(health)).code).toBe(0);
    expect(healthOut.trim()).toBe("SERVING");

    child.kill("SIGTERM");
    const { code } = await exited;
    expect(code).toBe(0);
    expect(logs.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["signal received", "sluice stopped"]));
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["an unknown environment variable", [], { SLUICE_LISTN: "1.2.3.4:5" }, /SLUICE_LISTN/],
    ["an unknown --set key", ["--set", "grpc.bogus=1"], {}, /"grpc.bogus"/],
    ["an invalid value", ["--set", "grpc.maxSendMessageBytes=-5"], {}, /"grpc.maxSendMessageBytes"/],
    ["a bad listen address", ["--listen", "nowhere"], {}, /"listen"/],
  ])("refuses to start on %s, naming it", async (_label, args, env, message) => {
    const child = sluice(["serve", ...args], env);
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it("checks a config without serving", async () => {
    const child = sluice(["serve", "--check-config", "--set", "grpc.shutdownGraceMs=1234"]);
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    const { code } = await exitOf(child);
    expect(code).toBe(0);
    expect(stdout).toContain('"shutdownGraceMs": 1234');
    expect(stdout).toContain("configuration is valid");
  });
});

describe("sluice health", () => {
  it("exits non-zero when nothing answers", async () => {
    const { code, stderr } = await exitOf(sluice(["health", "--address", "127.0.0.1:1", "--timeout-ms", "500"]));
    expect(code).not.toBe(0);
    expect(stderr).toContain("sluice:");
  });
});

describe("sluice demo", () => {
  it("tells the whole story and exits 0", async () => {
    const child = sluice(["demo"]);
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    const { code, stderr } = await exitOf(child);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("APPLY_OUTCOME_NEW_VERSION (COMPATIBILITY_BREAKING) -> version 3");
    expect(stdout).toContain("Done.");
  });
});
