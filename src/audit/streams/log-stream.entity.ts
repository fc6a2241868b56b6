import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { OrganizationEntity } from "../../organizations/organization.entity";
import { INSTANT_COLUMN } from "../../shared/dates";

/**
 * A SIEM endpoint that receives an organization's audit entries as signed batches. The signing
 * secret is stored only sealed (SecretBox, purpose bound to the stream id) and never leaves through
 * GraphQL after the answer that created or rotated it.
 */
@Entity("log_stream")
export class LogStreamEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_log_stream_organization")
  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_log_stream_organization" })
  organization?: OrganizationEntity;

  @Column({ type: "varchar", length: 2048 })
  url!: string;

  /** `v1.<nonce>.<ciphertext>` from SecretBox. */
  @Column({ type: "varchar", length: 256 })
  secretSealed!: string;

  @Column({ type: "boolean" })
  enabled!: boolean;

  @Column({ type: "integer" })
  batchSize!: number;

  /** Every entry of the organization's stream up to this sequence was acknowledged (2xx) by the endpoint. */
  @Column({ type: "integer" })
  lastAcknowledgedSequence!: number;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  lastDeliveryAt!: Date | null;

  @Column({ type: "varchar", length: 512, nullable: true })
  lastError!: string | null;

  /** Consecutive failed attempts of the batch waiting at lastAcknowledgedSequence + 1. */
  @Column({ type: "integer" })
  failedAttempts!: number;

  /** While failing: no attempt before this instant (backoff, shared by every instance). */
  @Column({ ...INSTANT_COLUMN, nullable: true })
  nextAttemptAt!: Date | null;

  /** While failing: the last sequence of the failed batch, so a retry sends the same range (same delivery id). */
  @Column({ type: "integer", nullable: true })
  retryUpToSequence!: number | null;

  /** The instance delivering this stream right now, and until when its claim holds. */
  @Column({ type: "varchar", length: 36, nullable: true })
  leaseOwner!: string | null;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  leaseUntil!: Date | null;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}

/** One delivery attempt of one batch (the delivery log). The newest attempts per stream are kept. */
@Entity("log_stream_delivery")
@Index("ix_log_stream_delivery_stream", ["streamId", "id"])
export class LogStreamDeliveryEntity {
  @PrimaryGeneratedColumn({ type: "integer" })
  id!: number;

  @Column({ type: "varchar", length: 36 })
  streamId!: string;

  @ManyToOne(() => LogStreamEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "streamId", foreignKeyConstraintName: "fk_log_stream_delivery_stream" })
  stream?: LogStreamEntity;

  /** Sent as X-RBAC-Delivery: `<stream id>:<first sequence>-<last sequence>`, the same for every retry of a batch. */
  @Column({ type: "varchar", length: 80 })
  deliveryId!: string;

  /** 1 for the first attempt of the batch, 2 for its first retry, ... */
  @Column({ type: "integer" })
  attempt!: number;

  @Column({ type: "boolean" })
  ok!: boolean;

  /** HTTP status of the answer; null when none came (timeout, connection refused). */
  @Column({ type: "integer", nullable: true })
  status!: number | null;

  @Column({ type: "integer" })
  firstSequence!: number;

  @Column({ type: "integer" })
  lastSequence!: number;

  @Column({ type: "integer" })
  entryCount!: number;

  @Column({ type: "varchar", length: 512, nullable: true })
  error!: string | null;

  @Column({ type: "integer" })
  durationMs!: number;

  /** The instance that made the attempt. */
  @Column({ type: "varchar", length: 36 })
  instanceId!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;
}
