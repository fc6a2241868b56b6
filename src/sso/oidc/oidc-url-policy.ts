/**
 * Which URLs an OIDC connection may use.
 *
 * Rules:
 * - Issuers, redirect URIs, and every endpoint learned by discovery must be https.
 * - Plain http is accepted only for loopback hosts (localhost, 127.0.0.1, [::1]) — local IdPs in
 *   tests and development — and never when NODE_ENV=production. Only then is openid-client's
 *   `allowInsecureRequests` switched on for the connection.
 * - No credentials, query or fragment in an issuer; no fragment in a redirect URI.
 */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export interface UrlPolicy {
  /** true outside NODE_ENV=production. */
  allowHttpLoopback: boolean;
}

export function isHttpLoopback(url: URL): boolean {
  return url.protocol === "http:" && LOOPBACK.has(url.hostname);
}

/** A problem with the URL as a sentence, or null when it is acceptable. */
export function urlProblem(field: string, value: string, policy: UrlPolicy, options: { allowQuery: boolean }): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} must be an absolute URL such as https://idp.example.com, got "${value}"`;
  }
  if (url.username || url.password) return `${field} must not contain credentials`;
  if (url.hash) return `${field} must not contain a fragment (#...)`;
  if (!options.allowQuery && url.search) return `${field} must not contain a query string`;
  if (url.protocol === "https:") return null;
  if (isHttpLoopback(url)) {
    return policy.allowHttpLoopback ? null : `${field} must use https (http is accepted only for localhost outside production)`;
  }
  return `${field} must use https (http only for localhost, and never in production), got ${url.protocol.replace(":", "")}`;
}

/** Whether openid-client must be allowed plain http for this issuer (loopback, outside production). */
export function needsInsecureRequests(issuer: string, policy: UrlPolicy): boolean {
  try {
    const url = new URL(issuer);
    return policy.allowHttpLoopback && isHttpLoopback(url);
  } catch {
    return false;
  }
}
