/**
 * TLS for the gRPC port and the metrics port, from the `tls` config section. The PEM files are read
 * once at start (a bad file stops the start, naming the key) and again on `reload()` (SIGHUP) and
 * every `tls.reloadIntervalMs`. A new certificate that checks out is handed to grpc-js through a
 * certificate provider and to HTTPS servers through `onReload`; both call `setSecureContext`, so
 * only connections made after the reload use it and open connections and streams carry on. A new
 * certificate that does not check out (unreadable, not PEM, key of another certificate, expired) is
 * logged and the one in force is kept.
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContextOptions, type TlsOptions } from "node:tls";
import { experimental, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { SluiceConfig } from "../config/config.js";

/** The `tls` config section. */
export type TlsConfig = SluiceConfig["tls"];

/** Whether clients are asked for a certificate: never (no `clientCaFile`), asked, or refused without one. */
export type ClientCertificatePolicy = "none" | "request" | "require";

/** What a call to `reload()` did. */
export type TlsReloadOutcome = "reloaded" | "unchanged" | "rejected" | "off";

/** The certificate of the server's ports, for gRPC and for HTTPS, reloadable while serving. */
export interface ServerTls {
  /** Whether TLS is on (`tls.certFile` is set). */
  readonly enabled: boolean;
  /** Credentials for grpc-js `Server.bindAsync`: insecure when TLS is off. */
  readonly credentials: ServerCredentials;
  readonly clientCertificates: ClientCertificatePolicy;
  /** Options for `https.createServer`: the certificate in force and the client-certificate policy; undefined when TLS is off. */
  httpsOptions(): TlsOptions | undefined;
  /** Calls `listener` with each newly accepted certificate, for `tls.Server.setSecureContext`; returns the unsubscribe. */
  onReload(listener: (context: SecureContextOptions) => void): () => void;
  /** Reads the files now and switches to them if they changed and check out (SIGHUP). Never rejects. */
  reload(): Promise<TlsReloadOutcome>;
  /** Stops polling the files. */
  close(): void;
}

/** The PEM files' contents. */
interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Present when `tls.clientCaFile` is set. */
  ca?: Buffer;
}

/** What the logs say about a certificate. */
interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  subjectAltName?: string;
  validFrom: string;
  validTo: string;
  expiresInDays: number;
  fingerprint256: string;
  /** Certificates in `tls.clientCaFile`. */
  clientCas?: number;
}

/**
 * Loads the certificate the `tls` section names and starts polling its files. Throws, naming the
 * key, when a file cannot be read or does not check out. When `certFile` is "" the ports stay plaintext.
 */
