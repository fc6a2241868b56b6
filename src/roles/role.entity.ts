import { Column, Entity, PrimaryColumn } from "typeorm";

/** Roles are data: seeded by the initial migration from src/authz/role-permissions.ts. */
@Entity("role")
export class RoleEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  key!: string;

  @Column({ type: "varchar", length: 128 })
  name!: string;

  @Column({ type: "varchar", length: 512, nullable: true })
  description!: string | null;

  @Column({ type: "boolean", default: false })
  builtIn!: boolean;

  /** Comma-separated actions, e.g. "READ,WRITE". */
  @Column({ type: "varchar", length: 128 })
  permissions!: string;

  @Column({ type: "boolean", default: true })
  assignableToPeople!: boolean;
}
