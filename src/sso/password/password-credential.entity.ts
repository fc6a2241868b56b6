import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../../shared/dates";
import { UserEntity } from "../../users/user.entity";

/**
 * The password of a password account (an app_user row with issuer "password"). Only the argon2id
 * hash is stored; this entity never becomes a GraphQL type.
 */
@Entity("password_credential")
export class PasswordCredentialEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "userId", foreignKeyConstraintName: "fk_password_credential_user" })
  user?: UserEntity;

  /** PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash`. */
  @Column({ type: "varchar", length: 256 })
  passwordHash!: string;

  /**
   * The role an administrator gave the account. Password accounts have no IdP groups, so this is
   * the source of their role at every login (see LoginIdentity.roleKey).
   */
  @Column({ type: "varchar", length: 64 })
  roleKey!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}
