import type { MigrationInterface, QueryRunner } from "typeorm";

const APPEND_ONLY = `SELECT RAISE(ABORT, 'audit entries are append-only')`;

/**
 * Retention checkpoints (src/audit/retention/). The one exception to the append-only audit table:
 * an entry may be deleted only when a checkpoint of its stream covers its sequence. UPDATE stays
 * refused; checkpoints and their keys are append-only themselves.
 */
export class Retention1764547800000 implements MigrationInterface {
  name = "Retention1764547800000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "audit_checkpoint" ("id" varchar(36) PRIMARY KEY NOT NULL, "stream" varchar(36) NOT NULL, "throughSequence" integer NOT NULL, "throughHash" varchar(64) NOT NULL, "entryCount" integer NOT NULL, "olderThan" varchar(24) NOT NULL, "createdAt" varchar(24) NOT NULL, "keyId" varchar(36) NOT NULL, "signature" varchar(64) NOT NULL)`);
    await q.query(`CREATE UNIQUE INDEX "uq_audit_checkpoint_stream_sequence" ON "audit_checkpoint" ("stream", "throughSequence")`);
    await q.query(`CREATE TABLE "audit_checkpoint_key" ("keyId" varchar(36) PRIMARY KEY NOT NULL, "keySealed" text NOT NULL, "createdAt" varchar(24) NOT NULL)`);
    for (const table of ["audit_checkpoint", "audit_checkpoint_key"]) {
      await q.query(`CREATE TRIGGER "${table}_no_update" BEFORE UPDATE ON "${table}" BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`);
      await q.query(`CREATE TRIGGER "${table}_no_delete" BEFORE DELETE ON "${table}" BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`);
    }
    await q.query(`DROP TRIGGER "audit_entry_no_delete"`);
    await q.query(
      `CREATE TRIGGER "audit_entry_no_delete" BEFORE DELETE ON "audit_entry" FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM "audit_checkpoint" c WHERE c."stream" = OLD."stream" AND OLD."sequence" <= c."throughSequence") BEGIN ${APPEND_ONLY}; END`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER "audit_entry_no_delete"`);
    await q.query(`CREATE TRIGGER "audit_entry_no_delete" BEFORE DELETE ON "audit_entry" BEGIN ${APPEND_ONLY}; END`);
    await q.query(`DROP TABLE "audit_checkpoint_key"`);
    await q.query(`DROP TABLE "audit_checkpoint"`);
  }
}
