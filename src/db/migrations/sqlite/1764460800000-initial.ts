import type { MigrationInterface, QueryRunner } from "typeorm";
import { seedBuiltInRoles } from "../seed-roles";

export class Initial1764460800000 implements MigrationInterface {
  name = "Initial1764460800000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "role" ("key" varchar(64) PRIMARY KEY NOT NULL, "name" varchar(128) NOT NULL, "description" varchar(512), "builtIn" boolean NOT NULL DEFAULT (0), "permissions" varchar(128) NOT NULL, "assignableToPeople" boolean NOT NULL DEFAULT (1))`);
    await q.query(`CREATE TABLE "organization" ("id" varchar(36) PRIMARY KEY NOT NULL, "slug" varchar(63) NOT NULL, "name" varchar(200) NOT NULL, "ssoEnabled" boolean NOT NULL DEFAULT (0), "enforceSso" boolean NOT NULL DEFAULT (0), "defaultRoleKey" varchar(64), "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_organization_default_role" FOREIGN KEY ("defaultRoleKey") REFERENCES "role" ("key") ON DELETE RESTRICT ON UPDATE NO ACTION)`);
    await q.query(`CREATE UNIQUE INDEX "uq_organization_slug" ON "organization" ("slug")`);
    await q.query(`CREATE TABLE "organization_domain" ("domain" varchar(253) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, CONSTRAINT "fk_organization_domain_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_organization_domain_organization" ON "organization_domain" ("organizationId")`);
    await q.query(`CREATE TABLE "role_mapping" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "idpGroup" varchar(256) NOT NULL, "roleKey" varchar(64) NOT NULL, "priority" integer NOT NULL DEFAULT (0), "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_role_mapping_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT "fk_role_mapping_role" FOREIGN KEY ("roleKey") REFERENCES "role" ("key") ON DELETE RESTRICT ON UPDATE NO ACTION)`);
    await q.query(`CREATE UNIQUE INDEX "uq_role_mapping_group" ON "role_mapping" ("organizationId", "idpGroup")`);
    await q.query(`CREATE TABLE "service_account" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "roleKey" varchar(64) NOT NULL, "keyPrefix" varchar(32) NOT NULL, "keyHash" varchar(64) NOT NULL, "createdAt" varchar(24) NOT NULL, "lastUsedAt" varchar(24), "revokedAt" varchar(24), CONSTRAINT "fk_service_account_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT "fk_service_account_role" FOREIGN KEY ("roleKey") REFERENCES "role" ("key") ON DELETE RESTRICT ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_service_account_organization" ON "service_account" ("organizationId")`);
    await q.query(`CREATE UNIQUE INDEX "uq_service_account_key_hash" ON "service_account" ("keyHash")`);
    await q.query(`CREATE TABLE "platform_key" ("id" varchar(36) PRIMARY KEY NOT NULL, "name" varchar(200) NOT NULL, "keyPrefix" varchar(32) NOT NULL, "keyHash" varchar(64) NOT NULL, "createdAt" varchar(24) NOT NULL, "lastUsedAt" varchar(24), "revokedAt" varchar(24))`);
    await q.query(`CREATE UNIQUE INDEX "uq_platform_key_hash" ON "platform_key" ("keyHash")`);
    await q.query(`CREATE TABLE "audit_entry" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "stream" varchar(36) NOT NULL, "sequence" integer NOT NULL, "timestamp" varchar(24) NOT NULL, "organizationId" varchar(36), "actorId" varchar(64) NOT NULL, "actorKind" varchar(16), "role" varchar(64), "action" varchar(64) NOT NULL, "operation" varchar(128) NOT NULL, "resource" varchar(512) NOT NULL, "success" boolean NOT NULL, "reason" varchar(1024), "ipAddress" varchar(64), "userAgent" varchar(512), "requestId" varchar(64) NOT NULL, "previousHash" varchar(64) NOT NULL, "hash" varchar(64) NOT NULL)`);
    await q.query(`CREATE INDEX "ix_audit_entry_timestamp" ON "audit_entry" ("timestamp")`);
    await q.query(`CREATE INDEX "ix_audit_entry_actor" ON "audit_entry" ("actorId", "id")`);
    await q.query(`CREATE INDEX "ix_audit_entry_organization_id" ON "audit_entry" ("organizationId", "id")`);
    await q.query(`CREATE UNIQUE INDEX "uq_audit_entry_stream_sequence" ON "audit_entry" ("stream", "sequence")`);
    await q.query(`CREATE TABLE "audit_stream" ("stream" varchar(36) PRIMARY KEY NOT NULL, "lastSequence" integer NOT NULL, "lastHash" varchar(64) NOT NULL)`);
    // The audit trail is append-only: the database itself refuses to change or remove an entry.
    await q.query(`CREATE TRIGGER "audit_entry_no_update" BEFORE UPDATE ON "audit_entry" BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END`);
    await q.query(`CREATE TRIGGER "audit_entry_no_delete" BEFORE DELETE ON "audit_entry" BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END`);
    await seedBuiltInRoles(q, () => "?");
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["audit_stream", "audit_entry", "platform_key", "service_account", "role_mapping", "organization_domain", "organization", "role"]) {
      await q.query(`DROP TABLE "${table}"`);
    }
  }
}
