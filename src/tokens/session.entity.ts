import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../shared/dates";
import { UserEntity } from "../users/user.entity";

/**
 * A login session: what access tokens (`sid`) and a refresh-token family belong to. Every request
 * with an access token checks it, so revocation, deprovisioning and demotion act at once.
 */
@Entity("session")
export class SessionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_session_user")
  @Column({ type: "varchar", length: 36 })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "userId", foreignKeyConstraintName: "fk_session_user" })
  user?: UserEntity;

  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  /** The role the session was granted; a different current role ends the session. */
  @Column({ type: "varchar", length: 64 })
  roleKey!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  /** Absolute lifetime: no refresh beyond it. */
  @Column(INSTANT_COLUMN)
  expiresAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  revokedAt!: Date | null;

  @Column({ type: "varchar", length: 200, nullable: true })
  revokedReason!: string | null;
}

/** Opaque refresh tokens, stored as SHA-256 only, rotated at every use. */
@Entity("refresh_token")
export class RefreshTokenEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_refresh_token_session")
  @Column({ type: "varchar", length: 36 })
  sessionId!: string;

  @ManyToOne(() => SessionEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "sessionId", foreignKeyConstraintName: "fk_refresh_token_session" })
  session?: SessionEntity;

  @Index("uq_refresh_token_hash", { unique: true })
  @Column({ type: "varchar", length: 64 })
  tokenHash!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  /** Idle lifetime: unused past this instant, the token is dead. */
  @Column(INSTANT_COLUMN)
  expiresAt!: Date;

  /** Set by the one rotation that consumed it; a second use is reuse. */
  @Column({ ...INSTANT_COLUMN, nullable: true })
  usedAt!: Date | null;
}

/** One-time authorization codes handed to the frontend after a login (single use, PKCE-bound). */
@Entity("authorization_code")
export class AuthorizationCodeEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  codeHash!: string;

  @Column({ type: "varchar", length: 36 })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "userId", foreignKeyConstraintName: "fk_authorization_code_user" })
  user?: UserEntity;

  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @Column({ type: "varchar", length: 64 })
  roleKey!: string;

  @Column({ type: "varchar", length: 2048 })
  redirectUri!: string;

  @Column({ type: "varchar", length: 128, nullable: true })
  codeChallenge!: string | null;

  @Column(INSTANT_COLUMN)
  expiresAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  consumedAt!: Date | null;
}

/** Our token-signing keys. Private keys are sealed (AES-256-GCM) with the encryption key. */
@Entity("signing_key")
export class SigningKeyEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  kid!: string;

  @Column({ type: "varchar", length: 16 })
  algorithm!: string;

  @Column({ type: "text" })
  publicJwk!: string;

  @Column({ type: "text" })
  privateKeySealed!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  /** After this instant the key no longer signs (a newer key does) but still verifies. */
  @Column({ ...INSTANT_COLUMN, nullable: true })
  rotatedAt!: Date | null;

  /** After this instant tokens signed with the key are refused. */
  @Column({ ...INSTANT_COLUMN, nullable: true })
  retiredAt!: Date | null;
}
