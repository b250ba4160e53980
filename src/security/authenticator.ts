/**
 * Turns what a call presents — an API key, a bearer token, a client certificate — into a
 * {@link Principal}, or refuses it. API keys (`sk_…`) and JWTs share the bearer header; a key
 * may also come as `x-api-key`. A verified client certificate authenticates when no header does.
 */
import type { PeerCertificate } from "node:tls";
import { UnauthenticatedError } from "../common/errors.js";
import type { AccessControl } from "./access-control.js";
import { principalFromCertificate } from "./client-certificate.js";
import { InvalidTokenError, type JwtVerifier, type VerifiedToken } from "./jwt.js";
import type { Principal } from "./principal.js";

/** What a call presented. */
export interface PresentedCredentials {
  /** The `authorization` header. */
  authorization?: string;
  /** The `x-api-key` header. */
  apiKey?: string;
  /** The client certificate, when the TLS layer verified it against the configured CA. */
  peerCertificate?: PeerCertificate;
}

/** Which part of a client certificate names the principal. */
export type CertificatePrincipalSource = "subject-cn" | "san-uri" | "san-dns";

/** Authenticates calls with every configured method. */
export class Authenticator {
  constructor(
    private readonly access: AccessControl,
    private readonly jwt: JwtVerifier | undefined,
    private readonly certificatePrincipal: CertificatePrincipalSource,
  ) {}

  /** The caller, synchronously when nothing needs verifying anew; throws or rejects with {@link UnauthenticatedError}. */
  authenticate(credentials: PresentedCredentials): Principal | Promise<Principal> {
    if (credentials.apiKey !== undefined) return this.byApiKey(credentials.apiKey);
    if (credentials.authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(credentials.authorization);
      if (!match) throw new UnauthenticatedError('the authorization header must be "Bearer <API key or token>"');
      const secret = match[1] as string;
      if (secret.startsWith("sk_")) return this.byApiKey(secret);
      if (!this.jwt) throw new UnauthenticatedError("the bearer credential is not an API key (sk_…) and this server verifies no tokens");
      const verified = this.jwt.verify(secret);
      return verified instanceof Promise
        ? verified.then((token) => this.fromToken(token), rethrowAsUnauthenticated)
        : this.fromToken(verified);
    }
    if (credentials.peerCertificate) {
      const name = principalFromCertificate(credentials.peerCertificate, this.certificatePrincipal);
      if (name === undefined)
        throw new UnauthenticatedError(`the client certificate has no ${this.certificatePrincipal} to name the principal`);
      return this.access.principal(name, "mtls", []);
    }
    throw new UnauthenticatedError(
      'credentials required: send "authorization: Bearer <API key or token>" or "x-api-key", or a client certificate',
    );
  }

  private byApiKey(secret: string): Principal {
    const principal = this.access.authenticateApiKey(secret);
    if (!principal) throw new UnauthenticatedError("unknown, revoked or expired API key");
    return principal;
  }

  private fromToken(token: VerifiedToken): Principal {
    return this.access.principal(token.principal, "jwt", token.grants);
  }
}

function rethrowAsUnauthenticated(error: unknown): never {
  if (error instanceof InvalidTokenError) throw new UnauthenticatedError(error.message);
  throw error;
}
