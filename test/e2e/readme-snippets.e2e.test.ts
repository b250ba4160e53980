/**
 * Every code block of README.md, run as written against one real server (127.0.0.1:0), in README order, so that a
 * block can build on the blocks before it (a definition applied before a write). Only the address changes: the
 * README's `127.0.0.1:50051` becomes the test server's.
 *
 * What happens to a fenced block depends on its language:
 * - `ts`: saved to a temporary file whose import of "./clients/typescript/src/index.js" points into this checkout,
 *   and run with tsx in a child process, as `npx tsx quickstart.ts` runs it from the repository root. It must exit 0.
 * - `python`: run with python3 and this checkout's client package; it must exit 0. It needs grpcio and pyarrow: without
 *   them the Python blocks are skipped with one line saying why, unless REQUIRE_CLIENT_TESTS=1 (as in
 *   test/e2e/clients.e2e.test.ts).
 * - `sql`: the README's SQL is spine SQL, so it runs as the `offline_spine.sql` of `GetHistoricalFeatures`.
 * - `yaml`: a config file, loaded and validated as `--config` loads it.
 * - `sh`: run with `sh -e` from the repository root. The blocks of "Debugging with grpcurl and buf curl" are left to
 *   test/e2e/reflection.e2e.test.ts, which runs every command in them.
 * - no language: text (name patterns, the project layout), not run.
 * Any other language fails the test, so that a new kind of block gets a decision.
 *
 * A marker on the line right before a fence changes that:
 * - `<!-- snippet: skip (reason) -->`: not run, for blocks that cannot be (a server that runs until stopped, an
 *   install into the reader's environment). The reason is required, and the test lists the block as skipped.
 * - `<!-- snippet: setup=NAME -->`: runs SETUPS[NAME] (below) first, for a block that reads state the README does not
 *   create before it. The setup also says what the block must produce.
 * An unmarked block in a runnable language fails the test if the test cannot run it.
 *
 * The file also checks that the configuration table lists every key of src/config/config.ts with its default and
 * its environment variable.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SluiceClient } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG, envName, loadConfig } from "../../src/config/config.js";
import {
  pyarrowInstalled,
  python,
  pythonClientMissing,
  pythonEnv,
  repositoryRoot as root,
  skipWithoutToolchain,
} from "../support/client-toolchains.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const README = join(root, "README.md");
const README_ADDRESS = "127.0.0.1:50051";
const SDK_IMPORT = "./clients/typescript/src/index.js";
/** The section whose commands test/e2e/reflection.e2e.test.ts runs. */
const REFLECTION_SECTION = "## Debugging with grpcurl and buf curl";
const RUNNABLE = ["ts", "python", "sql", "yaml", "sh"] as const;
type Language = (typeof RUNNABLE)[number];

/** One fenced block of the README. */
interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  code: string;
  /** The level-2 heading it is under. */
  section: string;
  skip?: string;
  setup?: string;
}

/** The fenced blocks of a Markdown text, with their markers; throws on a malformed marker or an unclosed fence. */
function snippetsOf(markdown: string): Snippet[] {
  const lines = markdown.split("\n");
  const snippets: Snippet[] = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith("## ")) section = line;
    const open = /^```(\S*)\s*$/.exec(line);
    if (!open) continue;
    const close = lines.findIndex((l, j) => j > i && l.startsWith("```"));
    if (close < 0) throw new Error(`README.md:${i + 1}: the fence is never closed`);
    const snippet: Snippet = { line: i + 1, language: open[1] ?? "", code: `${lines.slice(i + 1, close).join("\n")}\n`, section };
    const previous = lines[i - 1] ?? "";
    if (previous.startsWith("<!-- snippet")) {
      const marker = /^<!-- snippet: (?:skip \((.+)\)|setup=([\w-]+)) -->$/.exec(previous);
      if (!marker) throw new Error(`README.md:${i}: malformed marker ${previous}; use "skip (reason)" or "setup=NAME"`);
      snippet.skip = marker[1];
      snippet.setup = marker[2];
    }
    snippets.push(snippet);
    i = close;
  }
  return snippets;
}

/** What a setup leaves for its block: the features a SQL spine is joined with, and how many rows it must give. */
interface SetupResult {
  features?: string[];
  minRows?: number;
}

/**
 * State that a block reads but the README does not create before it. Each setup works in views of its own, so it
 * never changes what the README's own blocks apply and read.
 */
