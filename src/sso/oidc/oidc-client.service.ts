/**
 * openid-client 6 configurations for OIDC connections: discovery, client authentication, the
 * shared JWKS cache and connection tests.
 *
 * Rules:
 * - Discovery (issuer → metadata) is validated by openid-client: the document's `issuer` must be
 *   the configured issuer (oidc-04). Metadata is cached per connection for 10 minutes and dropped
 *   when the connection changes.
 * - Every login gets a fresh Configuration with `enableNonRepudiationChecks` (the ID token
 *   signature is verified against the IdP's JWKS) and plain http only for loopback issuers outside
 *   production (`allowInsecureRequests`).
 * - JWKS: the fetched key set is shared between logins of a connection (getJwksCache /
 *   setJwksCache). openid-client alone keeps a key set for 60 s and fails with
 *   KEY_SELECTION_FAILED on a new `kid` meanwhile; so when the ID token names a `kid` we do not
 *   know, the key set is refetched once — at most once per cooldown (30 s) per connection, so a
 *   flood of unknown kids cannot make us hammer the IdP (oidc-07).
 * - Requests to the IdP time out after 10 s.
 */
import * as client from "openid-client";
import { decodeProtectedHeader } from "jose";
import type { OidcConnectionEntity } from "./oidc-connection.entity";
import { needsInsecureRequests, urlProblem, type UrlPolicy } from "./oidc-url-policy";

const DISCOVERY_TTL_MS = 10 * 60_000;
const JWKS_REFETCH_COOLDOWN_MS = 30_000;
const TIMEOUT_SECONDS = 10;

interface ProviderEntry {
  /** What the entry was discovered for; a changed connection starts over. */
  fingerprint: string;
  metadata: client.ServerMetadata;
  discoveredAt: number;
  jwks: client.ExportedJWKSCache | undefined;
  lastForcedJwksRefetch: number;
}

export interface OidcClientOptions extends UrlPolicy {
  now?: () => number;
  jwksRefetchCooldownMs?: number;
  discoveryTtlMs?: number;
}

/** A per-login openid-client Configuration; call `release()` when the login is done. */
export interface LoginClient {
  config: client.Configuration;
  metadata: client.ServerMetadata;
  release(): void;
}

export class OidcDiscoveryError extends Error {}

export class OidcClientService {
  private readonly entries = new Map<string, ProviderEntry>();
  private readonly pending = new Map<string, Promise<ProviderEntry>>();
  private readonly now: () => number;
  private readonly cooldownMs: number;
  private readonly ttlMs: number;
  /** JWKS downloads forced by an unknown kid (observable for tests and metrics). */
  forcedJwksRefetches = 0;

  constructor(private readonly options: OidcClientOptions) {
    this.now = options.now ?? Date.now;
    this.cooldownMs = options.jwksRefetchCooldownMs ?? JWKS_REFETCH_COOLDOWN_MS;
    this.ttlMs = options.discoveryTtlMs ?? DISCOVERY_TTL_MS;
  }

  /** Drops what is cached for a connection (after it changed or was deleted). */
  forget(connectionId: string): void {
    this.entries.delete(connectionId);
  }

  async loginClient(connection: OidcConnectionEntity, clientSecret: string | null): Promise<LoginClient> {
    const entry = await this.entry(connection);
    const config = new client.Configuration(entry.metadata, connection.clientId, clientSecret ? { client_secret: clientSecret } : {}, clientAuth(connection, clientSecret));
    if (needsInsecureRequests(connection.issuer, this.options)) client.allowInsecureRequests(config);
    client.enableNonRepudiationChecks(config);
    config.timeout = TIMEOUT_SECONDS;
    if (entry.jwks) client.setJwksCache(config, entry.jwks);
    const tokenEndpoint = normalized(entry.metadata.token_endpoint);
    config[client.customFetch] = async (url, init) => {
      const response = await fetch(url, init as RequestInit);
      if (response.ok && normalized(url) === tokenEndpoint) await this.watchKid(entry, config, response.clone());
      return response;
    };
    return {
      config,
      metadata: entry.metadata,
      release: () => {
        const exported = client.getJwksCache(config);
        if (exported && (!entry.jwks || exported.uat >= entry.jwks.uat)) entry.jwks = exported;
      },
    };
  }

