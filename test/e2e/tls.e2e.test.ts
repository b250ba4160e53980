/**
 * TLS and client certificates on the real server: plaintext is refused on a TLS port, a client
 * certificate from the configured CA authenticates its subject (whose roles come from role
 * bindings), one from another CA never gets a connection, an API key still works over TLS, and
 * a reloaded certificate is served to new connections while open ones carry on.
 */
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, type SluiceConfig } from "../../src/config/config.js";
import { WhoAmIResponse } from "../../src/gen/sluice/v1/access.pb.js";
import { createLogger } from "../../src/logging/logger.js";
import { apiKeyHash } from "../../src/security/access-control.js";
import { type RunningServer, startServer } from "../../src/server/sluice-server.js";
import { createTestPki, type TestPki } from "../support/certs.js";
import { RawClient } from "../support/raw-grpc.js";
import { spawnServer, stopServer } from "../support/server-process.js";

const WHO_AM_I = "/sluice.v1.AccessService/WhoAmI";

describe("SIGHUP", () => {
  it("makes a running `sluice serve` re-read its TLS files", async () => {
    const pki = createTestPki();
    const server = await spawnServer(["--data-dir", mkdtempSync(join(tmpdir(), "sluice-sighup-"))], {
      env: { SLUICE_TLS_CERT_FILE: pki.server.certFile, SLUICE_TLS_KEY_FILE: pki.server.keyFile },
    });
    try {
      const renewed = pki.reissueServer("renewed-by-hup", "sluice-hup");
      copyFileSync(renewed.certFile, pki.server.certFile);
      copyFileSync(renewed.keyFile, pki.server.keyFile);
      server.child.kill("SIGHUP");
      const line = await server.waitForLog("TLS files re-read");
      expect(line.tls).toBe("reloaded");
    } finally {
      await stopServer(server);
      pki.remove();
    }
  }, 60_000);
});

describe("TLS and client certificates on the server", () => {
  let pki: TestPki;
  let server: RunningServer;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    pki = createTestPki();
    // The server reads copies, so the test can replace them under it.
    certFile = join(pki.dir, "serving.pem");
    keyFile = join(pki.dir, "serving.key");
    copyFileSync(pki.server.certFile, certFile);
    copyFileSync(pki.server.keyFile, keyFile);
    const config: SluiceConfig = {
      ...DEFAULT_CONFIG,
      listen: "127.0.0.1:0",
      logLevel: "silent",
      dataDir: mkdtempSync(join(tmpdir(), "sluice-tls-")),
      tls: { certFile, keyFile, clientCaFile: pki.ca.root.certFile, requireClientCert: false, reloadIntervalMs: 3_600_000 },
      auth: {
        ...DEFAULT_CONFIG.auth,
        enabled: true,
        mtlsPrincipal: "subject-cn",
        bindings: [{ principal: "alice", roles: ["default:viewer"] }],
        apiKeys: [{ principal: "ops", sha256: apiKeyHash("sk_tls_test_key_0123456789"), roles: ["*:admin"] }],
      },
    };
    server = await startServer(config, createLogger("silent"));
  });

  afterAll(async () => {
    await server?.shutdown();
    pki?.remove();
  });

  const tlsClient = (client?: { cert: Buffer; key: Buffer }) =>
    new RawClient(server.address, credentials.createSsl(pki.ca.root.cert, client?.key ?? null, client?.cert ?? null), {
      "grpc.ssl_target_name_override": "localhost",
    });

  it("authenticates a verified client certificate as its subject, with the roles bound to it", async () => {
    const client = tlsClient(pki.alice);
    try {
      const outcome = await client.call(WHO_AM_I, [client.encode(WHO_AM_I, {})]);
      expect(outcome.code, outcome.details).toBe(status.OK);
      expect(WhoAmIResponse.decode(outcome.responses[0] as Buffer)).toMatchObject({
        principal: "alice",
        authentication: "mtls",
        roles: [{ project: "default", role: "viewer" }],
      });
    } finally {
      client.close();
    }
  });

  it("takes an API key over TLS, and asks a TLS client without either for credentials", async () => {
    const client = tlsClient();
    try {
      const withKey = await client.call(WHO_AM_I, [client.encode(WHO_AM_I, {})], { "x-api-key": "sk_tls_test_key_0123456789" });
      expect(WhoAmIResponse.decode(withKey.responses[0] as Buffer).principal).toBe("ops");
      expect((await client.call(WHO_AM_I, [client.encode(WHO_AM_I, {})])).code).toBe(status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });

  it("never authenticates a certificate from another CA, and refuses plaintext", async () => {
    const mallory = tlsClient(pki.mallory);
    const plain = new RawClient(server.address);
    try {
      const asMallory = await mallory.call(WHO_AM_I, [mallory.encode(WHO_AM_I, {})], {}, 3000);
      expect([status.UNAVAILABLE, status.UNAUTHENTICATED]).toContain(asMallory.code);
      expect((await plain.call(WHO_AM_I, [plain.encode(WHO_AM_I, {})], {}, 3000)).code).toBe(status.UNAVAILABLE);
    } finally {
      mallory.close();
      plain.close();
    }
  });

  it("serves a renewed certificate to new connections after a reload, and keeps open ones", async () => {
    const open = tlsClient(pki.alice);
    try {
      expect((await open.call(WHO_AM_I, [open.encode(WHO_AM_I, {})])).code).toBe(status.OK);
      const renewed = pki.reissueServer("renewed", "sluice-renewed");
      copyFileSync(renewed.certFile, certFile);
      copyFileSync(renewed.keyFile, keyFile);
      expect(await server.reloadTls()).toBe("reloaded");
      const serial = await new Promise<string>((resolve, reject) => {
        const socket = connect(
          { host: "127.0.0.1", port: server.port, ca: pki.ca.root.cert, servername: "localhost", ALPNProtocols: ["h2"] },
          () => {
            resolve(socket.getPeerCertificate().serialNumber);
            socket.destroy();
          },
        );
        socket.on("error", reject);
      });
      expect(serial.toUpperCase()).toBe(renewed.serial.toUpperCase());
      expect((await open.call(WHO_AM_I, [open.encode(WHO_AM_I, {})])).code).toBe(status.OK);
    } finally {
      open.close();
    }
  });
});
