import type { MigrationInterface, QueryRunner } from "typeorm";

export class LogStreams1764547700000 implements MigrationInterface {
  name = "LogStreams1764547700000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "log_stream" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "url" character varying(2048) NOT NULL, "secretSealed" character varying(256) NOT NULL, "enabled" boolean NOT NULL, "batchSize" integer NOT NULL, "lastAcknowledgedSequence" integer NOT NULL, "lastDeliveryAt" character varying(24), "lastError" character varying(512), "failedAttempts" integer NOT NULL, "nextAttemptAt" character varying(24), "retryUpToSequence" integer, "leaseOwner" character varying(36), "leaseUntil" character varying(24), "createdAt" character varying(24) NOT NULL, "updatedAt" character varying(24) NOT NULL, CONSTRAINT "PK_948994743fe98e2e2a74d741001" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_log_stream_organization" ON "log_stream" ("organizationId")`);
    await q.query(`CREATE TABLE "log_stream_delivery" ("id" SERIAL NOT NULL, "streamId" character varying(36) NOT NULL, "deliveryId" character varying(80) NOT NULL, "attempt" integer NOT NULL, "ok" boolean NOT NULL, "status" integer, "firstSequence" integer NOT NULL, "lastSequence" integer NOT NULL, "entryCount" integer NOT NULL, "error" character varying(512), "durationMs" integer NOT NULL, "instanceId" character varying(36) NOT NULL, "createdAt" character varying(24) NOT NULL, CONSTRAINT "PK_1c543bdf2a939f8b637ff85dc61" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_log_stream_delivery_stream" ON "log_stream_delivery" ("streamId", "id")`);
    await q.query(`ALTER TABLE "log_stream" ADD CONSTRAINT "fk_log_stream_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "log_stream_delivery" ADD CONSTRAINT "fk_log_stream_delivery_stream" FOREIGN KEY ("streamId") REFERENCES "log_stream"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "log_stream_delivery"`);
    await q.query(`DROP TABLE "log_stream"`);
  }
}
