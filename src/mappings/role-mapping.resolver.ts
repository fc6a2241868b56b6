import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Database } from "../db/database";
import type { RequestContext } from "../shared/context";
import { auditTarget, changedFields, managerFor, principalOf } from "../shared/resolver-context";
import type { OrganizationService } from "../organizations/organization.service";
import { OrganizationType } from "../organizations/organization.type";
import { toRoleType } from "../roles/access.resolver";
import type { RoleService } from "../roles/role.service";
import { RoleType } from "../roles/role.type";
import type { RoleMappingEntity } from "./role-mapping.entity";
import { CreateRoleMappingInput, UpdateRoleMappingInput } from "./role-mapping.input";
import type { RoleMappingService } from "./role-mapping.service";
import type { UserService } from "../users/user.service";
import type { SessionService } from "../tokens/session.service";
import { RoleMappingType } from "./role-mapping.type";

const FORCE = "Platform principals only: allow removing the organization's last path to the admin role.";

@Resolver(() => RoleMappingType)
export class RoleMappingResolver {
  constructor(
    private readonly db: Database,
    private readonly mappings: RoleMappingService,
    private readonly organizations: OrganizationService,
    private readonly roles: RoleService,
    private readonly users: UserService,
    private readonly sessions: SessionService,
  ) {}

  /** A mapping change is enforced at once: members' roles are recomputed and changed members' sessions end, in the same transaction. */
  private async enforce(ctx: RequestContext, organizationId: string): Promise<void> {
    const em = managerFor(ctx, this.db);
    const org = await this.organizations.find(em, organizationId);
    if (org) await this.sessions.endSessionsOf(em, await this.users.recomputeRoles(em, org), "role changed by a mapping change");
  }

  @Query(() => [RoleMappingType], { description: "Highest priority first." })
  roleMappings(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<RoleMappingEntity[]> {
    return this.mappings.list(this.db.manager, principalOf(ctx), organizationId);
  }

  @Mutation(() => RoleMappingType)
  async createRoleMapping(@Arg("input") input: CreateRoleMappingInput, @Ctx() ctx: RequestContext): Promise<RoleMappingEntity> {
    const mapping = await this.mappings.create(managerFor(ctx, this.db), principalOf(ctx), input);
    await this.enforce(ctx, mapping.organizationId);
    auditTarget(ctx, mapping.organizationId, `roleMapping:${mapping.id}`, { created: { idpGroup: mapping.idpGroup, roleKey: mapping.roleKey, priority: mapping.priority } });
    return mapping;
  }

  @Mutation(() => RoleMappingType)
  async updateRoleMapping(
    @Arg("id", () => ID) id: string,
    @Arg("input") input: UpdateRoleMappingInput,
    @Arg("force", { defaultValue: false, description: FORCE }) force: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<RoleMappingEntity> {
    const before = { ...(await this.mappings.get(managerFor(ctx, this.db), principalOf(ctx), id)) };
    const mapping = await this.mappings.update(managerFor(ctx, this.db), principalOf(ctx), id, input, force);
    await this.enforce(ctx, mapping.organizationId);
    auditTarget(ctx, mapping.organizationId, `roleMapping:${mapping.id}`, { changed: changedFields(before, mapping, ["idpGroup", "roleKey", "priority"]) });
    return mapping;
  }

  @Mutation(() => Boolean)
  async deleteRoleMapping(
    @Arg("id", () => ID) id: string,
    @Arg("force", { defaultValue: false, description: FORCE }) force: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<boolean> {
    const mapping = await this.mappings.delete(managerFor(ctx, this.db), principalOf(ctx), id, force);
    await this.enforce(ctx, mapping.organizationId);
    auditTarget(ctx, mapping.organizationId, `roleMapping:${mapping.id}`, { deleted: { idpGroup: mapping.idpGroup, roleKey: mapping.roleKey, priority: mapping.priority } });
    return true;
  }

  @FieldResolver(() => OrganizationType)
  organization(@Root() mapping: RoleMappingEntity) {
    return this.organizations.find(this.db.manager, mapping.organizationId);
  }

  @FieldResolver(() => RoleType)
  role(@Root() mapping: RoleMappingEntity): RoleType | null {
    return toRoleType(this.roles.find(mapping.roleKey));
  }
}
