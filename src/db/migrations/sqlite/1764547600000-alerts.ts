import type { MigrationInterface, QueryRunner } from "typeorm";

export class Alerts1764547600000 implements MigrationInterface {
  name = "Alerts1764547600000";

  /** Suspicious-activity alerts (src/audit/alerts): alerts, per-organization rule settings, seen service-key addresses, webhooks and their delivery log. */
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "alert" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36), "rule" varchar(32) NOT NULL, "severity" varchar(8) NOT NULL, "title" varchar(200) NOT NULL, "description" varchar(1024) NOT NULL, "subject" varchar(128), "actorId" varchar(64), "ipAddress" varchar(64), "auditEntryId" integer, "auditStream" varchar(36) NOT NULL, "auditSequence" integer NOT NULL, "eventCount" integer NOT NULL, "createdAt" varchar(24) NOT NULL, "acknowledgedAt" varchar(24), "acknowledgedBy" varchar(64))`);
    await q.query(`CREATE INDEX "ix_alert_dedupe" ON "alert" ("rule", "subject", "createdAt")`);
    await q.query(`CREATE INDEX "ix_alert_created" ON "alert" ("createdAt")`);
    await q.query(`CREATE INDEX "ix_alert_organization" ON "alert" ("organizationId", "createdAt")`);
    await q.query(`CREATE TABLE "alert_rule_setting" ("organizationId" varchar(36) NOT NULL, "rule" varchar(32) NOT NULL, "enabled" boolean NOT NULL, "threshold" integer, "windowSeconds" integer, "updatedAt" varchar(24) NOT NULL, "updatedBy" varchar(64) NOT NULL, CONSTRAINT "fk_alert_rule_setting_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, PRIMARY KEY ("organizationId", "rule"))`);
    await q.query(`CREATE TABLE "service_key_ip" ("serviceAccountId" varchar(36) NOT NULL, "ipAddress" varchar(64) NOT NULL, "organizationId" varchar(36) NOT NULL, "firstSeenAt" varchar(24) NOT NULL, CONSTRAINT "fk_service_key_ip_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, PRIMARY KEY ("serviceAccountId", "ipAddress"))`);
    await q.query(`CREATE TABLE "alert_webhook" ("id" varchar(36) PRIMARY KEY NOT NULL, "organizationId" varchar(36) NOT NULL, "url" varchar(2048) NOT NULL, "secretSealed" varchar(256) NOT NULL, "createdAt" varchar(24) NOT NULL, "createdBy" varchar(64) NOT NULL, CONSTRAINT "fk_alert_webhook_organization" FOREIGN KEY ("organizationId") REFERENCES "organization" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_alert_webhook_organization" ON "alert_webhook" ("organizationId")`);
    await q.query(`CREATE TABLE "alert_delivery" ("id" varchar(36) PRIMARY KEY NOT NULL, "webhookId" varchar(36) NOT NULL, "alertId" varchar(36) NOT NULL, "status" varchar(16) NOT NULL, "attempts" integer NOT NULL, "nextAttemptAt" varchar(24) NOT NULL, "lockedUntil" varchar(24), "lastStatusCode" integer, "lastError" varchar(256), "createdAt" varchar(24) NOT NULL, "deliveredAt" varchar(24), CONSTRAINT "fk_alert_delivery_webhook" FOREIGN KEY ("webhookId") REFERENCES "alert_webhook" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT "fk_alert_delivery_alert" FOREIGN KEY ("alertId") REFERENCES "alert" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await q.query(`CREATE INDEX "ix_alert_delivery_alert" ON "alert_delivery" ("alertId")`);
    await q.query(`CREATE INDEX "ix_alert_delivery_webhook" ON "alert_delivery" ("webhookId", "createdAt")`);
    await q.query(`CREATE INDEX "ix_alert_delivery_due" ON "alert_delivery" ("status", "nextAttemptAt")`);
    // Per-address counts of failed logins (FAILED_LOGIN_BURST_IP) without scanning the window.
    await q.query(`CREATE INDEX "ix_audit_entry_ip_address" ON "audit_entry" ("ipAddress", "id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ix_audit_entry_ip_address"`);
    for (const table of ["alert_delivery", "alert_webhook", "service_key_ip", "alert_rule_setting", "alert"]) await q.query(`DROP TABLE "${table}"`);
  }
}
