/**
 * The OIDC login flow: authorization request, then callback → validated identity → login flow.
 *
 * Rules:
 * - Organization `ssoEnabled` false → SSO_DISABLED, at login start and at the callback.
 * - The frontend redirect URI is checked against the organization's allow list before anything
 *   else is stored; the frontend's PKCE challenge must be S256.
 * - Every login: fresh state, nonce and PKCE S256 verifier, kept in the database (sealed) and bound
 *   to the browser by an HttpOnly cookie (oidc-01, oidc-03).
 * - Callback order: the transaction is consumed (state known, same browser, unused — single use,
 *   atomic) and must belong to THIS connection (mix-up, oidc-04) and be unexpired — all before the
 *   token call. Then the RFC 9207 `iss` parameter: required when the IdP advertises
 *   authorization_response_iss_parameter_supported, and equal to the issuer whenever present.
 * - openid-client then redeems the code with the PKCE verifier and validates the ID token (nonce,
 *   iss, aud, exp, signature through enableNonRepudiationChecks); oidc-claims.ts adds azp, extra
 *   audiences, iat / auth_time age, algorithm and sub checks (oidc-05, oidc-06).
 * - UserInfo is only fetched when the ID token lacks email, name or the groups claim, and its sub
 *   must equal the ID token's (oidc-08).
 * - Accounts are keyed on (issuer, sub) by the login flow; the email only counts as verified when
 *   email_verified is true (oidc-09).
 * - Every refusal here writes exactly one audit entry (deps.login.recordFailure); refusals of the
 *   login flow itself (deps.login.complete) are audited there. No session is created either way.
 */
import { randomBytes } from "node:crypto";
import * as client from "openid-client";
import { decodeProtectedHeader } from "jose";
import type { Logger } from "pino";
import type { Database } from "../../db/database";
import type { OrganizationService } from "../../organizations/organization.service";
import { AppError, NotFoundError, SsoError } from "../../shared/errors";
import type { HttpMeta, LoginCompletion, LoginIdentity } from "../login.types";
import { checkIdToken, ClaimRejection, identityFrom, mergeUserInfo, wantsUserInfo, type Claims } from "./oidc-claims";
import { describeOidcError, OidcDiscoveryError, type LoginClient, type OidcClientService } from "./oidc-client.service";
import type { OidcConnectionEntity } from "./oidc-connection.entity";
import type { OidcConnectionService } from "./oidc-connection.service";
import { TransactionRejection, type OidcTransactionService } from "./oidc-transaction.service";

const BROWSER_BINDING = /^[A-Za-z0-9_-]{43}$/;
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43,128}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface LoginStartQuery {
  redirectUri: unknown;
  codeChallenge: unknown;
  codeChallengeMethod: unknown;
  state: unknown;
}

export interface OidcLoginDeps {
  db: Database;
  logger: Logger;
  organizations: OrganizationService;
  login: LoginCompletion;
  connections: OidcConnectionService;
  clients: OidcClientService;
  transactions: OidcTransactionService;
  now?: () => number;
}

/** What the failure audit entry needs to know so far. */
interface Attempt {
  organizationId: string | null;
  connectionId: string | null;
  actor: string | null;
  /** Set once deps.login.complete was called: it audits its own outcome. */
  handedOver: boolean;
}

const fail = (message: string, detail?: string) => new SsoError("SSO_LOGIN_FAILED", message, { detail });

export class OidcLoginService {
  private readonly now: () => number;

  constructor(private readonly deps: OidcLoginDeps) {
    this.now = deps.now ?? Date.now;
  }

  static isBrowserBinding(value: unknown): value is string {
    return typeof value === "string" && BROWSER_BINDING.test(value);
  }

