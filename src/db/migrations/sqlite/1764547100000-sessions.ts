import type { MigrationInterface, QueryRunner } from "typeorm";

export class Sessions1764547100000 implements MigrationInterface {
  name = "Sessions1764547100000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