  /**
   * What stops this connection from working, as sentences: discovery, the metadata we rely on,
   * the JWKS, the client secret.
   */
  async test(connection: OidcConnectionEntity, secret: { present: boolean; readable: boolean }): Promise<string[]> {
    const problems: string[] = [];
    const issuerProblem = urlProblem("issuer", connection.issuer, this.options, { allowQuery: false });
    if (issuerProblem) return [issuerProblem];
    if (connection.clientAuthMethod !== "none" && !secret.present) problems.push(`no client secret is stored, but ${connection.clientAuthMethod} needs one`);
    if (secret.present && !secret.readable) problems.push("the stored client secret cannot be decrypted (was the encryption key changed?); set it again");

    let metadata: client.ServerMetadata;
    try {
      // Always a fresh discovery; the cached key set and its refetch cooldown are kept.
      metadata = (await this.discover(connection, fingerprintOf(connection), this.entries.get(connection.id))).metadata;
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
      return problems;
    }
    for (const endpoint of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
      const value = metadata[endpoint];
      if (typeof value !== "string") problems.push(`the discovery document has no ${endpoint}`);
      else {
        const problem = urlProblem(endpoint, value, this.options, { allowQuery: true });
        if (problem) problems.push(problem);
      }
    }
    const list = (name: keyof client.ServerMetadata) => (Array.isArray(metadata[name]) ? (metadata[name] as string[]) : null);
    if (list("response_types_supported") && !list("response_types_supported")!.includes("code")) problems.push("the IdP does not support the authorization code flow (response_types_supported lacks code)");
    if (list("code_challenge_methods_supported") && !list("code_challenge_methods_supported")!.includes("S256")) problems.push("the IdP does not support PKCE S256 (code_challenge_methods_supported)");
    const algs = list("id_token_signing_alg_values_supported");
    if (algs && !algs.some((alg) => /^(RS|PS|ES)\d{3}$|^EdDSA$|^Ed25519$/.test(alg))) problems.push(`the IdP signs ID tokens only with ${algs.join(", ")}; an asymmetric algorithm (RS256, ES256, ...) is required`);
    const methods = list("token_endpoint_auth_methods_supported") ?? ["client_secret_basic"];
    if (!methods.includes(connection.clientAuthMethod)) problems.push(`the IdP's token endpoint does not accept ${connection.clientAuthMethod} (it supports ${methods.join(", ")})`);
    const scopes = list("scopes_supported");
    const missingScopes = scopes ? connection.scopes.split(" ").filter((s) => !scopes.includes(s)) : [];
    if (missingScopes.length > 0) problems.push(`the IdP does not list the scopes ${missingScopes.join(", ")} (scopes_supported)`);

    if (typeof metadata.jwks_uri === "string") {
      try {
        const response = await fetch(metadata.jwks_uri, { signal: AbortSignal.timeout(TIMEOUT_SECONDS * 1000), redirect: "manual" });
        const body = response.ok ? ((await response.json()) as { keys?: Array<{ use?: string; kty?: string }> }) : null;
        if (!body) problems.push(`the JWKS at ${metadata.jwks_uri} answered HTTP ${response.status}`);
        else if (!Array.isArray(body.keys) || !body.keys.some((k) => (k.use === undefined || k.use === "sig") && ["RSA", "EC", "OKP"].includes(k.kty ?? ""))) {
          problems.push(`the JWKS at ${metadata.jwks_uri} holds no signing key`);
        }
      } catch (error) {
        problems.push(`the JWKS at ${metadata.jwks_uri} could not be fetched: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return problems;
  }

  private async entry(connection: OidcConnectionEntity): Promise<ProviderEntry> {
    const fingerprint = fingerprintOf(connection);
    const cached = this.entries.get(connection.id);
    if (cached && cached.fingerprint === fingerprint && this.now() - cached.discoveredAt < this.ttlMs) return cached;
    const key = `${connection.id}\n${fingerprint}`;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.discover(connection, fingerprint, cached).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async discover(connection: OidcConnectionEntity, fingerprint: string, cached: ProviderEntry | undefined): Promise<ProviderEntry> {
    const previous = cached?.fingerprint === fingerprint ? cached : undefined;
    const problem = urlProblem("issuer", connection.issuer, this.options, { allowQuery: false });
    if (problem) throw new OidcDiscoveryError(problem);
    let discovered: client.Configuration;
    try {
      discovered = await client.discovery(new URL(connection.issuer), connection.clientId, undefined, client.None(), {
        execute: needsInsecureRequests(connection.issuer, this.options) ? [client.allowInsecureRequests] : [],
        timeout: TIMEOUT_SECONDS,
      });
    } catch (error) {
      throw new OidcDiscoveryError(`discovery of ${connection.issuer} failed: ${describeOidcError(error)}`);
    }
    const metadata = JSON.parse(JSON.stringify(discovered.serverMetadata())) as client.ServerMetadata;
    for (const endpoint of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
      const value = metadata[endpoint];
      if (typeof value !== "string") throw new OidcDiscoveryError(`the discovery document of ${connection.issuer} has no ${endpoint}`);
      const endpointProblem = urlProblem(endpoint, value, this.options, { allowQuery: true });
      if (endpointProblem) throw new OidcDiscoveryError(`the discovery document of ${connection.issuer}: ${endpointProblem}`);
    }
    const entry: ProviderEntry = {
      fingerprint,
      metadata,
      discoveredAt: this.now(),
      // A rediscovered issuer keeps its key set and cooldown: keys do not change with the TTL.
      jwks: previous?.jwks,
      lastForcedJwksRefetch: previous?.lastForcedJwksRefetch ?? Number.NEGATIVE_INFINITY,
    };
    this.entries.set(connection.id, entry);
    return entry;
  }

  /** Before openid-client verifies the ID token: make it refetch the JWKS once if the kid is new to us. */
  private async watchKid(entry: ProviderEntry, config: client.Configuration, response: Response): Promise<void> {
    let kid: unknown;
    try {
      const body = (await response.json()) as { id_token?: unknown };
      if (typeof body.id_token !== "string") return;
      kid = decodeProtectedHeader(body.id_token).kid;
    } catch {
      return; // openid-client reports the malformed response itself
    }
    const known = client.getJwksCache(config)?.jwks?.keys;
    if (typeof kid !== "string" || !known || known.some((key) => key.kid === kid)) return;
    const now = this.now();
    if (now - entry.lastForcedJwksRefetch < this.cooldownMs) return;
    entry.lastForcedJwksRefetch = now;
    this.forcedJwksRefetches += 1;
    client.setJwksCache(config, {} as client.ExportedJWKSCache); // not fresh → openid-client downloads the JWKS again
  }
}

function fingerprintOf(connection: OidcConnectionEntity): string {
  return `${connection.issuer}\n${connection.clientId}\n${connection.updatedAt.toISOString()}`;
}

function normalized(url: string | undefined): string | null {
  try {
    return url ? new URL(url).href : null;
  } catch {
    return null;
  }
}

function clientAuth(connection: OidcConnectionEntity, secret: string | null): client.ClientAuth {
  if (connection.clientAuthMethod === "none" || !secret) return client.None();
  return connection.clientAuthMethod === "client_secret_post" ? client.ClientSecretPost(secret) : client.ClientSecretBasic(secret);
}

/** openid-client / oauth4webapi errors as one sentence; never includes tokens, claims or secrets. */
export function describeOidcError(error: unknown): string {
  if (error instanceof client.ResponseBodyError) {
    return `the identity provider answered ${error.error}${error.error_description ? ` (${error.error_description})` : ""}`;
  }
  if (error instanceof client.AuthorizationResponseError) {
    return `the identity provider returned ${error.error}${error.error_description ? ` (${error.error_description})` : ""}`;
  }
  if (error instanceof Error) {
    if (error.name === "TimeoutError" || error.name === "AbortError") return "the identity provider did not answer in time";
    if (error instanceof TypeError && error.message === "fetch failed") return "the identity provider could not be reached";
    const code = (error as { code?: unknown }).code;
    // openid-client wraps oauth4webapi's specific error: prefer the specific message.
    const inner = (error as { cause?: unknown }).cause;
    const specific = inner instanceof Error ? inner : error;
    const details = (specific as { cause?: unknown }).cause as
      | { claim?: unknown; attribute?: unknown; expected?: unknown; claims?: Record<string, unknown>; body?: Record<string, unknown>; header?: { kid?: unknown } }
      | undefined;
    let message = specific.message;
    if (code === "OAUTH_KEY_SELECTION_FAILED" && typeof details?.header?.kid === "string") {
      message = `the ID token is signed with key ${JSON.stringify(details.header.kid)}, which the identity provider's JWKS does not publish (${message})`;
    } else if (typeof details?.claim === "string" && ["iss", "aud", "azp"].includes(details.claim) && details.claims) {
      message += `: expected ${JSON.stringify(details.expected)}, got ${JSON.stringify(details.claims[details.claim])}`;
    } else if (details?.attribute === "issuer" && details.body) {
      message += `: expected ${JSON.stringify(String(details.expected))}, got ${JSON.stringify(details.body.issuer)}`;
    }
    return `${message}${typeof code === "string" ? ` [${code}]` : ""}`;
  }
  return String(error);
}
