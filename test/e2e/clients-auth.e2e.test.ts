/**
 * The three clients' credential options against real servers with authentication on: the
 * TypeScript SDK in this process, and the Python and Go `connect` examples
 * (clients/python/examples/connect.py, clients/go/examples/connect) as a user runs them, as child
 * processes. Each scenario runs in all three languages and must give the same lines: ListProjects
 * and WhoAmI with an API key, a JWT and a client certificate, and UNAUTHENTICATED without
 * credentials or with a wrong key.
 *
 * Two servers: one in plaintext (API keys, JWTs from a JWKS file), one on TLS with a test CA
 * (test/support/certs.ts) that also takes client certificates (mutual TLS, principal = subject CN).
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClient, SluiceClientError, type SluiceClientOptions } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG, type SluiceConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/logging/logger.js";
import { type RunningServer, startServer } from "../../src/server/sluice-server.js";
import { createTestPki, type TestPki } from "../support/certs.js";
import {
  goBinary,
  goMissing,
  python,
  pythonClientMissing,
  pythonEnv,
  repositoryRoot,
  skipWithoutToolchain,
} from "../support/client-toolchains.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

const skipPython = skipWithoutToolchain("Python client auth test", pythonClientMissing());
const skipGo = skipWithoutToolchain("Go client auth test", goMissing());

/** The bootstrap key of both servers: a server admin. Only its SHA-256 is in the config. */
const KEY = `sk_clients_auth_${randomBytes(16).toString("hex")}`;
const PRINCIPAL = "clients-e2e";
const PROJECT = "clients_auth";
/** The role of the client certificate's CN (by a binding) and of the JWT's subject (by its claim). */
const VIEWER_ROLE = `${PROJECT}:viewer`;
const ISSUER = "https://idp.example";
const AUDIENCE = "sluice";

/** What one language printed for one scenario. */
interface Outcome {
  code: number;
  stdout: string[];
  /** "ERROR <CODE>" of a failed run, without the message. */
  error: string;
}

/** How one scenario connects: the flags of the connect examples, and the same as TypeScript options. */
interface Connect {
  server: "plain" | "tls";
  flags: string[];
  options: Omit<SluiceClientOptions, "address">;
  /** Extra environment of the example processes. */
  env?: Record<string, string>;
}

let plain: RunningServer;
let dataDirs: string[] = [];
let pki: TestPki;
let jwt: string;
let tlsServer: ServerProcess | undefined;
let tlsStartError: unknown;
let goConnect: Promise<string> | undefined;

/** The environment of the example processes, without credentials of the machine running the tests. */
const exampleEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...pythonEnv, ...extra };
  if (!("SLUICE_API_KEY" in extra)) delete env.SLUICE_API_KEY;
  if (!("SLUICE_TOKEN" in extra)) delete env.SLUICE_TOKEN;
  return env;
};

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: repositoryRoot, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout: stdout.trimEnd().split("\n").filter(Boolean), error: /^ERROR \S+/m.exec(stderr)?.[0] ?? stderr.trim() });
    });
  });
}

function addressOf(server: Connect["server"]): string {
  if (server === "plain") return plain.address;
  if (!tlsServer) throw new Error(`the TLS server did not start: ${String(tlsStartError)}`);
  return tlsServer.address;
}

