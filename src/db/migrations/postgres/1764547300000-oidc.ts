import type { MigrationInterface, QueryRunner } from "typeorm";

export class Oidc1764547300000 implements MigrationInterface {
  name = "Oidc1764547300000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "oidc_connection" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "issuer" character varying(512) NOT NULL, "clientId" character varying(256) NOT NULL, "clientSecretSealed" character varying(1024), "clientAuthMethod" character varying(32) NOT NULL DEFAULT 'client_secret_basic', "redirectUri" character varying(2048), "scopes" character varying(512) NOT NULL, "groupsClaim" character varying(128) NOT NULL, "maxIdTokenAgeSeconds" integer NOT NULL, "maxAuthAgeSeconds" integer, "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_8bb5209908b00a3790d4a3e5298" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_oidc_connection_organization" ON "oidc_connection" ("organizationId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_oidc_connection_client" ON "oidc_connection" ("organizationId", "issuer", "clientId")`);
    await q.query(`CREATE TABLE "oidc_transaction" ("id" character varying(36) NOT NULL, "connectionId" character varying(36) NOT NULL, "stateHash" character varying(64) NOT NULL, "browserHash" character varying(64) NOT NULL, "nonce" character varying(128) NOT NULL, "codeVerifierSealed" character varying(256) NOT NULL, "redirectUri" character varying(2048) NOT NULL, "codeChallenge" character varying(128), "clientState" character varying(512), "createdAt" character varying(24) NOT NULL, "expiresAt" character varying(24) NOT NULL, "consumedAt" character varying(24), CONSTRAINT "PK_c7b82142322e7595bb32ba26f96" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_oidc_transaction_connection" ON "oidc_transaction" ("connectionId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_oidc_transaction_state" ON "oidc_transaction" ("stateHash")`);
    await q.query(`CREATE INDEX "ix_oidc_transaction_expires" ON "oidc_transaction" ("expiresAt")`);
    await q.query(`ALTER TABLE "oidc_connection" ADD CONSTRAINT "fk_oidc_connection_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "oidc_transaction" ADD CONSTRAINT "fk_oidc_transaction_connection" FOREIGN KEY ("connectionId") REFERENCES "oidc_connection"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "oidc_transaction"`);
    await q.query(`DROP TABLE "oidc_connection"`);
  }
}
