/**
 * People: provisioned just in time at login, their role recomputed from their IdP groups.
 *
 * Rules:
 * - Accounts are keyed on (organization, issuer, subject). An email links to an existing account of
 *   the same organization only when both are verified (oidc-09); never across organizations.
 * - The role comes from the organization's mappings by the precedence rule, else the default role,
 *   else none (the login is refused with NO_ROLE_MAPPING).
 * - When mappings or the default role change, every member's role is recomputed at once from the
 *   groups of their last login, so a demotion acts at the next request (sessions check the role).
 * - A deactivated account cannot log in; its sessions end at the next request.
 */
import { randomUUID } from "node:crypto";
import { IsNull, type EntityManager } from "typeorm";
import type { ChangeFeed } from "../db/change-feed";
import { NotFoundError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import { canSeeOrganization } from "../shared/scope";
import type { OrganizationEntity } from "../organizations/organization.entity";
import type { RoleMappingService } from "../mappings/role-mapping.service";
import type { LoginIdentity } from "../sso/login.types";
import { UserEntity } from "./user.entity";

/** The issuer of accounts that log in with a password (their role is set by an administrator). */
export const PASSWORD_ISSUER = "password";

export interface RoleGrant {
  roleKey: string | null;
  roleMappingId: string | null;
  /** Human-readable source: "mapping Engineering → developer", "default role viewer", ... */
  source: string;
}

export class UserService {
  constructor(
    private readonly mappings: RoleMappingService,
    private readonly changes: ChangeFeed,
  ) {}

  /** The role these groups give in the organization (precedence rule, then the default role). */
  async roleFor(em: EntityManager, org: OrganizationEntity, groups: readonly string[]): Promise<RoleGrant> {
    const mapping = await this.mappings.resolve(em, org.id, groups);
    if (mapping) return { roleKey: mapping.roleKey, roleMappingId: mapping.id, source: `mapping "${mapping.idpGroup}" → ${mapping.roleKey}` };
    if (org.defaultRoleKey) return { roleKey: org.defaultRoleKey, roleMappingId: null, source: `default role ${org.defaultRoleKey}` };
    return { roleKey: null, roleMappingId: null, source: "no mapping and no default role" };
  }

  async findForLogin(em: EntityManager, identity: LoginIdentity): Promise<UserEntity | null> {
    const byKey = await em.findOne(UserEntity, { where: { organizationId: identity.organizationId, issuer: identity.issuer, subject: identity.subject } });
    if (byKey || !identity.email || !identity.emailVerified) return byKey;
    return em.findOne(UserEntity, { where: { organizationId: identity.organizationId, email: identity.email.toLowerCase(), emailVerified: true } });
  }

  async provision(em: EntityManager, existing: UserEntity | null, identity: LoginIdentity, grant: RoleGrant, now = new Date()): Promise<UserEntity> {
    const user = existing ?? em.create(UserEntity, { id: randomUUID(), organizationId: identity.organizationId, issuer: identity.issuer, subject: identity.subject, createdAt: now, disabledAt: null });
    user.email = identity.email?.toLowerCase() ?? null;
    user.emailVerified = identity.emailVerified;
    user.displayName = identity.displayName;
    user.groups = JSON.stringify(identity.groups);
    user.roleKey = grant.roleKey;
    user.roleMappingId = grant.roleMappingId;
    user.lastLoginAt = now;
    user.updatedAt = now;
    await em.save(UserEntity, user);
    if (existing) await this.changes.changed(em, "sessions"); // name, groups or role of live sessions
    return user;
  }

  /** After a mapping or default-role change: every active member's role from their last groups. Returns who changed. */
  async recomputeRoles(em: EntityManager, org: OrganizationEntity): Promise<string[]> {
    const users = await em.find(UserEntity, { where: { organizationId: org.id, disabledAt: IsNull() } });
    const changed: string[] = [];
    for (const user of users) {
      if (user.issuer === PASSWORD_ISSUER) continue; // password accounts keep the role an administrator set
      const grant = await this.roleFor(em, org, JSON.parse(user.groups) as string[]);
      if (grant.roleKey === user.roleKey && grant.roleMappingId === user.roleMappingId) continue;
      await em.update(UserEntity, { id: user.id }, { roleKey: grant.roleKey, roleMappingId: grant.roleMappingId, updatedAt: new Date() });
      changed.push(user.id);
    }
    if (changed.length > 0) await this.changes.changed(em, "sessions");
    return changed;
  }

  async list(em: EntityManager, organizationId: string): Promise<UserEntity[]> {
    return em.find(UserEntity, { where: { organizationId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  async get(em: EntityManager, principal: Principal, id: string): Promise<UserEntity> {
    const user = await em.findOne(UserEntity, { where: { id } });
    if (!user || !canSeeOrganization(principal, user.organizationId)) throw new NotFoundError("User", id);
    return user;
  }

  async deactivate(em: EntityManager, principal: Principal, id: string, now = new Date()): Promise<UserEntity> {
    const user = await this.get(em, principal, id);
    if (!user.disabledAt) {
      user.disabledAt = now;
      await em.update(UserEntity, { id: user.id }, { disabledAt: now, updatedAt: now });
      await this.changes.changed(em, "sessions");
    }
    return user;
  }
}