const SETUPS: Record<string, (client: SluiceClient) => Promise<SetupResult>> = {
  /** The prediction log holds predictions of endpoint `churn` for customers 1 to 3 (the demo's churn model). */
  "prediction-log": async (client) => {
    await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    const features = ["orders_30d", "spend_30d", "refunds_30d"];
    await client.applyFeatureView({
      name: "snippet_setup_stats",
      entity: "customer",
      features: features.map((name) => ({ name, type: name === "spend_30d" ? "double" : "int64" })),
    });
    await client.writeFeatureBatch({
      featureView: "snippet_setup_stats",
      rows: [1n, 2n, 3n].map((id) => ({
        entityKey: { customer_id: id },
        eventTime: new Date(Date.now() - 60_000),
        features: { orders_30d: id, spend_30d: Number(id) * 10, refunds_30d: 0n },
      })),
    });
    await client.uploadModel({
      model: "churn",
      file: join(root, "src/cli/demo-models/churn-v1.onnx"),
      bindings: [{ input: "features", features: features.map((f) => `snippet_setup_stats@1:${f}`) }],
    });
    await client.applyDeployment({ endpoint: "churn", stable: "churn@1" });
    for (const id of [1n, 2n, 3n]) await client.predict({ endpoint: "churn", entities: { customer_id: [id] } });
    return { features: ["snippet_setup_stats:orders_30d"], minRows: 3 };
  },
};

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? root, env: options.env ?? process.env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

function expectSuccess(snippet: Snippet, outcome: Outcome): void {
  expect(outcome.code, `README.md:${snippet.line} failed:\n${snippet.code}\nstdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`).toBe(
    0,
  );
}

/** The environment of a child process: none of the caller's SLUICE_* settings, which would change what a command does. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SLUICE_")));
  // npx must find the repository's own `sluice` bin, never fetch a package of that name.
  return { ...env, npm_config_offline: "true" };
}

const snippets = snippetsOf(readFileSync(README, "utf8"));
const isRunnable = (language: string): language is Language => (RUNNABLE as readonly string[]).includes(language);
const leftToReflectionTest = (s: Snippet) => s.language === "sh" && s.section === REFLECTION_SECTION;
// Decided once, at collection: a missing Python toolchain is one line and a skip (a failure under REQUIRE_CLIENT_TESTS=1).
const pythonMissing = snippets.some((s) => s.language === "python" && !s.skip)
  ? (pythonClientMissing() ?? (pyarrowInstalled() ? undefined : "pyarrow is not installed (pip install -e 'clients/python[arrow]')"))
  : undefined;
const skipPython = skipWithoutToolchain("Python snippets of the README", pythonMissing);

let t: TestServer;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "sluice-readme-snippets-"));
  // The README's `npx sluice` is the built bin; `npm test` builds first, this keeps `npx vitest` on its own working.
  if (snippets.some((s) => s.language === "sh" && !s.skip && !leftToReflectionTest(s) && s.code.includes("npx sluice"))) {
    if (!existsSync(join(root, "dist/src/cli/main.js"))) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  }
  // Predictions reach the offline log within 100 ms, so the prediction-log setup need not wait long.
  t = await startTestServer({ serving: { ...DEFAULT_CONFIG.serving, predictionLogFlushMs: 100 } });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the README's code blocks", () => {
  it("are each runnable here, marked, or left to reflection.e2e.test.ts", () => {
    const problems: string[] = [];
    for (const s of snippets) {
      const where = `README.md:${s.line} (\`\`\`${s.language})`;
      if (s.language === "" && (s.skip || s.setup)) problems.push(`${where}: a text block needs no marker`);
      else if (s.language !== "" && !isRunnable(s.language))
        problems.push(`${where}: this test cannot run ${s.language}; mark it <!-- snippet: skip (reason) --> or teach the test`);
      if (s.setup && !SETUPS[s.setup]) problems.push(`${where}: unknown setup "${s.setup}"; known: ${Object.keys(SETUPS).join(", ")}`);
      if (leftToReflectionTest(s) && (s.skip || s.setup)) problems.push(`${where}: reflection.e2e.test.ts runs it; remove the marker`);
    }
    expect(problems).toEqual([]);
    // The blocks that must run are there (a parsing slip would otherwise pass by running nothing).
    expect(snippets.filter((s) => s.language === "ts" && !s.skip).length).toBeGreaterThan(0);
    expect(snippets.filter((s) => s.language === "python" && !s.skip).length).toBeGreaterThan(0);
  });

  for (const s of snippets) {
    const title = `README.md:${s.line} \`\`\`${s.language}${s.setup ? ` after setup ${s.setup}` : ""}`;
    if (s.language === "" || !isRunnable(s.language) || leftToReflectionTest(s)) continue;
    if (s.skip) {
      it.skip(`${title}: ${s.skip}`, () => {});
      continue;
    }
    if (s.language === "python" && skipPython) {
      it.skip(`${title}: no Python client toolchain`, () => {});
      continue;
    }
    it(title, async () => {
      const setup = s.setup ? await (SETUPS[s.setup] as (client: SluiceClient) => Promise<SetupResult>)(t.client) : {};
      const code = s.code.replaceAll(README_ADDRESS, t.server.address);
      switch (s.language as Language) {
        case "ts": {
          expect(code, `README.md:${s.line} must import the SDK as ${SDK_IMPORT} (the file sits at the repository root)`).toContain(
            `from "${SDK_IMPORT}"`,
          );
          const file = join(scratch, `readme-${s.line}.mts`);
          writeFileSync(file, code.replaceAll(SDK_IMPORT, pathToFileURL(join(root, "clients/typescript/src/index.ts")).href));
          expectSuccess(s, await run(process.execPath, ["--import", "tsx", file]));
          break;
        }
        case "python": {
          const file = join(scratch, `readme-${s.line}.py`);
          writeFileSync(file, code);
          expectSuccess(s, await run(python, [file], { env: pythonEnv }));
          break;
        }
        case "sql":
          await expectSpineRows(s, code, setup);
          break;
        case "yaml": {
          const file = join(scratch, `readme-${s.line}.yaml`);
          writeFileSync(file, code);
          expect(() => loadConfig({ file, env: {} }), `README.md:${s.line}`).not.toThrow();
          break;
        }
        case "sh":
          expectSuccess(s, await run("sh", ["-e", "-c", code], { env: cleanEnv() }));
          break;
      }
    }, 60_000);
  }
});

/**
 * Runs SQL as a training spine joined with the setup's features. The prediction log is written off the response
 * path, so the rows the setup promises may take a moment: the query is retried for up to 10 s.
 */
