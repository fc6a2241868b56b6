import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { OrganizationEntity } from "../../organizations/organization.entity";
import { INSTANT_COLUMN } from "../../shared/dates";

/**
 * A raised suspicious-activity alert. Like audit entries, alerts outlive what they describe (no
 * foreign key to the organization). The texts are built from audit fields only, never a secret.
 */
@Entity("alert")
@Index("ix_alert_organization", ["organizationId", "createdAt"])
@Index("ix_alert_created", ["createdAt"])
@Index("ix_alert_dedupe", ["rule", "subject", "createdAt"])
export class AlertEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  /** null: a platform alert (an entry of the platform stream), visible to platform principals only. */
  @Column({ type: "varchar", length: 36, nullable: true })
  organizationId!: string | null;

  @Column({ type: "varchar", length: 32 })
  rule!: string;

  @Column({ type: "varchar", length: 8 })
  severity!: string;

  @Column({ type: "varchar", length: 200 })
  title!: string;

  @Column({ type: "varchar", length: 1024 })
  description!: string;

  /** What a burst is counted over and deduplicated on: an actor id, an IP address or a session. */
  @Column({ type: "varchar", length: 128, nullable: true })
  subject!: string | null;

  @Column({ type: "varchar", length: 64, nullable: true })
  actorId!: string | null;

  @Column({ type: "varchar", length: 64, nullable: true })
  ipAddress!: string | null;

  /** The audit entry that raised it: its id, stream and sequence. */
  @Column({ type: "integer", nullable: true })
  auditEntryId!: number | null;

  @Column({ type: "varchar", length: 36 })
  auditStream!: string;

  @Column({ type: "integer" })
  auditSequence!: number;

  /** How many matching entries the rule counted (1 for event rules). */
  @Column({ type: "integer" })
  eventCount!: number;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  acknowledgedAt!: Date | null;

  @Column({ type: "varchar", length: 64, nullable: true })
  acknowledgedBy!: string | null;
}

/** An organization's change to a rule's defaults (no row: the defaults of alert-rules.ts). */
@Entity("alert_rule_setting")
export class AlertRuleSettingEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_alert_rule_setting_organization" })
  organization?: OrganizationEntity;

  @PrimaryColumn({ type: "varchar", length: 32 })
  rule!: string;

  @Column({ type: "boolean" })
  enabled!: boolean;

  @Column({ type: "integer", nullable: true })
  threshold!: number | null;

  @Column({ type: "integer", nullable: true })
  windowSeconds!: number | null;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;

  @Column({ type: "varchar", length: 64 })
  updatedBy!: string;
}

/**
 * Every (service account, client IP) pair seen so far: what "a new IP" is measured against. Service
 * accounts are revoked, never deleted, so the rows go with their organization.
 */
@Entity("service_key_ip")
export class ServiceKeyIpEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  serviceAccountId!: string;

  @PrimaryColumn({ type: "varchar", length: 64 })
  ipAddress!: string;

  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_service_key_ip_organization" })
  organization?: OrganizationEntity;

  @Column(INSTANT_COLUMN)
  firstSeenAt!: Date;
}
