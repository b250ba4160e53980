/**
 * Verifies JWTs from an identity provider (RS256 or ES256) against its JWKS — a file, or a URL
 * that jose fetches and caches — checking signature, issuer, audience, expiry and not-before.
 * Verified tokens are cached until they expire, so a client reusing its token pays for one
 * signature check, not one per call.
 */
import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { SluiceConfig } from "../config/config.js";
import { parseGrants, type RoleGrant } from "./principal.js";

/** Signature algorithms accepted; anything else (`none`, HS256 with a public key as secret, ...) is refused. */
const ALGORITHMS = ["RS256", "ES256"];
/** Verified tokens remembered; beyond it the oldest are forgotten. */
const CACHE_ENTRIES = 10_000;

/** Who a verified token names, and the grants its claims carry. */
export interface VerifiedToken {
  principal: string;
  grants: RoleGrant[];
  /** When the token stops being valid (ms since the epoch); Infinity without `exp`. */
  expiresAtMs: number;
}

/** A token that did not verify; the message says why, for the caller and the log. */
export class InvalidTokenError extends Error {
  override name = "InvalidTokenError";
}

type JwtConfig = SluiceConfig["auth"]["jwt"];

/** Verifies tokens for one identity provider. */
export class JwtVerifier {
  private readonly cache = new Map<string, VerifiedToken>();

  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly config: JwtConfig,
    private readonly now: () => number,
  ) {}

  /** The verifier the config describes, or undefined when no JWKS is configured. */
  static fromConfig(config: JwtConfig, now: () => number = Date.now): JwtVerifier | undefined {
    if (config.jwksFile !== "") {
      let jwks: unknown;
      try {
        jwks = JSON.parse(readFileSync(config.jwksFile, "utf8"));
      } catch (error) {
        throw new Error(`cannot read auth.jwt.jwksFile ${config.jwksFile}: ${(error as Error).message}`);
      }
      return new JwtVerifier(createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]), config, now);
    }
    if (config.jwksUrl !== "") return new JwtVerifier(createRemoteJWKSet(new URL(config.jwksUrl)), config, now);
    return undefined;
  }

  /** The token's principal and grants; a cached answer is returned synchronously. Rejects with {@link InvalidTokenError}. */
  verify(token: string): VerifiedToken | Promise<VerifiedToken> {
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAtMs - this.config.clockToleranceSeconds * 1000 > this.now()) return cached;
      this.cache.delete(token);
    }
    return this.verifyUncached(token);
  }

  private async verifyUncached(token: string): Promise<VerifiedToken> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ALGORITHMS,
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
        ...(this.config.audience ? { audience: this.config.audience } : {}),
        clockTolerance: this.config.clockToleranceSeconds,
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      throw new InvalidTokenError(`invalid token: ${(error as Error).message}`);
    }
    const principal = payload[this.config.principalClaim];
    if (typeof principal !== "string" || principal === "")
      throw new InvalidTokenError(`invalid token: claim "${this.config.principalClaim}" (the principal) is missing`);
    const claimed = payload[this.config.rolesClaim];
    const texts = Array.isArray(claimed) ? claimed : typeof claimed === "string" ? claimed.split(/\s+/).filter(Boolean) : [];
    const verified: VerifiedToken = {
      principal,
      grants: parseGrants(texts).grants,
      expiresAtMs: typeof payload.exp === "number" ? payload.exp * 1000 : Number.POSITIVE_INFINITY,
    };
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, verified);
    return verified;
  }
}
