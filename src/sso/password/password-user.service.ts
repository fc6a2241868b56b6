/**
 * Password accounts, managed by administrators.
 *
 * Rules:
 * - A password account is an app_user row with issuer "password" and the lower-cased email as
 *   subject, plus its argon2id credential; its email is never "verified", so an SSO login can never
 *   link to it by email (and it never links to an SSO account).
 * - Only for organizations that do not enforce SSO; the email must be in one of the organization's
 *   allowed domains when it has any (DOMAIN_NOT_ALLOWED).
 * - The role must be one for people (never `service`) and grantable by the caller (acl-08).
 * - The password must pass the policy (password-policy.ts); it is hashed before anything is stored
 *   and never logged, audited or returned.
 * - Setting a new password ends the account's sessions and lifts a lockout.
 * - Other organizations' users and organizations answer NOT_FOUND.
 */
import type { ChangeFeed } from "../../db/change-feed";
import { randomUUID } from "node:crypto";
import { IsNull, type EntityManager } from "typeorm";
import type { OrganizationService } from "../../organizations/organization.service";
import type { RoleService } from "../../roles/role.service";
import { BadUserInputError, ConflictError, SsoError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import { isUniqueViolation } from "../../shared/db-errors";
import { SessionEntity } from "../../tokens/session.entity";
import { UserEntity } from "../../users/user.entity";
import { PASSWORD_ISSUER, type UserService } from "../../users/user.service";
import { PasswordCredentialEntity } from "./password-credential.entity";
import { assertPasswordAllowed, hashPassword } from "./password-policy";

export interface CreatePasswordUser {
  organizationId: string;
  email: string;
  displayName: string;
  roleKey: string;
  password: string;
}

/** Lifts an account's lockout inside the caller's transaction (see PasswordLoginLimiter). */
export type AccountUnlock = (em: EntityManager, email: string) => Promise<void>;

export class PasswordUserService {
  constructor(
    private readonly organizations: OrganizationService,
    private readonly roles: RoleService,
    private readonly users: UserService,
    private readonly unlock: AccountUnlock,
    private readonly changes: ChangeFeed,
  ) {}

  async create(em: EntityManager, principal: Principal, input: CreatePasswordUser, now = new Date()): Promise<UserEntity> {
    const org = await this.organizations.get(em, principal, input.organizationId);
    if (org.enforceSso) {
      throw new BadUserInputError(
        "organizationId",
        `Organization ${org.slug} enforces SSO, so its people sign in through their identity provider and cannot have a password; turn enforceSso off first`,
      );
    }
    const role = this.roles.require(input.roleKey, "roleKey");
    if (!role.assignableToPeople) throw new BadUserInputError("roleKey", `The ${role.key} role is for API keys only and cannot be given to a person`);
    this.roles.assertCanGrant(principal, role);

    const email = normalizeEmail(input.email);
    const domain = email.split("@").pop() ?? "";
    const allowed = await this.organizations.domainsOf(em, org.id);
    if (allowed.length > 0 && !allowed.includes(domain)) {
      throw new SsoError("DOMAIN_NOT_ALLOWED", `email domain ${domain} is not allowed in organization ${org.slug}; allowed: ${allowed.join(", ")}`, {
        extensions: { field: "email" },
      });
    }
    assertPasswordAllowed(input.password, email);

    const taken = await em.findOne(UserEntity, { where: { organizationId: org.id, issuer: PASSWORD_ISSUER, subject: email }, select: { id: true } });
    if (taken) throw duplicate(email, org.slug);
    const passwordHash = await hashPassword(input.password);
    const user = em.create(UserEntity, {
      id: randomUUID(),
      organizationId: org.id,
      issuer: PASSWORD_ISSUER,
      subject: email,
      email,
      emailVerified: false,
      displayName: input.displayName.trim(),
      groups: "[]",
      roleKey: role.key,
      roleMappingId: null,
      disabledAt: null,
      lastLoginAt: null,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await em.insert(UserEntity, user);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate(email, org.slug);
      throw error;
    }
    await em.insert(PasswordCredentialEntity, { userId: user.id, passwordHash, roleKey: role.key, createdAt: now, updatedAt: now });
    return user;
  }

  async setPassword(em: EntityManager, principal: Principal, id: string, password: string, now = new Date()): Promise<UserEntity> {
    const user = await this.users.get(em, principal, id);
    const credential = await em.findOne(PasswordCredentialEntity, { where: { userId: user.id } });
    if (user.issuer !== PASSWORD_ISSUER || !credential) {
      throw new BadUserInputError("id", `User ${user.id} signs in through SSO (${user.issuer}); only password accounts have a password`);
    }
    const role = this.roles.find(credential.roleKey);
    if (role) this.roles.assertCanGrant(principal, role);
    assertPasswordAllowed(password, user.email);
    const passwordHash = await hashPassword(password);
    await em.update(PasswordCredentialEntity, { userId: user.id }, { passwordHash, updatedAt: now });
    await em.update(SessionEntity, { userId: user.id, revokedAt: IsNull() }, { revokedAt: now, revokedReason: "password changed by an administrator" });
    await this.changes.changed(em, "sessions");
    await this.unlock(em, user.email ?? user.subject);
    return user;
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function duplicate(email: string, slug: string): ConflictError {
  return new ConflictError("email", `A password account for ${email} already exists in organization ${slug}`);
}
