import type { MigrationInterface, QueryRunner } from "typeorm";

/** SAML connections, the AuthnRequest store and the replay cache (src/sso/saml/saml-connection.entity.ts). */
export class Saml1764547200000 implements MigrationInterface {
  name = "Saml1764547200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "saml_connection" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "idpEntityId" character varying(1024) NOT NULL, "idpSsoUrl" character varying(2048) NOT NULL, "idpSsoBinding" character varying(16) NOT NULL, "idpCertificates" text NOT NULL, "spEntityId" character varying(1024), "acsUrl" character varying(2048), "emailAttribute" character varying(256) NOT NULL, "displayNameAttribute" character varying(256) NOT NULL, "groupsAttribute" character varying(256) NOT NULL, "clockSkewSeconds" integer NOT NULL, "allowIdpInitiated" boolean NOT NULL, "spPrivateKeySealed" text NOT NULL, "spCertificate" text NOT NULL, "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_d9d4887674fdb6c12a4155e1f8a" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "uq_saml_connection_idp" ON "saml_connection" ("organizationId", "idpEntityId")`);
    await q.query(`CREATE TABLE "saml_request" ("id" character varying(64) NOT NULL, "connectionId" character varying(36) NOT NULL, "redirectUri" character varying(2048) NOT NULL, "codeChallenge" character varying(128), "clientState" character varying(512), "createdAt" character varying(24) NOT NULL, "expiresAt" character varying(24) NOT NULL, "consumedAt" character varying(24), CONSTRAINT "PK_b15965f9b2fadb121de2215a94d" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_saml_request_expires" ON "saml_request" ("expiresAt")`);
    await q.query(`CREATE TABLE "saml_replay" ("key" character varying(64) NOT NULL, "expiresAt" character varying(24) NOT NULL, CONSTRAINT "PK_d25a5b83b40d6ee5aff811223f0" PRIMARY KEY ("key"))`);
    await q.query(`CREATE INDEX "ix_saml_replay_expires" ON "saml_replay" ("expiresAt")`);
    await q.query(`ALTER TABLE "saml_connection" ADD CONSTRAINT "fk_saml_connection_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "saml_request" ADD CONSTRAINT "fk_saml_request_connection" FOREIGN KEY ("connectionId") REFERENCES "saml_connection"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["saml_replay", "saml_request", "saml_connection"]) await q.query(`DROP TABLE "${table}" CASCADE`);
  }
}
