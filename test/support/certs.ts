/**
 * Test certificates made with the `openssl` CLI in a temporary directory: a CA, a server certificate
 * for 127.0.0.1 and localhost, a client certificate (CN=alice, URI SAN spiffe://example/alice), and a
 * second, unrelated CA with a client certificate of its own. EC P-256 keys keep it fast (a few ms per
 * certificate). Every certificate gets a random serial, so a reissued one is told apart by it.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key, as files and as PEM. */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** Upper-case hex, as Node's `PeerCertificate.serialNumber` prints it. */
  serial: string;
}

/** What a subject and its extensions look like. */
export interface CertificateRequest {
  /** Common name. */
  cn: string;
  /** subjectAltName entries in openssl syntax, e.g. "DNS:localhost", "IP:127.0.0.1", "URI:spiffe://example/alice". */
  altNames?: string[];
  /** "serverAuth", "clientAuth" or both. */
  usages?: Array<"serverAuth" | "clientAuth">;
  /** Days of validity from now. */
  days?: number;
  /** Issue a certificate whose validity ended yesterday. */
  expired?: boolean;
}

/** A certificate authority that issues certificates into its directory. */
export class TestCa {
  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly root: IssuedCertificate,
  ) {}

  /** Makes a self-signed CA named `name` in `dir`. */
  static create(dir: string, name: string): TestCa {
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.pem`);
    const serial = randomSerial();
    openssl([
      "req",
      "-x509",
      "-new",
      ...EC_KEY,
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "30",
      "-set_serial",
      `0x${serial}`,
      "-subj",
      `/O=Sluice tests/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return new TestCa(dir, name, issued(certFile, keyFile, serial));
  }

  /** Issues a certificate for `request`, into `<dir>/<fileName>.pem` and `.key`. */
  issue(fileName: string, request: CertificateRequest): IssuedCertificate {
    const keyFile = join(this.dir, `${fileName}.key`);
    const certFile = join(this.dir, `${fileName}.pem`);
    const csrFile = join(this.dir, `${fileName}.csr`);
    const extFile = join(this.dir, `${fileName}.ext`);
    const serial = randomSerial();
    openssl(["req", "-new", ...EC_KEY, "-nodes", "-keyout", keyFile, "-out", csrFile, "-subj", `/O=Sluice tests/CN=${request.cn}`]);
    const extensions = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];
    if (request.usages?.length) extensions.push(`extendedKeyUsage=${request.usages.join(",")}`);
    // A section of its own, so names may hold commas.
    const altNames = (request.altNames ?? []).map(
      (name, i) => `${name.slice(0, name.indexOf(":"))}.${i + 1} = ${name.slice(name.indexOf(":") + 1)}`,
    );
    if (altNames.length > 0) extensions.push("subjectAltName=@alt_names", "[alt_names]", ...altNames);
    writeFileSync(extFile, `${extensions.join("\n")}\n`);
    if (request.expired) {
      signExpired(csrFile, this.root, extFile, certFile, serial);
    } else {
      const days = String(request.days ?? 30);
      const ca = ["-CA", this.root.certFile, "-CAkey", this.root.keyFile];
      openssl([
        "x509",
        "-req",
        "-in",
        csrFile,
        ...ca,
        "-set_serial",
        `0x${serial}`,
        "-extfile",
        extFile,
        "-sha256",
        "-days",
        days,
        "-out",
        certFile,
      ]);
    }
    return issued(certFile, keyFile, serial);
  }

  /** A server certificate for 127.0.0.1 and localhost. */
  issueServer(fileName: string, cn = "sluice-test-server"): IssuedCertificate {
    return this.issue(fileName, { cn, altNames: ["IP:127.0.0.1", "DNS:localhost"], usages: ["serverAuth"] });
  }

  /** A client certificate for `cn`, with URI SAN spiffe://example/<cn> and DNS SAN <cn>.clients.example. */
  issueClient(fileName: string, cn: string): IssuedCertificate {
    return this.issue(fileName, {
      cn,
      altNames: [`URI:spiffe://example/${cn}`, `DNS:${cn}.clients.example`],
      usages: ["clientAuth"],
    });
  }
}

/** The certificates most TLS tests need, in one temporary directory. */
export interface TestPki {
  dir: string;
  ca: TestCa;
  /** Server certificate (CN=sluice-test-server, SAN IP:127.0.0.1 and DNS:localhost) signed by `ca`. */
  server: IssuedCertificate;
  /** Client certificate CN=alice, URI SAN spiffe://example/alice, signed by `ca`. */
  alice: IssuedCertificate;
  /** A CA no server trusts. */
  otherCa: TestCa;
  /** Client certificate CN=mallory signed by `otherCa`. */
  mallory: IssuedCertificate;
  /** Issues a fresh server certificate and key (new serial, CN=`cn`) signed by `ca`, under `fileName`. */
  reissueServer(fileName: string, cn: string): IssuedCertificate;
  /** Deletes the directory. */
  remove(): void;
}

/** Makes a CA, a server and a client certificate, and an unrelated CA with its own client certificate. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "sluice-pki-"));
  const ca = TestCa.create(dir, "ca");
  const otherCa = TestCa.create(dir, "other-ca");
  return {
    dir,
    ca,
    server: ca.issueServer("server"),
    alice: ca.issueClient("alice", "alice"),
    otherCa,
    mallory: otherCa.issueClient("mallory", "mallory"),
    reissueServer: (fileName, cn) => ca.issueServer(fileName, cn),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

/** 16 random bytes as hex with the top bit clear (serials are positive), as Node prints them. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return bytes.toString("hex").toUpperCase();
}

function issued(certFile: string, keyFile: string, serial: string): IssuedCertificate {
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile), serial };
}

function yesterday(): string {
  return `${new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replaceAll("-", "")}000000Z`;
}

/**
 * Signs an already expired certificate. `openssl x509 -req` in 3.0 cannot set the start and end
 * dates; `openssl ca` can, with a throwaway database.
 */
function signExpired(csrFile: string, root: IssuedCertificate, extFile: string, certFile: string, serial: string): void {
  const db = `${certFile}.db`;
  writeFileSync(db, "");
  writeFileSync(`${certFile}.serial`, `${serial}\n`);
  const config = `${certFile}.cnf`;
  writeFileSync(
    config,
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      `database = ${db}`,
      `serial = ${certFile}.serial`,
      "new_certs_dir = .",
      "default_md = sha256",
      "policy = anything",
      "unique_subject = no",
      "copy_extensions = none",
      "[anything]",
      "commonName = supplied",
      "organizationName = optional",
      "",
    ].join("\n"),
  );
  openssl([
    "ca",
    "-batch",
    "-config",
    config,
    "-notext",
    "-in",
    csrFile,
    "-cert",
    root.certFile,
    "-keyfile",
    root.keyFile,
    "-extfile",
    extFile,
    "-startdate",
    "20200101000000Z",
    "-enddate",
    yesterday(),
    "-outdir",
    join(certFile, ".."),
    "-out",
    certFile,
  ]);
}
