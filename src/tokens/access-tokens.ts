/**
 * Access tokens: short-lived JWTs we sign for users.
 *
 * Rules (tok-01..05):
 * - Header: alg ES256 only, typ "at+jwt", a kid of ours; a header carrying jwk / jku / x5u / x5c /
 *   crit is refused before anything is looked up or fetched.
 * - Claims: iss and aud are ours; exp, iat, sub, sid, jti, org and role are required; iat and nbf
 *   may not lie in the future beyond the clock tolerance.
 * - A token whose only fault is being expired answers TOKEN_EXPIRED (clients refresh); every other
 *   fault is UNAUTHENTICATED.
 * - A retired key's tokens are refused; the previous key verifies during the rotation overlap.
 * - A token that verified is remembered (bounded) until it expires, so repeated requests skip the
 *   signature check; key retirement is still read on every request, and expiry still answers
 *   TOKEN_EXPIRED.
 */
import type { EntityManager } from "typeorm";
import { randomUUID } from "node:crypto";
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import { AppError, UnauthenticatedError } from "../shared/errors";
import { TOKEN_ALGORITHM, type SigningKeys } from "./signing-keys";

export const ACCESS_TOKEN_TYPE = "at+jwt";
const FORBIDDEN_HEADERS = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"];

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  org: string;
  role: string;
  jti: string;
  iat: number;
  exp: number;
}

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clockToleranceSeconds: number;
}

const VERIFIED_CACHE_SIZE = 10_000;

export class AccessTokens {
  /** Tokens whose signature and claims verified, until they expire (bounded, oldest out first). */
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(
    private readonly keys: SigningKeys,
    private readonly settings: AccessTokenSettings,
  ) {}

  /** `em`: the caller's transaction, if it holds one (the key lookup then uses its connection). */
  async issue(input: { userId: string; sessionId: string; organizationId: string; roleKey: string }, now = new Date(), em?: EntityManager): Promise<{ token: string; expiresIn: number }> {
    const { kid, key } = await this.keys.signingKey(em);
    const iat = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({ sid: input.sessionId, org: input.organizationId, role: input.roleKey })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(input.userId)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.settings.ttlSeconds)
      .sign(key);
    return { token, expiresIn: this.settings.ttlSeconds };
  }

  async verify(token: string, now = new Date()): Promise<AccessTokenClaims> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw refused("malformed token");
    }
    if (header.alg !== TOKEN_ALGORITHM) throw refused(`algorithm ${String(header.alg)} is not accepted`);
    if (header.typ !== ACCESS_TOKEN_TYPE) throw refused("not an access token");
    const embedded = FORBIDDEN_HEADERS.filter((h) => h in header);
    if (embedded.length > 0) throw refused(`header ${embedded.join(", ")} is not accepted`);
    if (typeof header.kid !== "string") throw refused("no key id");
    const key = await this.keys.verificationKey(header.kid, now);
    if (!key) throw refused("unknown or retired signing key");
    // The same token verified before: only its expiry can have changed (retirement was checked above).
    const cached = this.verified.get(token);
    if (cached && cached.exp + this.settings.clockToleranceSeconds > now.getTime() / 1000) return cached;

    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [TOKEN_ALGORITHM],
        typ: ACCESS_TOKEN_TYPE,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ["exp", "iat", "sub", "sid", "jti", "org", "role"],
        clockTolerance: this.settings.clockToleranceSeconds,
        currentDate: now,
      });
      const nowSeconds = now.getTime() / 1000;
      if (typeof payload.iat !== "number" || payload.iat > nowSeconds + this.settings.clockToleranceSeconds) throw refused("issued in the future");
      for (const claim of ["sid", "org", "role"] as const) {
        if (typeof payload[claim] !== "string") throw refused(`claim ${claim} is invalid`);
      }
      const claims = payload as unknown as AccessTokenClaims;
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, claims);
      return claims;
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof errors.JWTExpired) {
        throw new AppError("TOKEN_EXPIRED", "Access token expired: refresh it at POST /auth/token (grant_type=refresh_token)");
      }
      throw refused(error instanceof errors.JOSEError ? error.code : "invalid token");
    }
  }
}

function refused(detail: string): UnauthenticatedError {
  return new UnauthenticatedError("Invalid access token", detail);
}