export function loadServerTls(config: TlsConfig, logger: Logger): ServerTls {
  if (config.certFile === "") {
    logger.info({ tls: "off" }, "TLS is off: the gRPC and metrics ports speak plaintext (set tls.certFile and tls.keyFile to turn it on)");
    return {
      enabled: false,
      credentials: ServerCredentials.createInsecure(),
      clientCertificates: "none",
      httpsOptions: () => undefined,
      onReload: () => () => {},
      reload: async () => "off",
      close: () => {},
    };
  }
  let material: TlsMaterial;
  let summary: CertificateSummary;
  try {
    material = readMaterialSync(config);
    summary = checkMaterial(material, config);
  } catch (error) {
    throw new Error(`cannot start TLS: ${(error as Error).message}`, { cause: error });
  }
  const clientCertificates: ClientCertificatePolicy =
    config.clientCaFile === "" ? "none" : config.requireClientCert ? "require" : "request";
  logger.info(
    { tls: "on", clientCertificates, certFile: config.certFile, clientCaFile: config.clientCaFile || undefined, ...summary },
    `TLS on, client certificates: ${clientCertificates}; certificate ${summary.subject} (serial ${summary.serial}) valid until ${summary.validTo}`,
  );

  const provider = new ReloadableCertificateProvider(material);
  // grpc-js 1.14 declares this function's parameters as (caProvider, identityProvider, require) but
  // passes the first to its credentials as the identity provider and the second as the CA provider
  // (null: clients are not asked for certificates). One provider serves both roles, so the order
  // only matters when there is no CA; the tests would catch a swap.
  const credentials = experimental.createCertificateProviderServerCredentials(
    provider,
    material.ca ? provider : null,
    clientCertificates === "require",
  );
  const httpsListeners = new Set<(context: SecureContextOptions) => void>();
  // The material last refused, so polling logs a bad file once, not every interval.
  let refused: string | undefined;
  let closed = false;
  let queue: Promise<TlsReloadOutcome> = Promise.resolve("unchanged");

  const check = async (trigger: "signal" | "poll"): Promise<TlsReloadOutcome> => {
    if (closed) return "off";
    const log = logger.child({ tls: "reload", trigger });
    let next: TlsMaterial;
    try {
      next = await readMaterial(config);
    } catch (error) {
      return refuse(log, trigger, (error as Error).message, (error as Error).message);
    }
    if (sameMaterial(next, material)) {
      refused = undefined;
      if (trigger === "signal") log.info({ serial: summary.serial }, "TLS files unchanged: keeping the certificate in force");
      return "unchanged";
    }
    const fingerprint = fingerprintOf(next);
    if (trigger === "poll" && refused === fingerprint) return "rejected";
    let nextSummary: CertificateSummary;
    try {
      nextSummary = checkMaterial(next, config);
    } catch (error) {
      return refuse(log, trigger, fingerprint, (error as Error).message);
    }
    const previous = summary;
    material = next;
    summary = nextSummary;
    refused = undefined;
    provider.publish(next);
    for (const listener of httpsListeners) {
      try {
        listener(secureContextOptions(next));
      } catch (error) {
        log.error({ err: error }, "an HTTPS port refused the new certificate; it keeps the one it had");
      }
    }
    log.info(
      { previousSerial: previous.serial, ...nextSummary },
      `TLS certificate reloaded: ${nextSummary.subject} (serial ${nextSummary.serial}) valid until ${nextSummary.validTo}; open connections keep the old one`,
    );
    return "reloaded";
  };
  const refuse = (log: Logger, trigger: "signal" | "poll", key: string, why: string): TlsReloadOutcome => {
    if (trigger === "signal" || refused !== key) {
      log.error({ serial: summary.serial }, `new TLS files refused, keeping the certificate in force (serial ${summary.serial}): ${why}`);
    }
    refused = key;
    return "rejected";
  };
  // One check at a time, in order: a SIGHUP during a poll reads the files after it.
  const enqueue = (trigger: "signal" | "poll") => {
    queue = queue
      .then(() => check(trigger))
      .catch((error: unknown) => {
        logger.error({ err: error, tls: "reload", trigger }, "TLS reload failed; keeping the certificate in force");
        return "rejected" as const;
      });
    return queue;
  };
  const timer = setInterval(() => void enqueue("poll"), config.reloadIntervalMs);
  timer.unref();

  return {
    enabled: true,
    credentials,
    clientCertificates,
    httpsOptions: () => ({
      ...secureContextOptions(material),
      requestCert: clientCertificates !== "none",
      rejectUnauthorized: clientCertificates === "require",
    }),
    onReload: (listener) => {
      httpsListeners.add(listener);
      return () => httpsListeners.delete(listener);
    },
    reload: () => enqueue("signal"),
    close: () => {
      closed = true;
      clearInterval(timer);
    },
  };
}

/**
 * A grpc-js certificate provider holding both the server's certificate and the client CA bundle, and
 * telling its listeners when {@link publish} replaces them. grpc-js's `FileWatcherCertificateProvider`
 * does not fit: it only polls (no reload on demand), and a file that fails to read or a key that
 * does not match leaves the server with no usable certificate instead of the old one.
 */
class ReloadableCertificateProvider implements experimental.CertificateProvider {
  private readonly identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  private readonly caListeners = new Set<experimental.CaCertificateUpdateListener>();

  constructor(private material: TlsMaterial) {}

