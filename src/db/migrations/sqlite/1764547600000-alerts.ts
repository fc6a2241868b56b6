import type { MigrationInterface, QueryRunner } from "typeorm";

export class Alerts1764547600000 implements MigrationInterface {
  name = "Alerts1764547600000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
