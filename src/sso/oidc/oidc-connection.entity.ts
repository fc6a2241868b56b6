import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../../shared/dates";
import { OrganizationEntity } from "../../organizations/organization.entity";

export type OidcClientAuthMethod = "client_secret_basic" | "client_secret_post" | "none";

/**
 * One OIDC identity provider of an organization. The client secret is stored only sealed
 * (SecretBox, purpose bound to the connection id) and never leaves through GraphQL.
 */
@Entity("oidc_connection")
@Index("uq_oidc_connection_client", ["organizationId", "issuer", "clientId"], { unique: true })
export class OidcConnectionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Index("ix_oidc_connection_organization")
  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_oidc_connection_organization" })
  organization?: OrganizationEntity;

  /** Issuer identifier exactly as the IdP's discovery document states it. */
  @Column({ type: "varchar", length: 512 })
  issuer!: string;

  @Column({ type: "varchar", length: 256 })
  clientId!: string;

  /** `v1.<nonce>.<ciphertext>` from SecretBox; null for public clients (auth method `none`). */
  @Column({ type: "varchar", length: 1024, nullable: true })
  clientSecretSealed!: string | null;

  @Column({ type: "varchar", length: 32, default: "client_secret_basic" })
  clientAuthMethod!: OidcClientAuthMethod;

  /** null = the default `${publicUrl}/auth/oidc/<id>/callback`. */
  @Column({ type: "varchar", length: 2048, nullable: true })
  redirectUri!: string | null;

  @Column({ type: "varchar", length: 512 })
  scopes!: string;

  @Column({ type: "varchar", length: 128 })
  groupsClaim!: string;

  /** Bound on the ID token's `iat` (seconds). */
  @Column({ type: "integer" })
  maxIdTokenAgeSeconds!: number;

  /** When set: sent as `max_age` and the ID token's `auth_time` must be at most this old. */
  @Column({ type: "integer", nullable: true })
  maxAuthAgeSeconds!: number | null;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}
