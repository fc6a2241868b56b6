/**
 * Sessions, one-time authorization codes and refresh tokens.
 *
 * Rules:
 * - Codes: 32 random bytes, stored hashed, 60 s, single use (conditional UPDATE), bound to the
 *   redirect URI and, when the frontend sent a challenge, to its PKCE S256 verifier.
 * - Refresh tokens: opaque (`rbac_rt_…`), stored hashed, rotated at every use. Exactly one rotation
 *   wins (conditional UPDATE … WHERE usedAt IS NULL, on SQLite and PostgreSQL). Presenting a used
 *   token is reuse: the whole family (session) is revoked, audited as such (tok-06, tok-07).
 * - Idle lifetime per refresh token, absolute lifetime per session; logout revokes the session.
 * - A deactivated user or a user whose role changed can neither refresh nor use an access token:
 *   the session is checked on every request (tok-09).
 * - Failures answer OAuth error bodies (`invalid_grant` …) with no detail that helps guessing.
 */
import type { ChangeFeed } from "../db/change-feed";
import { VersionedCache, type CacheObserver } from "../shared/versioned-cache";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { authenticationRecord, type AuditLog, type AuditRecord } from "../audit/audit-log";
import type { Database } from "../db/database";
import type { HttpMeta, LoginRequestContext } from "../sso/login.types";
import { UserEntity } from "../users/user.entity";
import type { AccessTokens } from "./access-tokens";
import { hashKey } from "./api-key";
import { AuthorizationCodeEntity, RefreshTokenEntity, SessionEntity } from "./session.entity";

export const REFRESH_TOKEN_PREFIX = "rbac_rt_";

export interface SessionSettings {
  codeTtlSeconds: number;
  refreshIdleSeconds: number;
  sessionMaxSeconds: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope?: string;
}

const ACTIVE_CACHE_MAX = 50_000;
const ACTIVE_CACHE_MAX_AGE_MS = 60_000;

