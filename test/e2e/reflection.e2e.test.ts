/**
 * The grpcurl-style path: the README's "Debugging with grpcurl and buf curl" commands, run as
 * written (the address aside) against a real server, through server reflection only; and
 * reflection turned off by config, where only the commands that bring the protos work.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buf, goBinary, goMissing, repositoryRoot as root, skipWithoutToolchain } from "../support/client-toolchains.js";
import { type ServerProcess, spawnServer, stopServer } from "../support/server-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const README_ADDRESS = "127.0.0.1:50051";

// grpcurl is built from its pinned module (clients/go/tools/grpcurl) where Go is installed; without
// Go its checks print one line and skip, unless REQUIRE_CLIENT_TESTS=1 (set by CI) makes that a failure.
const skipGrpcurl = skipWithoutToolchain("grpcurl checks of the README", goMissing());

/** One command of the README: its words after the shell's quoting, and the source text. */
interface Command {
  argv: string[];
  text: string;
}

/**
 * Splits a shell snippet into commands the way sh would for what the README uses: words, '...'
 * and "..." quotes (which may span lines), backslash-newline continuations and # comments. Anything
 * that would need a real shell (variables, substitutions, pipes) is refused, so the README cannot
 * drift into commands this test runs differently from sh.
 */
function shellCommands(snippet: string): Command[] {
  const commands: Command[] = [];
  let argv: string[] = [];
  let word: string | undefined;
  let start = 0;
  const endWord = () => {
    if (word !== undefined) argv.push(word);
    word = undefined;
  };
  const endCommand = (at: number) => {
    endWord();
    if (argv.length > 0) commands.push({ argv, text: snippet.slice(start, at).trim() });
    argv = [];
    start = at;
  };
  for (let i = 0; i < snippet.length; i++) {
    const c = snippet[i] as string;
    if (c === "'") {
      const close = snippet.indexOf("'", i + 1);
      if (close < 0) throw new Error(`unterminated ' in: ${snippet}`);
      word = (word ?? "") + snippet.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      let text = "";
      for (i++; snippet[i] !== '"'; i++) {
        if (i >= snippet.length) throw new Error(`unterminated " in: ${snippet}`);
        if (snippet[i] === "$" || snippet[i] === "`") throw new Error(`the README's commands must not need a shell: ${snippet}`);
        if (snippet[i] === "\\" && '"\\'.includes(snippet[i + 1] ?? "")) i++;
        text += snippet[i];
      }
      word = (word ?? "") + text;
    } else if (c === "\\" && snippet[i + 1] === "\n") {
      i++;
      endWord();
    } else if (c === "\n") {
      endCommand(i);
    } else if (c === " " || c === "\t") {
      endWord();
    } else if (c === "#" && word === undefined) {
      while (i + 1 < snippet.length && snippet[i + 1] !== "\n") i++;
    } else if ("$`|;&<>()".includes(c)) {
      throw new Error(`the README's commands must not need a shell (${c}): ${snippet}`);
    } else {
      word = (word ?? "") + c;
    }
  }
  endCommand(snippet.length);
  return commands;
}

/** The README's debugging section: every command of its ```sh blocks, in order. */
function readmeCommands(): Command[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Debugging with grpcurl and buf curl"));
  const body = section.slice(0, section.indexOf("\n## ", 1));
  return [...body.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => shellCommands(m[1] as string));
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one README command against `address`: `npx buf` is the repository's buf (the binary npx
 * would start) and `grpcurl` the pinned build. By default it runs from an empty directory, so no
 * command can lean on the repository's protos without saying so.
 */
