/**
 * SAML connections: create, update, import from IdP metadata, test, delete.
 *
 * Rules:
 * - Organization-scoped: another organization's connection answers NOT_FOUND, like a missing one.
 * - IdP certificates must parse as X.509 with an RSA key ≥ 2048 bits; 1-5 of them, all valid for
 *   verification at once (rotation). URLs must be absolute http(s) URLs without credentials.
 * - Our SP key pair is generated at creation; the private key is sealed with the SecretBox
 *   (purpose bound to the connection) and no query ever returns it.
 * - (organization, IdP entity ID) is unique; metadata import updates the connection with the same
 *   IdP entity ID, or creates one.
 * - Defaults: SP entity ID `<public URL>/auth/saml/<id>/metadata`, ACS `<public URL>/auth/saml/<id>/acs`,
 *   attributes email / displayName / groups, clock skew 5 s (0-300), IdP-initiated login off.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { OrganizationService } from "../../organizations/organization.service";
import { isUniqueViolation } from "../../shared/db-errors";
import { BadUserInputError, ConflictError, NotFoundError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import { canSeeOrganization } from "../../shared/scope";
import type { SecretBox } from "../../shared/secret-box";
import type { SsoConnectionTestType } from "../sso-connection-test.type";
import { describeCertificate, generateSpKeyPair, keyMatchesCertificate, MAX_IDP_CERTIFICATES, parseCertificate } from "./saml-certificates";
import { SamlConnectionEntity, type SamlBindingValue } from "./saml-connection.entity";
import type { CreateSamlConnectionInput, UpdateSamlConnectionInput } from "./saml-connection.input";
import type { SamlBindingName, SamlCertificateType, SamlConnectionType } from "./saml-connection.type";
import { parseIdpMetadata } from "./saml-metadata";
import { ATTRIBUTE_DEFAULTS } from "./saml-response.validator";
import { XmlGuardError } from "./saml-xml-guard";

export const DEFAULT_CLOCK_SKEW_SECONDS = 5;

/** A connection with every default applied: what the routes and the validator work with. */
export interface ResolvedSamlConnection {
  id: string;
  organizationId: string;
  idpEntityId: string;
  idpSsoUrl: string;
  idpSsoBinding: SamlBindingValue;
  idpCertificates: string[];
  spEntityId: string;
  acsUrl: string;
  metadataUrl: string;
  loginUrl: string;
  spCertificate: string;
  emailAttribute: string;
  displayNameAttribute: string;
  groupsAttribute: string;
  clockSkewSeconds: number;
  allowIdpInitiated: boolean;
}

const BINDING_TO_VALUE: Record<SamlBindingName, SamlBindingValue> = { HTTP_REDIRECT: "redirect", HTTP_POST: "post" };
const VALUE_TO_BINDING: Record<SamlBindingValue, SamlBindingName> = { redirect: "HTTP_REDIRECT", post: "HTTP_POST" };

export class SamlConnectionService {
  constructor(
    private readonly organizations: OrganizationService,
    private readonly secrets: SecretBox,
    private readonly publicUrl: string,
  ) {}

