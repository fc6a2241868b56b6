import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../../shared/dates";
import { OidcConnectionEntity } from "./oidc-connection.entity";

/**
 * One started OIDC login (authorization request), shared by every instance through the database.
 * `state` and the browser-binding cookie are stored only as SHA-256 hashes; the PKCE verifier is
 * sealed. Consumed once, by a conditional UPDATE.
 */
@Entity("oidc_transaction")
export class OidcTransactionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_oidc_transaction_connection")
  @Column({ type: "varchar", length: 36 })
  connectionId!: string;

  @ManyToOne(() => OidcConnectionEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "connectionId", foreignKeyConstraintName: "fk_oidc_transaction_connection" })
  connection?: OidcConnectionEntity;

  @Index("uq_oidc_transaction_state", { unique: true })
  @Column({ type: "varchar", length: 64 })
  stateHash!: string;

  @Column({ type: "varchar", length: 64 })
  browserHash!: string;

  @Column({ type: "varchar", length: 128 })
  nonce!: string;

  @Column({ type: "varchar", length: 256 })
  codeVerifierSealed!: string;

  /** The frontend URL to return to (already checked against the organization's allow list). */
  @Column({ type: "varchar", length: 2048 })
  redirectUri!: string;

  @Column({ type: "varchar", length: 128, nullable: true })
  codeChallenge!: string | null;

  @Column({ type: "varchar", length: 512, nullable: true })
  clientState!: string | null;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Index("ix_oidc_transaction_expires")
  @Column(INSTANT_COLUMN)
  expiresAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  consumedAt!: Date | null;
}
