import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Password login: the argon2id credential of password accounts, and the shared store of the login
 * rate limiter (rate-limiter-flexible's RateLimiterSQLite table layout; no entity, not in TypeORM's
 * schema).
 */
export class Passwords1764547400000 implements MigrationInterface {
  name = "Passwords1764547400000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "password_credential" ("userId" varchar(36) PRIMARY KEY NOT NULL, "passwordHash" varchar(256) NOT NULL, "roleKey" varchar(64) NOT NULL, "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_password_credential_user" FOREIGN KEY ("userId") REFERENCES "app_user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE TABLE "password_login_limit" ("key" text PRIMARY KEY NOT NULL, "points" integer NOT NULL DEFAULT 0, "expire" integer)`);
    await q.query(`CREATE INDEX "ix_password_login_limit_expire" ON "password_login_limit" ("expire")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "password_login_limit"`);
    await q.query(`DROP TABLE "password_credential"`);
  }
}
