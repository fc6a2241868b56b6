import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { INSTANT_COLUMN } from "../../shared/dates";
import { OrganizationEntity } from "../../organizations/organization.entity";

export type SamlBindingValue = "redirect" | "post";

/**
 * One SAML IdP of an organization. The SP private key is stored sealed (SecretBox, purpose
 * "saml-sp-key:<id>") and never leaves the service; `spEntityId` / `acsUrl` are null while they
 * follow the defaults derived from the public URL.
 */
@Entity("saml_connection")
@Index("uq_saml_connection_idp", ["organizationId", "idpEntityId"], { unique: true })
export class SamlConnectionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id!: string;

  @Column({ type: "varchar", length: 36 })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "organizationId", foreignKeyConstraintName: "fk_saml_connection_organization" })
  organization?: OrganizationEntity;

  @Column({ type: "varchar", length: 1024 })
  idpEntityId!: string;

  @Column({ type: "varchar", length: 2048 })
  idpSsoUrl!: string;

  @Column({ type: "varchar", length: 16 })
  idpSsoBinding!: SamlBindingValue;

  /** JSON array of PEM certificates; any of them verifies (rotation). */
  @Column({ type: "text" })
  idpCertificates!: string;

  @Column({ type: "varchar", length: 1024, nullable: true })
  spEntityId!: string | null;

  @Column({ type: "varchar", length: 2048, nullable: true })
  acsUrl!: string | null;

  @Column({ type: "varchar", length: 256 })
  emailAttribute!: string;

  @Column({ type: "varchar", length: 256 })
  displayNameAttribute!: string;

  @Column({ type: "varchar", length: 256 })
  groupsAttribute!: string;

  @Column({ type: "integer" })
  clockSkewSeconds!: number;

  @Column({ type: "boolean" })
  allowIdpInitiated!: boolean;

  @Column({ type: "text" })
  spPrivateKeySealed!: string;

  @Column({ type: "text" })
  spCertificate!: string;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  updatedAt!: Date;
}

/**
 * An AuthnRequest we sent (SP-initiated login), kept until its response arrives: the response's
 * InResponseTo must name a row of the same connection that is unexpired and unconsumed, and
 * consuming it is a conditional UPDATE, so exactly one response wins across all instances.
 */
@Entity("saml_request")
@Index("ix_saml_request_expires", ["expiresAt"])
export class SamlRequestEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  id!: string;

  @Column({ type: "varchar", length: 36 })
  connectionId!: string;

  @ManyToOne(() => SamlConnectionEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "connectionId", foreignKeyConstraintName: "fk_saml_request_connection" })
  connection?: SamlConnectionEntity;

  @Column({ type: "varchar", length: 2048 })
  redirectUri!: string;

  @Column({ type: "varchar", length: 128, nullable: true })
  codeChallenge!: string | null;

  @Column({ type: "varchar", length: 512, nullable: true })
  clientState!: string | null;

  @Column(INSTANT_COLUMN)
  createdAt!: Date;

  @Column(INSTANT_COLUMN)
  expiresAt!: Date;

  @Column({ ...INSTANT_COLUMN, nullable: true })
  consumedAt!: Date | null;
}

/**
 * Replay cache: one row per accepted Response ID and Assertion ID (keyed by a hash of the IdP
 * entity ID, the kind and the ID), kept until the message's NotOnOrAfter plus clock skew.
 */
@Entity("saml_replay")
@Index("ix_saml_replay_expires", ["expiresAt"])
export class SamlReplayEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  key!: string;

  @Column(INSTANT_COLUMN)
  expiresAt!: Date;
}
