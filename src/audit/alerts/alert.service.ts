/**
 * Stores, lists and acknowledges alerts.
 *
 * Rules:
 * - An organization principal sees only its own organization's alerts; another organization's
 *   alert (or a platform alert) answers NOT_FOUND exactly like a missing one. Platform principals
 *   see every alert, platform alerts (organizationId null) included.
 * - Deduplication: a rule that names a subject (an actor, an address, a session) raises at most one
 *   open (unacknowledged) alert per organization, rule and subject within its window. The check and
 *   the insert run in one transaction, serialized per subject (SQLite: one writer; PostgreSQL: a
 *   transaction-scoped advisory lock), so several instances raise one alert, not one each.
 * - Raising an alert queues one delivery per webhook of its organization in the same transaction.
 * - Texts are cut to their column sizes; they are built from audit fields, never from secrets.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { Database } from "../../db/database";
import { BadUserInputError, NotFoundError } from "../../shared/errors";
import { decodeCursor } from "../../shared/pagination";
import type { Principal } from "../../shared/principal";
import { assertOrganizationVisible } from "../../shared/scope";
import { ALERT_RULES, type AlertRuleKey } from "./alert-rules";
import { AlertEntity } from "./alert.entity";
import type { AlertType } from "./alert.type";
import { AlertDeliveryEntity, AlertWebhookEntity } from "./alert-webhook.entity";

export interface AlertCandidate {
  organizationId: string | null;
  rule: AlertRuleKey;
  description: string;
  subject: string | null;
  actorId: string | null;
  ipAddress: string | null;
  auditStream: string;
  auditSequence: number;
  eventCount: number;
}

export interface Dedupe {
  subject: string;
  /** Only open alerts created within this many seconds count; null: any open alert. */
  windowSeconds: number | null;
}

export interface AlertFilter {
  organizationId?: string | null;
  acknowledged?: boolean | null;
}

export class AlertService {
  constructor(private readonly db: Database) {}

  /** Is there an open alert for this organization, rule and subject (within the window)? */
  async isOpen(em: EntityManager, organizationId: string | null, rule: AlertRuleKey, dedupe: Dedupe, now = new Date()): Promise<boolean> {
    const q = em
      .createQueryBuilder(AlertEntity, "a")
      .select("a.id")
      .where("a.rule = :rule AND a.subject = :subject AND a.acknowledgedAt IS NULL", { rule, subject: dedupe.subject });
    if (organizationId === null) q.andWhere("a.organizationId IS NULL");
    else q.andWhere("a.organizationId = :organizationId", { organizationId });
    if (dedupe.windowSeconds !== null) q.andWhere("a.createdAt >= :since", { since: new Date(now.getTime() - dedupe.windowSeconds * 1000).toISOString() });
    return (await q.limit(1).getRawOne()) !== undefined;
  }