async function expectSpineRows(s: Snippet, sql: string, setup: SetupResult): Promise<void> {
  if (!setup.features) throw new Error(`README.md:${s.line}: a sql block needs a setup that names the features to join`);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const rows = [];
      for await (const row of t.client.getHistoricalRows({ features: setup.features, spine: { sql } })) rows.push(row);
      if (rows.length >= (setup.minRows ?? 0)) return;
      if (Date.now() > deadline) expect(rows.length, `README.md:${s.line}: rows of the spine`).toBeGreaterThanOrEqual(setup.minRows ?? 0);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the README's configuration table", () => {
  /** Every leaf key of the defaults ("grpc.maxSendMessageBytes") with its default. */
  function leaves(value: object, prefix = ""): Array<[string, unknown]> {
    return Object.entries(value).flatMap(([key, child]) =>
      child !== null && typeof child === "object" && !Array.isArray(child)
        ? leaves(child, `${prefix}${key}.`)
        : [[`${prefix}${key}`, child]],
    );
  }

  it("lists every configuration key, with its default and environment variable", () => {
    const readme = readFileSync(README, "utf8");
    const section = readme.slice(readme.indexOf("### Configuration"));
    const rows = new Map<string, { defaultCell: string; env: string }>();
    for (const line of section.slice(0, section.indexOf("\n#")).split("\n")) {
      const cells = line.split("|").map((c) => c.trim());
      const key = /^`([\w.]+)`$/.exec(cells[1] ?? "")?.[1];
      if (key) rows.set(key, { defaultCell: cells[2] ?? "", env: cells[3] ?? "" });
    }
    const expected = leaves(DEFAULT_CONFIG);
    expect([...rows.keys()].sort()).toEqual(expected.map(([key]) => key).sort());
    for (const [key, value] of expected) {
      const shown = value === "" ? "(empty)" : `\`${Array.isArray(value) ? JSON.stringify(value) : String(value)}\``;
      // A default may be followed by a gloss, as in "`2147483648` (2 GiB)".
      expect(
        rows.get(key)?.defaultCell.startsWith(shown),
        `default of ${key}: README says ${rows.get(key)?.defaultCell}, config.ts ${shown}`,
      ).toBe(true);
      expect(rows.get(key)?.env, `environment variable of ${key}`).toBe(`\`${envName(key)}\``);
    }
  });
});
