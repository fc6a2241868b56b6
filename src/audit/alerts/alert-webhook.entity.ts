import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { OrganizationEntity } from "../../organizations/organization.entity";
import { INSTANT_COLUMN } from "../../shared/dates";
import { AlertEntity } from "./alert.entity";

/**
 * An endpoint that receives an organization's alerts as signed POSTs. The signing secret is stored
 * only sealed (SecretBox, purpose bound to the webhook id) and is shown once, when created.
 */
@Entity("alert_webhook")
export class AlertWebhookEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_alert_webhook_organization")
  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_alert_webhook_organization" })
  organization?: OrganizationEntity;

  @Column({ type: "varchar", length: 2048 })
  url!: string;

  /** `v1.<nonce>.<ciphertext>` from SecretBox. */
  @Column({ type: "varchar", length: 256 })
  secretSealed!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column({ type: "varchar", length: 64 })
  createdBy!: string;
}

/** One alert to one webhook: the delivery log (attempts, status) and the retry schedule in one row. */
@Entity("alert_delivery")
@Index("ix_alert_delivery_due", ["status", "nextAttemptAt"])
@Index("ix_alert_delivery_webhook", ["webhookId", "createdAt"])
export class AlertDeliveryEntity {
  /** Sent as X-RBAC-Delivery, the same for every attempt, so receivers can deduplicate. */
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Column({ type: "varchar", length: 36 })
  webhookId!: string;

  @ManyToOne(() => AlertWebhookEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "webhookId", foreignKeyConstraintName: "fk_alert_delivery_webhook" })
  webhook?: AlertWebhookEntity;

  @Index("ix_alert_delivery_alert")
  @Column({ type: "varchar", length: 36 })
  alertId!: string;

  @ManyToOne(() => AlertEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "alertId", foreignKeyConstraintName: "fk_alert_delivery_alert" })
  alert?: AlertEntity;

  /** PENDING (waiting for its next attempt), DELIVERED (a 2xx came) or FAILED (attempts exhausted). */
  @Column({ type: "varchar", length: 16 })
  status!: string;

  @Column({ type: "integer" })
  attempts!: number;

  @Column(INSTANT_COLUMN)
  nextAttemptAt!: Date;

  /** An instance is attempting it until this instant (claimed by a conditional update). */
  @Column({ ...INSTANT_COLUMN, nullable: true })
  lockedUntil!: Date | null;

  @Column({ type: "integer", nullable: true })
  lastStatusCode!: number | null;

  @Column({ type: "varchar", length: 256, nullable: true })
  lastError!: string | null;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  deliveredAt!: Date | null;
}
