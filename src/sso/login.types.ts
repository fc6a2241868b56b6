/**
 * The seam between the protocol modules (src/sso/saml, src/sso/oidc) and the shared login flow
 * (src/sso/login.service.ts): a protocol module only proves WHO the person is; the login flow
 * decides what they get.
 */
export type SsoProtocol = "saml" | "oidc" | "password";

/** A person proven by a validated SAML assertion or OIDC ID token. */
export interface LoginIdentity {
  organizationId: string;
  /** The SSO connection that validated it (null for password login). */
  connectionId: string | null;
  protocol: SsoProtocol;
  /** IdP entity ID (SAML) or issuer (OIDC): accounts are keyed on (organization, issuer, subject). */
  issuer: string;
  /** NameID (SAML) or `sub` (OIDC). */
  subject: string;
  email: string | null;
  /** Only a verified email may link an existing account (oidc-09). */
  emailVerified: boolean;
  displayName: string | null;
  /** IdP groups, exactly as sent; recomputed into a role at every login. */
  groups: string[];
  /**
   * Password login only (ignored for every other protocol): the role an administrator gave the
   * account, used instead of the group mappings. Still refused unless assignable to people.
   */
  roleKey?: string | null;
}

/** What the frontend asked for when the login started; kept by the protocol module's request store. */
export interface LoginRequestContext {
  /** Already checked against the organization's allowed frontend URLs at login start. */
  redirectUri: string;
  /** PKCE S256 challenge of the frontend for the one-time code, when it sent one. */
  codeChallenge: string | null;
  /** Opaque frontend state echoed back on the redirect. */
  clientState: string | null;
}

export interface HttpMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

export interface LoginFailure {
  organizationId: string | null;
  connectionId: string | null;
  protocol: SsoProtocol;
  /** Why it was refused (no secrets, no raw assertion). */
  reason: string;
  /** The subject / email if known, else null. */
  actor: string | null;
  http: HttpMeta;
}

export interface LoginCompletion {
  /** Throws SSO_CALLBACK_MISMATCH unless `redirectUri` is one of the organization's allowed frontend URLs. */
  assertRedirectAllowed(organizationId: string, redirectUri: string): Promise<void>;
  /**
   * identity → user (just in time) → role (mappings, else default role, else NO_ROLE_MAPPING) →
   * one-time authorization code. Audits success and refusal; returns where to send the browser.
   */
  complete(identity: LoginIdentity, request: LoginRequestContext, http: HttpMeta): Promise<{ redirectUrl: string }>;
  /** Writes the one audit entry of a login refused by a protocol module (bad signature, replay, ...). */
  recordFailure(failure: LoginFailure): Promise<void>;
}
