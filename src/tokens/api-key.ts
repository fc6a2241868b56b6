/**
 * API keys.
 *
 * Rules:
 * - 32 random bytes, base64url, behind a greppable prefix: `rbac_pk_` (platform), `rbac_sk_`
 *   (service account), so a leaked key is easy to find in logs and repositories.
 * - Only SHA-256 of the key is stored (a high-entropy key needs no slow hash); the key is shown once.
 * - Stored hashes are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const PLATFORM_KEY_PREFIX = "rbac_pk_";
export const SERVICE_KEY_PREFIX = "rbac_sk_";
const DISPLAY_PREFIX_LENGTH = 12;

export interface IssuedKey {
  key: string;
  keyPrefix: string;
  keyHash: string;
}

export function issueKey(prefix: string): IssuedKey {
  const key = prefix + randomBytes(32).toString("base64url");
  return { key, keyPrefix: key.slice(0, DISPLAY_PREFIX_LENGTH), keyHash: hashKey(key) };
}

/** A key chosen by the operator (RBAC_BOOTSTRAP_API_KEY): keep only 4 characters for display. */
export function adoptKey(key: string): IssuedKey {
  return { key, keyPrefix: `${key.slice(0, 4)}…`, keyHash: hashKey(key) };
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}
