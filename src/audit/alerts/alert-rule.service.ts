/**
 * Per-organization rule settings.
 *
 * Rules:
 * - No row means the defaults of alert-rules.ts; a row overrides enabled / threshold / window.
 * - threshold and windowSeconds exist only for counting rules; setting them on an event rule is
 *   BAD_USER_INPUT. null in an update returns a field to its default.
 * - The evaluator reads settings through a short cache (5 s): a change made on another instance
 *   applies within that time; on this instance at once.
 * - The platform stream has no settings: its alerts always use the defaults.
 */
import type { EntityManager } from "typeorm";
import type { Database } from "../../db/database";
import { BadUserInputError } from "../../shared/errors";
import { ALERT_RULE_KEYS, ALERT_RULES, defaultRule, isCountingRule, type AlertRuleKey, type EffectiveRule } from "./alert-rules";
import { AlertRuleSettingEntity } from "./alert.entity";

const CACHE_MS = 5_000;
const CACHE_MAX = 1_000;

export interface RuleChanges {
  enabled?: boolean | null;
  threshold?: number | null;
  windowSeconds?: number | null;
}

export class AlertRuleService {
  private readonly cache = new Map<string, { at: number; rules: Map<AlertRuleKey, EffectiveRule> }>();

  constructor(private readonly db: Database) {}

  /** Every rule's effective setting for the organization (null: the platform stream's defaults). */
  async effective(em: EntityManager, organizationId: string | null): Promise<EffectiveRule[]> {
    const rows = organizationId ? await em.find(AlertRuleSettingEntity, { where: { organizationId } }) : [];
    return ALERT_RULE_KEYS.map((rule) => merge(rule, rows.find((r) => r.rule === rule)));
  }

  /** For the evaluator: one rule's setting, cached briefly. */
  async forRule(organizationId: string | null, rule: AlertRuleKey): Promise<EffectiveRule> {
    const key = organizationId ?? "";
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.rules.get(rule)!;
    const rules = new Map((await this.effective(this.db.manager, organizationId)).map((r) => [r.rule, r]));
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { at: Date.now(), rules });
    return rules.get(rule)!;
  }

  /** Forgets the cached settings of an organization (after a committed change). */
  invalidate(organizationId: string | null): void {
    this.cache.delete(organizationId ?? "");
  }

  async update(em: EntityManager, organizationId: string, rule: AlertRuleKey, changes: RuleChanges, actorId: string): Promise<{ before: EffectiveRule; after: EffectiveRule }> {
    if (!isCountingRule(rule) && (changes.threshold != null || changes.windowSeconds != null)) {
      const field = changes.threshold != null ? "threshold" : "windowSeconds";
      throw new BadUserInputError(`input.${field}`, `${rule} is an event rule: it has no threshold or window, only enabled`);
    }
    const row = await em.findOne(AlertRuleSettingEntity, { where: { organizationId, rule } });
    const before = merge(rule, row ?? undefined);
    const next = em.create(AlertRuleSettingEntity, {
      organizationId,
      rule,
      enabled: changes.enabled === undefined ? before.enabled : changes.enabled ?? true,
      threshold: pick(changes.threshold, row?.threshold ?? null),
      windowSeconds: pick(changes.windowSeconds, row?.windowSeconds ?? null),
      updatedAt: new Date(),
      updatedBy: actorId,
    });
    await em.save(AlertRuleSettingEntity, next);
    this.cache.delete(organizationId);
    return { before, after: merge(rule, next) };
  }
}

/** undefined keeps the stored value; null returns to the default (stored as null). */
function pick(change: number | null | undefined, stored: number | null): number | null {
  return change === undefined ? stored : change;
}

function merge(rule: AlertRuleKey, row: AlertRuleSettingEntity | undefined): EffectiveRule {
  const d = defaultRule(rule);
  if (!row) return d;
  const counting = ALERT_RULES[rule].threshold !== null;
  return {
    rule,
    enabled: row.enabled,
    threshold: counting ? row.threshold ?? d.threshold : null,
    windowSeconds: counting ? row.windowSeconds ?? d.windowSeconds : null,
    customized: true,
  };
}