  /** Starts a login: returns the IdP authorization URL and the browser-binding cookie value. */
  async start(connectionId: string, query: LoginStartQuery, browserBinding: string | null, http: HttpMeta): Promise<{ location: string; browserBinding: string }> {
    const attempt: Attempt = { organizationId: null, connectionId: null, actor: null, handedOver: false };
    return this.audited(attempt, http, async () => {
      const connection = await this.connectionFor(connectionId, attempt);
      const redirectUri = requiredParam(query.redirectUri, "redirect_uri", 2048);
      const codeChallenge = optionalParam(query.codeChallenge, "code_challenge", 128);
      if (codeChallenge !== null && !CODE_CHALLENGE.test(codeChallenge)) throw fail("code_challenge must be a base64url S256 challenge (43-128 characters)");
      const method = optionalParam(query.codeChallengeMethod, "code_challenge_method", 16);
      if (method !== null && method !== "S256") throw fail(`code_challenge_method must be S256, got ${method}`);
      if (method !== null && codeChallenge === null) throw fail("code_challenge_method was sent without code_challenge");
      const clientState = optionalParam(query.state, "state", 512);
      await this.deps.login.assertRedirectAllowed(connection.organizationId, redirectUri);

      const loginClient = await this.loginClient(connection);
      try {
        const state = client.randomState();
        const nonce = client.randomNonce();
        const codeVerifier = client.randomPKCECodeVerifier();
        const binding = OidcLoginService.isBrowserBinding(browserBinding) ? browserBinding : randomBytes(32).toString("base64url");
        await this.deps.transactions.create({ connectionId: connection.id, state, browserBinding: binding, nonce, codeVerifier, redirectUri, codeChallenge, clientState }, new Date(this.now()));
        const parameters: Record<string, string> = {
          response_type: "code",
          redirect_uri: this.deps.connections.redirectUriOf(connection),
          scope: connection.scopes,
          state,
          nonce,
          code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
          code_challenge_method: "S256",
        };
        if (connection.maxAuthAgeSeconds !== null) parameters.max_age = String(connection.maxAuthAgeSeconds);
        return { location: client.buildAuthorizationUrl(loginClient.config, parameters).href, browserBinding: binding };
      } finally {
        loginClient.release();
      }
    });
  }

  /** Handles the IdP's redirect back; returns where to send the browser (the frontend, with a one-time code). */
  async callback(connectionId: string, params: URLSearchParams, browserBinding: string | null, http: HttpMeta): Promise<{ location: string }> {
    const attempt: Attempt = { organizationId: null, connectionId: null, actor: null, handedOver: false };
    return this.audited(attempt, http, async () => {
      const connection = await this.connectionFor(connectionId, attempt);
      for (const name of ["state", "code", "iss", "error"]) {
        if (params.getAll(name).length > 1) throw fail(`the callback carries the parameter ${name} more than once`);
      }
      const state = params.get("state");
      if (!state) throw fail("the callback has no state parameter; start the login again from the application");

      let transaction;
      try {
        transaction = await this.deps.transactions.consume(state, OidcLoginService.isBrowserBinding(browserBinding) ? browserBinding : null, new Date(this.now()));
      } catch (error) {
        if (error instanceof TransactionRejection) throw fail(error.message);
        throw error;
      }
      if (transaction.connectionId !== connection.id) {
        throw fail("the state belongs to a login started with another connection (possible mix-up attack); start the login again");
      }
      if (transaction.expiresAt.getTime() <= this.now()) throw fail("the login took longer than 10 minutes; start it again");
      const idpError = params.get("error");
      if (idpError) {
        const description = params.get("error_description");
        throw fail(`the identity provider refused the login: ${clip(idpError, 100)}${description ? ` (${clip(description, 300)})` : ""}`);
      }

      const loginClient = await this.loginClient(connection);
      try {
        const issuer = loginClient.metadata.issuer;
        const iss = params.get("iss");
        if (iss === null && loginClient.metadata.authorization_response_iss_parameter_supported === true) {
          throw fail(`the callback has no iss parameter although ${issuer} advertises it (RFC 9207; possible mix-up attack)`);
        }
        if (iss !== null && iss !== issuer) throw fail(`issuer mismatch in the callback (RFC 9207): expected ${issuer}, got ${clip(iss, 300)}`);

        const currentUrl = new URL(this.deps.connections.redirectUriOf(connection));
        for (const [name, value] of params) currentUrl.searchParams.append(name, value);
        let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
        try {
          tokens = await client.authorizationCodeGrant(loginClient.config, currentUrl, {
            pkceCodeVerifier: transaction.codeVerifier,
            expectedNonce: transaction.nonce,
            expectedState: state,
            idTokenExpected: true,
            ...(connection.maxAuthAgeSeconds !== null ? { maxAge: connection.maxAuthAgeSeconds } : {}),
          });
        } catch (error) {
          throw fail(`the identity provider's token response was rejected: ${describeOidcError(error)}`);
        }
        const idClaims = tokens.claims() as Claims | undefined;
        if (!tokens.id_token || !idClaims) throw fail("the identity provider returned no ID token");
        try {
          checkIdToken(decodeProtectedHeader(tokens.id_token), idClaims, {
            clientId: connection.clientId,
            maxIdTokenAgeSeconds: connection.maxIdTokenAgeSeconds,
            maxAuthAgeSeconds: connection.maxAuthAgeSeconds,
            now: Math.floor(this.now() / 1000),
          });
        } catch (error) {
          if (error instanceof ClaimRejection) throw fail(`ID token rejected: ${error.message}`);
          throw error;
        }
        attempt.actor = idClaims.sub as string;

        let claims = idClaims;
        if (wantsUserInfo(idClaims, connection.groupsClaim) && typeof loginClient.metadata.userinfo_endpoint === "string") {
          let userInfo: Claims;
          try {
            userInfo = (await client.fetchUserInfo(loginClient.config, tokens.access_token, idClaims.sub as string)) as Claims;
          } catch (error) {
            if ((error as { code?: unknown }).code === "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED") throw fail("UserInfo rejected: its sub does not match the ID token sub");
            throw fail(`the UserInfo response was rejected: ${describeOidcError(error)}`);
          }
          try {
            claims = mergeUserInfo(idClaims, userInfo);
          } catch (error) {
            if (error instanceof ClaimRejection) throw fail(`UserInfo rejected: ${error.message}`);
            throw error;
          }
        }
        const identity: LoginIdentity = {
          organizationId: connection.organizationId,
          connectionId: connection.id,
          protocol: "oidc",
          issuer,
          ...identityFrom(claims, connection.groupsClaim),
        };
        attempt.handedOver = true;
        return this.deps.login.complete(identity, { redirectUri: transaction.redirectUri, codeChallenge: transaction.codeChallenge, clientState: transaction.clientState }, http).then(({ redirectUrl }) => ({ location: redirectUrl }));
      } finally {
        loginClient.release();
      }
    });
  }