  /**
   * Stores the alert (unless an open one covers it) and queues its webhook deliveries.
   * Returns null when deduplicated.
   */
  async raise(candidate: AlertCandidate, dedupe: Dedupe | null): Promise<{ alert: AlertEntity; deliveries: number } | null> {
    return this.db.transaction(async (em) => {
      const now = new Date();
      if (dedupe) {
        if (this.db.dialect === "postgres") {
          await em.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`alert:${candidate.organizationId ?? ""}:${candidate.rule}:${dedupe.subject}`]);
        }
        if (await this.isOpen(em, candidate.organizationId, candidate.rule, dedupe, now)) return null;
      }
      const entry = await em.query(
        this.db.dialect === "postgres"
          ? `SELECT "id" FROM "audit_entry" WHERE "stream" = $1 AND "sequence" = $2`
          : `SELECT "id" FROM "audit_entry" WHERE "stream" = ? AND "sequence" = ?`,
        [candidate.auditStream, candidate.auditSequence],
      );
      const definition = ALERT_RULES[candidate.rule];
      const alert = em.create(AlertEntity, {
        id: randomUUID(),
        organizationId: candidate.organizationId,
        rule: candidate.rule,
        severity: definition.severity,
        title: cut(definition.title, 200),
        description: cut(candidate.description, 1024),
        subject: candidate.subject === null ? null : cut(candidate.subject, 128),
        actorId: candidate.actorId === null ? null : cut(candidate.actorId, 64),
        ipAddress: candidate.ipAddress === null ? null : cut(candidate.ipAddress, 64),
        auditEntryId: entry[0] ? Number(entry[0].id) : null,
        auditStream: candidate.auditStream,
        auditSequence: candidate.auditSequence,
        eventCount: candidate.eventCount,
        createdAt: now,
        acknowledgedAt: null,
        acknowledgedBy: null,
      });
      await em.insert(AlertEntity, alert);
      let deliveries = 0;
      if (alert.organizationId) {
        const hooks = await em.find(AlertWebhookEntity, { where: { organizationId: alert.organizationId }, select: { id: true } });
        if (hooks.length > 0) {
          await em.insert(
            AlertDeliveryEntity,
            hooks.map((hook) => ({
              id: randomUUID(),
              webhookId: hook.id,
              alertId: alert.id,
              status: "PENDING",
              attempts: 0,
              nextAttemptAt: now,
              lockedUntil: null,
              lastStatusCode: null,
              lastError: null,
              createdAt: now,
              deliveredAt: null,
            })),
          );
          deliveries = hooks.length;
        }
      }
      return { alert, deliveries };
    });
  }

  /** Newest first; `after` is the cursor of the last alert of the previous page. */
  async list(em: EntityManager, principal: Principal, filter: AlertFilter, limit: number, after: string | null): Promise<AlertEntity[]> {
    const q = em.createQueryBuilder(AlertEntity, "a");
    let organizationId = filter.organizationId ?? null;
    if (principal.kind !== "PLATFORM") {
      if (organizationId) assertOrganizationVisible(principal, organizationId);
      organizationId = principal.organizationId;
    }
    if (organizationId) q.andWhere("a.organizationId = :organizationId", { organizationId });
    if (filter.acknowledged === true) q.andWhere("a.acknowledgedAt IS NOT NULL");
    if (filter.acknowledged === false) q.andWhere("a.acknowledgedAt IS NULL");
    const cursor = decodeCursor<string>(after, "string");
    if (cursor !== null) {
      const [createdAt, id] = splitCursor(cursor);
      q.andWhere("(a.createdAt < :createdAt OR (a.createdAt = :createdAt AND a.id < :id))", { createdAt, id });
    }
    return q.orderBy("a.createdAt", "DESC").addOrderBy("a.id", "DESC").take(limit).getMany();
  }

  /** The alert if the principal may see it; NOT_FOUND otherwise (missing or foreign alike). */
  async get(em: EntityManager, principal: Principal, id: string): Promise<AlertEntity> {
    const alert = await em.findOne(AlertEntity, { where: { id } });
    if (!alert) throw new NotFoundError("Alert", id);
    if (alert.organizationId === null) {
      if (principal.kind !== "PLATFORM") throw new NotFoundError("Alert", id);
    } else {
      assertOrganizationVisible(principal, alert.organizationId, "Alert", id);
    }
    return alert;
  }

  /** Idempotent: an acknowledged alert keeps its first acknowledgement. */
  async acknowledge(em: EntityManager, principal: Principal, id: string): Promise<AlertEntity> {
    const alert = await this.get(em, principal, id);
    if (alert.acknowledgedAt) return alert;
    const now = new Date();
    await em
      .createQueryBuilder()
      .update(AlertEntity)
      .set({ acknowledgedAt: now, acknowledgedBy: principal.id })
      .where(`"id" = :id AND "acknowledgedAt" IS NULL`, { id })
      .execute();
    return (await em.findOne(AlertEntity, { where: { id } }))!;
  }
}

export function alertCursor(alert: AlertEntity): string {
  return `${alert.createdAt.toISOString()}|${alert.id}`;
}

export function toAlertType(alert: AlertEntity): AlertType {
  return {
    id: alert.id,
    organizationId: alert.organizationId,
    rule: alert.rule as AlertType["rule"],
    severity: alert.severity as AlertType["severity"],
    title: alert.title,
    description: alert.description,
    actorId: alert.actorId,
    ipAddress: alert.ipAddress,
    auditEntryId: alert.auditEntryId === null ? null : String(alert.auditEntryId),
    auditSequence: alert.auditSequence,
    eventCount: alert.eventCount,
    createdAt: alert.createdAt,
    acknowledgedAt: alert.acknowledgedAt,
    acknowledgedBy: alert.acknowledgedBy,
  };
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f-]{36})$/;

function splitCursor(cursor: string): [string, string] {
  const match = CURSOR.exec(cursor);
  if (!match) throw new BadUserInputError("after", "after is not a cursor returned by this API");
  return [match[1], match[2]];
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
