import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";
import { RoleEntity } from "../roles/role.entity";

@Entity("organization")
export class OrganizationEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("uq_organization_slug", { unique: true })
  @Column({ type: "varchar", length: 63 })
  slug!: string;

  @Column({ type: "varchar", length: 200 })
  name!: string;

  @Column({ type: "boolean", default: false })
  ssoEnabled!: boolean;

  @Column({ type: "boolean", default: false })
  enforceSso!: boolean;

  @Column({ type: "varchar", length: 64, nullable: true })
  defaultRoleKey!: string | null;

  /** JSON array of the frontend URLs a login may redirect to (with its one-time code). */
  @Column({ type: "text", default: "[]" })
  allowedRedirectUrls!: string;

  @ManyToOne(() => RoleEntity, { onDelete: "RESTRICT", nullable: true })
  @JoinColumn({ name: "defaultRoleKey", foreignKeyConstraintName: "fk_organization_default_role" })
  defaultRole?: RoleEntity | null;

  @OneToMany(() => OrganizationDomainEntity, (d) => d.organization)
  domains?: OrganizationDomainEntity[];

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}

/** A domain belongs to at most one organization: the domain itself is the primary key. */
@Entity("organization_domain")
export class OrganizationDomainEntity {
  @PrimaryColumn({ type: "varchar", length: 253 })
  domain!: string;

  @Index("ix_organization_domain_organization")
  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, (o) => o.domains, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_organization_domain_organization" })
  organization?: OrganizationEntity;
}
