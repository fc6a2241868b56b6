import type { MigrationInterface, QueryRunner } from "typeorm";

export class LogStreams1764547700000 implements MigrationInterface {
  name = "LogStreams1764547700000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "log_stream" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "url" varchar(2048) NOT NULL, "secretSealed" varchar(256) NOT NULL, "enabled" boolean NOT NULL, "batchSize" integer NOT NULL, "lastAcknowledgedSequence" integer NOT NULL, "lastDeliveryAt" varchar(24), "lastError" varchar(512), "failedAttempts" integer NOT NULL, "nextAttemptAt" varchar(24), "retryUpToSequence" integer, "leaseOwner" varchar(36), "leaseUntil" varchar(24), "createdAt" varchar(24) NOT NULL, "updatedAt" varchar(24) NOT NULL, CONSTRAINT "fk_log_stream_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_log_stream_organization" ON "log_stream" ("organizationId")`);
    await q.query(`CREATE TABLE "log_stream_delivery" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "streamId" varchar(36) NOT NULL, "deliveryId" varchar(80) NOT NULL, "attempt" integer NOT NULL, "ok" boolean NOT NULL, "status" integer, "firstSequence" integer NOT NULL, "lastSequence" integer NOT NULL, "entryCount" integer NOT NULL, "error" varchar(512), "durationMs" integer NOT NULL, "instanceId" varchar(36) NOT NULL, "createdAt" varchar(24) NOT NULL, CONSTRAINT "fk_log_stream_delivery_stream" FOREIGN KEY ("streamId") REFERENCES "log_stream" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_log_stream_delivery_stream" ON "log_stream_delivery" ("streamId", "id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "log_stream_delivery"`);
    await q.query(`DROP TABLE "log_stream"`);
  }
}
