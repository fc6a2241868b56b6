import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { Database } from "../../db/database";
import type { OrganizationService } from "../../organizations/organization.service";
import type { RequestContext } from "../../shared/context";
import { pageSize, toConnection } from "../../shared/pagination";
import { auditTarget, managerFor, principalOf } from "../../shared/resolver-context";
import { ALERT_RULES, type AlertRuleKey, AlertRuleKey as AlertRuleEnum, type EffectiveRule } from "./alert-rules";
import type { AlertRuleService } from "./alert-rule.service";
import { alertCursor, toAlertType, type AlertService } from "./alert.service";
import { CreateAlertWebhookInput, UpdateAlertRuleInput } from "./alert.input";
import { AlertConnection, AlertRuleSettingType, AlertType, AlertWebhookType, CreatedAlertWebhookType } from "./alert.type";
import type { AlertWebhookService } from "./alert-webhook.service";

@Resolver(() => AlertType)
export class AlertResolver {
  constructor(
    private readonly db: Database,
    private readonly organizations: OrganizationService,
    private readonly alertService: AlertService,
    private readonly rules: AlertRuleService,
    private readonly webhooks: AlertWebhookService,
  ) {}

  @Query(() => AlertConnection, {
    description: "Newest first. Organization principals see their own organization's alerts; platform principals every alert (or one organization's).",
  })
  async alerts(
    @Arg("organizationId", () => ID, { nullable: true }) organizationId: string | null,
    @Arg("acknowledged", () => Boolean, { nullable: true, description: "true: only acknowledged; false: only open; omitted: both." }) acknowledged: boolean | null,
    @Arg("first", () => Int, { nullable: true }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<AlertConnection> {
    const limit = pageSize(first);
    const rows = await this.alertService.list(this.db.manager, principalOf(ctx), { organizationId, acknowledged }, limit + 1, after);
    const page = toConnection(rows, limit, alertCursor);
    return { ...page, edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toAlertType(edge.node) })) };
  }

  @Mutation(() => AlertType, { description: "Marks an alert as seen (idempotent: the first acknowledgement is kept)." })
  async acknowledgeAlert(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<AlertType> {
    const alert = await this.alertService.acknowledge(managerFor(ctx, this.db), principalOf(ctx), id);
    auditTarget(ctx, alert.organizationId, `alert:${alert.id}`, { acknowledged: { rule: alert.rule, auditSequence: alert.auditSequence } });
    return toAlertType(alert);
  }

  @Query(() => [AlertRuleSettingType], { description: "Every rule with the organization's settings (defaults where unchanged)." })
  async alertRules(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<AlertRuleSettingType[]> {
    await this.organizations.get(this.db.manager, principalOf(ctx), organizationId);
    return (await this.rules.effective(this.db.manager, organizationId)).map(toRuleType);
  }

  @Mutation(() => AlertRuleSettingType, { description: "Switches a rule on or off, or changes a counting rule's threshold and window (null: back to the default)." })
  async updateAlertRule(
    @Arg("organizationId", () => ID) organizationId: string,
    @Arg("rule", () => AlertRuleEnum) rule: AlertRuleKey,
    @Arg("input") input: UpdateAlertRuleInput,
    @Ctx() ctx: RequestContext,
  ): Promise<AlertRuleSettingType> {
    const em = managerFor(ctx, this.db);
    const principal = principalOf(ctx);
    await this.organizations.get(em, principal, organizationId);
    const { before, after } = await this.rules.update(em, organizationId, rule, input, principal.id);
    const changed: Record<string, [unknown, unknown]> = {};
    for (const field of ["enabled", "threshold", "windowSeconds"] as const) {
      if (before[field] !== after[field]) changed[field] = [before[field], after[field]];
    }
    auditTarget(ctx, organizationId, `alertRule:${rule}`, { changed });
    return toRuleType(after);
  }

  @Query(() => [AlertWebhookType])
  async alertWebhooks(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<AlertWebhookType[]> {
    const principal = principalOf(ctx);
    await this.organizations.get(this.db.manager, principal, organizationId);
    return this.webhooks.list(this.db.manager, principal, organizationId);
  }

  @Mutation(() => CreatedAlertWebhookType, { description: "The signing secret is in the answer, once." })
  async createAlertWebhook(@Arg("input") input: CreateAlertWebhookInput, @Ctx() ctx: RequestContext): Promise<CreatedAlertWebhookType> {
    const em = managerFor(ctx, this.db);
    const principal = principalOf(ctx);
    await this.organizations.get(em, principal, input.organizationId);
    const { webhook, secret } = await this.webhooks.create(em, principal, input.organizationId, input.url);
    auditTarget(ctx, webhook.organizationId, `alertWebhook:${webhook.id}`, { created: { host: new URL(webhook.url).host } });
    return { webhook: await this.webhooks.toType(em, webhook), secret };
  }

  @Mutation(() => Boolean)
  async deleteAlertWebhook(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const webhook = await this.webhooks.delete(managerFor(ctx, this.db), principalOf(ctx), id);
    auditTarget(ctx, webhook.organizationId, `alertWebhook:${webhook.id}`, { deleted: { host: new URL(webhook.url).host } });
    return true;
  }
}

function toRuleType(rule: EffectiveRule): AlertRuleSettingType {
  const d = ALERT_RULES[rule.rule];
  return { rule: rule.rule, severity: d.severity, description: d.description, enabled: rule.enabled, threshold: rule.threshold, windowSeconds: rule.windowSeconds, customized: rule.customized };
}
