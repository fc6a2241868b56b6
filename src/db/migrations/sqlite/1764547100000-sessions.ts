import type { MigrationInterface, QueryRunner } from "typeorm";

export class Sessions1764547100000 implements MigrationInterface {
  name = "Sessions1764547100000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "organization" ADD COLUMN "allowedRedirectUrls" text NOT NULL DEFAULT ('[]')`);
    await q.query(`CREATE TABLE "app_user" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "issuer" varchar(512) NOT NULL, "subject" varchar(512) NOT NULL, "email" varchar(320), "emailVerified" boolean NOT NULL DEFAULT (0), "displayName" varchar(200), "groups" text NOT NULL DEFAULT ('[]'), "roleKey" varchar(64), "roleMappingId" varchar(36), "disabledAt" varchar(24), "lastLoginAt" varchar(24), "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_app_user_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_app_user_email" ON "app_user" ("organizationId", "email")`);
    await q.query(`CREATE UNIQUE INDEX "uq_app_user_identity" ON "app_user" ("organizationId", "issuer", "subject")`);
    await q.query(`CREATE TABLE "session" ("id" varchar(36) PRIMARY KEY NOT NULL, "userId" varchar(36) NOT NULL, "organizationId" varchar(36) NOT NULL, "roleKey" varchar(64) NOT NULL, "createdAt" varchar(24) NOT NULL, "expiresAt" varchar(24) NOT NULL, "revokedAt" varchar(24), "revokedReason" varchar(200), CONSTRAINT "fk_session_user" FOREIGN KEY ("userId") REFERENCES "app_user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_session_user" ON "session" ("userId")`);
    await q.query(`CREATE TABLE "refresh_token" ("id" varchar(36) PRIMARY KEY NOT NULL, "sessionId" varchar(36) NOT NULL, "tokenHash" varchar(64) NOT NULL, "createdAt" varchar(24) NOT NULL, "expiresAt" varchar(24) NOT NULL, "usedAt" varchar(24), CONSTRAINT "fk_refresh_token_session" FOREIGN KEY ("sessionId") REFERENCES "session" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_refresh_token_session" ON "refresh_token" ("sessionId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_refresh_token_hash" ON "refresh_token" ("tokenHash")`);
    await q.query(`CREATE TABLE "authorization_code" ("codeHash" varchar(64) PRIMARY KEY NOT NULL, "userId" varchar(36) NOT NULL, "organizationId" varchar(36) NOT NULL, "roleKey" varchar(64) NOT NULL, "redirectUri" varchar(2048) NOT NULL, "codeChallenge" varchar(128), "expiresAt" varchar(24) NOT NULL, "consumedAt" varchar(24), CONSTRAINT "fk_authorization_code_user" FOREIGN KEY ("userId") REFERENCES "app_user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE TABLE "signing_key" ("kid" varchar(64) PRIMARY KEY NOT NULL, "algorithm" varchar(16) NOT NULL, "publicJwk" text NOT NULL, "privateKeySealed" text NOT NULL, "createdAt" varchar(24) NOT NULL, "rotatedAt" varchar(24), "retiredAt" varchar(24))`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["signing_key", "authorization_code", "refresh_token", "session", "app_user"]) await q.query(`DROP TABLE "${table}"`);
    await q.query(`ALTER TABLE "organization" DROP COLUMN "allowedRedirectUrls"`);
  }
}
