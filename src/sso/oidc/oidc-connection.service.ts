/**
 * OIDC connections of organizations.
 *
 * Rules:
 * - Other organizations' connections answer NOT_FOUND, exactly like missing ones.
 * - The client secret is sealed (AES-256-GCM, purpose bound to the connection id, so a sealed value
 *   cannot be moved to another connection) and write-only: no query returns it, no audit entry or
 *   log line names its value. An update without a secret keeps the stored one; switching to the
 *   public-client method NONE deletes it.
 * - Issuer and redirect URI are https (http only for loopback outside production); scopes always
 *   include openid; one connection per (organization, issuer, client id).
 * - Updates report which fields changed (names only) for the audit entry.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { OrganizationService } from "../../organizations/organization.service";
import { isUniqueViolation } from "../../shared/db-errors";
import { BadUserInputError, ConflictError, NotFoundError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import { canSeeOrganization } from "../../shared/scope";
import type { SecretBox } from "../../shared/secret-box";
import { OidcConnectionEntity, type OidcClientAuthMethod } from "./oidc-connection.entity";
import type { CreateOidcConnectionInput, UpdateOidcConnectionInput } from "./oidc-connection.input";
import type { OidcClientAuthMethodName } from "./oidc-connection.type";
import { urlProblem, type UrlPolicy } from "./oidc-url-policy";

export const OIDC_DEFAULTS = { scopes: "openid email profile", groupsClaim: "groups", maxIdTokenAgeSeconds: 300 } as const;

const AUTH_METHODS: Record<OidcClientAuthMethodName, OidcClientAuthMethod> = {
  CLIENT_SECRET_BASIC: "client_secret_basic",
  CLIENT_SECRET_POST: "client_secret_post",
  NONE: "none",
};

export function authMethodName(method: OidcClientAuthMethod): OidcClientAuthMethodName {
  return (Object.keys(AUTH_METHODS) as OidcClientAuthMethodName[]).find((name) => AUTH_METHODS[name] === method) ?? "CLIENT_SECRET_BASIC";
}

export class OidcConnectionService {
  constructor(
    private readonly organizations: OrganizationService,
    private readonly secrets: SecretBox,
    private readonly publicUrl: string,
    private readonly policy: UrlPolicy,
  ) {}

  redirectUriOf(connection: OidcConnectionEntity): string {
    return connection.redirectUri ?? `${this.publicUrl}/auth/oidc/${connection.id}/callback`;
  }

  loginUrlOf(connection: OidcConnectionEntity): string {
    return `${this.publicUrl}/auth/oidc/${connection.id}/login`;
  }

  /** The client secret in clear, for the token request only. */
  clientSecretOf(connection: OidcConnectionEntity): string | null {
    return connection.clientSecretSealed ? this.secrets.open(connection.clientSecretSealed, secretPurpose(connection.id)) : null;
  }

  secretState(connection: OidcConnectionEntity): { present: boolean; readable: boolean } {
    if (!connection.clientSecretSealed) return { present: false, readable: false };
    try {
      this.clientSecretOf(connection);
      return { present: true, readable: true };
    } catch {
      return { present: true, readable: false };
    }
  }

  find(em: EntityManager, id: string): Promise<OidcConnectionEntity | null> {
    return em.findOne(OidcConnectionEntity, { where: { id } });
  }

  async get(em: EntityManager, principal: Principal, id: string): Promise<OidcConnectionEntity> {
    const connection = await this.find(em, id);
    if (!connection || !canSeeOrganization(principal, connection.organizationId)) throw new NotFoundError("OIDC connection", id);
    return connection;
  }

  async list(em: EntityManager, principal: Principal, organizationId: string): Promise<OidcConnectionEntity[]> {
    await this.organizations.get(em, principal, organizationId);
    return em.find(OidcConnectionEntity, { where: { organizationId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  async create(em: EntityManager, principal: Principal, input: CreateOidcConnectionInput): Promise<OidcConnectionEntity> {
    await this.organizations.get(em, principal, input.organizationId);
    const now = new Date();
    const connection = em.create(OidcConnectionEntity, {
      id: randomUUID(),
      organizationId: input.organizationId,
      issuer: input.issuer.trim(),
      clientId: input.clientId.trim(),
      clientSecretSealed: null,
      clientAuthMethod: AUTH_METHODS[input.clientAuthMethod ?? "CLIENT_SECRET_BASIC"],
      redirectUri: input.redirectUri?.trim() || null,
      scopes: normalizeScopes(input.scopes ?? OIDC_DEFAULTS.scopes),
      groupsClaim: (input.groupsClaim ?? OIDC_DEFAULTS.groupsClaim).trim(),
      maxIdTokenAgeSeconds: input.maxIdTokenAgeSeconds ?? OIDC_DEFAULTS.maxIdTokenAgeSeconds,
      maxAuthAgeSeconds: input.maxAuthAgeSeconds ?? null,
      createdAt: now,
      updatedAt: now,
    });
    if (input.clientSecret != null) connection.clientSecretSealed = this.secrets.seal(input.clientSecret, secretPurpose(connection.id));
    this.assertValid(connection);
    await this.assertUnique(em, connection);
    await this.save(em, connection, "insert");
    return connection;
  }

  /** Returns the connection and the names of the fields that changed (never their secret values). */
  async update(em: EntityManager, principal: Principal, id: string, input: UpdateOidcConnectionInput): Promise<{ connection: OidcConnectionEntity; changed: string[] }> {
    const connection = await this.get(em, principal, id);
    const changed: string[] = [];
    const set = <K extends keyof OidcConnectionEntity>(field: K, value: OidcConnectionEntity[K]) => {
      if (connection[field] !== value) {
        connection[field] = value;
        changed.push(field === "clientSecretSealed" ? "clientSecret" : field);
      }
    };
    if (input.issuer != null) set("issuer", input.issuer.trim());
    if (input.clientId != null) set("clientId", input.clientId.trim());
    if (input.clientAuthMethod != null) set("clientAuthMethod", AUTH_METHODS[input.clientAuthMethod]);
    if (input.redirectUri !== undefined) set("redirectUri", input.redirectUri?.trim() || null);
    if (input.scopes != null) set("scopes", normalizeScopes(input.scopes));
    if (input.groupsClaim != null) set("groupsClaim", input.groupsClaim.trim());
    if (input.maxIdTokenAgeSeconds != null) set("maxIdTokenAgeSeconds", input.maxIdTokenAgeSeconds);
    if (input.maxAuthAgeSeconds !== undefined) set("maxAuthAgeSeconds", input.maxAuthAgeSeconds ?? null);
    if (input.clientSecret != null) {
      connection.clientSecretSealed = this.secrets.seal(input.clientSecret, secretPurpose(connection.id));
      changed.push("clientSecret");
    } else if (connection.clientAuthMethod === "none" && connection.clientSecretSealed) {
      set("clientSecretSealed", null);
    }
    this.assertValid(connection);
    if (changed.length > 0) {
      connection.updatedAt = new Date();
      if (changed.includes("issuer") || changed.includes("clientId")) await this.assertUnique(em, connection);
      await this.save(em, connection, "update");
    }
    return { connection, changed };
  }

  async delete(em: EntityManager, principal: Principal, id: string): Promise<OidcConnectionEntity> {
    const connection = await this.get(em, principal, id);
    await em.delete(OidcConnectionEntity, { id: connection.id });
    return connection;
  }

  private assertValid(connection: OidcConnectionEntity): void {
    const issuerProblem = urlProblem("issuer", connection.issuer, this.policy, { allowQuery: false });
    if (issuerProblem) throw new BadUserInputError("issuer", issuerProblem);
    if (connection.redirectUri) {
      const redirectProblem = urlProblem("redirectUri", connection.redirectUri, this.policy, { allowQuery: false });
      if (redirectProblem) throw new BadUserInputError("redirectUri", redirectProblem);
    }
    if (!connection.scopes.split(" ").includes("openid")) throw new BadUserInputError("scopes", `scopes must include openid, got "${connection.scopes}"`);
    if (connection.clientAuthMethod === "none" && connection.clientSecretSealed) {
      throw new BadUserInputError("clientSecret", "a public client (clientAuthMethod NONE) has no client secret; leave clientSecret out");
    }
    if (connection.clientAuthMethod !== "none" && !connection.clientSecretSealed) {
      throw new BadUserInputError("clientSecret", `clientSecret is required for ${authMethodName(connection.clientAuthMethod)}; use clientAuthMethod NONE for a public client`);
    }
  }

  private async assertUnique(em: EntityManager, connection: OidcConnectionEntity): Promise<void> {
    const existing = await em.findOne(OidcConnectionEntity, {
      where: { organizationId: connection.organizationId, issuer: connection.issuer, clientId: connection.clientId },
      select: { id: true },
    });
    if (existing && existing.id !== connection.id) throw duplicate(connection);
  }

  private async save(em: EntityManager, connection: OidcConnectionEntity, how: "insert" | "update"): Promise<void> {
    try {
      if (how === "insert") await em.insert(OidcConnectionEntity, connection);
      else await em.save(OidcConnectionEntity, connection);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate(connection);
      throw error;
    }
  }
}

function secretPurpose(connectionId: string): string {
  return `oidc-connection:${connectionId}:client-secret`;
}

function normalizeScopes(scopes: string): string {
  return [...new Set(scopes.trim().split(/ +/))].join(" ");
}

function duplicate(connection: OidcConnectionEntity): ConflictError {
  return new ConflictError("clientId", `This organization already has an OIDC connection for issuer ${connection.issuer} and client ${connection.clientId}`);
}