/** The connect examples' lines, from the TypeScript SDK. */
async function viaTypeScript(connect: Connect): Promise<Outcome> {
  let client: SluiceClient | undefined;
  const stdout: string[] = [];
  try {
    client = new SluiceClient({ address: addressOf(connect.server), deadlineMs: 10_000, ...connect.options });
    const c = client;
    const listed = await new Promise<string[]>((resolve, reject) =>
      // A generated stub's own call, not a wrapper: the credentials are on the channel.
      c.registry.listProjects({ pageSize: 0, pageToken: "" }, (error, response) =>
        error ? reject(error) : resolve(response.projects.map((p) => p.name)),
      ),
    );
    stdout.push(`projects: ${listed.join(", ") || "(none)"}`);
    const me = await client.whoAmI();
    const roles = me.roles.map((r) => `${r.project}:${r.role}`).join(" ");
    stdout.push(`whoami: ${me.principal} (${me.authentication}) roles ${roles || "(none)"}`, "ok");
    return { code: 0, stdout, error: "" };
  } catch (error) {
    // Wrapper calls throw SluiceClientError; the stub's call, a grpc-js ServiceError.
    const code = error instanceof SluiceClientError ? error.code : (error as { code?: unknown }).code;
    return { code: 1, stdout, error: typeof code === "number" ? `ERROR ${status[code]}` : `ERROR ${String(error)}` };
  } finally {
    client?.close();
  }
}

async function viaPython(connect: Connect): Promise<Outcome> {
  const example = join(repositoryRoot, "clients/python/examples/connect.py");
  return run(python, [example, "--address", addressOf(connect.server), ...connect.flags], exampleEnv(connect.env));
}

async function viaGo(connect: Connect): Promise<Outcome> {
  const binary = await (goConnect as Promise<string>);
  return run(binary, ["--address", addressOf(connect.server), ...connect.flags], exampleEnv(connect.env));
}

const LANGUAGES = [
  { name: "TypeScript", skip: false, connect: viaTypeScript },
  { name: "Python", skip: skipPython, connect: viaPython },
  { name: "Go", skip: skipGo, connect: viaGo },
];

function serverConfig(overrides: Partial<SluiceConfig>): SluiceConfig {
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-clients-auth-"));
  dataDirs.push(dataDir);
  return { ...DEFAULT_CONFIG, listen: "127.0.0.1:0", logLevel: "silent", dataDir, ...overrides };
}

beforeAll(async () => {
  if (!skipGo) {
    goConnect = goBinary("clients/go", "./examples/connect");
    goConnect.catch(() => {}); // awaited, and reported, by the Go tests
  }
  // The config holds the hex SHA-256 of the key, computed here as an operator would.
  const keyHash = createHash("sha256").update(KEY).digest("hex");

  // A JWKS file with one ES256 key, and a token it signs for a viewer of PROJECT.
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwks = join(mkdtempSync(join(tmpdir(), "sluice-clients-jwks-")), "jwks.json");
  dataDirs.push(join(jwks, ".."));
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }));
  jwt = await new SignJWT({ sluice_roles: [VIEWER_ROLE] })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setSubject("jwt-user")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("30m")
    .sign(privateKey);

  const auth: SluiceConfig["auth"] = {
    ...DEFAULT_CONFIG.auth,
    enabled: true,
    apiKeys: [{ principal: PRINCIPAL, sha256: keyHash, roles: ["*:admin"] }],
    // The JWT carries its roles in a claim; the certificate's principal needs a binding.
    bindings: [{ principal: "alice", roles: [VIEWER_ROLE] }],
    jwt: { ...DEFAULT_CONFIG.auth.jwt, jwksFile: jwks, issuer: ISSUER, audience: AUDIENCE },
  };
  plain = await startServer(serverConfig({ auth }), createLogger("silent"));
  const admin = new SluiceClient({ address: plain.address, apiKey: KEY, deadlineMs: 10_000 });
  try {
    await admin.createProject(PROJECT);
  } finally {
    admin.close();
  }

  // The TLS server runs in a process of its own: chDB opens one data dir per process.
  pki = createTestPki();
  try {
    const tls = {
      ...DEFAULT_CONFIG.tls,
      certFile: pki.server.certFile,
      keyFile: pki.server.keyFile,
      clientCaFile: pki.ca.root.certFile,
      requireClientCert: false,
    };
    const configFile = join(pki.dir, "sluice-tls.json");
    writeFileSync(configFile, JSON.stringify({ logLevel: "info", auth, tls }));
    const dataDir = mkdtempSync(join(tmpdir(), "sluice-clients-auth-tls-"));
    dataDirs.push(dataDir);
    tlsServer = await spawnServer(["--config", configFile, "--data-dir", dataDir]);
    const tlsAdmin = new SluiceClient({
      address: tlsServer.address,
      apiKey: KEY,
      tls: { caFile: pki.ca.root.certFile },
      deadlineMs: 10_000,
    });
    try {
      await tlsAdmin.createProject(PROJECT);
    } finally {
      tlsAdmin.close();
    }
  } catch (error) {
    // Reported by each TLS test, so the plaintext ones still run.
    tlsStartError = error;
  }
}, 300_000);

