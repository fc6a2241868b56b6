/**
 * Suspicious-activity alerts: rules evaluated on committed audit entries, stored alerts
 * (`alerts`, `acknowledgeAlert`), per-organization settings (`alertRules`, `updateAlertRule`),
 * signed webhooks with a delivery log (`alertWebhooks`, `createAlertWebhook`,
 * `deleteAlertWebhook`), and the live `alertRaised` subscription over graphql-ws.
 */
import type { AuditModule, AuditModuleDeps } from "../audit-module";
import { AlertEvaluator } from "./alert-evaluator.service";
import { AlertEvents } from "./alert-events";
import { AlertRuleService } from "./alert-rule.service";
import { AlertResolver } from "./alert.resolver";
import { AlertService } from "./alert.service";
import { AlertSubscriptionResolver } from "./alert-subscription.resolver";
import { registerAlertSubscriptions } from "./alert-subscription.routes";
import { AlertDeliveryWorker } from "./alert-delivery.service";
import { AlertWebhookService } from "./alert-webhook.service";

/** GraphQL resolver classes of this module (built into the schema by src/server/schema.ts). */
export const ALERT_RESOLVERS: Function[] = [AlertResolver, AlertSubscriptionResolver];

export interface AlertsModule extends AuditModule {
  /** Resolves once every queued audit entry has been evaluated (tests). */
  idle(): Promise<void>;
}

export function createAlertsModule(deps: AuditModuleDeps): AlertsModule {
  const { db, logger } = deps;
  const alerts = new AlertService(db);
  const rules = new AlertRuleService(db);
  const webhooks = new AlertWebhookService(deps.secrets, deps.env);
  const worker = new AlertDeliveryWorker(db, logger, webhooks);
  const events = new AlertEvents(() => db.manager, logger);
  const evaluator = new AlertEvaluator(db, logger, rules, alerts, (alert, deliveries) => {
    events.publish(alert);
    if (deliveries > 0) worker.wake();
  });
  deps.audit.onCommitted(evaluator.listener);
  let subscriptions: { close(): Promise<void> } | null = null;

  return {
    resolvers: [
      [AlertResolver, new AlertResolver(db, deps.organizations, alerts, rules, webhooks)],
      [AlertSubscriptionResolver, new AlertSubscriptionResolver()],
    ],
    registerRoutes(fastify, schema) {
      subscriptions = registerAlertSubscriptions(fastify, schema, { authentication: deps.authentication, audit: deps.audit, logger, events, env: deps.env });
    },
    start() {
      worker.start();
      events.start();
    },
    async stop() {
      events.stop();
      await subscriptions?.close();
      await evaluator.stop();
      await worker.stop();
    },
    idle: () => evaluator.idle(),
  };
}
