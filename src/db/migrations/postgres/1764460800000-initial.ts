import type { MigrationInterface, QueryRunner } from "typeorm";
import { seedBuiltInRoles } from "../seed-roles";

export class Initial1764460800000 implements MigrationInterface {
  name = "Initial1764460800000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "role" ("key" character varying(64) NOT NULL, "name" character varying(128) NOT NULL, "description" character varying(512), "builtIn" boolean NOT NULL DEFAULT false, "permissions" character varying(128) NOT NULL, "assignableToPeople" boolean NOT NULL DEFAULT true, CONSTRAINT "PK_128d7c8c9af53479d0b9e00eb58" PRIMARY KEY ("key"))`);
    await q.query(`CREATE TABLE "organization" ("id" character varying(36) NOT NULL, "slug" character varying(63) NOT NULL, "name" character varying(200) NOT NULL, "ssoEnabled" boolean NOT NULL DEFAULT false, "enforceSso" boolean NOT NULL DEFAULT false, "defaultRoleKey" character varying(64), "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_472c1f99a32def1b0abb219cd67" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "uq_organization_slug" ON "organization" ("slug")`);
    await q.query(`CREATE TABLE "organization_domain" ("domain" character varying(253) NOT NULL, "organizationId" character varying(36) NOT NULL, CONSTRAINT "PK_7f65f4b5b34eb3c980093ee99c9" PRIMARY KEY ("domain"))`);
    await q.query(`CREATE INDEX "ix_organization_domain_organization" ON "organization_domain" ("organizationId")`);
    await q.query(`CREATE TABLE "role_mapping" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "idpGroup" character varying(256) NOT NULL, "roleKey" character varying(64) NOT NULL, "priority" integer NOT NULL DEFAULT '0', "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_98ba4768930bbb115090837fa85" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "uq_role_mapping_group" ON "role_mapping" ("organizationId", "idpGroup")`);
    await q.query(`CREATE TABLE "service_account" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "name" character varying(200) NOT NULL, "roleKey" character varying(64) NOT NULL, "keyPrefix" character varying(32) NOT NULL, "keyHash" character varying(64) NOT NULL, "createdAt" character varying(24) NOT NULL, "lastUsedAt" character varying(24), "revokedAt" character varying(24), CONSTRAINT "PK_2efb318de61f6487f806627dbd2" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_service_account_organization" ON "service_account" ("organizationId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_service_account_key_hash" ON "service_account" ("keyHash")`);
    await q.query(`CREATE TABLE "platform_key" ("id" character varying(36) NOT NULL, "name" character varying(200) NOT NULL, "keyPrefix" character varying(32) NOT NULL, "keyHash" character varying(64) NOT NULL, "createdAt" character varying(24) NOT NULL, "lastUsedAt" character varying(24), "revokedAt" character varying(24), CONSTRAINT "PK_5ec5e2197f1664318531d1fc7b8" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "uq_platform_key_hash" ON "platform_key" ("keyHash")`);
    await q.query(`CREATE TABLE "audit_entry" ("id" SERIAL NOT NULL, "stream" character varying(36) NOT NULL, "sequence" integer NOT NULL, "timestamp" character varying(24) NOT NULL, "organizationId" character varying(36), "actorId" character varying(64) NOT NULL, "actorKind" character varying(16), "role" character varying(64), "action" character varying(64) NOT NULL, "operation" character varying(128) NOT NULL, "resource" character varying(512) NOT NULL, "success" boolean NOT NULL, "reason" character varying(1024), "ipAddress" character varying(64), "userAgent" character varying(512), "requestId" character varying(64) NOT NULL, "previousHash" character varying(64) NOT NULL, "hash" character varying(64) NOT NULL, CONSTRAINT "PK_58a130a4b9da189f46ba2a01801" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_audit_entry_timestamp" ON "audit_entry" ("timestamp")`);
    await q.query(`CREATE INDEX "ix_audit_entry_actor" ON "audit_entry" ("actorId", "id")`);
    await q.query(`CREATE INDEX "ix_audit_entry_organization_id" ON "audit_entry" ("organizationId", "id")`);
    await q.query(`CREATE UNIQUE INDEX "uq_audit_entry_stream_sequence" ON "audit_entry" ("stream", "sequence")`);
    await q.query(`CREATE TABLE "audit_stream" ("stream" character varying(36) NOT NULL, "lastSequence" integer NOT NULL, "lastHash" character varying(64) NOT NULL, CONSTRAINT "PK_b37a191f5c037bf9af969fcb8e5" PRIMARY KEY ("stream"))`);
    await q.query(`ALTER TABLE "organization" ADD CONSTRAINT "fk_organization_default_role" FOREIGN KEY ("defaultRoleKey") REFERENCES "role"("key") ON DELETE RESTRICT ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "organization_domain" ADD CONSTRAINT "fk_organization_domain_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "role_mapping" ADD CONSTRAINT "fk_role_mapping_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "role_mapping" ADD CONSTRAINT "fk_role_mapping_role" FOREIGN KEY ("roleKey") REFERENCES "role"("key") ON DELETE RESTRICT ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "service_account" ADD CONSTRAINT "fk_service_account_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "service_account" ADD CONSTRAINT "fk_service_account_role" FOREIGN KEY ("roleKey") REFERENCES "role"("key") ON DELETE RESTRICT ON UPDATE NO ACTION`);
    // The audit trail is append-only: the database itself refuses to change or remove an entry.
    await q.query(`CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$`);
    await q.query(`CREATE TRIGGER "audit_entry_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_entry" FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()`);
    await q.query(`CREATE TRIGGER "audit_entry_no_truncate" BEFORE TRUNCATE ON "audit_entry" FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()`);
    await seedBuiltInRoles(q, (i) => `$${i}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["audit_stream", "audit_entry", "platform_key", "service_account", "role_mapping", "organization_domain", "organization", "role"]) {
      await q.query(`DROP TABLE "${table}" CASCADE`);
    }
    await q.query(`DROP FUNCTION audit_entry_append_only()`);
  }
}