  private async connectionFor(connectionId: string, attempt: Attempt): Promise<OidcConnectionEntity> {
    const wellFormed = /^[0-9a-f-]{36}$/i.test(connectionId);
    const connection = wellFormed ? await this.deps.connections.find(this.deps.db.manager, connectionId) : null;
    if (!connection) throw new NotFoundError("OIDC connection", wellFormed ? connectionId : "(malformed id)");
    attempt.organizationId = connection.organizationId;
    attempt.connectionId = connection.id;
    const org = await this.deps.organizations.find(this.deps.db.manager, connection.organizationId);
    if (!org?.ssoEnabled) {
      throw new SsoError("SSO_DISABLED", `SSO is disabled for organization ${org?.slug ?? connection.organizationId}; ask an administrator to enable it`);
    }
    return connection;
  }

  private async loginClient(connection: OidcConnectionEntity): Promise<LoginClient> {
    let secret: string | null;
    try {
      secret = this.deps.connections.clientSecretOf(connection);
    } catch {
      throw fail("the OIDC connection's client secret cannot be decrypted; an administrator must set it again", "SecretBox.open failed");
    }
    try {
      return await this.deps.clients.loginClient(connection, secret);
    } catch (error) {
      if (error instanceof OidcDiscoveryError) throw fail(`the identity provider is not usable: ${error.message}`);
      throw error;
    }
  }

  /** Runs a step; any refusal not audited by the login flow is recorded once, then rethrown. */
  private async audited<T>(attempt: Attempt, http: HttpMeta, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!attempt.handedOver) {
        const reason = error instanceof AppError ? `${error.code}: ${error.message}` : "INTERNAL_SERVER_ERROR: unexpected error in the OIDC flow";
        if (!(error instanceof AppError)) this.deps.logger.error({ reqId: http.requestId, err: error }, "OIDC login failed unexpectedly");
        try {
          await this.deps.login.recordFailure({ organizationId: attempt.organizationId, connectionId: attempt.connectionId, protocol: "oidc", reason, actor: attempt.actor, http });
        } catch (auditError) {
          this.deps.logger.error({ reqId: http.requestId, err: auditError }, "the audit entry of a refused OIDC login could not be written");
        }
      }
      throw error;
    }
  }
}

function requiredParam(value: unknown, name: string, max: number): string {
  const text = optionalParam(value, name, max);
  if (text === null) throw fail(`${name} is required`);
  return text;
}

function optionalParam(value: unknown, name: string, max: number): string | null {
  if (value === undefined || value === "") return null;
  if (typeof value !== "string") throw fail(`${name} must be given once`);
  if (value.length > max || CONTROL.test(value)) throw fail(`${name} must be at most ${max} printable characters`);
  return value;
}

function clip(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
