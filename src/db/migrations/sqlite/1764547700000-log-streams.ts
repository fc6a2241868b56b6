import type { MigrationInterface, QueryRunner } from "typeorm";

export class LogStreams1764547700000 implements MigrationInterface {
  name = "LogStreams1764547700000";

  async up(_q: QueryRunner): Promise<void> {}

  async down(_q: QueryRunner): Promise<void> {}
}
