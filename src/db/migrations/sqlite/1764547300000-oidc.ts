import type { MigrationInterface, QueryRunner } from "typeorm";

export class Oidc1764547300000 implements MigrationInterface {
  name = "Oidc1764547300000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "oidc_connection" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "issuer" varchar(512) NOT NULL, "clientId" varchar(256) NOT NULL, "clientSecretSealed" varchar(1024), "clientAuthMethod" varchar(32) NOT NULL DEFAULT ('client_secret_basic'), "redirectUri" varchar(2048), "scopes" varchar(512) NOT NULL, "groupsClaim" varchar(128) NOT NULL, "maxIdTokenAgeSeconds" integer NOT NULL, "maxAuthAgeSeconds" integer, "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_oidc_connection_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_oidc_connection_organization" ON "oidc_connection" ("organizationId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_oidc_connection_client" ON "oidc_connection" ("organizationId", "issuer", "clientId")`);
    await q.query(`CREATE TABLE "oidc_transaction" ("id" varchar(36) PRIMARY KEY NOT NULL, "connectionId" varchar(36) NOT NULL, "stateHash" varchar(64) NOT NULL, "browserHash" varchar(64) NOT NULL, "nonce" varchar(128) NOT NULL, "codeVerifierSealed" varchar(256) NOT NULL, "redirectUri" varchar(2048) NOT NULL, "codeChallenge" varchar(128), "clientState" varchar(512), "createdAt" varchar(24) NOT NULL, "expiresAt" varchar(24) NOT NULL, "consumedAt" varchar(24), CONSTRAINT "fk_oidc_transaction_connection" FOREIGN KEY ("connectionId") REFERENCES "oidc_connection" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_oidc_transaction_connection" ON "oidc_transaction" ("connectionId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_oidc_transaction_state" ON "oidc_transaction" ("stateHash")`);
    await q.query(`CREATE INDEX "ix_oidc_transaction_expires" ON "oidc_transaction" ("expiresAt")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "oidc_transaction"`);
    await q.query(`DROP TABLE "oidc_connection"`);
  }
}
