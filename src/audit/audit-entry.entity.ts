import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";

/**
 * One audited event. Append-only: database triggers refuse UPDATE and DELETE (see the migrations).
 * No foreign keys: entries outlive the organizations, accounts and keys they describe.
 */
@Entity("audit_entry")
@Index("uq_audit_entry_stream_sequence", ["stream", "sequence"], { unique: true })
@Index("ix_audit_entry_organization_id", ["organizationId", "id"])
@Index("ix_audit_entry_actor", ["actorId", "id"])
@Index("ix_audit_entry_timestamp", ["timestamp"])
/** Per-address counts (failed-login alerts, src/audit/alerts) and address filters. */
@Index("ix_audit_entry_ip_address", ["ipAddress", "id"])
/** Filtered pages of one organization in id order (src/audit/audit-query.service.ts). */
@Index("ix_audit_entry_organization_action", ["organizationId", "action", "id"])
@Index("ix_audit_entry_organization_success", ["organizationId", "success", "id"])
@Index("ix_audit_entry_organization_action_success", ["organizationId", "action", "success", "id"])
@Index("ix_audit_entry_organization_actor", ["organizationId", "actorId", "id"])
@Index("ix_audit_entry_organization_operation", ["organizationId", "operation", "id"])
export class AuditEntryEntity {
  @PrimaryGeneratedColumn({ type: "integer" })
  id!: number;

  /** The organization's id, or "platform" for entries that belong to no organization. */
  @Column({ type: "varchar", length: 36 })
  stream!: string;

  /** 1, 2, 3, ... per stream, without gaps. */
  @Column({ type: "integer" })
  sequence!: number;

  @Column(INSTANT_COLUMN)
  timestamp!: Date;

  @Column({ type: "varchar", length: 36, nullable: true })
  organizationId!: string | null;

  @Column({ type: "varchar", length: 64 })
  actorId!: string;

  @Column({ type: "varchar", length: 16, nullable: true })
  actorKind!: string | null;

  @Column({ type: "varchar", length: 64, nullable: true })
  role!: string | null;

  @Column({ type: "varchar", length: 64 })
  action!: string;

  @Column({ type: "varchar", length: 128 })
  operation!: string;

  @Column({ type: "varchar", length: 512 })
  resource!: string;

  @Column({ type: "boolean" })
  success!: boolean;

  @Column({ type: "varchar", length: 1024, nullable: true })
  reason!: string | null;

  @Column({ type: "varchar", length: 64, nullable: true })
  ipAddress!: string | null;

  @Column({ type: "varchar", length: 512, nullable: true })
  userAgent!: string | null;

  @Column({ type: "varchar", length: 64 })
  requestId!: string;

  /** JSON: what changed (field → [before, after]) or other structured context; never a secret. */
  @Column({ type: "text", nullable: true })
  details!: string | null;

  /** SHA-256 of the previous entry of the stream ("" for the first) and of this entry. */
  @Column({ type: "varchar", length: 64 })
  previousHash!: string;

  @Column({ type: "varchar", length: 64 })
  hash!: string;
}

/** Head of each audit stream: the last sequence and hash, updated in the entry's transaction. */
@Entity("audit_stream")
export class AuditStreamEntity {
  @Column({ type: "varchar", length: 36, primary: true })
  stream!: string;

  @Column({ type: "integer" })
  lastSequence!: number;

  @Column({ type: "varchar", length: 64 })
  lastHash!: string;
}
