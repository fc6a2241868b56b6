import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Retention checkpoints (src/audit/retention/). The one exception to the append-only audit table:
 * an entry may be deleted only when a checkpoint of its stream covers its sequence. UPDATE and
 * TRUNCATE stay refused; checkpoints and their keys are append-only themselves.
 */
export class Retention1764547800000 implements MigrationInterface {
  name = "Retention1764547800000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "audit_checkpoint" ("id" character varying(36) NOT NULL, "stream" character varying(36) NOT NULL, "throughSequence" integer NOT NULL, "throughHash" character varying(64) NOT NULL, "entryCount" integer NOT NULL, "olderThan" character varying(24) NOT NULL, "createdAt" character varying(24) NOT NULL, "keyId" character varying(36) NOT NULL, "signature" character varying(64) NOT NULL, CONSTRAINT "PK_9720e45bb755b61bb1ab7d43839" PRIMARY KEY ("id"))`);
    await q.query(`CREATE UNIQUE INDEX "uq_audit_checkpoint_stream_sequence" ON "audit_checkpoint" ("stream", "throughSequence")`);
    await q.query(`CREATE TABLE "audit_checkpoint_key" ("keyId" character varying(36) NOT NULL, "keySealed" text NOT NULL, "createdAt" character varying(24) NOT NULL, CONSTRAINT "PK_75dfe9969b853b4c1c7a6f2b395" PRIMARY KEY ("keyId"))`);
    await q.query(`CREATE FUNCTION audit_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`);
    for (const table of ["audit_checkpoint", "audit_checkpoint_key"]) {
      await q.query(`CREATE TRIGGER "${table}_no_update_delete" BEFORE UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only()`);
      await q.query(`CREATE TRIGGER "${table}_no_truncate" BEFORE TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoint_append_only()`);
    }
    // Same trigger name, new function: DELETE passes only for entries a checkpoint covers.
    await q.query(
      `CREATE FUNCTION audit_entry_retention_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
        `IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM "audit_checkpoint" c WHERE c."stream" = OLD."stream" AND OLD."sequence" <= c."throughSequence") THEN RETURN OLD; END IF; ` +
        `RAISE EXCEPTION 'audit entries are append-only'; END $$`,
    );
    await q.query(`DROP TRIGGER "audit_entry_no_update_delete" ON "audit_entry"`);
    await q.query(`CREATE TRIGGER "audit_entry_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_entry" FOR EACH ROW EXECUTE FUNCTION audit_entry_retention_guard()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER "audit_entry_no_update_delete" ON "audit_entry"`);
    await q.query(`CREATE TRIGGER "audit_entry_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_entry" FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()`);
    await q.query(`DROP FUNCTION audit_entry_retention_guard()`);
    await q.query(`DROP TABLE "audit_checkpoint_key"`);
    await q.query(`DROP TABLE "audit_checkpoint"`);
    await q.query(`DROP FUNCTION audit_checkpoint_append_only()`);
  }
}
