import type { MigrationInterface, QueryRunner } from "typeorm";

export class Saml1764547200000 implements MigrationInterface {
  name = "Saml1764547200000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
