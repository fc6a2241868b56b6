import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Password login: the argon2id credential of password accounts, and the shared store of the login
 * rate limiter (rate-limiter-flexible's RateLimiterPostgres table layout; no entity, not in
 * TypeORM's schema).
 */
export class Passwords1764547400000 implements MigrationInterface {
  name = "Passwords1764547400000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "password_credential" ("userId" character varying(36) NOT NULL, "passwordHash" character varying(256) NOT NULL, "roleKey" character varying(64) NOT NULL, "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_ce97ae5c537ae0bf614e183b94f" PRIMARY KEY ("userId"))`);
    await q.query(`ALTER TABLE "password_credential" ADD CONSTRAINT "fk_password_credential_user" FOREIGN KEY ("userId") REFERENCES "app_user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`CREATE TABLE "password_login_limit" ("key" character varying(255) NOT NULL PRIMARY KEY, "points" integer NOT NULL DEFAULT 0, "expire" bigint)`);
    await q.query(`CREATE INDEX "ix_password_login_limit_expire" ON "password_login_limit" ("expire")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "password_login_limit"`);
    await q.query(`DROP TABLE "password_credential"`);
  }
}