export class OAuthError extends Error {
  constructor(
    readonly error: "invalid_request" | "invalid_grant" | "unsupported_grant_type" | "invalid_token",
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

interface ActiveSessionRow {
  sessionId: string;
  sessionRole: string;
  expiresAt: string;
  revokedAt: string | null;
  userId: string;
  organizationId: string;
  userRole: string | null;
  disabledAt: string | null;
  displayName: string | null;
  email: string | null;
  subject: string;
  groups: string;
  roleMappingId: string | null;
}

export interface ActiveSession {
  session: SessionEntity;
  user: UserEntity;
}

export class SessionService {
  private readonly active: VersionedCache<string, ActiveSessionRow>;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly accessTokens: AccessTokens,
    private readonly settings: SessionSettings,
    private readonly changes: ChangeFeed,
    observeCache?: CacheObserver,
  ) {
    this.active = new VersionedCache(changes, "sessions", { max: ACTIVE_CACHE_MAX, maxAgeMs: ACTIVE_CACHE_MAX_AGE_MS, observe: observeCache });
  }

  /** Called inside the login transaction: a code the frontend exchanges at POST /auth/token. */
  async createCode(em: EntityManager, user: UserEntity, roleKey: string, request: LoginRequestContext, now = new Date()): Promise<string> {
    const code = randomBytes(32).toString("base64url");
    await em.insert(AuthorizationCodeEntity, {
      codeHash: hashKey(code),
      userId: user.id,
      organizationId: user.organizationId,
      roleKey,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      expiresAt: new Date(now.getTime() + this.settings.codeTtlSeconds * 1000),
      consumedAt: null,
    });
    return code;
  }

  async exchangeCode(input: { code?: string; redirectUri?: string; codeVerifier?: string }, http: HttpMeta, now = new Date()): Promise<TokenResponse> {
    if (!input.code || !input.redirectUri) throw new OAuthError("invalid_request", "code and redirect_uri are required");
    const code = input.code;
    return this.audited(http, "Auth.token.authorization_code", async (em, note) => {
      const row = await em.findOne(AuthorizationCodeEntity, { where: { codeHash: hashKey(code) } });
      if (!row) throw new OAuthError("invalid_grant", "unknown, expired or already used code");
      note({ organizationId: row.organizationId, actorId: row.userId, role: row.roleKey });
      const consumed = await em
        .createQueryBuilder()
        .update(AuthorizationCodeEntity)
        .set({ consumedAt: now })
        .where(`"codeHash" = :hash AND "consumedAt" IS NULL AND "expiresAt" > :now`, { hash: row.codeHash, now: now.toISOString() })
        .execute();
      if (consumed.affected !== 1) throw new OAuthError("invalid_grant", "unknown, expired or already used code");
      if (row.redirectUri !== input.redirectUri) throw new OAuthError("invalid_grant", `redirect_uri mismatch: expected ${row.redirectUri}, got ${input.redirectUri}`);
      if (row.codeChallenge) {
        const verifier = input.codeVerifier ?? "";
        const challenge = createHash("sha256").update(verifier).digest("base64url");
        if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || challenge !== row.codeChallenge) throw new OAuthError("invalid_grant", "code_verifier does not match the code_challenge");
      }
      const user = await em.findOne(UserEntity, { where: { id: row.userId } });
      if (!user || user.disabledAt || user.roleKey !== row.roleKey) throw new OAuthError("invalid_grant", "the account is no longer active with this role");
      const session = em.create(SessionEntity, {
        id: randomUUID(),
        userId: user.id,
        organizationId: user.organizationId,
        roleKey: row.roleKey,
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.settings.sessionMaxSeconds * 1000),
        revokedAt: null,
        revokedReason: null,
      });
      await em.insert(SessionEntity, session);
      note({ resource: `session:${session.id}` });
      return this.tokensFor(em, session, now);
    });
  }

  async refresh(refreshToken: string | undefined, http: HttpMeta, now = new Date()): Promise<TokenResponse> {
    if (!refreshToken) throw new OAuthError("invalid_request", "refresh_token is required");
    const tokenHash = hashKey(refreshToken);
    let reuse: { session: SessionEntity } | null = null;
    let ended: { sessionId: string; reason: string } | null = null;
    try {
      return await this.audited(http, "Auth.token.refresh", async (em, note) => {
        const row = await em.findOne(RefreshTokenEntity, { where: { tokenHash } });
        if (!row) throw new OAuthError("invalid_grant", "unknown or expired refresh token");
        const session = await em.findOne(SessionEntity, { where: { id: row.sessionId } });
        if (!session) throw new OAuthError("invalid_grant", "unknown or expired refresh token");
        note({ organizationId: session.organizationId, actorId: session.userId, role: session.roleKey, resource: `session:${session.id}` });
        if (row.usedAt) {
          reuse = { session };
          throw new OAuthError("invalid_grant", "refresh token already used: the session has been revoked");
        }
        const rotated = await em
          .createQueryBuilder()
          .update(RefreshTokenEntity)
          .set({ usedAt: now })
          .where(`"id" = :id AND "usedAt" IS NULL`, { id: row.id })
          .execute();
        if (rotated.affected !== 1) {
          reuse = { session };
          throw new OAuthError("invalid_grant", "refresh token already used: the session has been revoked");
        }
        if (row.expiresAt <= now) throw new OAuthError("invalid_grant", "refresh token expired (idle): log in again");
        if (session.revokedAt) throw new OAuthError("invalid_grant", "the session has ended: log in again");
        if (session.expiresAt <= now) throw new OAuthError("invalid_grant", "the session reached its maximum lifetime: log in again");
        const user = await em.findOne(UserEntity, { where: { id: session.userId } });
        if (!user || user.disabledAt || user.roleKey !== session.roleKey) {
          ended = { sessionId: session.id, reason: user?.disabledAt ? "account deactivated" : "role changed" };
          throw new OAuthError("invalid_grant", "the session has ended: log in again");
        }
        return this.tokensFor(em, session, now);
      });
    } catch (error) {
      if (reuse) await this.revokeFamilyForReuse((reuse as { session: SessionEntity }).session, http, now);
      const end = ended as { sessionId: string; reason: string } | null;
      if (end) await this.db.transaction((em) => this.revoke(em, end.sessionId, end.reason, now));
      throw error;
    }
  }

  /** Logout: revokes the session of a refresh token. Unknown tokens are accepted silently (RFC 7009). */
  async logout(refreshToken: string | undefined, http: HttpMeta, now = new Date()): Promise<void> {
    if (!refreshToken) throw new OAuthError("invalid_request", "refresh_token is required");
    await this.audited(http, "Auth.logout", async (em, note) => {
      const row = await em.findOne(RefreshTokenEntity, { where: { tokenHash: hashKey(refreshToken) } });
      if (!row) return;
      const session = await em.findOne(SessionEntity, { where: { id: row.sessionId } });
      if (!session) return;
      note({ organizationId: session.organizationId, actorId: session.userId, role: session.roleKey, resource: `session:${session.id}` });
      await this.revoke(em, session.id, "logout", now);
    });
  }

  /**
   * The session behind an access token, if it may still act (checked on every request). Active
   * sessions are cached; every change to sessions or people (on any instance) empties that cache
   * through the change feed, so logout, deactivation and demotion still act at the next request.
   */
  async activeSession(sessionId: string, now = new Date()): Promise<ActiveSession | null> {
    const row = await this.active.get(sessionId, async () => {
      const p = this.db.dialect === "postgres" ? "$1" : "?";
      const [found] = (await this.db.manager.query(
        `SELECT s."id" AS "sessionId", s."roleKey" AS "sessionRole", s."expiresAt", s."revokedAt", ` +
          `u."id" AS "userId", u."organizationId", u."roleKey" AS "userRole", u."disabledAt", u."displayName", u."email", u."subject", u."groups", u."roleMappingId" ` +
          `FROM "session" s JOIN "app_user" u ON u."id" = s."userId" WHERE s."id" = ${p}`,
        [sessionId],
      )) as ActiveSessionRow[];
      return found && !found.revokedAt && !found.disabledAt && found.userRole === found.sessionRole ? found : null;
    });
    if (!row || row.expiresAt <= now.toISOString()) return null;
    const session = Object.assign(new SessionEntity(), { id: row.sessionId, userId: row.userId, organizationId: row.organizationId, roleKey: row.sessionRole });
    const user = Object.assign(new UserEntity(), {
      id: row.userId,
      organizationId: row.organizationId,
      roleKey: row.userRole,
      displayName: row.displayName,
      email: row.email,
      subject: row.subject,
      groups: row.groups,
      roleMappingId: row.roleMappingId,
      disabledAt: null,
    });
    return { session, user };
  }

  /** Ends every open session of these users (demotion, deactivation), in the caller's transaction. */
  async endSessionsOf(em: EntityManager, userIds: readonly string[], reason: string, now = new Date()): Promise<void> {
    if (userIds.length === 0) return;
    await em
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ revokedAt: now, revokedReason: reason })
      .where(`"userId" IN (:...userIds) AND "revokedAt" IS NULL`, { userIds })
      .execute();
    await this.changes.changed(em, "sessions");
  }

  private async revoke(em: EntityManager, sessionId: string, reason: string, now: Date): Promise<void> {
    await em
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ revokedAt: now, revokedReason: reason })
      .where(`"id" = :id AND "revokedAt" IS NULL`, { id: sessionId })
      .execute();
    await this.changes.changed(em, "sessions");
  }

  private async revokeFamilyForReuse(session: SessionEntity, http: HttpMeta, now: Date): Promise<void> {
    const written = await this.db.transaction(async (em) => {
      await this.revoke(em, session.id, "refresh token reuse", now);
      return this.audit.appendInTransaction(em, [
        {
          ...this.base(http, "Auth.refresh_token_reuse"),
          organizationId: session.organizationId,
          actorId: session.userId,
          actorKind: "USER",
          role: session.roleKey,
          resource: `session:${session.id}`,
          success: false,
          reason: "HIGH: refresh token reuse detected; the whole session (token family) was revoked",
        },
      ]);
    });
    this.audit.announce(written);
  }

  private async tokensFor(em: EntityManager, session: SessionEntity, now: Date): Promise<TokenResponse> {
    const refreshToken = REFRESH_TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const idleEnd = Math.min(now.getTime() + this.settings.refreshIdleSeconds * 1000, session.expiresAt.getTime());
    await em.insert(RefreshTokenEntity, {
      id: randomUUID(),
      sessionId: session.id,
      tokenHash: hashKey(refreshToken),
      createdAt: now,
      expiresAt: new Date(idleEnd),
      usedAt: null,
    });
    const access = await this.accessTokens.issue({ userId: session.userId, sessionId: session.id, organizationId: session.organizationId, roleKey: session.roleKey }, now, em);
    return { access_token: access.token, token_type: "Bearer", expires_in: access.expiresIn, refresh_token: refreshToken };
  }

  /**
   * Runs a token operation in a transaction with its audit entry; a refusal rolls back and is
   * audited on its own. `note` lets the operation name who and what it concerned.
   */
  private async audited<T>(http: HttpMeta, operation: string, work: (em: EntityManager, note: (n: Partial<AuditRecord>) => void) => Promise<T>): Promise<T> {
    let noted: Partial<AuditRecord> = {};
    const note = (n: Partial<AuditRecord>) => {
      noted = { ...noted, ...n };
    };
    try {
      const { result, written } = await this.db.transaction(async (em) => {
        const result = await work(em, note);
        const written = await this.audit.appendInTransaction(em, [{ ...this.base(http, operation), ...noted, success: true }]);
        return { result, written };
      });
      this.audit.announce(written);
      return result;
    } catch (error) {
      const reason = error instanceof OAuthError ? `${error.error}: ${error.description}` : "INTERNAL_SERVER_ERROR";
      await this.audit.record([{ ...this.base(http, operation), ...noted, success: false, reason }]);
      throw error;
    }
  }

  private base(http: HttpMeta, operation: string): AuditRecord {
    return authenticationRecord(operation, "authenticate", http);
  }

}
