import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";
import { OrganizationEntity } from "../organizations/organization.entity";
import { RoleEntity } from "../roles/role.entity";

/** The API key itself is never stored: only its SHA-256 and a short display prefix. */
@Entity("service_account")
export class ServiceAccountEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_service_account_organization")
  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_service_account_organization" })
  organization?: OrganizationEntity;

  @Column({ type: "varchar", length: 200 })
  name!: string;

  @Column({ type: "varchar", length: 64 })
  roleKey!: string;

  @ManyToOne(() => RoleEntity, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "roleKey", foreignKeyConstraintName: "fk_service_account_role" })
  role?: RoleEntity;

  @Column({ type: "varchar", length: 32 })
  keyPrefix!: string;

  @Index("uq_service_account_key_hash", { unique: true })
  @Column({ type: "varchar", length: 64 })
  keyHash!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  lastUsedAt!: Date | null;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  revokedAt!: Date | null;
}
