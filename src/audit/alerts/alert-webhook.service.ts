/**
 * Alert webhooks of an organization.
 *
 * Rules:
 * - An organization principal manages only its own organization's webhooks; another
 *   organization's webhook answers NOT_FOUND like a missing one.
 * - URLs: https, or http to loopback outside production (assertWebhookUrl), no user info; at
 *   most 10 per organization. A URL may itself be a credential (chat webhooks), so audit entries
 *   name only its host.
 * - The signing secret (32 random bytes) is returned once by create and stored only sealed with
 *   the encryption key, bound to the webhook id; no field, log line or audit entry carries it.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { BadUserInputError, NotFoundError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import { assertOrganizationVisible } from "../../shared/scope";
import type { SecretBox } from "../../shared/secret-box";
import { assertWebhookUrl } from "../delivery/signed-webhook";
import type { AlertDeliveryType, AlertWebhookType } from "./alert.type";
import { AlertDeliveryEntity, AlertWebhookEntity } from "./alert-webhook.entity";

const MAX_WEBHOOKS = 10;

const purpose = (webhookId: string) => `alert_webhook:${webhookId}`;

export class AlertWebhookService {
  constructor(
    private readonly secrets: SecretBox,
    private readonly env: string,
  ) {}

  async list(em: EntityManager, principal: Principal, organizationId: string): Promise<AlertWebhookType[]> {
    assertOrganizationVisible(principal, organizationId);
    const hooks = await em.find(AlertWebhookEntity, { where: { organizationId }, order: { createdAt: "ASC" } });
    return Promise.all(hooks.map((hook) => this.toType(em, hook)));
  }

  async create(em: EntityManager, principal: Principal, organizationId: string, url: string): Promise<{ webhook: AlertWebhookEntity; secret: string }> {
    assertOrganizationVisible(principal, organizationId);
    const problem = assertWebhookUrl(url, this.env) ?? (/^[a-z]+:\/\/[^/?#]*@/i.test(url) ? "must not carry a user name or password" : null);
    if (problem) throw new BadUserInputError("input.url", `Invalid input: input.url ${problem}`);
    if ((await em.count(AlertWebhookEntity, { where: { organizationId } })) >= MAX_WEBHOOKS) {
      throw new BadUserInputError("input.organizationId", `An organization has at most ${MAX_WEBHOOKS} alert webhooks; delete one first`);
    }
    const id = randomUUID();
    const secret = `rbac_whsec_${randomBytes(32).toString("base64url")}`;
    const webhook = em.create(AlertWebhookEntity, {
      id,
      organizationId,
      url,
      secretSealed: this.secrets.seal(secret, purpose(id)),
      createdAt: new Date(),
      createdBy: principal.id,
    });
    await em.insert(AlertWebhookEntity, webhook);
    return { webhook, secret };
  }

  /** NOT_FOUND for a missing or another organization's webhook. */
  async delete(em: EntityManager, principal: Principal, id: string): Promise<AlertWebhookEntity> {
    const webhook = await em.findOne(AlertWebhookEntity, { where: { id } });
    if (!webhook) throw new NotFoundError("Alert webhook", id);
    assertOrganizationVisible(principal, webhook.organizationId, "Alert webhook", id);
    await em.delete(AlertWebhookEntity, { id });
    return webhook;
  }

  async toType(em: EntityManager, hook: AlertWebhookEntity): Promise<AlertWebhookType> {
    const deliveries = await em.find(AlertDeliveryEntity, { where: { webhookId: hook.id }, order: { createdAt: "DESC", id: "DESC" }, take: 10 });
    return { id: hook.id, organizationId: hook.organizationId, url: hook.url, createdAt: hook.createdAt, recentDeliveries: deliveries.map(toDeliveryType) };
  }

  open(hook: AlertWebhookEntity): string {
    return this.secrets.open(hook.secretSealed, purpose(hook.id));
  }
}

function toDeliveryType(d: AlertDeliveryEntity): AlertDeliveryType {
  return {
    id: d.id,
    alertId: d.alertId,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: d.createdAt,
    nextAttemptAt: d.status === "PENDING" ? d.nextAttemptAt : null,
    deliveredAt: d.deliveredAt,
  };
}