  async create(em: EntityManager, principal: Principal, input: CreateSamlConnectionInput): Promise<SamlConnectionEntity> {
    await this.organizations.get(em, principal, input.organizationId);
    const id = randomUUID();
    const now = new Date();
    const spEntityId = input.spEntityId?.trim() || null;
    const keys = await generateSpKeyPair(spEntityId ?? `${this.base(id)}/metadata`, now);
    const connection = em.create(SamlConnectionEntity, {
      id,
      organizationId: input.organizationId,
      idpEntityId: entityId("idpEntityId", input.idpEntityId),
      idpSsoUrl: httpUrl("idpSsoUrl", input.idpSsoUrl),
      idpSsoBinding: BINDING_TO_VALUE[input.idpSsoBinding ?? "HTTP_REDIRECT"],
      idpCertificates: JSON.stringify(certificates(input.idpCertificates)),
      spEntityId: spEntityId === null ? null : entityId("spEntityId", spEntityId),
      acsUrl: input.acsUrl == null ? null : httpUrl("acsUrl", input.acsUrl),
      emailAttribute: input.emailAttribute?.trim() || ATTRIBUTE_DEFAULTS.email[0],
      displayNameAttribute: input.displayNameAttribute?.trim() || ATTRIBUTE_DEFAULTS.displayName[0],
      groupsAttribute: input.groupsAttribute?.trim() || ATTRIBUTE_DEFAULTS.groups[0],
      clockSkewSeconds: input.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS,
      allowIdpInitiated: input.allowIdpInitiated ?? false,
      spPrivateKeySealed: this.secrets.seal(keys.privateKeyPem, sealPurpose(id)),
      spCertificate: keys.certificatePem,
      createdAt: now,
      updatedAt: now,
    });
    await this.insert(em, connection);
    return connection;
  }

  /** Returns the connection and the names of the fields that changed (for the audit entry). */
  async update(em: EntityManager, principal: Principal, id: string, input: UpdateSamlConnectionInput): Promise<{ connection: SamlConnectionEntity; changed: string[] }> {
    const connection = await this.get(em, principal, id);
    const before = { ...connection };
    if (input.idpEntityId != null) connection.idpEntityId = entityId("idpEntityId", input.idpEntityId);
    if (input.idpSsoUrl != null) connection.idpSsoUrl = httpUrl("idpSsoUrl", input.idpSsoUrl);
    if (input.idpSsoBinding != null) connection.idpSsoBinding = BINDING_TO_VALUE[input.idpSsoBinding];
    if (input.idpCertificates != null) connection.idpCertificates = JSON.stringify(certificates(input.idpCertificates));
    if (input.spEntityId !== undefined) connection.spEntityId = input.spEntityId === null ? null : entityId("spEntityId", input.spEntityId);
    if (input.acsUrl !== undefined) connection.acsUrl = input.acsUrl === null ? null : httpUrl("acsUrl", input.acsUrl);
    if (input.emailAttribute !== undefined) connection.emailAttribute = input.emailAttribute?.trim() || ATTRIBUTE_DEFAULTS.email[0];
    if (input.displayNameAttribute !== undefined) connection.displayNameAttribute = input.displayNameAttribute?.trim() || ATTRIBUTE_DEFAULTS.displayName[0];
    if (input.groupsAttribute !== undefined) connection.groupsAttribute = input.groupsAttribute?.trim() || ATTRIBUTE_DEFAULTS.groups[0];
    if (input.clockSkewSeconds != null) connection.clockSkewSeconds = input.clockSkewSeconds;
    if (input.allowIdpInitiated != null) connection.allowIdpInitiated = input.allowIdpInitiated;
    const changed = (Object.keys(before) as Array<keyof SamlConnectionEntity>).filter((k) => before[k] !== connection[k]);
    if (changed.length > 0) {
      connection.updatedAt = new Date();
      await this.save(em, connection);
    }
    return { connection, changed };
  }

  /** Creates the organization's connection for the metadata's IdP, or updates the one it has. */
  async importMetadata(em: EntityManager, principal: Principal, organizationId: string, metadataXml: string): Promise<{ connection: SamlConnectionEntity; changed: string[]; created: boolean }> {
    await this.organizations.get(em, principal, organizationId);
    let metadata;
    try {
      metadata = parseIdpMetadata(metadataXml);
    } catch (error) {
      if (error instanceof XmlGuardError) throw new BadUserInputError("metadataXml", `The IdP metadata cannot be used: ${error.message}`);
      throw error;
    }
    const existing = await em.findOne(SamlConnectionEntity, { where: { organizationId, idpEntityId: metadata.entityId } });
    const fromMetadata = {
      idpSsoUrl: metadata.ssoUrl,
      idpSsoBinding: VALUE_TO_BINDING[metadata.binding],
      idpCertificates: metadata.certificates.slice(0, MAX_IDP_CERTIFICATES),
    };
    if (existing) return { ...(await this.update(em, principal, existing.id, fromMetadata)), created: false };
    const connection = await this.create(em, principal, { organizationId, idpEntityId: metadata.entityId, ...fromMetadata });
    return { connection, changed: [], created: true };
  }

