/**
 * The catalogue of suspicious-activity rules: what each looks for, its severity and its defaults.
 * Organizations may switch a rule off or change a counting rule's threshold and window
 * (`updateAlertRule`); everything else here is fixed.
 */
import { registerEnumType } from "type-graphql";

export const AlertRuleKey = {
  FAILED_DELETE: "FAILED_DELETE",
  DENIAL_BURST: "DENIAL_BURST",
  REFRESH_TOKEN_REUSE: "REFRESH_TOKEN_REUSE",
  FAILED_LOGIN_BURST_ACCOUNT: "FAILED_LOGIN_BURST_ACCOUNT",
  FAILED_LOGIN_BURST_IP: "FAILED_LOGIN_BURST_IP",
  ADMIN_ROLE_GRANTED: "ADMIN_ROLE_GRANTED",
  SERVICE_KEY_NEW_IP: "SERVICE_KEY_NEW_IP",
} as const;
export type AlertRuleKey = (typeof AlertRuleKey)[keyof typeof AlertRuleKey];
registerEnumType(AlertRuleKey, { name: "AlertRule", description: "A suspicious-activity rule (see the README's list)." });

export const AlertSeverity = { LOW: "LOW", MEDIUM: "MEDIUM", HIGH: "HIGH" } as const;
export type AlertSeverity = (typeof AlertSeverity)[keyof typeof AlertSeverity];
registerEnumType(AlertSeverity, { name: "AlertSeverity" });

export interface AlertRuleDefinition {
  key: AlertRuleKey;
  severity: AlertSeverity;
  title: string;
  description: string;
  /** Counting rules fire when `threshold` matching entries fall within `windowSeconds`; null for event rules. */
  threshold: number | null;
  windowSeconds: number | null;
}

export const ALERT_RULES: Readonly<Record<AlertRuleKey, AlertRuleDefinition>> = {
  FAILED_DELETE: {
    key: "FAILED_DELETE",
    severity: "MEDIUM",
    title: "Failed delete",
    description: "A delete that was denied or failed (an operation whose action includes delete, not a `can` question).",
    threshold: 1,
    windowSeconds: 300,
  },
  DENIAL_BURST: {
    key: "DENIAL_BURST",
    severity: "MEDIUM",
    title: "Burst of denials",
    description: "One principal had many requests refused or failed in a short time (GraphQL fields, subscriptions, the audit export; a `can` answered \"no\" is not a refusal).",
    threshold: 10,
    windowSeconds: 60,
  },
  REFRESH_TOKEN_REUSE: {
    key: "REFRESH_TOKEN_REUSE",
    severity: "HIGH",
    title: "Refresh token reuse",
    description: "A spent refresh token was presented again (likely theft); the whole session was revoked.",
    threshold: null,
    windowSeconds: null,
  },
  FAILED_LOGIN_BURST_ACCOUNT: {
    key: "FAILED_LOGIN_BURST_ACCOUNT",
    severity: "MEDIUM",
    title: "Failed logins for one account",
    description: "Many refused logins (any protocol) for the same account.",
    threshold: 5,
    windowSeconds: 300,
  },
  FAILED_LOGIN_BURST_IP: {
    key: "FAILED_LOGIN_BURST_IP",
    severity: "HIGH",
    title: "Failed logins from one address",
    description: "Many refused logins (any account) from the same client IP address.",
    threshold: 20,
    windowSeconds: 300,
  },
  ADMIN_ROLE_GRANTED: {
    key: "ADMIN_ROLE_GRANTED",
    severity: "HIGH",
    title: "Admin role granted",
    description:
      "A change that grants the admin role: a mapping to admin (created, or changed to admin or to another group), admin as the default role, a service account or password user created with admin.",
    threshold: null,
    windowSeconds: null,
  },
  SERVICE_KEY_NEW_IP: {
    key: "SERVICE_KEY_NEW_IP",
    severity: "MEDIUM",
    title: "Service key used from a new address",
    description: "A service-account API key was used from an IP address it was never used from (its first address is remembered silently).",
    threshold: null,
    windowSeconds: null,
  },
};

export const ALERT_RULE_KEYS = Object.keys(ALERT_RULES) as AlertRuleKey[];

export const THRESHOLD_BOUNDS = { min: 1, max: 10_000 } as const;
export const WINDOW_BOUNDS = { min: 10, max: 86_400 } as const;

export function isCountingRule(rule: AlertRuleKey): boolean {
  return ALERT_RULES[rule].threshold !== null;
}

/** A rule's effective setting for one organization. */
export interface EffectiveRule {
  rule: AlertRuleKey;
  enabled: boolean;
  threshold: number | null;
  windowSeconds: number | null;
  /** false while the organization has not changed this rule. */
  customized: boolean;
}

export function defaultRule(rule: AlertRuleKey): EffectiveRule {
  const d = ALERT_RULES[rule];
  return { rule, enabled: true, threshold: d.threshold, windowSeconds: d.windowSeconds, customized: false };
}
