/**
 * The SDK's credential options, against an in-process grpc-js server that records the metadata of
 * each call: an API key or a token reaches the server on wrapper calls, on the generated stubs' calls
 * and on streams, over plaintext and over (mutual) TLS; a token provider is asked once per call; bad
 * option combinations are refused before any connection. The certificates come from
 * test/support/certs.ts (the openssl CLI).
 */
import { type Metadata, Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AccessServiceService } from "../../../src/gen/sluice/v1/access.pb.js";
import { IngestionServiceService, type WriteFeaturesRequest, type WriteFeaturesResponse } from "../../../src/gen/sluice/v1/ingestion.pb.js";
import { type ListProjectsResponse, RegistryServiceService } from "../../../src/gen/sluice/v1/registry.pb.js";
import { createTestPki, type TestPki } from "../../../test/support/certs.js";
import { SluiceClient } from "./client.js";
import { isLoopbackAddress } from "./credentials.js";
import { SluiceClientError } from "./errors.js";
import type { SluiceClientOptions } from "./inputs.js";

/** What the fake server saw: the `authorization` values of each call, by method. */
interface Seen {
  method: string;
  authorization: string[];
}

/** A grpc-js server answering ListProjects, WhoAmI and WriteFeatures, recording each call's credentials. */
async function fakeServer(credentials = ServerCredentials.createInsecure()): Promise<{ address: string; seen: Seen[]; stop(): void }> {
  const seen: Seen[] = [];
  const record = (method: string, metadata: Metadata) => seen.push({ method, authorization: metadata.get("authorization").map(String) });
  const server = new Server();
  server.addService(RegistryServiceService, {
    listProjects: (call: ServerUnaryCall<unknown, ListProjectsResponse>, callback: sendUnaryData<ListProjectsResponse>) => {
      record("ListProjects", call.metadata);
      callback(null, { projects: [], nextPageToken: "" });
    },
  });
  server.addService(AccessServiceService, {
    whoAmI: (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      record("WhoAmI", call.metadata);
      callback(null, { principal: "alice", authentication: "api_key", roles: [{ project: "default", role: "admin" }] });
    },
  });
  server.addService(IngestionServiceService, {
    writeFeatures: (call: ServerDuplexStream<WriteFeaturesRequest, WriteFeaturesResponse>) => {
      record("WriteFeatures", call.metadata);
      call.on("data", (request: WriteFeaturesRequest) =>
        call.write({ writeId: request.writeId, acceptedCount: 0, rejectedRows: [], duplicate: false, featureViewVersion: 1 }),
      );
      call.on("end", () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { address: `127.0.0.1:${port}`, seen, stop: () => server.forceShutdown() };
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<SluiceClientError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceClientError);
  return error as SluiceClientError;
}

/** The field violations of options the constructor refuses, as "field: description". */
function refusedOptions(options: unknown): string[] {
  try {
    new SluiceClient(options as SluiceClientOptions).close();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceClientError);
    expect((error as SluiceClientError).codeName).toBe("INVALID_ARGUMENT");
    return (error as SluiceClientError).fieldViolations.map((v) => `${v.field}: ${v.description}`);
  }
  throw new Error("the options were accepted");
}

const clients: SluiceClient[] = [];
/** A client closed after the test. */
function client(options: SluiceClientOptions): SluiceClient {
  const created = new SluiceClient({ deadlineMs: 5_000, ...options });
  clients.push(created);
  return created;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** Sends the three kinds of call: a wrapper (WhoAmI), a generated stub's (ListProjects) and a stream (WriteFeatures). */
async function callEveryWay(c: SluiceClient): Promise<void> {
  expect((await c.whoAmI()).principal).toBe("alice");
  await c.call(c.registry, c.registry.listProjects, { pageSize: 0, pageToken: "" });
  await new Promise<void>((resolve, reject) =>
    c.registry.listProjects({ pageSize: 0, pageToken: "" }, (error) => (error ? reject(error) : resolve())),
  );
  const stream = c.openWriteStream();
  await stream.write({ featureView: "v", rows: [], writeId: "w1" });
  await stream.write({ featureView: "v", rows: [], writeId: "w2" });
  await stream.close();
}

describe("option checks (before any connection)", () => {
  it("refuses an API key together with a token", () => {
    expect(refusedOptions({ address: "127.0.0.1:1", apiKey: "sk_1", token: "t" })).toEqual([
      "token: cannot be set together with apiKey: give one credential",
    ]);
  });

  it("refuses a client certificate without its key, a PEM given twice, and mistyped members", () => {
    expect(refusedOptions({ address: "127.0.0.1:1", tls: { certFile: "c.pem" } })).toEqual([
      "tls.key: is required with tls.cert: a client certificate and its key go together",
    ]);
    expect(refusedOptions({ address: "127.0.0.1:1", tls: { ca: "x", caFile: "ca.pem" } })).toEqual([
      "tls.caFile: cannot be set together with tls.ca",
    ]);
    expect(refusedOptions({ address: "127.0.0.1:1", tls: "yes", token: 3 })).toEqual([
      'tls: must be true, false, TLS options or ChannelCredentials, not the string "yes"',
      "token: must be a string or a function returning one, not number 3",
    ]);
  });

  it("refuses credentials in plaintext to a remote address unless tls: false says so", () => {
    expect(refusedOptions({ address: "sluice.example:50051", apiKey: "sk_1" })).toEqual([
      "tls: must be set when credentials go to sluice.example:50051, not to a loopback address: " +
        "TLS options (or true) to encrypt them, or false to send them in plaintext on purpose",
    ]);
    client({ address: "sluice.example:50051", apiKey: "sk_1", tls: false });
    client({ address: "sluice.example:50051", token: () => "t", tls: true });
    client({ address: "sluice.example:50051" }); // no credentials: plaintext, as before
    client({ address: "localhost:50051", apiKey: "sk_1" });
  });

  it("names a TLS file that cannot be read", () => {
    const [problem] = refusedOptions({ address: "127.0.0.1:1", tls: { caFile: "/nonexistent/ca.pem" } });
    expect(problem).toMatch(/^tls\.caFile: cannot be read: ENOENT/);
  });

  it("tells loopback addresses from remote ones", () => {
    const loopback = [
      "127.0.0.1:50051",
      "localhost:1",
      "LOCALHOST",
      "127.1.2.3:9",
      "[::1]:50051",
      "::1",
      "dns:///localhost:5",
      "unix:/tmp/s",
    ];
    const remote = ["10.0.0.1:50051", "sluice:50051", "example.com:443", "[2001:db8::1]:1", "dns:///sluice.example:1", "127.example.com:1"];
    expect(loopback.filter((a) => !isLoopbackAddress(a))).toEqual([]);
    expect(remote.filter(isLoopbackAddress)).toEqual([]);
  });
});

describe("over plaintext (an interceptor)", () => {
  let server: Awaited<ReturnType<typeof fakeServer>>;
  beforeAll(async () => {
    server = await fakeServer();
  });
  afterAll(() => server.stop());
  afterEach(() => {
    server.seen.length = 0;
  });

  it("sends no authorization without credentials", async () => {
    await callEveryWay(client({ address: server.address }));
    expect(server.seen.every((s) => s.authorization.length === 0)).toBe(true);
    expect(server.seen.map((s) => s.method)).toEqual(["WhoAmI", "ListProjects", "ListProjects", "WriteFeatures"]);
  });

  it("sends the API key as one bearer value on every kind of call", async () => {
    await callEveryWay(client({ address: server.address, apiKey: "sk_test" }));
    expect(server.seen.map((s) => s.authorization)).toEqual([
      ["Bearer sk_test"],
      ["Bearer sk_test"],
      ["Bearer sk_test"],
      ["Bearer sk_test"],
    ]);
  });

  it("asks a token provider once per call, and waits for an async one", async () => {
    let n = 0;
    const token = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return `jwt-${++n}`;
    };
    await callEveryWay(client({ address: server.address, token }));
    expect(server.seen.map((s) => s.authorization)).toEqual([["Bearer jwt-1"], ["Bearer jwt-2"], ["Bearer jwt-3"], ["Bearer jwt-4"]]);
  });

  it("fails the call with UNAUTHENTICATED, without sending it, when the provider throws", async () => {
    const c = client({
      address: server.address,
      token: () => {
        throw new Error("the identity provider is down");
      },
    });
    const error = await failure(c.whoAmI());
    expect([error.codeName, error.message]).toEqual([
      "UNAUTHENTICATED",
      "Getting metadata from plugin failed with error: the identity provider is down",
    ]);
    const stream = c.openWriteStream();
    expect((await failure(stream.write({ featureView: "v", rows: [] }))).codeName).toBe("UNAUTHENTICATED");
    expect(server.seen).toEqual([]);
  });

  it("takes a static token like a key", async () => {
    await client({ address: server.address, token: "jwt-static" }).whoAmI();
    expect(server.seen.map((s) => s.authorization)).toEqual([["Bearer jwt-static"]]);
  });
});

describe("over TLS (call credentials)", () => {
  let pki: TestPki;
  let mtls: Awaited<ReturnType<typeof fakeServer>>;
  let tls: Awaited<ReturnType<typeof fakeServer>>;
  beforeAll(async () => {
    pki = createTestPki();
    const keyPair = [{ cert_chain: pki.server.cert, private_key: pki.server.key }];
    mtls = await fakeServer(ServerCredentials.createSsl(pki.ca.root.cert, keyPair, true));
    tls = await fakeServer(ServerCredentials.createSsl(null, keyPair, false));
  });
  afterAll(() => {
    mtls?.stop();
    tls?.stop();
    pki?.remove();
  });
  afterEach(() => {
    mtls.seen.length = 0;
    tls.seen.length = 0;
  });

  it("connects with a CA bundle file and sends the key on every kind of call", async () => {
    await callEveryWay(client({ address: tls.address, apiKey: "sk_tls", tls: { caFile: pki.ca.root.certFile } }));
    expect(tls.seen.map((s) => s.authorization)).toEqual([["Bearer sk_tls"], ["Bearer sk_tls"], ["Bearer sk_tls"], ["Bearer sk_tls"]]);
  });

  it("presents a client certificate (mutual TLS), from files or from PEM, with a token provider", async () => {
    let n = 0;
    const fromFiles = { caFile: pki.ca.root.certFile, certFile: pki.alice.certFile, keyFile: pki.alice.keyFile };
    await callEveryWay(client({ address: mtls.address, tls: fromFiles, token: () => `jwt-${++n}` }));
    const fromPem = { ca: pki.ca.root.cert, cert: pki.alice.cert.toString(), key: pki.alice.key };
    await client({ address: mtls.address, tls: fromPem }).whoAmI();
    expect(mtls.seen.map((s) => s.authorization)).toEqual([["Bearer jwt-1"], ["Bearer jwt-2"], ["Bearer jwt-3"], ["Bearer jwt-4"], []]);
  });

  it("fails UNAUTHENTICATED when the provider throws, as over plaintext", async () => {
    const token = async () => Promise.reject(new Error("expired refresh token"));
    const error = await failure(client({ address: tls.address, tls: { caFile: pki.ca.root.certFile }, token }).whoAmI());
    expect([error.codeName, error.message]).toEqual([
      "UNAUTHENTICATED",
      "Getting metadata from plugin failed with error: expired refresh token",
    ]);
    expect(tls.seen).toEqual([]);
  });

  it("cannot connect without the client certificate the server requires, nor to a server its CA did not sign", async () => {
    expect((await failure(client({ address: mtls.address, tls: { caFile: pki.ca.root.certFile } }).whoAmI())).codeName).toBe("UNAVAILABLE");
    expect((await failure(client({ address: tls.address, tls: { caFile: pki.otherCa.root.certFile } }).whoAmI())).codeName).toBe(
      "UNAVAILABLE",
    );
    expect(mtls.seen.concat(tls.seen)).toEqual([]);
  });

  it("checks the certificate against serverName when the address's host is not in it", async () => {
    const named = pki.ca.issue("named", { cn: "sluice.test", altNames: ["DNS:sluice.test"], usages: ["serverAuth"] });
    const server = await fakeServer(ServerCredentials.createSsl(null, [{ cert_chain: named.cert, private_key: named.key }], false));
    try {
      const byAddress = client({ address: server.address, tls: { caFile: pki.ca.root.certFile } });
      expect((await failure(byAddress.whoAmI())).codeName).toBe("UNAVAILABLE");
      await client({ address: server.address, tls: { caFile: pki.ca.root.certFile, serverName: "sluice.test" } }).whoAmI();
      expect(server.seen.map((s) => s.method)).toEqual(["WhoAmI"]);
    } finally {
      server.stop();
    }
  });
});