  async delete(em: EntityManager, principal: Principal, id: string): Promise<SamlConnectionEntity> {
    const connection = await this.get(em, principal, id);
    await em.delete(SamlConnectionEntity, { id: connection.id });
    return connection;
  }

  async get(em: EntityManager, principal: Principal, id: string): Promise<SamlConnectionEntity> {
    const connection = await this.find(em, id);
    if (!connection || !canSeeOrganization(principal, connection.organizationId)) throw new NotFoundError("SAML connection", id);
    return connection;
  }

  async list(em: EntityManager, principal: Principal, organizationId: string): Promise<SamlConnectionEntity[]> {
    await this.organizations.get(em, principal, organizationId);
    return em.find(SamlConnectionEntity, { where: { organizationId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  /** For the HTTP routes (no principal: the connection ID in the URL is the lookup). */
  find(em: EntityManager, id: string): Promise<SamlConnectionEntity | null> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return Promise.resolve(null);
    return em.findOne(SamlConnectionEntity, { where: { id } });
  }

  /** What an admin must fix before people can log in with this connection. */
  async test(em: EntityManager, principal: Principal, id: string, now = new Date()): Promise<SsoConnectionTestType> {
    const connection = await this.get(em, principal, id);
    const resolved = this.resolve(connection);
    const problems: string[] = [];
    if (!resolved.idpEntityId.trim()) problems.push("The IdP entity ID is empty.");
    if (!resolved.spEntityId.trim()) problems.push("The SP entity ID is empty.");
    for (const [field, value] of [["idpSsoUrl", resolved.idpSsoUrl], ["acsUrl", resolved.acsUrl]] as const) {
      const problem = urlProblem(value);
      if (problem) problems.push(`${field} ${problem}.`);
    }
    if (resolved.idpCertificates.length === 0) problems.push("No IdP signing certificate is configured.");
    resolved.idpCertificates.forEach((pem, i) => {
      try {
        const cert = parseCertificate(pem);
        if (cert.notAfter <= now) problems.push(`IdP certificate ${i + 1} (${cert.fingerprintSha256}) expired on ${cert.notAfter.toISOString()}; add the IdP's current certificate.`);
        if (cert.notBefore > now) problems.push(`IdP certificate ${i + 1} (${cert.fingerprintSha256}) is not valid before ${cert.notBefore.toISOString()}.`);
      } catch (error) {
        problems.push(`IdP certificate ${i + 1} ${(error as Error).message}.`);
      }
    });
    try {
      const sp = describeCertificate(resolved.spCertificate);
      if (sp.notAfter <= now) problems.push(`Our SP certificate expired on ${sp.notAfter.toISOString()}.`);
      if (!keyMatchesCertificate(this.openSpKey(connection), resolved.spCertificate)) problems.push("Our SP private key does not match our SP certificate.");
    } catch {
      problems.push("Our SP signing key cannot be opened (was the encryption key changed?); delete and re-create the connection.");
    }
    const org = await this.organizations.find(em, connection.organizationId);
    if (org && !org.ssoEnabled) problems.push("SSO is disabled for this organization (ssoEnabled is false): logins answer SSO_DISABLED until it is turned on.");
    return { ok: problems.length === 0, problems };
  }

  resolve(connection: SamlConnectionEntity): ResolvedSamlConnection {
    const base = this.base(connection.id);
    return {
      id: connection.id,
      organizationId: connection.organizationId,
      idpEntityId: connection.idpEntityId,
      idpSsoUrl: connection.idpSsoUrl,
      idpSsoBinding: connection.idpSsoBinding,
      idpCertificates: JSON.parse(connection.idpCertificates) as string[],
      spEntityId: connection.spEntityId ?? `${base}/metadata`,
      acsUrl: connection.acsUrl ?? `${base}/acs`,
      metadataUrl: `${base}/metadata`,
      loginUrl: `${base}/login`,
      spCertificate: connection.spCertificate,
      emailAttribute: connection.emailAttribute,
      displayNameAttribute: connection.displayNameAttribute,
      groupsAttribute: connection.groupsAttribute,
      clockSkewSeconds: connection.clockSkewSeconds,
      allowIdpInitiated: connection.allowIdpInitiated,
    };
  }

  toType(connection: SamlConnectionEntity, now = new Date()): SamlConnectionType {
    const r = this.resolve(connection);
    return {
      id: r.id,
      organizationId: r.organizationId,
      idpEntityId: r.idpEntityId,
      idpSsoUrl: r.idpSsoUrl,
      idpSsoBinding: VALUE_TO_BINDING[r.idpSsoBinding],
      idpCertificates: r.idpCertificates.map((pem) => certificateType(pem, now)),
      spEntityId: r.spEntityId,
      acsUrl: r.acsUrl,
      metadataUrl: r.metadataUrl,
      loginUrl: r.loginUrl,
      spCertificate: certificateType(r.spCertificate, now),
      emailAttribute: r.emailAttribute,
      displayNameAttribute: r.displayNameAttribute,
      groupsAttribute: r.groupsAttribute,
      clockSkewSeconds: r.clockSkewSeconds,
      allowIdpInitiated: r.allowIdpInitiated,
      createdAt: connection.createdAt,
      updatedAt: connection.updatedAt,
    };
  }

  openSpKey(connection: SamlConnectionEntity): string {
    return this.secrets.open(connection.spPrivateKeySealed, sealPurpose(connection.id));
  }

  private base(id: string): string {
    return `${this.publicUrl}/auth/saml/${id}`;
  }

  private async insert(em: EntityManager, connection: SamlConnectionEntity): Promise<void> {
    try {
      await em.insert(SamlConnectionEntity, connection);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate(connection.idpEntityId);
      throw error;
    }
  }

  private async save(em: EntityManager, connection: SamlConnectionEntity): Promise<void> {
    const clash = await em.findOne(SamlConnectionEntity, { where: { organizationId: connection.organizationId, idpEntityId: connection.idpEntityId } });
    if (clash && clash.id !== connection.id) throw duplicate(connection.idpEntityId);
    try {
      await em.save(SamlConnectionEntity, connection);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate(connection.idpEntityId);
      throw error;
    }
  }
}

function sealPurpose(id: string): string {
  return `saml-sp-key:${id}`;
}

function duplicate(idpEntityId: string): ConflictError {
  return new ConflictError("idpEntityId", `This organization already has a SAML connection for IdP ${idpEntityId}`);
}

function entityId(field: string, value: string): string {
  const trimmed = value.trim();
  if (!trimmed) throw new BadUserInputError(field, `${field} must not be empty`);
  return trimmed;
}

function httpUrl(field: string, value: string): string {
  const trimmed = value.trim();
  const problem = urlProblem(trimmed);
  if (problem) throw new BadUserInputError(field, `${field} ${problem}`);
  return trimmed;
}

function urlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an absolute http(s) URL, got "${value.slice(0, 200)}"`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `must use https (or http), got ${url.protocol}`;
  if (url.username || url.password) return "must not contain credentials";
  if (url.hash) return "must not contain a fragment";
  return null;
}

function certificates(values: string[]): string[] {
  const out: string[] = [];
  values.forEach((value, i) => {
    try {
      const { pem } = parseCertificate(value);
      if (!out.includes(pem)) out.push(pem);
    } catch (error) {
      throw new BadUserInputError("idpCertificates", `idpCertificates[${i}] ${(error as Error).message}`);
    }
  });
  return out;
}

function certificateType(pem: string, now: Date): SamlCertificateType {
  const info = describeCertificate(pem);
  return { ...info, expired: info.notAfter <= now };
}
