import type { MigrationInterface, QueryRunner } from "typeorm";

export class Alerts1764547600000 implements MigrationInterface {
  name = "Alerts1764547600000";

  /** Suspicious-activity alerts (src/audit/alerts): alerts, per-organization rule settings, seen service-key addresses, webhooks and their delivery log. */
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "alert" ("id" character varying(36) NOT NULL, "organizationId" character varying(36), "rule" character varying(32) NOT NULL, "severity" character varying(8) NOT NULL, "title" character varying(200) NOT NULL, "description" character varying(1024) NOT NULL, "subject" character varying(128), "actorId" character varying(64), "ipAddress" character varying(64), "auditEntryId" integer, "auditStream" character varying(36) NOT NULL, "auditSequence" integer NOT NULL, "eventCount" integer NOT NULL, "createdAt" character varying(24) NOT NULL, "acknowledgedAt" character varying(24), "acknowledgedBy" character varying(64), CONSTRAINT "PK_ad91cad659a3536465d564a4b2f" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_alert_dedupe" ON "alert" ("rule", "subject", "createdAt")`);
    await q.query(`CREATE INDEX "ix_alert_created" ON "alert" ("createdAt")`);
    await q.query(`CREATE INDEX "ix_alert_organization" ON "alert" ("organizationId", "createdAt")`);
    await q.query(`CREATE TABLE "alert_rule_setting" ("organizationId" character varying(36) NOT NULL, "rule" character varying(32) NOT NULL, "enabled" boolean NOT NULL, "threshold" integer, "windowSeconds" integer, "updatedAt" character varying(24) NOT NULL, "updatedBy" character varying(64) NOT NULL, CONSTRAINT "PK_1e9ab5e8f51ca96b16bac68e2ff" PRIMARY KEY ("organizationId", "rule"))`);
    await q.query(`CREATE TABLE "service_key_ip" ("serviceAccountId" character varying(36) NOT NULL, "ipAddress" character varying(64) NOT NULL, "organizationId" character varying(36) NOT NULL, "firstSeenAt" character varying(24) NOT NULL, CONSTRAINT "PK_348334f74805a8fcad2c97957df" PRIMARY KEY ("serviceAccountId", "ipAddress"))`);
    await q.query(`CREATE TABLE "alert_webhook" ("id" character varying(36) NOT NULL, "organizationId" character varying(36) NOT NULL, "url" character varying(2048) NOT NULL, "secretSealed" character varying(256) NOT NULL, "createdAt" character varying(24) NOT NULL, "createdBy" character varying(64) NOT NULL, CONSTRAINT "PK_4fd2fe99d6dd2edd192263e4521" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_alert_webhook_organization" ON "alert_webhook" ("organizationId")`);
    await q.query(`CREATE TABLE "alert_delivery" ("id" character varying(36) NOT NULL, "webhookId" character varying(36) NOT NULL, "alertId" character varying(36) NOT NULL, "status" character varying(16) NOT NULL, "attempts" integer NOT NULL, "nextAttemptAt" character varying(24) NOT NULL, "lockedUntil" character varying(24), "lastStatusCode" integer, "lastError" character varying(256), "createdAt" character varying(24) NOT NULL, "deliveredAt" character varying(24), CONSTRAINT "PK_c525535867340bf8eef9ac9721d" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_alert_delivery_alert" ON "alert_delivery" ("alertId")`);
    await q.query(`CREATE INDEX "ix_alert_delivery_webhook" ON "alert_delivery" ("webhookId", "createdAt")`);
    await q.query(`CREATE INDEX "ix_alert_delivery_due" ON "alert_delivery" ("status", "nextAttemptAt")`);
    // Per-address counts of failed logins (FAILED_LOGIN_BURST_IP) without scanning the window.
    await q.query(`CREATE INDEX "ix_audit_entry_ip_address" ON "audit_entry" ("ipAddress", "id")`);
    await q.query(`ALTER TABLE "alert_rule_setting" ADD CONSTRAINT "fk_alert_rule_setting_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "service_key_ip" ADD CONSTRAINT "fk_service_key_ip_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "alert_webhook" ADD CONSTRAINT "fk_alert_webhook_organization" FOREIGN KEY ("organizationId") REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "alert_delivery" ADD CONSTRAINT "fk_alert_delivery_webhook" FOREIGN KEY ("webhookId") REFERENCES "alert_webhook"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await q.query(`ALTER TABLE "alert_delivery" ADD CONSTRAINT "fk_alert_delivery_alert" FOREIGN KEY ("alertId") REFERENCES "alert"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."ix_audit_entry_ip_address"`);
    for (const table of ["alert_delivery", "alert_webhook", "service_key_ip", "alert_rule_setting", "alert"]) await q.query(`DROP TABLE "${table}" CASCADE`);
  }
}
