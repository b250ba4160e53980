/**
 * How the SDK's channel carries credentials. An API key or a bearer token becomes an
 * `authorization: Bearer ...` header on every call, the generated stubs' calls included:
 * - over TLS, as grpc-js call credentials combined with the channel's SSL credentials;
 * - over plaintext, where grpc-js refuses call credentials, through a client interceptor.
 * A secret goes in plaintext only to a loopback address, or anywhere with `tls: false` (plaintext
 * chosen explicitly, e.g. behind a mesh that encrypts the hop).
 */
import { readFileSync } from "node:fs";
import {
  type CallCredentials,
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  InterceptingCall,
  type Interceptor,
  Metadata,
  status,
} from "@grpc/grpc-js";
import { type ArgumentProblem, isObject } from "./arguments.js";
import { invalidArgument } from "./errors.js";

/** A bearer token for each call: a JWT from an identity provider, fetched (or cached) by the caller. */
export type TokenProvider = () => string | Promise<string>;

/**
 * TLS to the server. Each PEM item is given as text or bytes, or as a file path (`...File`), not both.
 * With neither `ca` nor `caFile`, the server's certificate must chain to Node's root certificates.
 */
export interface TlsOptions {
  /** PEM CA bundle the server's certificate must chain to. */
  ca?: string | Uint8Array;
  caFile?: string;
  /** PEM client certificate chain, for mutual TLS; needs `key`. */
  cert?: string | Uint8Array;
  certFile?: string;
  /** PEM private key of `cert`. */
  key?: string | Uint8Array;
  keyFile?: string;
  /** The name the server's certificate must carry when it is not the address's host (an IP address, a tunnel). */
  serverName?: string;
}

/** What the SDK's stubs are built with: channel credentials, channel options, and interceptors. */
export interface Connection {
  credentials: ChannelCredentials;
  channelOptions: ChannelOptions;
  interceptors: Interceptor[];
}

/** The credential options of {@link SluiceClientOptions}, as {@link connectionFor} reads them. */
export interface CredentialOptions {
  address: string;
  tls?: boolean | TlsOptions | ChannelCredentials;
  apiKey?: string;
  token?: string | TokenProvider;
}

/**
 * Builds the channel's credentials from the client's options (already shape-checked). Throws a
 * SluiceClientError (INVALID_ARGUMENT) when a TLS file cannot be read, or when a secret would go in
 * plaintext to a remote address without `tls: false`.
 */
export function connectionFor(options: CredentialOptions, method: string): Connection {
  const transport = transportOf(options.tls, method);
  const authorization = authorizationOf(options);
  const connection: Connection = { credentials: transport.credentials, channelOptions: transport.channelOptions, interceptors: [] };
  if (!authorization) return connection;
  if (transport.credentials._isSecure()) {
    connection.credentials = credentials.combineChannelCredentials(transport.credentials, callCredentialsOf(authorization));
    return connection;
  }
  if (options.tls === undefined && !isLoopbackAddress(options.address)) {
    throw invalidArgument(method, [
      {
        field: "tls",
        description:
          `must be set when credentials go to ${options.address}, not to a loopback address: ` +
          "TLS options (or true) to encrypt them, or false to send them in plaintext on purpose",
        reason: "INVALID_ARGUMENT",
      },
    ]);
  }
  connection.interceptors.push(authorizationInterceptor(authorization));
  return connection;
}

/** The problems of the credential options together (each shape is checked beside the other options). */
export function credentialRules(value: Record<string, unknown>, path: string, problems: ArgumentProblem[]): void {
  const at = (key: string) => (path === "" ? key : `${path}.${key}`);
  if (isSet(value.apiKey) && isSet(value.token)) {
    problems.push({
      field: at("token"),
      description: "cannot be set together with apiKey: give one credential",
      reason: "INVALID_ARGUMENT",
    });
  }
  const tls = value.tls;
  if (!isObject(tls) || isChannelCredentials(tls)) return;
  for (const item of ["ca", "cert", "key"]) {
    if (isSet(tls[item]) && isSet(tls[`${item}File`])) {
      problems.push({ field: at(`tls.${item}File`), description: `cannot be set together with tls.${item}`, reason: "INVALID_ARGUMENT" });
    }
  }
  const hasCert = isSet(tls.cert) || isSet(tls.certFile);
  const hasKey = isSet(tls.key) || isSet(tls.keyFile);
  if (hasCert !== hasKey) {
    problems.push({
      field: at(hasCert ? "tls.key" : "tls.cert"),
      description: `is required with tls.${hasCert ? "cert" : "key"}: a client certificate and its key go together`,
      reason: "MISSING_FIELD",
    });
  }
}

