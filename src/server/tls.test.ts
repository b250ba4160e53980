import { mkdtempSync, unlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { connect, type PeerCertificate, type TLSSocket } from "node:tls";
import {
  Client,
  credentials,
  type handleBidiStreamingCall,
  type handleUnaryCall,
  Server,
  type ServiceDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestPki, type IssuedCertificate, type TestPki } from "../../test/support/certs.js";
import { principalFromCertificate } from "../security/client-certificate.js";
import { ServingMetrics, serveMetrics } from "./metrics.js";
import { loadServerTls, type ServerTls, type TlsConfig } from "./tls.js";

let pki: TestPki;
const cleanups: Array<() => unknown> = [];

beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.remove());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// A trivial service: WhoAmI answers what the server's call sees of the client's certificate; Echo
// is a bidi stream that must survive a reload.
const raw = { serialize: (value: Buffer) => value, deserialize: (value: Buffer) => value };
const method = (name: string, stream: boolean) => ({
  path: `/sluice.test.Tls/${name}`,
  requestStream: stream,
  responseStream: stream,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});
const TEST_SERVICE: ServiceDefinition = { WhoAmI: method("WhoAmI", false), Echo: method("Echo", true) };

/** What the server-side handler saw. */
interface Seen {
  transportSecurityType?: string;
  serial?: string;
  cn?: string;
  spiffe?: string;
}

let lastPeerCertificate: PeerCertificate | undefined;
const whoAmIHandler: handleUnaryCall<Buffer, Buffer> = (call, callback) => {
  const { transportSecurityType, sslPeerCertificate: cert } = call.getAuthContext();
  lastPeerCertificate = cert;
  const seen: Seen = {
    transportSecurityType,
    serial: cert?.serialNumber,
    cn: cert && principalFromCertificate(cert, "subject-cn"),
    spiffe: cert && principalFromCertificate(cert, "san-uri"),
  };
  callback(null, Buffer.from(JSON.stringify(seen)));
};
const echoHandler: handleBidiStreamingCall<Buffer, Buffer> = (call) => {
  call.on("data", (message: Buffer) => call.write(message));
  call.on("end", () => call.end());
};

/** The live files a server is configured with: copies, so a test may overwrite them. */
function liveFiles(options: { clientCa?: IssuedCertificate; requireClientCert?: boolean; reloadIntervalMs?: number } = {}): TlsConfig {
  const dir = mkdtempSync(join(pki.dir, "live-"));
  const config: TlsConfig = {
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    clientCaFile: options.clientCa ? join(dir, "client-ca.pem") : "",
    requireClientCert: options.requireClientCert ?? false,
    reloadIntervalMs: options.reloadIntervalMs ?? 3_600_000,
  };
  writeFileSync(config.certFile, pki.server.cert);
  writeFileSync(config.keyFile, pki.server.key);
  if (options.clientCa) writeFileSync(config.clientCaFile, options.clientCa.cert);
  return config;
}

function capturingLogger() {
  const lines: Array<Record<string, unknown> & { level: number; msg: string }> = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, errors: () => lines.filter((line) => line.level >= 50) };
}

function load(config: TlsConfig, logger = pino({ level: "silent" })): ServerTls {
  const tls = loadServerTls(config, logger);
  cleanups.push(() => tls.close());
  return tls;
}

async function startGrpc(tls: ServerTls): Promise<number> {
  const server = new Server();
  server.addService(TEST_SERVICE, { WhoAmI: whoAmIHandler, Echo: echoHandler });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", tls.credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => server.forceShutdown());
  return port;
}

/** A gRPC client trusting `ca` (plaintext without one), presenting `identity` if given. */
function grpcClient(port: number, ca?: IssuedCertificate, identity?: IssuedCertificate): Client {
  const channelCredentials = ca ? credentials.createSsl(ca.cert, identity?.key, identity?.cert) : credentials.createInsecure();
  // The server name "localhost" (a DNS SAN of the test certificate) rather than the IP: Node warns when SNI is an IP address.
  const client = new Client(`127.0.0.1:${port}`, channelCredentials, ca ? { "grpc.ssl_target_name_override": "localhost" } : {});
  cleanups.push(() => client.close());
  return client;
}

