import type { MigrationInterface, QueryRunner } from "typeorm";

export class Sessions1764547100000 implements MigrationInterface {
  name = "Sessions1764547100000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "organization" ADD "allowedRedirectUrls" text NOT NULL DEFAULT '[]'`);
    await q.query(`CREATE TABLE "app_user" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "issuer" character varying(512) NOT NULL, "subject" character varying(512) NOT NULL, "email" character varying(320), "emailVerified" boolean NOT NULL DEFAULT false, "displayName" character varying(200), "groups" text NOT NULL DEFAULT '[]', "roleKey" character varying(64), "roleMappingId" character varying(36), "disabledAt" character varying(24), "lastLoginAt" character varying(24), "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_22a5c4a3d9b2fb8e4e73fc4ada1" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_app_user_email" ON "app_user" ("organizationId", "email")`);
    await q.query(`CREATE UNIQUE INDEX "uq_app_user_identity" ON "app_user" ("organizationId", "issuer", "subject")`);
    await q.query(`CREATE TABLE "session" ("id" character varying(36) NOT NULL, "userId" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "roleKey" character varying(64) NOT NULL, "createdAt" character varying(24) NOT NULL, "expiresAt" character varying(24) NOT NULL, "revokedAt" character varying(24), "revokedReason" character varying(200), CONSTRAINT "PK_f55da76ac1c3ac420f444d2ff11" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_session_user" ON "session" ("userId")`);
    await q.query(`CREATE TABLE "refresh_token" ("id" character varying(36) NOT NULL, "sessionId" character varying(36) NOT NULL, "tokenHash" character varying(64) NOT NULL, "createdAt" character varying(24) NOT NULL, "expiresAt" character varying(24) NOT NULL, "usedAt" character varying(24), CONSTRAINT "PK_b575dd3c21fb0831013c909e7fe" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_refresh_token_session" ON "refresh_token" ("sessionId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_refresh_token_hash" ON "refresh_token" ("tokenHash")`);
    await q.query(`CREATE TABLE "authorization_code" ("codeHash" character varying(64) NOT NULL, "userId" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "roleKey" character varying(64) NOT NULL, "redirectUri" character varying(2048) NOT NULL, "codeChallenge" character varying(128), "expiresAt" character varying(24) NOT NULL, "consumedAt" character varying(24), CONSTRAINT "PK_ed263f04d4ce3f5a90ef0459b47" PRIMARY KEY ("codeHash"))`);
    await q.query(`CREATE TABLE "signing_key" ("kid" character varying(64) NOT NULL, "algorithm" character varying(16) NOT NULL, "publicJwk" text NOT NULL, "privateKeySealed" text NOT NULL, "createdAt" character varying(24) NOT NULL, "rotatedAt" character varying(24), "retiredAt" character varying(24), CONSTRAINT "PK_00d7e305393ab903d6eb06c11f9" PRIMARY KEY ("kid"))`);
    await q.query(`ALTER TABLE "app_user" ADD CONSTRAINT "fk_app_user_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "session" ADD CONSTRAINT "fk_session_user" FOREIGN KEY ("userId") REFERENCES "app_user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "refresh_token" ADD CONSTRAINT "fk_refresh_token_session" FOREIGN KEY ("sessionId") REFERENCES "session"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "authorization_code" ADD CONSTRAINT "fk_authorization_code_user" FOREIGN KEY ("userId") REFERENCES "app_user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["signing_key", "authorization_code", "refresh_token", "session", "app_user"]) await q.query(`DROP TABLE "${table}" CASCADE`);
    await q.query(`ALTER TABLE "organization" DROP COLUMN "allowedRedirectUrls"`);
  }
}
