import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Filtered `auditEntries` pages and exports (src/audit/audit-query.service.ts) read one organization's
 * entries in id order. With only ("organizationId", "id") a selective filter walked the whole
 * organization (1,000,000 index entries and rows for a filter nothing matched). Each index below
 * is an equality prefix followed by "id", so a page of a filter is one ordered range read that
 * stops after the page, whatever the table size. Action + success ("failed deletes", "failed
 * logins", the bench's filter) has its own index: both columns have few values, and a rare
 * combination of two common ones would otherwise be a walk through one of them. Other combinations
 * read the index of one column (the planner's choice) and check the others on the row.
 * Each index is also written by every audit insert (about +2-3 µs per entry and index on SQLite,
 * measured without fsync), hence not one per combination.
 */
export const AUDIT_READ_INDEXES: ReadonlyArray<[name: string, columns: string[]]> = [
  ["ix_audit_entry_organization_action", ["organizationId", "action", "id"]],
  ["ix_audit_entry_organization_success", ["organizationId", "success", "id"]],
  ["ix_audit_entry_organization_action_success", ["organizationId", "action", "success", "id"]],
  ["ix_audit_entry_organization_actor", ["organizationId", "actorId", "id"]],
  ["ix_audit_entry_organization_operation", ["organizationId", "operation", "id"]],
];

/**
 * Action and success are correlated (denials cluster on some actions): without statistics on the
 * combination the planner multiplies their frequencies, expects a rare combination to be common and
 * walks the primary key filtering rows (150-220 ms over 1,000,000 entries) instead of reading the
 * action + success index.
 */
const STATISTICS = "st_audit_entry_organization_action_success";

export class AuditReadIndexes1764547900000 implements MigrationInterface {
  name = "AuditReadIndexes1764547900000";

  async up(q: QueryRunner): Promise<void> {
    for (const [name, columns] of AUDIT_READ_INDEXES) {
      await q.query(`CREATE INDEX "${name}" ON "audit_entry" (${columns.map((c) => `"${c}"`).join(", ")})`);
    }
    await q.query(`CREATE STATISTICS "${STATISTICS}" (mcv) ON "organizationId", "action", "success" FROM "audit_entry"`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP STATISTICS "public"."${STATISTICS}"`);
    for (const [name] of [...AUDIT_READ_INDEXES].reverse()) await q.query(`DROP INDEX "public"."${name}"`);
  }
}