afterAll(async () => {
  if (tlsServer) {
    tlsServer.child.kill("SIGTERM");
    await tlsServer.exited;
  }
  await plain?.shutdown();
  pki?.remove();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  dataDirs = [];
});

/** The lines of a successful run: the projects the caller sees, then who it is. */
const success = (projects: string, whoami: string) => ({
  code: 0,
  stdout: [`projects: ${projects}`, `whoami: ${whoami}`, "ok"],
  error: "",
});
const failure = (code: "UNAUTHENTICATED" | "UNAVAILABLE") => ({ code: 1, stdout: [], error: `ERROR ${code}` });

/** Every scenario, run in every language: the outcome each must give. */
const SCENARIOS: Array<{ name: string; connect: () => Connect; expected: () => Outcome | ((o: Outcome) => void) }> = [
  {
    name: "without credentials: UNAUTHENTICATED",
    connect: () => ({ server: "plain", flags: [], options: {} }),
    expected: () => failure("UNAUTHENTICATED"),
  },
  {
    name: "with a wrong API key: UNAUTHENTICATED",
    connect: () => ({ server: "plain", flags: ["--api-key", "sk_wrong"], options: { apiKey: "sk_wrong" } }),
    expected: () => failure("UNAUTHENTICATED"),
  },
  {
    name: "with the API key: its principal, a server admin, sees every project",
    connect: () => ({ server: "plain", flags: ["--api-key", KEY], options: { apiKey: KEY } }),
    expected: () => (outcome: Outcome) => {
      expect(outcome.error).toBe("");
      expect(outcome.stdout[0]).toMatch(new RegExp(`^projects: (.*, )?projects/${PROJECT}(, |$)`));
      expect(outcome.stdout.slice(1)).toEqual([`whoami: ${PRINCIPAL} (api_key) roles *:admin`, "ok"]);
    },
  },
  {
    name: "with the API key from SLUICE_API_KEY (the examples' default)",
    connect: () => ({ server: "plain", flags: [], options: { apiKey: KEY }, env: { SLUICE_API_KEY: KEY } }),
    expected: () => (outcome: Outcome) => expect(outcome.stdout.slice(1)).toEqual([`whoami: ${PRINCIPAL} (api_key) roles *:admin`, "ok"]),
  },
  {
    name: "with a JWT (TypeScript: from a token provider): the token's subject and roles",
    connect: () => ({ server: "plain", flags: ["--token", jwt], options: { token: async () => jwt } }),
    expected: () => success(`projects/${PROJECT}`, `jwt-user (jwt) roles ${VIEWER_ROLE}`),
  },
  {
    name: "over TLS with the CA bundle and the API key",
    connect: () => ({
      server: "tls",
      flags: ["--ca-file", pki.ca.root.certFile, "--api-key", KEY],
      options: { tls: { caFile: pki.ca.root.certFile }, apiKey: KEY },
    }),
    expected: () => (outcome: Outcome) => {
      expect(outcome.error).toBe("");
      expect(outcome.stdout.slice(1)).toEqual([`whoami: ${PRINCIPAL} (api_key) roles *:admin`, "ok"]);
    },
  },
  {
    name: "over mutual TLS with a client certificate: its CN, alice, and her binding",
    connect: () => ({
      server: "tls",
      flags: ["--ca-file", pki.ca.root.certFile, "--cert-file", pki.alice.certFile, "--key-file", pki.alice.keyFile],
      options: { tls: { caFile: pki.ca.root.certFile, certFile: pki.alice.certFile, keyFile: pki.alice.keyFile } },
    }),
    expected: () => success(`projects/${PROJECT}`, `alice (mtls) roles ${VIEWER_ROLE}`),
  },
  {
    name: "over TLS without credentials: UNAUTHENTICATED",
    connect: () => ({ server: "tls", flags: ["--ca-file", pki.ca.root.certFile], options: { tls: { caFile: pki.ca.root.certFile } } }),
    expected: () => failure("UNAUTHENTICATED"),
  },
  {
    name: "over TLS trusting another CA: the handshake fails, UNAVAILABLE",
    connect: () => ({
      server: "tls",
      flags: ["--ca-file", pki.otherCa.root.certFile, "--api-key", KEY],
      options: { tls: { caFile: pki.otherCa.root.certFile }, apiKey: KEY },
    }),
    expected: () => failure("UNAVAILABLE"),
  },
];

