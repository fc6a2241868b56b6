import type { MigrationInterface, QueryRunner } from "typeorm";

export class Passwords1764547400000 implements MigrationInterface {
  name = "Passwords1764547400000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
