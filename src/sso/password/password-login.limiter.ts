/**
 * Lockout and rate limit of password logins (rate-limiter-flexible), shared by every instance
 * through the database.
 *
 * Rules:
 * - Per account — the normalized email, hashed, so an unknown account behaves exactly like a known
 *   one: 5 failed logins within 15 minutes lock it for 15 minutes from the 5th failure; a successful
 *   login clears its count.
 * - Per client IP: 50 failed logins within 15 minutes lock the IP for 15 minutes; a successful
 *   login gives its point back.
 * - Every attempt takes its point BEFORE the password is checked (one atomic upsert), so parallel
 *   guesses cannot exceed the limit; a locked attempt checks no password at all.
 * - Store: table `password_login_limit` (created by the migrations). PostgreSQL through
 *   RateLimiterPostgres on TypeORM's pg pool; SQLite through RateLimiterSQLite on TypeORM's
 *   better-sqlite3 connection, run inside the queued transaction so it never interleaves with
 *   another transaction on that single connection. No in-memory state: several instances (on
 *   PostgreSQL, or processes sharing the SQLite file) see the same counts.
 */
import { createHash } from "node:crypto";
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterStoreAbstract } from "rate-limiter-flexible";
import type { EntityManager } from "typeorm";
import type { Database } from "../../db/database";

export const LIMIT_TABLE = "password_login_limit";

export interface LoginLimits {
  accountFailures: number;
  accountWindowSeconds: number;
  accountLockSeconds: number;
  ipFailures: number;
  ipWindowSeconds: number;
  ipLockSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  accountFailures: 5,
  accountWindowSeconds: 15 * 60,
  accountLockSeconds: 15 * 60,
  ipFailures: 50,
  ipWindowSeconds: 15 * 60,
  ipLockSeconds: 15 * 60,
};

/** What `begin` reserved: handed back to `failed` / `succeeded`. */
export interface LoginAttempt {
  accountKey: string;
  ip: string | null;
  account: RateLimiterRes;
  ipResult: RateLimiterRes | null;
}

export type BeginOutcome = { locked: null; attempt: LoginAttempt } | { locked: "account" | "ip"; retryAfterSeconds: number };

const CLEANUP_EVERY_MS = 5 * 60 * 1000;

export class PasswordLoginLimiter {
  private readonly account: RateLimiterStoreAbstract;
  private readonly byIp: RateLimiterStoreAbstract;
  private lastCleanup = Date.now();

  constructor(
    private readonly db: Database,
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
  ) {
    this.account = this.limiter("pwacct", limits.accountFailures, limits.accountWindowSeconds, limits.accountLockSeconds);
    this.byIp = this.limiter("pwip", limits.ipFailures, limits.ipWindowSeconds, limits.ipLockSeconds);
  }

  static accountKey(email: string): string {
    return createHash("sha256").update(email.trim().toLowerCase()).digest("hex");
  }

  /** Takes one point per account and per IP; refuses when either is already used up. */
  async begin(email: string, ip: string | null): Promise<BeginOutcome> {
    await this.cleanupNow();
    const accountKey = PasswordLoginLimiter.accountKey(email);
    let ipResult: RateLimiterRes | null = null;
    if (ip) {
      const taken = await this.take(this.byIp, ip);
      if (!taken.ok) return { locked: "ip", retryAfterSeconds: retryAfter(taken.res) };
      ipResult = taken.res;
    }
    const taken = await this.take(this.account, accountKey);
    if (!taken.ok) return { locked: "account", retryAfterSeconds: retryAfter(taken.res) };
    return { locked: null, attempt: { accountKey, ip, account: taken.res, ipResult } };
  }

  /** The attempt failed: its points stay; the failure that uses up the allowance starts the lock. */
  async failed(attempt: LoginAttempt): Promise<void> {
    await this.inStore(async () => {
      if (attempt.account.remainingPoints === 0) await this.account.block(attempt.accountKey, this.limits.accountLockSeconds);
      if (attempt.ip && attempt.ipResult?.remainingPoints === 0) await this.byIp.block(attempt.ip, this.limits.ipLockSeconds);
    });
  }

  /** The attempt succeeded: the account's failures are forgotten and the IP gets its point back. */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    await this.inStore(async () => {
      await this.account.delete(attempt.accountKey);
      if (attempt.ip) await this.byIp.reward(attempt.ip, 1);
    });
  }

  /**
   * An administrator set a new password: the account is unlocked, in the caller's transaction (a
   * mutation's transaction already holds SQLite's queue, so the limiter cannot be called from it).
   */
  async unlockAccount(em: EntityManager, email: string): Promise<void> {
    const key = this.account.getKey(PasswordLoginLimiter.accountKey(email));
    await em.query(`DELETE FROM "${LIMIT_TABLE}" WHERE "key" = ${this.db.dialect === "postgres" ? "$1" : "?"}`, [key]);
  }

  private limiter(keyPrefix: string, points: number, duration: number, blockDuration: number): RateLimiterStoreAbstract {
    const common = { keyPrefix, points, duration, blockDuration, tableName: LIMIT_TABLE, tableCreated: true, clearExpiredByTimeout: false };
    if (this.db.dialect === "postgres") return new RateLimiterPostgres({ ...common, storeClient: this.db.dataSource, storeType: "typeorm" });
    const connection = (this.db.dataSource.driver as unknown as { databaseConnection: unknown }).databaseConnection;
    return new RateLimiterSQLite({ ...common, storeClient: connection, storeType: "better-sqlite3" });
  }

  /** consume() rejects with a RateLimiterRes when the points are used up; store errors stay errors. */
  private take(limiter: RateLimiterStoreAbstract, key: string): Promise<{ ok: boolean; res: RateLimiterRes }> {
    return this.inStore(async () => {
      try {
        return { ok: true, res: await limiter.consume(key, 1) };
      } catch (error) {
        if (error instanceof RateLimiterRes) return { ok: false, res: error };
        throw error;
      }
    });
  }

  /** SQLite: inside the transaction queue (one connection); PostgreSQL: straight on the pool. */
  private inStore<T>(work: () => Promise<T>): Promise<T> {
    return this.db.dialect === "postgres" ? work() : this.db.transaction(() => work());
  }

  private async cleanupNow(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < CLEANUP_EVERY_MS) return;
    this.lastCleanup = now;
    const sql = `DELETE FROM "${LIMIT_TABLE}" WHERE "expire" < ${this.db.dialect === "postgres" ? "$1" : "?"}`;
    await this.db.transaction((em) => em.query(sql, [now - 60 * 60 * 1000]));
  }
}

function retryAfter(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}
