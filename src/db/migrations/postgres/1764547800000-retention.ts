import type { MigrationInterface, QueryRunner } from "typeorm";

export class Retention1764547800000 implements MigrationInterface {
  name = "Retention1764547800000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