function runCommand(command: Command, address: string, tools: { grpcurl?: string }, cwd?: string): Promise<Run> {
  const [program, ...rest] = command.argv.map((word) => word.replaceAll(README_ADDRESS, address));
  const argv =
    program === "npx" && rest[0] === "buf"
      ? [buf, ...rest.slice(1)]
      : program === "grpcurl" && tools.grpcurl
        ? [tools.grpcurl, ...rest]
        : [];
  if (argv.length === 0) throw new Error(`no way to run: ${command.text}`);
  return new Promise((resolve) => {
    execFile(
      argv[0] as string,
      argv.slice(1),
      { cwd: cwd ?? mkdtempSync(join(tmpdir(), "sluice-readme-")), timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const isBuf = (c: Command) => c.argv[0] === "npx";
const isGrpcurl = (c: Command) => c.argv[0] === "grpcurl";
/** The method a command calls ("ApplyEntity", "Check"), or its listing flag ("--list-methods", "list", "describe"). */
function action(c: Command): string {
  const url = c.argv.find((w) => w.includes(`${README_ADDRESS}/`) || /^[\w.]+\/\w+$/.test(w));
  if (url) return url.slice(url.lastIndexOf("/") + 1);
  return c.argv.find((w) => ["--list-services", "--list-methods", "list", "describe"].includes(w)) ?? "?";
}
/** The JSON request of a command (its -d argument). */
function requestOf(c: Command): Record<string, unknown> {
  const i = c.argv.indexOf("-d");
  return i < 0 ? {} : JSON.parse(c.argv[i + 1] as string);
}
const withSchema = (c: Command) => c.argv.includes("--schema") || c.argv.includes("-import-path");
const failsOnPurpose = (c: Command) => JSON.stringify(requestOf(c)).includes("no_such_view");

const commands = readmeCommands();
const COMMON_CALLS = [
  "ApplyEntity",
  "ApplyFeatureView",
  "GetFeatureView",
  "ListFeatureViewVersions",
  "WriteFeatureBatch",
  "GetOnlineFeatures",
  "Check",
];

/**
 * What the README's online read must answer, from the README's own write: values as written, and
 * PRESENT while the event time is within the view's 30-day TTL, OUTSIDE_MAX_AGE after that.
 */
function expectedOnlineRead(): unknown {
  const write = commands.find((c) => isBuf(c) && action(c) === "WriteFeatureBatch" && !failsOnPurpose(c));
  const rows = requestOf(write as Command).rows as Array<{ eventTime: string }>;
  const fresh = (row: { eventTime: string }) => Date.parse(row.eventTime) >= Date.now() - 30 * 86_400_000;
  const status = (row: { eventTime: string }) => (fresh(row) ? "FEATURE_STATUS_PRESENT" : "FEATURE_STATUS_OUTSIDE_MAX_AGE");
  const [one, two] = rows as [{ eventTime: string }, { eventTime: string }];
  return {
    featureNames: ["orders_30d", "spend_30d"],
    columns: [
      {
        values: [{ int64Value: "3" }, { int64Value: "1" }, {}],
        statuses: [status(one), status(two), "FEATURE_STATUS_NOT_FOUND"],
        eventTimes: [one.eventTime, two.eventTime, "1970-01-01T00:00:00Z"],
      },
      {
        values: [{ doubleValue: 12.5 }, {}, {}],
        statuses: [status(one), "FEATURE_STATUS_NULL_VALUE", "FEATURE_STATUS_NOT_FOUND"],
        eventTimes: [one.eventTime, two.eventTime, "1970-01-01T00:00:00Z"],
      },
    ],
  };
}

/**
 * Checks one tool's answer to one README command. `sent` holds the requests already sent to this
 * server: the first apply of a definition creates it and a repeat finds it UNCHANGED; the first
 * write with a write id stores its rows and a repeat is a duplicate.
 */
function checkAnswer(command: Command, run: Run, sent: Set<string>): void {
  const what = `${command.text}\n${run.stderr}`;
  if (failsOnPurpose(command)) {
    expect(run.code, what).not.toBe(0);
    const output = run.stdout + run.stderr;
    if (isGrpcurl(command)) expect(output).toMatch(/Code: NotFound[\s\S]*"reason": "FEATURE_VIEW_NOT_FOUND"/);
    else expect(output).toMatch(/"code": "not_found"[\s\S]*"type": "google.rpc.ErrorInfo"/);
    return;
  }
  expect(run.code, what).toBe(0);
  // With -v, grpcurl prints the headers and trailers around the response on stdout.
  const json = () => JSON.parse(/Response contents:\n(\{[\s\S]*?\n\})\n/.exec(run.stdout)?.[1] ?? run.stdout);
  const request = JSON.stringify(requestOf(command));
  const repeated = sent.has(request);
  sent.add(request);
  switch (action(command)) {
    case "--list-methods":
      expect(run.stdout.split("\n")).toEqual(
        expect.arrayContaining(["sluice.v1.IngestionService/WriteFeatureBatch", "sluice.v1.OnlineService/GetOnlineFeatures"]),
      );
      break;
    case "--list-services":
    case "list":
      if (command.argv.includes("sluice.v1.RegistryService")) expect(run.stdout).toContain("sluice.v1.RegistryService.ApplyFeatureView");
      else expect(run.stdout.split("\n")).toEqual(expect.arrayContaining(["sluice.v1.RegistryService", "grpc.health.v1.Health"]));
      break;
    case "describe":
      expect(run.stdout).toMatch(/sluice\.v1\.(RegistryService is a service|FeatureView is a message)/);
      break;
    case "ApplyEntity":
    case "ApplyFeatureView":
    case "ApplyEventStream":
      expect(json().outcome).toBe(repeated ? "APPLY_OUTCOME_UNCHANGED" : "APPLY_OUTCOME_CREATED");
      break;
    case "GetFeatureView":
      expect(json().featureView).toMatchObject({ name: "projects/default/featureViews/customer_stats", version: 1, ttl: "2592000s" });
      if (command.argv.includes("-v")) {
        expect(isGrpcurl(command) ? run.stdout : run.stderr).toMatch(/x-request-id: readme-1/i);
      }
      break;
    case "ListFeatureViewVersions":
      expect(json().featureViews.map((v: { version: number }) => v.version)).toEqual([1]);
      break;
    case "WriteFeatureBatch":
      // A duplicate answers with the first answer: the same counts.
      expect(json()).toMatchObject({ writeId: "readme-batch-1", acceptedCount: 2, featureViewVersion: 1 });
      expect(json().duplicate ?? false).toBe(repeated);
      expect(json().rejectedRows ?? []).toEqual([]);
      break;
    case "GetOnlineFeatures":
      if (JSON.stringify(requestOf(command)).includes("purchase_stats")) {
        // Aggregates as of the read: one purchase ever; its day-long window is empty once it is a day old.
        const [count, max] = json().columns;
        expect(count).toMatchObject({ values: [{ int64Value: "1" }], statuses: ["FEATURE_STATUS_PRESENT"] });
        const fresh = Date.parse("2026-11-20T12:00:00Z") >= Date.now() - 86_400_000;
        expect(max.values).toEqual([fresh ? { doubleValue: 42.5 } : {}]);
      } else expect(json()).toMatchObject(expectedOnlineRead() as object);
      break;
    case "WriteEventBatch":
      expect(json()).toMatchObject({ writeId: "readme-events-1", acceptedCount: 1, eventStreamVersion: 1 });
      expect(json().duplicate ?? false).toBe(repeated);
      break;
    case "GetEventStreamStatus":
      expect(json()).toMatchObject({
        eventStreamVersion: 1,
        eventCount: "1",
        sources: [expect.objectContaining({ source: "api", eventCount: "1" })],
      });
      break;
    case "Check":
      expect(json()).toEqual({ status: "SERVING" });
      break;
    case "ServerReady":
      expect(json()).toEqual({ ready: true });
      break;
    default:
      throw new Error(`the test does not know how to check: ${command.text}`);
  }
}

let grpcurl: string | undefined;
/** The server with reflection on, in this process. */
let t: TestServer;

/** Server processes with reflection turned off through `how` (their environment or their arguments). */
const withoutReflection: Array<Promise<ServerProcess>> = [];
let offByEnvironment: Promise<ServerProcess>;
let offByConfigFile: Promise<ServerProcess>;

function serverWithoutReflection(how: { env?: Record<string, string>; args?: string[] }): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-noreflect-"));
  const server = spawnServer(["--data-dir", dataDir, ...(how.args ?? [])], { env: how.env });
  // Awaited by its test; until then a failed start must not count as an unhandled rejection.
  server.catch(() => {});
  withoutReflection.push(server);
  return server;
}

beforeAll(async () => {
  // Everything the tests need starts at once: the server processes take seconds each, mostly
  // waiting, and the first grpcurl build compiles it and its dependencies (about 40 s on a fresh
  // machine; later builds come from Go's cache, and an unchanged binary is not linked again).
  offByEnvironment = serverWithoutReflection({ env: { SLUICE_REFLECTION: "false" } });
  const file = join(mkdtempSync(join(tmpdir(), "sluice-config-")), "sluice.yaml");
  writeFileSync(file, "reflection: false\n");
  offByConfigFile = serverWithoutReflection({ args: ["--config", file] });
  [t, grpcurl] = await Promise.all([
    startTestServer(),
    skipGrpcurl ? undefined : goBinary("clients/go/tools/grpcurl", "github.com/fullstorydev/grpcurl/cmd/grpcurl"),
  ]);
}, 300_000);

afterAll(async () => {
  await t?.stop();
  await Promise.allSettled(withoutReflection.map(async (server) => stopServer(await server)));
});

describe("the README's debugging commands, through server reflection", () => {
  const sent = new Set<string>();

  it("show every common call for both tools", () => {
    const covered = (tool: (c: Command) => boolean) => new Set(commands.filter(tool).map(action));
    for (const call of [...COMMON_CALLS, "--list-services", "--list-methods"]) expect(covered(isBuf)).toContain(call);
    for (const call of [...COMMON_CALLS, "list", "describe"]) expect(covered(isGrpcurl)).toContain(call);
    expect(commands.filter((c) => !isBuf(c) && !isGrpcurl(c)).map((c) => c.text)).toEqual([]);
  });

  it("work with buf curl as written: list, apply, write (WriteFeatureBatch), read online (GetOnlineFeatures), health, errors", async () => {
    for (const command of commands.filter((c) => isBuf(c) && !withSchema(c))) {
      checkAnswer(command, await runCommand(command, t.server.address, {}), sent);
    }
  });

  it.skipIf(skipGrpcurl)("work with grpcurl as written, against the same server", async () => {
    for (const command of commands.filter((c) => isGrpcurl(c) && !withSchema(c))) {
      checkAnswer(command, await runCommand(command, t.server.address, { grpcurl }), sent);
    }
  });
});

describe("with reflection turned off", () => {
  it("is off with SLUICE_REFLECTION=false: listing fails, and the README's commands that bring the protos work", async () => {
    const server = await offByEnvironment;
    const list = commands.find((c) => isBuf(c) && action(c) === "--list-methods" && !withSchema(c)) as Command;
    const grpcurlList = commands.find((c) => isGrpcurl(c) && action(c) === "list") as Command;
    // Both refusals at once: they only read.
    const [refused, grpcurlRefused] = await Promise.all([
      runCommand(list, server.address, {}),
      grpcurl ? runCommand(grpcurlList, server.address, { grpcurl }) : undefined,
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/reflection|unimplemented/i);
    if (grpcurlRefused) {
      expect(grpcurlRefused.code).not.toBe(0);
      expect(grpcurlRefused.stdout + grpcurlRefused.stderr).toMatch(/does not support the reflection API|Unimplemented/);
    }

    // The README's ApplyEntity and ApplyFeatureView, sent with the protos, then its schema-bound calls.
    for (const call of ["ApplyEntity", "ApplyFeatureView"]) {
      const command = commands.find((c) => isBuf(c) && action(c) === call) as Command;
      const withProtos = { ...command, argv: [...command.argv.slice(0, 3), "--schema", "proto", ...command.argv.slice(3)] };
      expect((await runCommand(withProtos, server.address, {}, root)).code).toBe(0);
    }
    const schemaBound = commands.filter(withSchema).filter((c) => grpcurl || isBuf(c));
    expect(schemaBound.length).toBeGreaterThanOrEqual(grpcurl ? 3 : 2);
    for (const command of schemaBound) {
      const run = await runCommand(command, server.address, { grpcurl }, root);
      expect(run.code, `${command.text}\n${run.stderr}`).toBe(0);
      if (action(command) === "--list-methods") expect(run.stdout).toContain("sluice.v1.OnlineService/GetOnlineFeatures");
      else expect(JSON.parse(run.stdout).featureView).toMatchObject({ name: "projects/default/featureViews/customer_stats", version: 1 });
    }
  });

  it("is off with `reflection: false` in a config file", async () => {
    const server = await offByConfigFile;
    const list = commands.find((c) => isBuf(c) && action(c) === "--list-services" && !withSchema(c)) as Command;
    const refused = await runCommand(list, server.address, {});
    expect(refused.code).not.toBe(0);
    // Everything else still answers: health, over the same port.
    const health = commands.find((c) => isBuf(c) && action(c) === "Check") as Command;
    const withProtos = { ...health, argv: [...health.argv.slice(0, 3), "--schema", "proto", ...health.argv.slice(3)] };
    const answer = await runCommand(withProtos, server.address, {}, root);
    expect(answer.code, answer.stderr).toBe(0);
    expect(JSON.parse(answer.stdout)).toEqual({ status: "SERVING" });
  });
});
