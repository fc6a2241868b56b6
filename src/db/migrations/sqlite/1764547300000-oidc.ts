import type { MigrationInterface, QueryRunner } from "typeorm";

export class Oidc1764547300000 implements MigrationInterface {
  name = "Oidc1764547300000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
