/**
 * Service accounts: API keys that act for one organization with one role (default `service`).
 *
 * Rules:
 * - The key is returned once, at creation; only its hash and display prefix are stored.
 * - The role may not hold a permission the caller lacks (acl-08).
 * - Revocation takes effect at the very next request, on every instance (the change feed empties
 *   every instance's key cache when it commits).
 * - Other organizations' accounts answer NOT_FOUND.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { ChangeFeed } from "../db/change-feed";
import { NotFoundError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import { canSeeOrganization } from "../shared/scope";
import type { OrganizationService } from "../organizations/organization.service";
import type { RoleService } from "../roles/role.service";
import { issueKey, SERVICE_KEY_PREFIX } from "../tokens/api-key";
import { ServiceAccountEntity } from "./service-account.entity";

export class ServiceAccountService {
  constructor(
    private readonly roles: RoleService,
    private readonly organizations: OrganizationService,
    private readonly changes: ChangeFeed,
  ) {}

  async create(em: EntityManager, principal: Principal, input: { organizationId: string; name: string; roleKey?: string | null }): Promise<{ account: ServiceAccountEntity; apiKey: string }> {
    await this.organizations.get(em, principal, input.organizationId);
    const role = this.roles.require(input.roleKey ?? "service", "roleKey");
    this.roles.assertCanGrant(principal, role);
    const issued = issueKey(SERVICE_KEY_PREFIX);
    const account = em.create(ServiceAccountEntity, {
      id: randomUUID(),
      organizationId: input.organizationId,
      name: input.name.trim(),
      roleKey: role.key,
      keyPrefix: issued.keyPrefix,
      keyHash: issued.keyHash,
      createdAt: new Date(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await em.insert(ServiceAccountEntity, account);
    return { account, apiKey: issued.key };
  }

  async revoke(em: EntityManager, principal: Principal, id: string): Promise<ServiceAccountEntity> {
    const account = await this.get(em, principal, id);
    if (!account.revokedAt) {
      account.revokedAt = new Date();
      await em.update(ServiceAccountEntity, { id: account.id }, { revokedAt: account.revokedAt });
      await this.changes.changed(em, "credentials");
    }
    return account;
  }

  async get(em: EntityManager, principal: Principal, id: string): Promise<ServiceAccountEntity> {
    const account = await em.findOne(ServiceAccountEntity, { where: { id } });
    if (!account || !canSeeOrganization(principal, account.organizationId)) throw new NotFoundError("Service account", id);
    return account;
  }

  async list(em: EntityManager, principal: Principal, organizationId: string): Promise<ServiceAccountEntity[]> {
    await this.organizations.get(em, principal, organizationId);
    return em.find(ServiceAccountEntity, { where: { organizationId }, order: { createdAt: "ASC", id: "ASC" } });
  }
}
