/**
 * The shared login flow: a person proven by SAML, OIDC or a password → user → role → one-time code.
 *
 * Rules:
 * - SSO logins need the organization's `ssoEnabled` (else SSO_DISABLED).
 * - An email outside the organization's allowed domains is refused (DOMAIN_NOT_ALLOWED); an
 *   organization without allowed domains accepts any email its IdP asserts.
 * - Role: the matching mappings by priority, else the default role, else NO_ROLE_MAPPING naming the
 *   groups. The `service` role is never given to a person.
 * - The browser only ever goes back to one of the organization's allowed frontend URLs (exact
 *   origin + path), carrying a one-time code — tokens never travel in a URL.
 * - Every login writes exactly one audit entry: success with the role's source, or the refusal
 *   with its reason. A refused login creates no user change, no code and no session.
 */
import type { EntityManager } from "typeorm";
import { authenticationRecord, type AuditLog, type AuditRecord } from "../audit/audit-log";
import type { Database } from "../db/database";
import { OrganizationEntity } from "../organizations/organization.entity";
import type { RoleService } from "../roles/role.service";
import { AppError, SsoError } from "../shared/errors";
import type { SessionService } from "../tokens/session.service";
import { UserEntity } from "../users/user.entity";
import type { UserService } from "../users/user.service";
import type { HttpMeta, LoginCompletion, LoginFailure, LoginIdentity, LoginRequestContext } from "./login.types";

