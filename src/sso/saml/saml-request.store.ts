/**
 * The database-backed state of SAML logins, shared by every instance of the service.
 *
 * Rules:
 * - An AuthnRequest ID is stored with the frontend's redirect URI, PKCE challenge and state when
 *   the login starts, and lives REQUEST_TTL_MS.
 * - A response may only consume a request of the same connection that is unexpired and not yet
 *   consumed; consuming is a conditional UPDATE (… WHERE consumedAt IS NULL) whose affected-row
 *   count decides, so two responses racing for one request ID produce exactly one winner on
 *   SQLite and PostgreSQL.
 * - Accepted Response and Assertion IDs are remembered (hashed with the IdP entity ID) until their
 *   NotOnOrAfter plus the clock skew; a second use is refused. The primary key makes the insert
 *   the atomic check.
 * - node-saml's CacheProvider is served read-only from the same table (it looks request IDs up);
 *   the single-use consumption is ours.
 */
import { createHash } from "node:crypto";
import type { CacheItem, CacheProvider } from "@node-saml/node-saml";
import { IsNull, LessThanOrEqual, MoreThan, type EntityManager } from "typeorm";
import type { Database } from "../../db/database";
import { isUniqueViolation } from "../../shared/db-errors";
import { SamlReplayEntity, SamlRequestEntity } from "./saml-connection.entity";

export const REQUEST_TTL_MS = 10 * 60 * 1000;

export interface StoredLoginRequest {
  redirectUri: string;
  codeChallenge: string | null;
  clientState: string | null;
}

export class SamlRequestStore {
  constructor(private readonly db: Database) {}

  async save(connectionId: string, requestId: string, request: StoredLoginRequest, now = new Date()): Promise<void> {
    await this.db.transaction(async (em) => {
      await em.delete(SamlRequestEntity, { expiresAt: LessThanOrEqual(new Date(now.getTime() - REQUEST_TTL_MS)) });
      await em.insert(SamlRequestEntity, {
        id: requestId,
        connectionId,
        redirectUri: request.redirectUri,
        codeChallenge: request.codeChallenge,
        clientState: request.clientState,
        createdAt: now,
        expiresAt: new Date(now.getTime() + REQUEST_TTL_MS),
        consumedAt: null,
      });
    });
  }

  /** The request if it is still open (unexpired, unconsumed) for this connection; read only. */
  async findOpen(connectionId: string, requestId: string, now = new Date()): Promise<SamlRequestEntity | null> {
    return this.db.manager.findOne(SamlRequestEntity, {
      where: { id: requestId, connectionId, consumedAt: IsNull(), expiresAt: MoreThan(now) },
    });
  }

  /** Consumes the request once; null when it is unknown, expired, of another connection or already used. */
  async consume(em: EntityManager, connectionId: string, requestId: string, now = new Date()): Promise<StoredLoginRequest | null> {
    const result = await em
      .createQueryBuilder()
      .update(SamlRequestEntity)
      .set({ consumedAt: now })
      .where(`"id" = :id AND "connectionId" = :connectionId AND "consumedAt" IS NULL AND "expiresAt" > :now`, {
        id: requestId,
        connectionId,
        now: now.toISOString(),
      })
      .execute();
    if (result.affected !== 1) return null;
    const row = await em.findOneOrFail(SamlRequestEntity, { where: { id: requestId } });
    return { redirectUri: row.redirectUri, codeChallenge: row.codeChallenge, clientState: row.clientState };
  }

  /** Read-only: whether this Response / Assertion ID was accepted and has not expired yet. */
  async seen(issuer: string, kind: "response" | "assertion", samlId: string, now = new Date()): Promise<boolean> {
    const row = await this.db.manager.findOne(SamlReplayEntity, { where: { key: replayKey(issuer, kind, samlId) } });
    return row !== null && row.expiresAt > now;
  }

  /**
   * Remembers a Response / Assertion ID until `expiresAt`; false when it was already accepted (replay).
   * Must run inside the caller's transaction so the whole acceptance commits or rolls back together.
   */
  async remember(em: EntityManager, issuer: string, kind: "response" | "assertion", samlId: string, expiresAt: Date, now = new Date()): Promise<boolean> {
    const key = replayKey(issuer, kind, samlId);
    await em.delete(SamlReplayEntity, { key, expiresAt: LessThanOrEqual(now) });
    const existing = await em.findOne(SamlReplayEntity, { where: { key } });
    if (existing) return false;
    try {
      await em.insert(SamlReplayEntity, { key, expiresAt });
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
    return true;
  }

  /** Housekeeping: drops expired replay rows (at each response, in its acceptance transaction). */
  async sweep(em: EntityManager, now = new Date()): Promise<void> {
    await em.delete(SamlReplayEntity, { expiresAt: LessThanOrEqual(now) });
  }

  /** A read-only node-saml CacheProvider over this connection's open requests. */
  cacheProviderFor(connectionId: string): CacheProvider {
    return {
      saveAsync: async (): Promise<CacheItem | null> => null, // requests are saved by save(), with their context
      getAsync: async (key: string): Promise<string | null> => {
        const row = await this.findOpen(connectionId, key);
        return row ? row.createdAt.toISOString() : null;
      },
      removeAsync: async (): Promise<string | null> => null, // consumption is ours: consume(), atomically
    };
  }
}

function replayKey(issuer: string, kind: "response" | "assertion", samlId: string): string {
  return createHash("sha256").update(`${issuer}\n${kind}\n${samlId}`).digest("hex");
}