/** Whether a value is grpc-js channel credentials rather than {@link TlsOptions}. */
export function isChannelCredentials(value: unknown): value is ChannelCredentials {
  return isObject(value) && typeof value._isSecure === "function";
}

/**
 * Whether `address` ("host:port", "[::1]:port", "dns:///host:port", "unix:path") names this machine:
 * localhost, 127.0.0.0/8, ::1, or a Unix socket.
 */
export function isLoopbackAddress(address: string): boolean {
  const target = address.trim().toLowerCase();
  if (/^unix(-abstract)?:/.test(target)) return true;
  const hostPort = target.replace(/^(dns:(\/\/[^/]*\/)?|ipv4:|ipv6:)/, "");
  const bracketed = /^\[([^\]]+)\](:\d+)?$/.exec(hostPort);
  const colons = hostPort.split(":").length - 1;
  const host = bracketed ? (bracketed[1] ?? "") : colons > 1 ? hostPort : (hostPort.split(":")[0] ?? "");
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === "::1" ||
    host === "::ffff:127.0.0.1"
  );
}

function transportOf(tls: CredentialOptions["tls"], method: string): Omit<Connection, "interceptors"> {
  if (tls === undefined || tls === false) return { credentials: credentials.createInsecure(), channelOptions: {} };
  if (tls === true) return { credentials: credentials.createSsl(), channelOptions: {} };
  if (isChannelCredentials(tls)) return { credentials: tls, channelOptions: {} };
  const pem = (item: "ca" | "cert" | "key"): Buffer | null => {
    const text = tls[item];
    if (text !== undefined && text !== null) return Buffer.from(text);
    const file = tls[`${item}File`];
    if (file === undefined || file === null || file === "") return null;
    try {
      return readFileSync(file);
    } catch (error) {
      throw invalidArgument(method, [
        { field: `tls.${item}File`, description: `cannot be read: ${(error as Error).message}`, reason: "INVALID_ARGUMENT" },
      ]);
    }
  };
  const channelOptions: ChannelOptions = tls.serverName
    ? { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName }
    : {};
  return { credentials: credentials.createSsl(pem("ca"), pem("key"), pem("cert")), channelOptions };
}

/** The `authorization` value of each call, or undefined without credentials (an empty string is none). */
function authorizationOf(options: CredentialOptions): (() => Promise<string>) | undefined {
  const { apiKey, token } = options;
  if (isSet(apiKey)) return async () => `Bearer ${apiKey}`;
  if (typeof token === "string" && token !== "") return async () => `Bearer ${token}`;
  if (typeof token === "function") {
    return async () => {
      const fresh = await token();
      if (typeof fresh !== "string" || fresh === "")
        throw new Error(`the token provider returned ${fresh === "" ? "an empty string" : typeof fresh}`);
      return `Bearer ${fresh}`;
    };
  }
  return undefined;
}

/** The message of a token provider's failure; grpc-js puts the same prefix before it on a TLS channel. */
const PROVIDER_FAILED = "Getting metadata from plugin failed with error: ";

/** A token provider's failure: UNAUTHENTICATED (the call is not sent), as the server would answer without a token. */
function providerError(error: unknown): Error & { code: status } {
  const message = error instanceof Error ? error.message : String(error);
  return Object.assign(new Error(message, { cause: error }), { code: status.UNAUTHENTICATED });
}

function callCredentialsOf(authorization: () => Promise<string>): CallCredentials {
  return credentials.createFromMetadataGenerator((_params, callback) => {
    authorization().then(
      (value) => {
        const metadata = new Metadata();
        metadata.set("authorization", value);
        callback(null, metadata);
      },
      // grpc-js keeps the code (UNAUTHENTICATED is not one it restricts) and prefixes the message.
      (error: unknown) => callback(providerError(error)),
    );
  });
}

/**
 * Sets `authorization` before the call starts. A message sent meanwhile waits in the
 * InterceptingCall; when the token cannot be had, the call ends without being sent.
 */
function authorizationInterceptor(authorization: () => Promise<string>): Interceptor {
  return (options, nextCall) => {
    const next = nextCall(options);
    return new InterceptingCall(next, {
      start(metadata, listener, start) {
        authorization().then(
          (value) => {
            metadata.set("authorization", value);
            start(metadata, listener);
          },
          (error: unknown) => {
            const { code, message } = providerError(error);
            next.cancelWithStatus(code, PROVIDER_FAILED + message);
            listener.onReceiveStatus({ code, details: PROVIDER_FAILED + message, metadata: new Metadata() });
          },
        );
      },
    });
  };
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}