/** Calls WhoAmI: what the server saw, and the serial of the server certificate the client's connection holds. */
function whoAmI(client: Client): Promise<{ seen: Seen; serverSerial?: string }> {
  return new Promise((resolve, reject) => {
    const call = client.makeUnaryRequest(
      TEST_SERVICE.WhoAmI?.path as string,
      raw.serialize,
      raw.deserialize,
      Buffer.alloc(0),
      { deadline: Date.now() + 5000 },
      (error, value) => {
        if (error || !value) return reject(error ?? new Error("no answer"));
        resolve({ seen: JSON.parse(value.toString()) as Seen, serverSerial: call.getAuthContext()?.sslPeerCertificate?.serialNumber });
      },
    );
  });
}

async function refusedCode(client: Client): Promise<status> {
  const error = await whoAmI(client).then(
    () => undefined,
    (error: ServiceError) => error,
  );
  expect(error, "the call should have been refused").toBeDefined();
  return (error as ServiceError).code;
}

/** A raw TLS connection as an HTTP/2 client makes it: the serial of the certificate the server presented. */
function tlsConnect(port: number, ca: IssuedCertificate, identity?: IssuedCertificate): Promise<{ serial: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca: ca.cert, cert: identity?.cert, key: identity?.key, ALPNProtocols: ["h2"] }, () =>
      resolve({ serial: socket.getPeerCertificate().serialNumber, socket }),
    );
    socket.once("error", reject);
    cleanups.push(() => socket.destroy());
  });
}

async function serverSerial(port: number, ca: IssuedCertificate = pki.ca.root, identity?: IssuedCertificate): Promise<string> {
  const { serial, socket } = await tlsConnect(port, ca, identity);
  socket.destroy();
  return serial;
}

function replaceFiles(config: TlsConfig, cert: Buffer, key: Buffer): void {
  writeFileSync(config.certFile, cert);
  writeFileSync(config.keyFile, key);
}

