import type { MigrationInterface, QueryRunner } from "typeorm";

/** SAML connections, the AuthnRequest store and the replay cache (src/sso/saml/saml-connection.entity.ts). */
export class Saml1764547200000 implements MigrationInterface {
  name = "Saml1764547200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "saml_connection" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "idpEntityId" varchar(1024) NOT NULL, "idpSsoUrl" varchar(2048) NOT NULL, "idpSsoBinding" varchar(16) NOT NULL, "idpCertificates" text NOT NULL, "spEntityId" varchar(1024), "acsUrl" varchar(2048), "emailAttribute" varchar(256) NOT NULL, "displayNameAttribute" varchar(256) NOT NULL, "groupsAttribute" varchar(256) NOT NULL, "clockSkewSeconds" integer NOT NULL, "allowIdpInitiated" boolean NOT NULL, "spPrivateKeySealed" text NOT NULL, "spCertificate" text NOT NULL, "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_saml_connection_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE UNIQUE INDEX "uq_saml_connection_idp" ON "saml_connection" ("organizationId", "idpEntityId")`);
    await q.query(`CREATE TABLE "saml_request" ("id" varchar(64) PRIMARY KEY NOT NULL, "connectionId" varchar(36) NOT NULL, "redirectUri" varchar(2048) NOT NULL, "codeChallenge" varchar(128), "clientState" varchar(512), "createdAt" varchar(24) NOT NULL, "expiresAt" varchar(24) NOT NULL, "consumedAt" varchar(24), CONSTRAINT "fk_saml_request_connection" FOREIGN KEY ("connectionId") REFERENCES "saml_connection" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_saml_request_expires" ON "saml_request" ("expiresAt")`);
    await q.query(`CREATE TABLE "saml_replay" ("key" varchar(64) PRIMARY KEY NOT NULL, "expiresAt" varchar(24) NOT NULL)`);
    await q.query(`CREATE INDEX "ix_saml_replay_expires" ON "saml_replay" ("expiresAt")`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["saml_replay", "saml_request", "saml_connection"]) await q.query(`DROP TABLE "${table}"`);
  }
}
