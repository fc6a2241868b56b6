import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../../shared/dates";

/**
 * A retention checkpoint: entries 1 … throughSequence of a stream were purged, and the entry at
 * throughSequence had hash throughHash. Signed (see checkpoint-signer.service.ts). Append-only:
 * database triggers refuse UPDATE and DELETE; the audit_entry DELETE trigger lets an entry go only
 * when a checkpoint of its stream covers its sequence.
 */
@Entity("audit_checkpoint")
@Index("uq_audit_checkpoint_stream_sequence", ["stream", "throughSequence"], { unique: true })
export class AuditCheckpointEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  /** The organization's id, or "platform". */
  @Column({ type: "varchar", length: 36 })
  stream!: string;

  /** Entries up to and including this sequence are gone. */
  @Column({ type: "integer" })
  throughSequence!: number;

  /** The hash of the entry at throughSequence: the previousHash of the first remaining entry. */
  @Column({ type: "varchar", length: 64 })
  throughHash!: string;

  /** Entries this purge removed (throughSequence minus the previous checkpoint's). */
  @Column({ type: "integer" })
  entryCount!: number;

  /** The cutoff: every removed entry was older than this. */
  @Column(INSTANT_COLUMN)
  olderThan!: Date;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  /** The checkpoint key that signed it. */
  @Column({ type: "varchar", length: 36 })
  keyId!: string;

  /** base64url HMAC-SHA256 over the canonical checkpoint (checkpointPayload). */
  @Column({ type: "varchar", length: 64 })
  signature!: string;
}

/** HMAC keys for checkpoints: 32 random bytes each, sealed with RBAC_ENCRYPTION_KEY. Append-only. */
@Entity("audit_checkpoint_key")
export class AuditCheckpointKeyEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  keyId!: string;

  @Column({ type: "text" })
  keySealed!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;
}
