import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";

/** Platform (operator) API keys. Stored as SHA-256 only, like service-account keys. */
@Entity("platform_key")
export class PlatformKeyEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Column({ type: "varchar", length: 200 })
  name!: string;

  @Column({ type: "varchar", length: 32 })
  keyPrefix!: string;

  @Index("uq_platform_key_hash", { unique: true })
  @Column({ type: "varchar", length: 64 })
  keyHash!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  lastUsedAt!: Date | null;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  revokedAt!: Date | null;
}