export class LoginService implements LoginCompletion {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly roles: RoleService,
    private readonly users: UserService,
    private readonly sessions: SessionService,
  ) {}

  async assertRedirectAllowed(organizationId: string, redirectUri: string): Promise<void> {
    const org = await this.db.manager.findOne(OrganizationEntity, { where: { id: organizationId } });
    const allowed: string[] = org ? JSON.parse(org.allowedRedirectUrls) : [];
    if (!allowed.some((url) => sameTarget(url, redirectUri))) {
      throw new SsoError(
        "SSO_CALLBACK_MISMATCH",
        `callback URL mismatch: expected one of [${allowed.join(", ")}], got ${redirectUri}`,
        { extensions: { expected: allowed, received: redirectUri } },
      );
    }
  }

  async complete(identity: LoginIdentity, request: LoginRequestContext, http: HttpMeta): Promise<{ redirectUrl: string }> {
    let org: OrganizationEntity | null = null;
    try {
      const { redirectUrl, written } = await this.db.transaction(async (em) => {
        org = await em.findOne(OrganizationEntity, { where: { id: identity.organizationId } });
        if (!org) throw new SsoError("SSO_LOGIN_FAILED", "Unknown organization");
        if (identity.protocol !== "password" && !org.ssoEnabled) {
          throw new SsoError("SSO_DISABLED", `SSO is disabled for organization ${org.slug}; ask an administrator to enable it`);
        }
        await this.assertDomainAllowed(em, org, identity.email);
        // Password accounts have no IdP groups: their role is the one an administrator set.
        const grant =
          identity.protocol === "password" && identity.roleKey
            ? { roleKey: identity.roleKey, roleMappingId: null, source: `role ${identity.roleKey} set by an administrator` }
            : await this.users.roleFor(em, org, identity.groups);
        const role = this.roles.find(grant.roleKey);
        if (!role || !role.assignableToPeople) {
          throw new SsoError(
            "NO_ROLE_MAPPING",
            `no role mapping for groups [${identity.groups.join(", ")}] in organization ${org.slug}; ask an administrator to map one of them`,
            { extensions: { groups: identity.groups } },
          );
        }
        // Checked again here, not only at login start: the list may have changed since, and a
        // protocol module must not be able to forget it.
        if (!JSON.parse(org.allowedRedirectUrls).some((url: string) => sameTarget(url, request.redirectUri))) {
          throw new SsoError("SSO_CALLBACK_MISMATCH", `callback URL mismatch: expected one of [${JSON.parse(org.allowedRedirectUrls).join(", ")}], got ${request.redirectUri}`);
        }
        const existing = await this.users.findForLogin(em, identity);
        if (existing?.disabledAt) throw new SsoError("SSO_LOGIN_FAILED", "This account is deactivated; ask an administrator");
        const user = await this.users.provision(em, existing, identity, grant);
        const code = await this.sessions.createCode(em, user, role.key, request);
        const written = await this.audit.appendInTransaction(em, [
          {
            ...loginRecord(identity.protocol, http),
            organizationId: org.id,
            actorId: user.id,
            role: role.key,
            resource: identity.connectionId ? `connection:${identity.connectionId}` : "password",
            success: true,
            reason: `role ${role.key} from ${grant.source}; groups [${identity.groups.join(", ")}]`,
          },
        ]);
        const target = new URL(request.redirectUri);
        target.searchParams.set("code", code);
        if (request.clientState) target.searchParams.set("state", request.clientState);
        return { redirectUrl: target.toString(), written };
      });
      this.audit.announce(written);
      return { redirectUrl };
    } catch (error) {
      const known = error instanceof AppError;
      if (known && error.code === "NO_ROLE_MAPPING") await this.revokeLostAccess(identity);
      await this.recordFailure({
        organizationId: (org as OrganizationEntity | null)?.id ?? null,
        connectionId: identity.connectionId,
        protocol: identity.protocol,
        reason: known ? `${error.code}: ${error.message}` : "INTERNAL_SERVER_ERROR",
        actor: identity.email ?? identity.subject,
        http,
      });
      throw error;
    }
  }

  /**
   * The IdP now sends groups that give no role (acl-07): an existing account loses its role and its
   * open sessions at once, instead of keeping the old role until the session's absolute lifetime.
   */
  private async revokeLostAccess(identity: LoginIdentity): Promise<void> {
    await this.db.transaction(async (em) => {
      const user = await this.users.findForLogin(em, identity);
      if (!user || (user.roleKey === null && user.roleMappingId === null)) return;
      await em.update(UserEntity, { id: user.id }, { roleKey: null, roleMappingId: null, groups: JSON.stringify(identity.groups), updatedAt: new Date() });
      await this.sessions.endSessionsOf(em, [user.id], "the IdP groups no longer give a role");
    });
  }

  async recordFailure(failure: LoginFailure): Promise<void> {
    await this.audit.record([
      {
        ...loginRecord(failure.protocol, failure.http),
        organizationId: failure.organizationId,
        actorId: failure.actor ?? "anonymous",
        resource: failure.connectionId ? `connection:${failure.connectionId}` : failure.protocol,
        success: false,
        reason: failure.reason,
      },
    ]);
  }

  /** Inside the login transaction: its connection, never a second one from the pool. */
  private async assertDomainAllowed(em: EntityManager, org: OrganizationEntity, email: string | null): Promise<void> {
    const domains = await em.query(
      this.db.dialect === "postgres" ? `SELECT "domain" FROM "organization_domain" WHERE "organizationId" = $1` : `SELECT "domain" FROM "organization_domain" WHERE "organizationId" = ?`,
      [org.id],
    );
    const allowed = (domains as Array<{ domain: string }>).map((d) => d.domain);
    if (allowed.length === 0) return;
    const domain = email?.split("@").pop()?.toLowerCase();
    if (!email || !domain || !allowed.includes(domain)) {
      throw new SsoError("DOMAIN_NOT_ALLOWED", `email domain ${domain ?? "(none)"} is not allowed in organization ${org.slug}; allowed: ${allowed.join(", ")}`);
    }
  }
}

function loginRecord(protocol: string, http: HttpMeta): AuditRecord {
  return authenticationRecord(`Auth.login.${protocol}`, "login", http);
}

/** Same origin and path (query and fragment ignored). */
function sameTarget(allowed: string, candidate: string): boolean {
  try {
    const a = new URL(allowed);
    const b = new URL(candidate);
    return a.origin === b.origin && a.pathname === b.pathname && !b.username && !b.password;
  } catch {
    return false;
  }
}
