import { Field, ID, Int, ObjectType } from "type-graphql";
import { PageInfo } from "../../shared/pagination";
import { AlertRuleKey, AlertSeverity } from "./alert-rules";

@ObjectType("Alert", { description: "A suspicious-activity alert raised from an audit entry." })
export class AlertType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { nullable: true, description: "null: a platform alert (from the platform audit stream)." })
  organizationId!: string | null;

  @Field(() => AlertRuleKey)
  rule!: AlertRuleKey;

  @Field(() => AlertSeverity)
  severity!: AlertSeverity;

  @Field()
  title!: string;

  @Field()
  description!: string;

  @Field(() => String, { nullable: true })
  actorId!: string | null;

  @Field(() => String, { nullable: true })
  ipAddress!: string | null;

  @Field(() => ID, { nullable: true, description: "The audit entry that raised the alert." })
  auditEntryId!: string | null;

  @Field(() => Int, { description: "That entry's sequence in its organization's audit stream." })
  auditSequence!: number;

  @Field(() => Int, { description: "How many matching entries the rule counted (1 for event rules)." })
  eventCount!: number;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  acknowledgedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "The id of the principal who acknowledged it." })
  acknowledgedBy!: string | null;
}

@ObjectType("AlertEdge")
export class AlertEdge {
  @Field()
  cursor!: string;

  @Field(() => AlertType)
  node!: AlertType;
}

@ObjectType("AlertConnection")
export class AlertConnection {
  @Field(() => [AlertEdge])
  edges!: AlertEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType("AlertRuleSetting", { description: "A rule as it applies to one organization." })
export class AlertRuleSettingType {
  @Field(() => AlertRuleKey)
  rule!: AlertRuleKey;

  @Field(() => AlertSeverity)
  severity!: AlertSeverity;

  @Field()
  description!: string;

  @Field()
  enabled!: boolean;

  @Field(() => Int, { nullable: true, description: "Counting rules: how many matching entries within the window raise the alert; null for event rules." })
  threshold!: number | null;

  @Field(() => Int, { nullable: true, description: "Counting rules: the window, and how long one open alert covers the same actor or address; null for event rules." })
  windowSeconds!: number | null;

  @Field({ description: "false while the organization uses the defaults." })
  customized!: boolean;
}

@ObjectType("AlertDelivery", { description: "One alert sent (or being sent) to one webhook." })
export class AlertDeliveryType {
  @Field(() => ID, { description: "Sent as X-RBAC-Delivery on every attempt." })
  id!: string;

  @Field(() => ID)
  alertId!: string;

  @Field({ description: "PENDING, DELIVERED or FAILED (attempts exhausted)." })
  status!: string;

  @Field(() => Int)
  attempts!: number;

  @Field(() => Int, { nullable: true })
  lastStatusCode!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;
}

@ObjectType("AlertWebhook", { description: "Receives the organization's alerts as HMAC-SHA256-signed POSTs. The secret is never readable." })
export class AlertWebhookType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field()
  url!: string;

  @Field()
  createdAt!: Date;

  @Field(() => [AlertDeliveryType], { description: "The 10 newest deliveries." })
  recentDeliveries!: AlertDeliveryType[];
}

@ObjectType("CreatedAlertWebhook")
export class CreatedAlertWebhookType {
  @Field(() => AlertWebhookType)
  webhook!: AlertWebhookType;

  @Field({ description: "Shown once: the key of the X-RBAC-Signature HMAC. Store it now, it cannot be read again." })
  secret!: string;
}