  publish(material: TlsMaterial): void {
    this.material = material;
    for (const listener of this.identityListeners) listener(this.identityUpdate());
    for (const listener of this.caListeners) listener(this.caUpdate());
  }

  // Listeners hear the current material on the next tick, as grpc-js's own provider does: the
  // server registers its watcher on the credentials only after the credentials register here.
  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate {
    return { certificate: this.material.cert, privateKey: this.material.key };
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.material.ca ? { caCertificate: this.material.ca } : null;
  }
}

function readMaterialSync(config: TlsConfig): TlsMaterial {
  const read = (key: keyof TlsConfig, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read tls.${key} ${path}: ${(error as Error).message}`, { cause: error });
    }
  };
  const cert = read("certFile", config.certFile);
  const key = read("keyFile", config.keyFile);
  return config.clientCaFile === "" ? { cert, key } : { cert, key, ca: read("clientCaFile", config.clientCaFile) };
}

async function readMaterial(config: TlsConfig): Promise<TlsMaterial> {
  const read = async (key: keyof TlsConfig, path: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new Error(`cannot read tls.${key} ${path}: ${(error as Error).message}`, { cause: error });
    }
  };
  const [cert, key, ca] = await Promise.all([
    read("certFile", config.certFile),
    read("keyFile", config.keyFile),
    config.clientCaFile === "" ? undefined : read("clientCaFile", config.clientCaFile),
  ]);
  return ca ? { cert, key, ca } : { cert, key };
}

/**
 * Checks that the certificate and key parse and belong together, that the certificate has not
 * expired and that the CA bundle holds certificates; returns what the logs say about it. Throws an
 * error whose message names the config key at fault.
 */
function checkMaterial(material: TlsMaterial, config: TlsConfig): CertificateSummary {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(material.cert);
  } catch (error) {
    throw new Error(`tls.certFile ${config.certFile} holds no PEM certificate (${(error as Error).message})`, { cause: error });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(material.key);
  } catch (error) {
    throw new Error(`tls.keyFile ${config.keyFile} holds no unencrypted PEM private key (${(error as Error).message})`, { cause: error });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new Error(`tls.keyFile ${config.keyFile} is not the key of the certificate in tls.certFile ${config.certFile}`);
  }
  const validTo = new Date(leaf.validTo);
  if (validTo.getTime() <= Date.now()) {
    throw new Error(`the certificate in tls.certFile ${config.certFile} (serial ${leaf.serialNumber}) expired on ${validTo.toISOString()}`);
  }
  let clientCas: number | undefined;
  if (material.ca) {
    const blocks = material.ca.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      for (const block of blocks) new X509Certificate(block);
    } catch (error) {
      throw new Error(`tls.clientCaFile ${config.clientCaFile} holds a certificate that does not parse (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (blocks.length === 0) throw new Error(`tls.clientCaFile ${config.clientCaFile} holds no PEM certificate`);
    clientCas = blocks.length;
  }
  try {
    // What the servers will do with it: catches what the checks above do not (a broken chain PEM).
    createSecureContext(secureContextOptions(material));
  } catch (error) {
    throw new Error(
      `tls.certFile ${config.certFile} and tls.keyFile ${config.keyFile} do not make a TLS context (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  return {
    subject: leaf.subject.replaceAll("\n", ", "),
    issuer: leaf.issuer.replaceAll("\n", ", "),
    serial: leaf.serialNumber,
    ...(leaf.subjectAltName ? { subjectAltName: leaf.subjectAltName } : {}),
    validFrom: new Date(leaf.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    expiresInDays: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
    fingerprint256: leaf.fingerprint256,
    ...(clientCas === undefined ? {} : { clientCas }),
  };
}

function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return material.ca ? { cert: material.cert, key: material.key, ca: material.ca } : { cert: material.cert, key: material.key };
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return (
    a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca))
  );
}

function fingerprintOf(material: TlsMaterial): string {
  const hash = createHash("sha256").update(material.cert).update("\0").update(material.key);
  if (material.ca) hash.update("\0").update(material.ca);
  return hash.digest("hex");
}
