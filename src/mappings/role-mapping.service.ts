/**
 * IdP group → role mappings of an organization.
 *
 * Rules:
 * - One mapping per (organization, exact group string): a duplicate is CONFLICT.
 * - The role must be assignable to people (never `service`) and grantable by the caller (acl-08).
 * - Other organizations' mappings answer NOT_FOUND, exactly like missing ones.
 * - No change may remove the last path to the admin role unless a platform principal forces it (acl-04).
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { ConflictError, NotFoundError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import { assertOrganizationVisible, canSeeOrganization } from "../shared/scope";
import { isUniqueViolation } from "../shared/db-errors";
import type { OrganizationService } from "../organizations/organization.service";
import type { RoleService } from "../roles/role.service";
import { RoleMappingEntity } from "./role-mapping.entity";
import type { AdminPathGuard } from "./admin-path.guard";
import { pickMapping } from "./role-precedence";

export interface MappingChanges {
  idpGroup?: string | null;
  roleKey?: string | null;
  priority?: number | null;
}

export class RoleMappingService {
  constructor(
    private readonly roles: RoleService,
    private readonly organizations: OrganizationService,
    private readonly adminPaths: AdminPathGuard,
  ) {}

  async create(em: EntityManager, principal: Principal, input: { organizationId: string; idpGroup: string; roleKey: string; priority?: number | null }): Promise<RoleMappingEntity> {
    await this.organizations.get(em, principal, input.organizationId);
    const role = this.roles.requireForPeople(input.roleKey, "roleKey");
    this.roles.assertCanGrant(principal, role);
    await this.assertGroupFree(em, input.organizationId, input.idpGroup, null);
    const now = new Date();
    const mapping = em.create(RoleMappingEntity, {
      id: randomUUID(),
      organizationId: input.organizationId,
      idpGroup: input.idpGroup,
      roleKey: role.key,
      priority: input.priority ?? 0,
      createdAt: now,
      updatedAt: now,
    });
    await this.save(em, mapping);
    return mapping;
  }

  async update(em: EntityManager, principal: Principal, id: string, input: MappingChanges, force = false): Promise<RoleMappingEntity> {
    const mapping = await this.get(em, principal, id);
    const paths = await this.adminPaths.before(em, principal, mapping.organizationId, force);
    // Changing a mapping away from a role is also a grant decision on what it becomes.
    this.roles.assertCanGrant(principal, this.roles.require(mapping.roleKey, "roleKey"));
    if (input.roleKey != null) {
      const role = this.roles.requireForPeople(input.roleKey, "roleKey");
      this.roles.assertCanGrant(principal, role);
      mapping.roleKey = role.key;
    }
    if (input.idpGroup != null && input.idpGroup !== mapping.idpGroup) {
      await this.assertGroupFree(em, mapping.organizationId, input.idpGroup, mapping.id);
      mapping.idpGroup = input.idpGroup;
    }
    if (input.priority != null) mapping.priority = input.priority;
    mapping.updatedAt = new Date();
    await this.save(em, mapping);
    await this.adminPaths.after(em, principal, mapping.organizationId, paths, force);
    return mapping;
  }

  async delete(em: EntityManager, principal: Principal, id: string, force = false): Promise<RoleMappingEntity> {
    const mapping = await this.get(em, principal, id);
    this.roles.assertCanGrant(principal, this.roles.require(mapping.roleKey, "roleKey"));
    const paths = await this.adminPaths.before(em, principal, mapping.organizationId, force);
    await em.delete(RoleMappingEntity, { id: mapping.id });
    await this.adminPaths.after(em, principal, mapping.organizationId, paths, force);
    return mapping;
  }

  async get(em: EntityManager, principal: Principal, id: string): Promise<RoleMappingEntity> {
    const mapping = await em.findOne(RoleMappingEntity, { where: { id } });
    if (!mapping || !canSeeOrganization(principal, mapping.organizationId)) throw new NotFoundError("Role mapping", id);
    return mapping;
  }

  async list(em: EntityManager, principal: Principal, organizationId: string): Promise<RoleMappingEntity[]> {
    assertOrganizationVisible(principal, organizationId);
    await this.organizations.get(em, principal, organizationId);
    return this.listOf(em, organizationId);
  }

  listOf(em: EntityManager, organizationId: string): Promise<RoleMappingEntity[]> {
    return em.find(RoleMappingEntity, { where: { organizationId }, order: { priority: "DESC", idpGroup: "ASC" } });
  }

  /** The mapping that gives these groups their role in the organization, by the precedence rule. */
  async resolve(em: EntityManager, organizationId: string, groups: readonly string[]): Promise<RoleMappingEntity | null> {
    const mappings = await this.listOf(em, organizationId);
    return pickMapping(mappings, groups, (key) => this.roles.find(key)?.permissions.length ?? 0);
  }

  private async assertGroupFree(em: EntityManager, organizationId: string, idpGroup: string, exceptId: string | null): Promise<void> {
    const existing = await em.findOne(RoleMappingEntity, { where: { organizationId, idpGroup }, select: { id: true } });
    if (existing && existing.id !== exceptId) {
      throw new ConflictError("idpGroup", `Group "${idpGroup}" is already mapped in this organization; update that mapping instead`);
    }
  }

  private async save(em: EntityManager, mapping: RoleMappingEntity): Promise<void> {
    try {
      await em.save(RoleMappingEntity, mapping);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError("idpGroup", `Group "${mapping.idpGroup}" is already mapped in this organization`);
      throw error;
    }
  }
}
