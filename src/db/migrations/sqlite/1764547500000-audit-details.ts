import type { MigrationInterface, QueryRunner } from "typeorm";

export class AuditDetails1764547500000 implements MigrationInterface {
  name = "AuditDetails1764547500000";

  /** Structured before/after of audited changes; part of the hashed entry when present. */
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "audit_entry" ADD COLUMN "details" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "audit_entry" DROP COLUMN "details"`);
  }
}
