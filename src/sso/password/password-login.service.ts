/**
 * Password login: email + password → the shared login flow (one-time code for the frontend).
 *
 * Rules:
 * - The organization is the one owning the email's domain (organization_domain); an organization
 *   without any domain is found through its password account of that email, when exactly one such
 *   account exists. No organization → the same answer as a wrong password.
 * - An organization that enforces SSO answers SSO_REQUIRED with its SSO login URL(s); no password
 *   is checked.
 * - redirect_uri must be one of the organization's allowed frontend URLs (SSO_CALLBACK_MISMATCH).
 * - Unknown account and wrong password get byte-identical answers (INVALID_CREDENTIALS, 401) after
 *   comparable work: an unknown account is verified against a dummy argon2id hash.
 * - Lockout and rate limit (password-login.limiter.ts) are checked before any password: a locked
 *   account or IP answers RATE_LIMITED (429) with Retry-After.
 * - Every refused login writes exactly one audit entry with its reason (LoginCompletion.recordFailure,
 *   or the login flow itself for refusals it makes) and creates no session. The password is never
 *   logged, audited or returned.
 */
import type { Database } from "../../db/database";
import { OrganizationDomainEntity, OrganizationEntity } from "../../organizations/organization.entity";
import { AppError, BadUserInputError, SsoError } from "../../shared/errors";
import { UserEntity } from "../../users/user.entity";
import { PASSWORD_ISSUER } from "../../users/user.service";
import type { HttpMeta, LoginCompletion, LoginIdentity } from "../login.types";
import { PasswordCredentialEntity } from "./password-credential.entity";
import type { PasswordLoginLimiter } from "./password-login.limiter";
import { createDummyHash, hashPassword, needsRehash, PASSWORD_INPUT_MAX_LENGTH, verifyPassword } from "./password-policy";
import { normalizeEmail } from "./password-user.service";

/** Wrong email or wrong password: one answer for both, so it reveals neither. */
export class InvalidCredentialsError extends Error {
  readonly body = { error: "INVALID_CREDENTIALS", message: "Wrong email or password" } as const;
  constructor() {
    super("Wrong email or password");
  }
}

export interface PasswordLoginRequest {
  email: string;
  password: string;
  redirectUri: string;
  codeChallenge: string | null;
  clientState: string | null;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}$/;
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** Table of each SSO protocol that may exist, and the path of its login route. */
const SSO_TABLES = [
  { table: "saml_connection", protocol: "saml" },
  { table: "oidc_connection", protocol: "oidc" },
] as const;