for (const language of LANGUAGES) {
  describe.skipIf(language.skip)(`${language.name} client with credentials`, { concurrent: true }, () => {
    if (language.name === "Go") {
      beforeAll(async () => {
        await goConnect;
      }, 300_000);
    }
    for (const scenario of SCENARIOS) {
      it(scenario.name, async () => {
        const outcome = await language.connect(scenario.connect());
        const expected = scenario.expected();
        if (typeof expected === "function") {
          expect(outcome.code, outcome.error).toBe(0);
          expected(outcome);
        } else {
          expect(outcome).toEqual(expected);
        }
      });
    }
  });
}

/**
 * Streams carry the credentials too: the quickstarts (client streams, bidirectional streams and a
 * model upload) run whole over TLS with the key, and the TypeScript SDK writes and reads back over a
 * stream each way.
 */
describe("streams with credentials, over TLS", { concurrent: true }, () => {
  const MODEL = join(repositoryRoot, "src/cli/demo-models/churn-v1.onnx");
  const quickstartFlags = () => ["--address", addressOf("tls"), "--ca-file", pki.ca.root.certFile, "--api-key", KEY, "--model", MODEL];

  it.skipIf(skipPython)("the Python quickstart runs whole", async () => {
    const example = join(repositoryRoot, "clients/python/examples/quickstart.py");
    const outcome = await run(python, [example, ...quickstartFlags(), "--project", "python_tls"], exampleEnv());
    expect([outcome.code, outcome.error, outcome.stdout.at(-1)]).toEqual([0, "", "ok"]);
  });

  it.skipIf(skipGo)(
    "the Go quickstart runs whole",
    async () => {
      const binary = await goBinary("clients/go", "./examples/quickstart");
      const outcome = await run(binary, [...quickstartFlags(), "--project", "go_tls"], exampleEnv());
      expect([outcome.code, outcome.error, outcome.stdout.at(-1)]).toEqual([0, "", "ok"]);
    },
    300_000,
  );

  it("the TypeScript SDK writes with WriteFeatures and reads with GetHistoricalFeatures", async () => {
    const client = new SluiceClient({ address: addressOf("tls"), tls: { caFile: pki.ca.root.certFile }, apiKey: KEY, project: PROJECT });
    try {
      await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
      await client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "orders", type: "int64" }] });
      const stream = client.openWriteStream();
      const eventTime = new Date("2025-01-01T00:00:00Z");
      const ack = await stream.write({
        featureView: "stats",
        rows: [{ entityKey: { customer_id: 1n }, eventTime, features: { orders: 3n } }],
      });
      await stream.close();
      expect(ack.acceptedCount).toBe(1);
      const rows: Array<Record<string, unknown>> = [];
      const spine = { rows: [{ entityKey: { customer_id: 1n }, eventTime: new Date("2025-01-02T00:00:00Z") }] };
      for await (const row of client.getHistoricalRows({ features: ["stats:orders"], spine })) rows.push(row);
      expect(rows.map((r) => r.orders)).toEqual([3n]);
    } finally {
      client.close();
    }
  });
});
