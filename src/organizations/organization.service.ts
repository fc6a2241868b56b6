/**
 * Organizations: slug, name, SSO switches, allowed email domains and the default role.
 *
 * Rules:
 * - Slugs are unique; a domain belongs to at most one organization (CONFLICT otherwise).
 * - Domains are stored lower-case, deduplicated.
 * - The default role must be assignable to people and grantable by the caller.
 * - SSO can only be enforced while it is enabled.
 * - Deleting an organization removes its mappings, domains and service accounts, never its audit entries.
 */
import type { ChangeFeed } from "../db/change-feed";
import { randomUUID } from "node:crypto";
import { In, MoreThan, type EntityManager } from "typeorm";
import { BadUserInputError, ConflictError, NotFoundError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import { assertOrganizationVisible } from "../shared/scope";
import { isUniqueViolation } from "../shared/db-errors";
import type { RoleService } from "../roles/role.service";
import { OrganizationDomainEntity, OrganizationEntity } from "./organization.entity";

export interface OrganizationChanges {
  slug?: string;
  name?: string;
  ssoEnabled?: boolean;
  enforceSso?: boolean;
  allowedDomains?: string[];
  defaultRoleKey?: string | null;
  allowedRedirectUrls?: string[] | null;
}

/** Keeps a default-role change from removing the last path to admin (see src/mappings/admin-path.guard.ts). */
export interface DefaultRoleGuard {
  before(em: EntityManager, principal: Principal, organizationId: string): Promise<number>;
  after(em: EntityManager, principal: Principal, organizationId: string, before: number): Promise<void>;
}

export class OrganizationService {
  constructor(
    private readonly roles: RoleService,
    private readonly changes: ChangeFeed,
  ) {}

  async create(em: EntityManager, principal: Principal, input: OrganizationChanges & { slug: string; name: string }): Promise<OrganizationEntity> {
    const now = new Date();
    const org = em.create(OrganizationEntity, {
      id: randomUUID(),
      slug: input.slug,
      name: input.name.trim(),
      ssoEnabled: input.ssoEnabled ?? false,
      enforceSso: input.enforceSso ?? false,
      defaultRoleKey: null,
      allowedRedirectUrls: JSON.stringify(redirectUrls(input.allowedRedirectUrls ?? [])),
      createdAt: now,
      updatedAt: now,
    });
    this.applyDefaultRole(principal, org, input.defaultRoleKey);
    assertSsoSwitches(org);
    await this.assertSlugFree(em, org.slug, null);
    await this.save(em, org);
    await this.replaceDomains(em, org.id, input.allowedDomains ?? []);
    return org;
  }

  async update(em: EntityManager, principal: Principal, id: string, input: OrganizationChanges, guard?: DefaultRoleGuard): Promise<OrganizationEntity> {
    const org = await this.get(em, principal, id);
    const paths = guard ? await guard.before(em, principal, org.id) : 0;
    if (input.slug != null && input.slug !== org.slug) {
      await this.assertSlugFree(em, input.slug, org.id);
      org.slug = input.slug;
    }
    if (input.name != null) org.name = input.name.trim();
    if (input.ssoEnabled != null) org.ssoEnabled = input.ssoEnabled;
    if (input.enforceSso != null) org.enforceSso = input.enforceSso;
    if (input.defaultRoleKey !== undefined) this.applyDefaultRole(principal, org, input.defaultRoleKey);
    if (input.allowedRedirectUrls != null) org.allowedRedirectUrls = JSON.stringify(redirectUrls(input.allowedRedirectUrls));
    assertSsoSwitches(org);
    org.updatedAt = new Date();
    await this.save(em, org);
    if (input.allowedDomains != null) await this.replaceDomains(em, org.id, input.allowedDomains);
    if (guard) await guard.after(em, principal, org.id, paths);
    return org;
  }

  async delete(em: EntityManager, principal: Principal, id: string): Promise<void> {
    const org = await this.get(em, principal, id);
    await em.delete(OrganizationEntity, { id: org.id });
    // Its people, sessions and service accounts go with it (ON DELETE CASCADE): no cache may keep them.
    await this.changes.changed(em, "credentials");
    await this.changes.changed(em, "sessions");
  }

  /** The organization if the principal may see it; NOT_FOUND otherwise (missing or foreign alike). */
  async get(em: EntityManager, principal: Principal, id: string): Promise<OrganizationEntity> {
    const org = await this.find(em, id);
    if (!org) throw new NotFoundError("Organization", id);
    assertOrganizationVisible(principal, org.id, "Organization", id);
    return org;
  }

  find(em: EntityManager, id: string): Promise<OrganizationEntity | null> {
    return em.findOne(OrganizationEntity, { where: { id } });
  }

  /** Ordered by slug; `afterSlug` is the cursor. Non-platform principals only see their own. */
  list(em: EntityManager, principal: Principal, limit: number, afterSlug: string | null): Promise<OrganizationEntity[]> {
    return em.find(OrganizationEntity, {
      where: {
        ...(principal.kind === "PLATFORM" ? {} : { id: principal.organizationId ?? "" }),
        ...(afterSlug != null ? { slug: MoreThan(afterSlug) } : {}),
      },
      order: { slug: "ASC" },
      take: limit,
    });
  }

  async domainsOf(em: EntityManager, organizationId: string): Promise<string[]> {
    const rows = await em.find(OrganizationDomainEntity, { where: { organizationId }, order: { domain: "ASC" } });
    return rows.map((r) => r.domain);
  }

  private applyDefaultRole(principal: Principal, org: OrganizationEntity, key: string | null | undefined): void {
    if (key == null) {
      org.defaultRoleKey = null;
      return;
    }
    const role = this.roles.requireForPeople(key, "defaultRoleKey");
    this.roles.assertCanGrant(principal, role);
    org.defaultRoleKey = role.key;
  }

  private async assertSlugFree(em: EntityManager, slug: string, exceptId: string | null): Promise<void> {
    const existing = await em.findOne(OrganizationEntity, { where: { slug }, select: { id: true } });
    if (existing && existing.id !== exceptId) throw new ConflictError("slug", `An organization with slug "${slug}" already exists`);
  }

  private async replaceDomains(em: EntityManager, organizationId: string, domains: string[]): Promise<void> {
    const wanted = [...new Set(domains.map((d) => d.trim().toLowerCase()))];
    if (wanted.length > 0) {
      const taken = await em.find(OrganizationDomainEntity, { where: { domain: In(wanted) } });
      const foreign = taken.filter((d) => d.organizationId !== organizationId).map((d) => d.domain);
      if (foreign.length > 0) {
        throw new ConflictError("allowedDomains", `Domain already belongs to another organization: ${foreign.join(", ")}`);
      }
    }
    await em.delete(OrganizationDomainEntity, { organizationId });
    if (wanted.length > 0) {
      try {
        await em.insert(OrganizationDomainEntity, wanted.map((domain) => ({ domain, organizationId })));
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError("allowedDomains", "Domain already belongs to another organization");
        throw error;
      }
    }
  }

  private async save(em: EntityManager, org: OrganizationEntity): Promise<void> {
    try {
      await em.save(OrganizationEntity, org);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError("slug", `An organization with slug "${org.slug}" already exists`);
      throw error;
    }
  }
}

/** Enforcing SSO while SSO is off would lock every person out. */
function assertSsoSwitches(org: OrganizationEntity): void {
  if (org.enforceSso && !org.ssoEnabled) {
    throw new BadUserInputError("enforceSso", "enforceSso requires ssoEnabled: turn SSO on before enforcing it");
  }
}

/** Login redirect targets: http only for loopback hosts (local frontends), https otherwise. */
function redirectUrls(urls: string[]): string[] {
  const out = [...new Set(urls)];
  for (const url of out) {
    const parsed = new URL(url);
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
    if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback)) {
      throw new BadUserInputError("allowedRedirectUrls", `allowedRedirectUrls must use https (http only for localhost): ${url}`);
    }
  }
  return out;
}
