import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * SQLite only: a version per change-feed topic, advanced in the transaction of every change that
 * in-memory caches must hear of. Other processes on the same file poll it (PostgreSQL uses
 * LISTEN/NOTIFY instead; see src/db/change-feed.ts).
 */
export class ChangeVersions1764548000000 implements MigrationInterface {
  name = "ChangeVersions1764548000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "change_version" ("topic" varchar(32) PRIMARY KEY NOT NULL, "version" integer NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "change_version"`);
  }
}
