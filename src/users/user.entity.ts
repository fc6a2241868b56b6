import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";
import { OrganizationEntity } from "../organizations/organization.entity";

/**
 * A person of one organization, provisioned just in time at their first login and keyed on
 * (organization, IdP issuer, subject). Their role is recomputed from their IdP groups at every login.
 */
@Entity("app_user")
@Index("uq_app_user_identity", ["organizationId", "issuer", "subject"], { unique: true })
@Index("ix_app_user_email", ["organizationId", "email"])
export class UserEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_app_user_organization" })
  organization?: OrganizationEntity;

  @Column({ type: "varchar", length: 512 })
  issuer!: string;

  @Column({ type: "varchar", length: 512 })
  subject!: string;

  @Column({ type: "varchar", length: 320, nullable: true })
  email!: string | null;

  @Column({ type: "boolean", default: false })
  emailVerified!: boolean;

  @Column({ type: "varchar", length: 200, nullable: true })
  displayName!: string | null;

  /** JSON array of the IdP groups seen at the last login. */
  @Column({ type: "text", default: "[]" })
  groups!: string;

  @Column({ type: "varchar", length: 64, nullable: true })
  roleKey!: string | null;

  /** The mapping that gave the role, or null (default role / none). */
  @Column({ type: "varchar", length: 36, nullable: true })
  roleMappingId!: string | null;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  disabledAt!: Date | null;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  lastLoginAt!: Date | null;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}
