/**
 * Delivers alerts to their organization's webhooks, in the background.
 *
 * Rules:
 * - Deliveries are rows (the delivery log), queued with the alert in its transaction. Each is
 *   claimed by a conditional update with a 30 s lease, so one instance attempts it at a time.
 * - Signed and sent by signed-webhook.ts (HMAC-SHA256, X-RBAC-Delivery = the delivery id, the same
 *   on every attempt). A 2xx marks it DELIVERED; anything else is retried with exponential backoff
 *   (backoffMs: 1 s, 2 s, 4 s … 5 min, ±20 %) up to 12 attempts (about 20 minutes), then FAILED.
 * - One unref'd timer (every second, and at once when an alert queued deliveries); at most 4
 *   deliveries in flight; stop() waits for them at most 2 s (a delivery cut short is attempted
 *   again later; receivers deduplicate on X-RBAC-Delivery).
 */
import type { Logger } from "pino";
import type { Database } from "../../db/database";
import { backoffMs, deliver } from "../delivery/signed-webhook";
import { AlertEntity } from "./alert.entity";
import { toAlertType } from "./alert.service";
import { AlertDeliveryEntity, AlertWebhookEntity } from "./alert-webhook.entity";
import type { AlertWebhookService } from "./alert-webhook.service";

export const MAX_ATTEMPTS = 12;
const POLL_MS = 1_000;
const BATCH = 20;
const CONCURRENCY = 4;
const LEASE_MS = 30_000;
const STOP_WAIT_MS = 2_000;

export class AlertDeliveryWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly webhooks: AlertWebhookService,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
    this.wake();
  }

  /** Runs a round now (or right after the running one): called when an alert queued deliveries. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.round()
      .then(() => {
        if (this.failing) this.logger.info("alert webhook delivery works again");
        this.failing = false;
      })
      .catch((error) => {
        // Once per outage (e.g. the database is down), not once a second.
        if (!this.failing) this.logger.error({ err: error }, "alert webhook delivery round failed; retrying every second");
        this.failing = true;
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.running) {
      await Promise.race([this.running, new Promise<void>((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
    }
  }

  private async round(): Promise<void> {
    const now = new Date();
    const due = await this.db.manager
      .createQueryBuilder(AlertDeliveryEntity, "d")
      .where("d.status = :status AND d.nextAttemptAt <= :now", { status: "PENDING", now: now.toISOString() })
      .andWhere("(d.lockedUntil IS NULL OR d.lockedUntil < :now)", { now: now.toISOString() })
      .orderBy("d.nextAttemptAt", "ASC")
      .limit(BATCH)
      .getMany();
    const claimed: AlertDeliveryEntity[] = [];
    for (const delivery of due) {
      if (this.stopped) return;
      if (await this.claim(delivery, now)) claimed.push(delivery);
    }
    for (let i = 0; i < claimed.length && !this.stopped; i += CONCURRENCY) {
      await Promise.all(claimed.slice(i, i + CONCURRENCY).map((d) => this.attempt(d)));
    }
  }

  /** A conditional update: of several instances, one attempts the delivery. */
  private async claim(delivery: AlertDeliveryEntity, now: Date): Promise<boolean> {
    const result = await this.db.transaction((em) =>
      em
        .createQueryBuilder()
        .update(AlertDeliveryEntity)
        .set({ lockedUntil: new Date(now.getTime() + LEASE_MS) })
        .where(`"id" = :id AND "status" = 'PENDING' AND ("lockedUntil" IS NULL OR "lockedUntil" < :now)`, { id: delivery.id, now: now.toISOString() })
        .execute(),
    );
    return result.affected === 1;
  }

  private async attempt(delivery: AlertDeliveryEntity): Promise<void> {
    try {
      const hook = await this.db.manager.findOne(AlertWebhookEntity, { where: { id: delivery.webhookId } });
      const alert = await this.db.manager.findOne(AlertEntity, { where: { id: delivery.alertId } });
      if (!hook || !alert) return; // deleted meanwhile (cascade removes the delivery too)
      const payload = { type: "alert.raised", deliveryId: delivery.id, alert: serializeAlert(alert) };
      const outcome = await deliver({ url: hook.url, secret: this.webhooks.open(hook) }, payload, delivery.id);
      const attempts = delivery.attempts + 1;
      const now = new Date();
      const status = outcome.ok ? "DELIVERED" : attempts >= MAX_ATTEMPTS ? "FAILED" : "PENDING";
      await this.db.transaction((em) =>
        em.update(
          AlertDeliveryEntity,
          { id: delivery.id },
          {
            status,
            attempts,
            lockedUntil: null,
            lastStatusCode: outcome.status,
            lastError: outcome.ok ? null : (outcome.error ?? `HTTP ${outcome.status}`).slice(0, 256),
            nextAttemptAt: status === "PENDING" ? new Date(now.getTime() + backoffMs(attempts)) : now,
            deliveredAt: outcome.ok ? now : null,
          },
        ),
      );
      if (status === "FAILED") this.logger.warn({ deliveryId: delivery.id, webhookId: hook.id, attempts }, "alert webhook delivery failed for good");
    } catch (error) {
      this.logger.error({ err: error, deliveryId: delivery.id }, "alert webhook delivery attempt failed");
    }
  }
}

/** The JSON an alert webhook receives (and what the subscription's Alert carries). */
export function serializeAlert(alert: AlertEntity) {
  const a = toAlertType(alert);
  return { ...a, createdAt: a.createdAt.toISOString(), acknowledgedAt: a.acknowledgedAt?.toISOString() ?? null };
}
