/**
 * Our own checks on a validated ID token, where openid-client (oauth4webapi) has none, and the
 * mapping of claims to a LoginIdentity.
 *
 * Rules (on top of openid-client's signature, iss, aud ∋ client_id, exp, nonce, sub presence):
 * - The signature algorithm is asymmetric (RS/PS/ES/EdDSA): `none` and HMAC are refused even if an
 *   IdP advertises them.
 * - `azp`, whenever present, equals our client_id — also with a single audience.
 * - `aud` holds nothing but our client_id (no extra, untrusted audiences).
 * - `iat` is at most `maxIdTokenAgeSeconds` old and not in the future (beyond the tolerance).
 * - `auth_time`, when present, is not in the future; when `maxAuthAgeSeconds` is set it must be
 *   present and at most that old.
 * - `sub` is a non-empty string of at most 255 characters (OIDC Core §2).
 * - UserInfo is only merged when its `sub` equals the ID token's.
 * - `email_verified` counts only when it is the boolean true; groups are taken verbatim (strings
 *   only, never truncated; longer than 256 characters — unmappable — are dropped).
 */
export const CLOCK_TOLERANCE_SECONDS = 30;
const ASYMMETRIC_ALG = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;
const MAX_GROUPS = 1000;
const MAX_GROUP_LENGTH = 256;

export class ClaimRejection extends Error {}

export interface IdTokenPolicy {
  clientId: string;
  maxIdTokenAgeSeconds: number;
  maxAuthAgeSeconds: number | null;
  /** Seconds since the epoch. */
  now: number;
}

export type Claims = Record<string, unknown>;

export function checkIdToken(header: { alg?: unknown }, claims: Claims, policy: IdTokenPolicy): void {
  const alg = header.alg;
  if (typeof alg !== "string" || !ASYMMETRIC_ALG.test(alg)) {
    throw new ClaimRejection(`ID token signed with ${JSON.stringify(alg)}: only asymmetric signatures (RS256, PS256, ES256, EdDSA...) are accepted`);
  }
  const { sub } = claims;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 255) throw new ClaimRejection("ID token has no valid sub (subject) claim");

  const aud = claims.aud;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(policy.clientId)) throw new ClaimRejection(`ID token audience ${JSON.stringify(aud)} does not include our client_id ${policy.clientId}`);
  const others = audiences.filter((a) => a !== policy.clientId);
  if (others.length > 0) throw new ClaimRejection(`ID token audience holds untrusted extra audiences ${JSON.stringify(others)}`);
  if (claims.azp !== undefined && claims.azp !== policy.clientId) {
    throw new ClaimRejection(`ID token azp (authorized party) ${JSON.stringify(claims.azp)} is not our client_id ${policy.clientId}`);
  }

  const iat = claims.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw new ClaimRejection("ID token has no numeric iat (issued at) claim");
  if (iat > policy.now + CLOCK_TOLERANCE_SECONDS) throw new ClaimRejection(`ID token iat is ${iat - policy.now} s in the future: check the clocks`);
  if (policy.now - iat > policy.maxIdTokenAgeSeconds) {
    throw new ClaimRejection(`ID token is too old: issued ${policy.now - iat} s ago, at most ${policy.maxIdTokenAgeSeconds} s allowed`);
  }

  const authTime = claims.auth_time;
  if (authTime !== undefined) {
    if (typeof authTime !== "number" || !Number.isFinite(authTime)) throw new ClaimRejection("ID token auth_time is not a number");
    if (authTime > policy.now + CLOCK_TOLERANCE_SECONDS) throw new ClaimRejection("ID token auth_time is in the future: check the clocks");
  }
  if (policy.maxAuthAgeSeconds !== null) {
    if (typeof authTime !== "number") throw new ClaimRejection("ID token has no auth_time although max_age was requested");
    if (policy.now - authTime > policy.maxAuthAgeSeconds + CLOCK_TOLERANCE_SECONDS) {
      throw new ClaimRejection(`the person authenticated ${policy.now - authTime} s ago at the IdP, at most ${policy.maxAuthAgeSeconds} s allowed`);
    }
  }
}

/** Whether UserInfo may hold what the ID token lacks (email, name or the groups claim). */
export function wantsUserInfo(claims: Claims, groupsClaim: string): boolean {
  return claims.email === undefined || claims[groupsClaim] === undefined || (claims.name === undefined && claims.preferred_username === undefined);
}

/** ID-token claims, completed (never overridden) by UserInfo claims of the same subject. */
export function mergeUserInfo(idClaims: Claims, userInfo: Claims | null): Claims {
  if (!userInfo) return idClaims;
  if (userInfo.sub !== idClaims.sub) {
    throw new ClaimRejection(`UserInfo sub ${JSON.stringify(userInfo.sub)} does not match the ID token sub ${JSON.stringify(idClaims.sub)}`);
  }
  const merged: Claims = { ...idClaims };
  for (const [name, value] of Object.entries(userInfo)) if (merged[name] === undefined) merged[name] = value;
  return merged;
}

export interface IdentityClaims {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  groups: string[];
}

export function identityFrom(claims: Claims, groupsClaim: string): IdentityClaims {
  const email = typeof claims.email === "string" && claims.email.includes("@") && claims.email.length <= 320 ? claims.email.trim() : null;
  return {
    subject: claims.sub as string,
    email,
    emailVerified: email !== null && claims.email_verified === true,
    displayName: displayNameOf(claims),
    groups: groupsOf(claims[groupsClaim]),
  };
}

function displayNameOf(claims: Claims): string | null {
  const pick = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim().slice(0, 200) : null);
  const given = [pick(claims.given_name), pick(claims.family_name)].filter(Boolean).join(" ");
  return pick(claims.name) ?? (given || null) ?? pick(claims.preferred_username);
}

function groupsOf(value: unknown): string[] {
  const list = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
  const groups = list.filter((g): g is string => typeof g === "string" && g.length > 0 && g.length <= MAX_GROUP_LENGTH);
  return [...new Set(groups)].slice(0, MAX_GROUPS);
}