describe("loadServerTls", () => {
  it("is plaintext while tls.certFile is empty, and says so", async () => {
    const { logger, lines } = capturingLogger();
    const tls = load({ certFile: "", keyFile: "", clientCaFile: "", requireClientCert: false, reloadIntervalMs: 60_000 }, logger);
    expect(tls.enabled).toBe(false);
    expect(tls.httpsOptions()).toBeUndefined();
    expect(await tls.reload()).toBe("off");
    expect(lines.at(-1)).toMatchObject({ tls: "off" });
    const port = await startGrpc(tls);
    expect((await whoAmI(grpcClient(port))).seen).toEqual({});
  });

  it("logs the mode and the certificate's subject, serial and expiry at start", () => {
    const { logger, lines } = capturingLogger();
    load(liveFiles({ clientCa: pki.ca.root, requireClientCert: true }), logger);
    expect(lines.at(-1)).toMatchObject({
      tls: "on",
      clientCertificates: "require",
      subject: "O=Sluice tests, CN=sluice-test-server",
      serial: pki.server.serial,
      subjectAltName: "IP Address:127.0.0.1, DNS:localhost",
      clientCas: 1,
    });
    expect(lines.at(-1)?.validTo).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("refuses to start on a key that is not the certificate's, naming tls.keyFile", () => {
    const config = liveFiles();
    writeFileSync(config.keyFile, pki.alice.key);
    expect(() => loadServerTls(config, pino({ level: "silent" }))).toThrow(
      /tls\.keyFile .* is not the key of the certificate in tls\.certFile/,
    );
  });

  it("refuses to start on a missing file, an expired certificate, or a CA file without certificates", () => {
    const silent = pino({ level: "silent" });
    const missing = liveFiles();
    unlinkSync(missing.certFile);
    expect(() => loadServerTls(missing, silent)).toThrow(/cannot read tls\.certFile/);
    const expired = liveFiles();
    const old = pki.ca.issue("expired-server", { cn: "old", altNames: ["IP:127.0.0.1"], expired: true });
    replaceFiles(expired, old.cert, old.key);
    expect(() => loadServerTls(expired, silent)).toThrow(/tls\.certFile .* expired on/);
    const emptyCa = liveFiles({ clientCa: pki.ca.root });
    writeFileSync(emptyCa.clientCaFile, "not a certificate\n");
    expect(() => loadServerTls(emptyCa, silent)).toThrow(/tls\.clientCaFile .* holds no PEM certificate/);
  });
});

describe("the gRPC port over TLS", () => {
  it("refuses a plaintext client and a client that does not trust the server's CA", async () => {
    const port = await startGrpc(load(liveFiles()));
    expect(await refusedCode(grpcClient(port))).toBe(status.UNAVAILABLE);
    expect(await refusedCode(grpcClient(port, pki.otherCa.root))).toBe(status.UNAVAILABLE);
  });

  it("serves a client that trusts the CA, with the server certificate from tls.certFile", async () => {
    const port = await startGrpc(load(liveFiles()));
    const answer = await whoAmI(grpcClient(port, pki.ca.root));
    expect(answer.serverSerial).toBe(pki.server.serial);
    // No client certificate was asked for: the call's auth context is empty.
    expect(answer.seen).toEqual({});
  });

  describe("with requireClientCert", () => {
    it("refuses a client without a certificate", async () => {
      const port = await startGrpc(load(liveFiles({ clientCa: pki.ca.root, requireClientCert: true })));
      expect(await refusedCode(grpcClient(port, pki.ca.root))).toBe(status.UNAVAILABLE);
    });

    it("refuses a client certificate from another CA", async () => {
      const port = await startGrpc(load(liveFiles({ clientCa: pki.ca.root, requireClientCert: true })));
      expect(await refusedCode(grpcClient(port, pki.ca.root, pki.mallory))).toBe(status.UNAVAILABLE);
    });

    it("serves a client certificate from the CA, and the handler sees it in getAuthContext()", async () => {
      const port = await startGrpc(load(liveFiles({ clientCa: pki.ca.root, requireClientCert: true })));
      const { seen } = await whoAmI(grpcClient(port, pki.ca.root, pki.alice));
      expect(seen).toEqual({ transportSecurityType: "ssl", serial: pki.alice.serial, cn: "alice", spiffe: "spiffe://example/alice" });
      expect(lastPeerCertificate?.issuer.CN).toBe("ca");
      expect(principalFromCertificate(lastPeerCertificate as PeerCertificate, "san-dns")).toBe("alice.clients.example");
    });
  });

  it("without requireClientCert asks for a certificate, and hands the handler only one the CA verified", async () => {
    const port = await startGrpc(load(liveFiles({ clientCa: pki.ca.root })));
    expect((await whoAmI(grpcClient(port, pki.ca.root))).seen).toEqual({});
    // Another CA's certificate passes the handshake but is not verified: getAuthContext() is empty.
    expect((await whoAmI(grpcClient(port, pki.ca.root, pki.mallory))).seen).toEqual({});
    expect((await whoAmI(grpcClient(port, pki.ca.root, pki.alice))).seen).toMatchObject({ transportSecurityType: "ssl", cn: "alice" });
  });
});

describe("certificate reload", () => {
  it("gives new connections the new certificate while a stream and a connection opened before keep working", async () => {
    const config = liveFiles({ clientCa: pki.ca.root, requireClientCert: true });
    const { logger, lines } = capturingLogger();
    const tls = load(config, logger);
    const port = await startGrpc(tls);
    const oldClient = grpcClient(port, pki.ca.root, pki.alice);
    expect((await whoAmI(oldClient)).serverSerial).toBe(pki.server.serial);
    const stream = oldClient.makeBidiStreamRequest(TEST_SERVICE.Echo?.path as string, raw.serialize, raw.deserialize);
    cleanups.push(() => stream.cancel());
    const echoes: string[] = [];
    stream.on("data", (message: Buffer) => echoes.push(message.toString()));
    stream.on("error", () => {});
    stream.write(Buffer.from("before"));
    await vi.waitFor(() => expect(echoes).toEqual(["before"]));
    const openSocket = await tlsConnect(port, pki.ca.root, pki.alice);

    const renewed = pki.reissueServer("renewed-1", "renewed-server");
    replaceFiles(config, renewed.cert, renewed.key);
    expect(await tls.reload()).toBe("reloaded");
    expect(lines.at(-1)).toMatchObject({ trigger: "signal", previousSerial: pki.server.serial, serial: renewed.serial });

    expect(await serverSerial(port, pki.ca.root, pki.alice)).toBe(renewed.serial);
    expect((await whoAmI(grpcClient(port, pki.ca.root, pki.alice))).serverSerial).toBe(renewed.serial);
    // The stream, the channel's connection and the raw socket from before are still up, on the old certificate.
    stream.write(Buffer.from("after"));
    await vi.waitFor(() => expect(echoes).toEqual(["before", "after"]));
    expect((await whoAmI(oldClient)).serverSerial).toBe(pki.server.serial);
    expect(openSocket.socket.destroyed).toBe(false);
    expect(openSocket.socket.getPeerCertificate().serialNumber).toBe(pki.server.serial);
    stream.end();
  });

  it("reports unchanged files and keeps the certificate in force when new files are broken", async () => {
    const config = liveFiles();
    const { logger, errors } = capturingLogger();
    const tls = load(config, logger);
    const port = await startGrpc(tls);
    expect(await tls.reload()).toBe("unchanged");

    const renewed = pki.reissueServer("renewed-2", "renewed-server");
    const broken: Array<[string, () => void, RegExp]> = [
      ["garbage certificate", () => replaceFiles(config, Buffer.from("garbage"), renewed.key), /tls\.certFile .* holds no PEM certificate/],
      ["key of another certificate", () => replaceFiles(config, renewed.cert, pki.server.key), /tls\.keyFile .* is not the key of/],
      ["missing key", () => unlinkSync(config.keyFile), /cannot read tls\.keyFile/],
      [
        "expired certificate",
        () => {
          const old = pki.ca.issue("expired-2", { cn: "old", altNames: ["IP:127.0.0.1"], expired: true });
          replaceFiles(config, old.cert, old.key);
        },
        /expired on/,
      ],
    ];
    for (const [what, breakFiles, message] of broken) {
      breakFiles();
      expect(await tls.reload(), what).toBe("rejected");
      expect(errors().at(-1)?.msg, what).toMatch(message);
      expect(errors().at(-1)?.msg, what).toContain(`keeping the certificate in force (serial ${pki.server.serial})`);
      expect(await serverSerial(port), what).toBe(pki.server.serial);
      expect((await whoAmI(grpcClient(port, pki.ca.root))).serverSerial, what).toBe(pki.server.serial);
    }
    replaceFiles(config, renewed.cert, renewed.key);
    expect(await tls.reload()).toBe("reloaded");
    expect(await serverSerial(port)).toBe(renewed.serial);
  });

  it("polls the files every reloadIntervalMs, and logs a bad file once", async () => {
    const config = liveFiles({ reloadIntervalMs: 50 });
    const { logger, errors } = capturingLogger();
    const port = await startGrpc(load(config, logger));
    writeFileSync(config.certFile, "not yet\n");
    await vi.waitFor(() => expect(errors()).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(errors()).toHaveLength(1);
    expect(await serverSerial(port)).toBe(pki.server.serial);

    const renewed = pki.reissueServer("renewed-3", "renewed-server");
    replaceFiles(config, renewed.cert, renewed.key);
    await vi.waitFor(async () => expect(await serverSerial(port)).toBe(renewed.serial), { timeout: 5000 });
  });

  it("reloads the client CA bundle", async () => {
    const config = liveFiles({ clientCa: pki.ca.root, requireClientCert: true });
    const tls = load(config);
    const port = await startGrpc(tls);
    expect(await refusedCode(grpcClient(port, pki.ca.root, pki.mallory))).toBe(status.UNAVAILABLE);
    writeFileSync(config.clientCaFile, pki.otherCa.root.cert);
    expect(await tls.reload()).toBe("reloaded");
    expect((await whoAmI(grpcClient(port, pki.ca.root, pki.mallory))).seen).toMatchObject({ cn: "mallory" });
    expect(await refusedCode(grpcClient(port, pki.ca.root, pki.alice))).toBe(status.UNAVAILABLE);
  });
});

describe("the metrics port", () => {
  interface Scrape {
    status?: number;
    body?: string;
    serial?: string;
    error?: Error;
  }

  function scrape(
    port: number,
    options: { https?: boolean; identity?: IssuedCertificate; headers?: Record<string, string> } = {},
  ): Promise<Scrape> {
    return new Promise((resolve) => {
      const common = { host: "127.0.0.1", port, path: "/metrics", headers: options.headers, agent: false as const };
      const callback = (response: IncomingMessage) => {
        const serial =
          "getPeerCertificate" in response.socket ? (response.socket as TLSSocket).getPeerCertificate().serialNumber : undefined;
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode, body, serial }));
      };
      const request = options.https
        ? httpsRequest({ ...common, ca: pki.ca.root.cert, cert: options.identity?.cert, key: options.identity?.key }, callback)
        : httpRequest(common, callback);
      request.on("error", (error) => resolve({ error }));
      request.end();
    });
  }

  async function startMetrics(options: Parameters<typeof serveMetrics>[2]): Promise<number> {
    const metrics = new ServingMetrics({
      loadedModels: () => 0,
      predictionLogDropped: () => 0,
      heldSpineBytes: () => 0,
      learners: async () => [],
    });
    const endpoint = await serveMetrics(metrics, "127.0.0.1:0", options);
    cleanups.push(() => endpoint.close());
    return endpoint.port;
  }

  it("serves HTTPS with the TLS certificate, refuses plaintext HTTP, and takes a reloaded certificate", async () => {
    const config = liveFiles();
    const tls = load(config);
    const port = await startMetrics({ tls });
    const first = await scrape(port, { https: true });
    expect(first).toMatchObject({ status: 200, serial: pki.server.serial });
    expect(first.body).toContain("sluice_loaded_models 0");
    expect((await scrape(port)).status).toBeUndefined();

    const renewed = pki.reissueServer("renewed-4", "renewed-server");
    replaceFiles(config, renewed.cert, renewed.key);
    expect(await tls.reload()).toBe("reloaded");
    expect(await scrape(port, { https: true })).toMatchObject({ status: 200, serial: renewed.serial });
  });

  it("stays plaintext HTTP when TLS is off", async () => {
    const tls = load({ certFile: "", keyFile: "", clientCaFile: "", requireClientCert: false, reloadIntervalMs: 60_000 });
    const port = await startMetrics({ tls });
    expect((await scrape(port)).status).toBe(200);
  });

  it("answers 401 unless authorize passes the scrape, and 500 when authorize throws", async () => {
    const authorize = async (headers: IncomingHttpHeaders) => {
      if (headers.authorization === "Bearer boom") throw new Error("identity provider down");
      return headers.authorization === "Bearer s3cret";
    };
    const { logger, errors } = capturingLogger();
    const port = await startMetrics({ authorize, logger });
    expect((await scrape(port)).status).toBe(401);
    expect((await scrape(port, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await scrape(port, { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
    expect((await scrape(port, { headers: { authorization: "Bearer boom" } })).status).toBe(500);
    expect(errors()).toHaveLength(1);
    // Other paths are not metrics and say so without asking for credentials.
    const other = await new Promise<number | undefined>((resolve) =>
      httpRequest({ host: "127.0.0.1", port, path: "/", agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).end(),
    );
    expect(other).toBe(404);
  });

  it("with requireClientCert refuses scrapes without a CA-signed certificate and hands authorize the verified one", async () => {
    const tls = load(liveFiles({ clientCa: pki.ca.root, requireClientCert: true }));
    const seen: Array<string | undefined> = [];
    const port = await startMetrics({
      tls,
      authorize: async (_headers, certificate) => {
        seen.push(certificate && principalFromCertificate(certificate, "subject-cn"));
        return certificate !== undefined;
      },
    });
    expect((await scrape(port, { https: true })).status).toBeUndefined();
    expect((await scrape(port, { https: true, identity: pki.mallory })).status).toBeUndefined();
    expect((await scrape(port, { https: true, identity: pki.alice })).status).toBe(200);
    expect(seen).toEqual(["alice"]);
  });
});