export class PasswordLoginService {
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly db: Database,
    private readonly login: LoginCompletion,
    private readonly limiter: PasswordLoginLimiter,
    private readonly publicUrl: string,
  ) {
    void this.dummy().catch(() => undefined);
  }

  /** POST /auth/password/login: body → where the SPA navigates, or the refusal (audited once). */
  async handle(body: unknown, http: HttpMeta): Promise<{ redirectUrl: string }> {
    let request: PasswordLoginRequest;
    try {
      request = this.parse(body);
    } catch (error) {
      await this.recordMalformed(error instanceof AppError ? `${error.code}: ${error.message}` : "malformed request", http);
      throw error;
    }
    return this.authenticate(request, http);
  }

  /** The audit entry of a request refused before it named anyone (bad body, wrong media type). */
  recordMalformed(reason: string, http: HttpMeta): Promise<void> {
    return this.login.recordFailure({ organizationId: null, connectionId: null, protocol: "password", reason, actor: null, http });
  }

  /** Validates the JSON body of POST /auth/password/login (BAD_USER_INPUT naming the field). */
  parse(body: unknown): PasswordLoginRequest {
    const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
    const email = typeof b.email === "string" ? normalizeEmail(b.email) : "";
    if (!EMAIL.test(email)) throw new BadUserInputError("email", "email must be an email address");
    if (typeof b.password !== "string" || b.password.length === 0) throw new BadUserInputError("password", "password is required");
    if (b.password.length > PASSWORD_INPUT_MAX_LENGTH) throw new BadUserInputError("password", `password must be at most ${PASSWORD_INPUT_MAX_LENGTH} characters`);
    if (typeof b.redirect_uri !== "string" || b.redirect_uri.length === 0 || b.redirect_uri.length > 2048) {
      throw new BadUserInputError("redirect_uri", "redirect_uri is required: the frontend URL to return to with the one-time code (one of the organization's allowed redirect URLs)");
    }
    const codeChallenge = optionalString(b.code_challenge);
    if (codeChallenge !== null && !CODE_CHALLENGE.test(codeChallenge)) {
      throw new BadUserInputError("code_challenge", "code_challenge must be a PKCE S256 challenge: BASE64URL(SHA-256(code_verifier)), 43 characters");
    }
    const method = optionalString(b.code_challenge_method);
    if (method !== null && method !== "S256") throw new BadUserInputError("code_challenge_method", "code_challenge_method must be S256");
    const clientState = optionalString(b.state);
    if (clientState !== null && clientState.length > 512) throw new BadUserInputError("state", "state must be at most 512 characters");
    return { email, password: b.password, redirectUri: b.redirect_uri, codeChallenge, clientState };
  }

  /** → where the SPA navigates (the frontend URL with the one-time code); throws the refusal otherwise. */
  async authenticate(request: PasswordLoginRequest, http: HttpMeta): Promise<{ redirectUrl: string }> {
    const { email } = request;
    let org: OrganizationEntity | null = null;
    let recorded = false;
    const refuse = (reason: string) => {
      recorded = true;
      return this.login.recordFailure({ organizationId: org?.id ?? null, connectionId: null, protocol: "password", reason, actor: email, http });
    };
    let account: { user: UserEntity; credential: PasswordCredentialEntity };
    try {
      org = await this.organizationFor(email);
      account = await this.verify(request, org, http, refuse);
    } catch (error) {
      if (!recorded) await refuse("INTERNAL_SERVER_ERROR");
      throw error;
    }

    const identity: LoginIdentity = {
      organizationId: account.user.organizationId,
      connectionId: null,
      protocol: "password",
      issuer: PASSWORD_ISSUER,
      subject: account.user.subject,
      email: account.user.email,
      emailVerified: false,
      displayName: account.user.displayName,
      groups: [],
      roleKey: account.credential.roleKey,
    };
    // The login flow audits its own success and refusals (deactivated account, domain, role).
    return this.login.complete(identity, { redirectUri: request.redirectUri, codeChallenge: request.codeChallenge, clientState: request.clientState }, http);
  }

  /** SSO rule, redirect URI, limits, password: the account, or the refusal (recorded through `refuse`). */
  private async verify(
    request: PasswordLoginRequest,
    org: OrganizationEntity | null,
    http: HttpMeta,
    refuse: (reason: string) => Promise<void>,
  ): Promise<{ user: UserEntity; credential: PasswordCredentialEntity }> {
    const { email } = request;

    if (org?.enforceSso) {
      await refuse("SSO_REQUIRED: the organization enforces SSO");
      throw await this.ssoRequired(org);
    }
    if (org) {
      try {
        await this.login.assertRedirectAllowed(org.id, request.redirectUri);
      } catch (error) {
        await refuse(error instanceof AppError ? `${error.code}: ${error.message}` : "redirect_uri refused");
        throw error;
      }
    }

    const gate = await this.limiter.begin(email, http.ip);
    if (gate.locked) {
      await refuse(gate.locked === "account" ? "RATE_LIMITED: account locked after repeated failed logins" : `RATE_LIMITED: too many failed logins from ${http.ip}`);
      const minutes = Math.ceil(gate.retryAfterSeconds / 60);
      throw new SsoError(
        "RATE_LIMITED",
        gate.locked === "account"
          ? `Too many failed logins for this account; try again in ${minutes} minute(s) or ask an administrator to set a new password`
          : `Too many failed logins from your network address; try again in ${minutes} minute(s)`,
        { extensions: { retryAfterSeconds: gate.retryAfterSeconds } },
      );
    }

    const account = org ? await this.accountOf(org.id, email) : null;
    const valid = await verifyPassword(account?.credential.passwordHash ?? (await this.dummy()), request.password);
    if (!account || !valid) {
      await this.limiter.failed(gate.attempt);
      await refuse(!org ? "INVALID_CREDENTIALS: no organization for this email domain" : !account ? "INVALID_CREDENTIALS: unknown account" : "INVALID_CREDENTIALS: wrong password");
      throw new InvalidCredentialsError();
    }
    await this.limiter.succeeded(gate.attempt);
    if (needsRehash(account.credential.passwordHash)) await this.upgradeHash(account.credential, request.password);
    return account;
  }

  private async organizationFor(email: string): Promise<OrganizationEntity | null> {
    const domain = email.slice(email.lastIndexOf("@") + 1);
    const owner = await this.db.manager.findOne(OrganizationDomainEntity, { where: { domain } });
    if (owner) return this.db.manager.findOne(OrganizationEntity, { where: { id: owner.organizationId } });
    const candidates = await this.db.manager
      .createQueryBuilder(UserEntity, "u")
      .innerJoin(PasswordCredentialEntity, "c", `c."userId" = u."id"`)
      .select(`u."organizationId"`, "organizationId")
      .where(`u."issuer" = :issuer AND u."subject" = :email`, { issuer: PASSWORD_ISSUER, email })
      .andWhere(`NOT EXISTS (SELECT 1 FROM "organization_domain" d WHERE d."organizationId" = u."organizationId")`)
      .limit(2)
      .getRawMany<{ organizationId: string }>();
    if (candidates.length !== 1) return null;
    return this.db.manager.findOne(OrganizationEntity, { where: { id: candidates[0].organizationId } });
  }

  private async accountOf(organizationId: string, email: string): Promise<{ user: UserEntity; credential: PasswordCredentialEntity } | null> {
    const user = await this.db.manager.findOne(UserEntity, { where: { organizationId, issuer: PASSWORD_ISSUER, subject: email } });
    if (!user) return null;
    const credential = await this.db.manager.findOne(PasswordCredentialEntity, { where: { userId: user.id } });
    return credential ? { user, credential } : null;
  }

  private async ssoRequired(org: OrganizationEntity): Promise<SsoError> {
    const urls = await this.ssoLoginUrls(org.id);
    const where = urls.length > 0 ? `sign in through SSO: ${urls.join(" or ")}` : "use your organization's SSO login";
    return new SsoError("SSO_REQUIRED", `Organization ${org.name} requires single sign-on, so password login is off; ${where}`, {
      extensions: { ssoLoginUrls: urls },
    });
  }

  /** The login routes of the organization's SAML / OIDC connections, for the protocols this build has. */
  private async ssoLoginUrls(organizationId: string): Promise<string[]> {
    const present = new Set(this.db.dataSource.entityMetadatas.map((m) => m.tableName));
    const param = this.db.dialect === "postgres" ? "$1" : "?";
    const urls: string[] = [];
    for (const { table, protocol } of SSO_TABLES) {
      if (!present.has(table)) continue;
      const rows = (await this.db.manager.query(`SELECT "id" FROM "${table}" WHERE "organizationId" = ${param} ORDER BY "createdAt", "id"`, [organizationId])) as Array<{ id: string }>;
      urls.push(...rows.map((r) => `${this.publicUrl}/auth/${protocol}/${r.id}/login`));
    }
    return urls;
  }

  private async upgradeHash(credential: PasswordCredentialEntity, password: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    await this.db.transaction((em) => em.update(PasswordCredentialEntity, { userId: credential.userId, passwordHash: credential.passwordHash }, { passwordHash, updatedAt: new Date() }));
  }

  /** Made once, at start; made again if that failed. */
  private dummy(): Promise<string> {
    if (!this.dummyHash) {
      const made = createDummyHash();
      this.dummyHash = made;
      made.catch(() => {
        if (this.dummyHash === made) this.dummyHash = null;
      });
    }
    return this.dummyHash;
  }
}

function optionalString(value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw new BadUserInputError("body", "code_challenge, code_challenge_method and state must be strings");
  return value;
}
