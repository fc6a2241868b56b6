import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";
import { OrganizationEntity } from "../organizations/organization.entity";
import { RoleEntity } from "../roles/role.entity";

@Entity("role_mapping")
@Index("uq_role_mapping_group", ["organizationId", "idpGroup"], { unique: true })
export class RoleMappingEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_role_mapping_organization" })
  organization?: OrganizationEntity;

  /** Matched case-sensitively against the exact group string from the IdP. */
  @Column({ type: "varchar", length: 256 })
  idpGroup!: string;

  @Column({ type: "varchar", length: 64 })
  roleKey!: string;

  @ManyToOne(() => RoleEntity, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "roleKey", foreignKeyConstraintName: "fk_role_mapping_role" })
  role?: RoleEntity;

  @Column({ type: "integer", default: 0 })
  priority!: number;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}
