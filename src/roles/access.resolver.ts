import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import { decideAction } from "../authz/decide";
import { OPERATIONS } from "../authz/operations";
import type { Database } from "../db/database";
import type { RequestContext } from "../shared/context";
import { BadUserInputError } from "../shared/errors";
import { ActionEnum } from "../shared/graphql-enums";
import { ACTIONS, type Action, type Principal } from "../shared/principal";
import { principalOf } from "../shared/resolver-context";
import type { OrganizationService } from "../organizations/organization.service";
import { OrganizationType } from "../organizations/organization.type";
import { RoleMappingEntity } from "../mappings/role-mapping.entity";
import { RoleMappingType } from "../mappings/role-mapping.type";
import { DecisionType, OperationPermissionType, PermissionCheckInput, PrincipalType } from "./access.type";
import type { Role, RoleService } from "./role.service";
import { RoleType } from "./role.type";

const MAX_CHECKS = 100;
const MAX_RESOURCE_LENGTH = 512;

/** The decision API: who am I, may I, what does each operation need. */
@Resolver(() => PrincipalType)
export class AccessResolver {
  constructor(
    private readonly db: Database,
    private readonly roleTable: RoleService,
    private readonly organizations: OrganizationService,
  ) {}

  @Query(() => PrincipalType)
  me(@Ctx() ctx: RequestContext): PrincipalType {
    const principal = principalOf(ctx);
    return {
      id: principal.id,
      kind: principal.kind,
      displayName: principal.displayName,
      organizationId: principal.organizationId,
      role: toRoleType(this.roleTable.find(principal.roleKey)),
      permissions: ACTIONS.filter((a) => principal.permissions.has(a)),
      groups: principal.groups ? [...principal.groups] : null,
      roleMappingId: principal.roleMappingId ?? null,
    };
  }

  @FieldResolver(() => RoleMappingType, { nullable: true, description: "USER principals: the mapping that gave the role." })
  roleMapping(@Root() principal: PrincipalType) {
    return principal.roleMappingId ? this.db.manager.findOne(RoleMappingEntity, { where: { id: principal.roleMappingId } }) : null;
  }

  @FieldResolver(() => OrganizationType, { nullable: true })
  organization(@Root() principal: PrincipalType) {
    return principal.organizationId ? this.organizations.find(this.db.manager, principal.organizationId) : null;
  }

  @Query(() => DecisionType, { description: "May the caller do `action` (to `resource`)?" })
  can(
    @Arg("action", () => ActionEnum) action: Action,
    @Arg("resource", () => String, { nullable: true }) resource: string | null,
    @Ctx() ctx: RequestContext,
  ): DecisionType {
    if (resource && resource.length > MAX_RESOURCE_LENGTH) {
      throw new BadUserInputError("resource", `resource may hold at most ${MAX_RESOURCE_LENGTH} characters`);
    }
    return this.decision(principalOf(ctx), action, resource ?? null);
  }

  @Query(() => [DecisionType], { description: `Several decisions at once (at most ${MAX_CHECKS}).` })
  checkPermissions(@Arg("checks", () => [PermissionCheckInput]) checks: PermissionCheckInput[], @Ctx() ctx: RequestContext): DecisionType[] {
    if (checks.length > MAX_CHECKS) throw new BadUserInputError("checks", `checks may hold at most ${MAX_CHECKS} items, got ${checks.length}`);
    const principal = principalOf(ctx);
    return checks.map((check) => this.decision(principal, check.action, check.resource ?? null));
  }

  @Query(() => [RoleType])
  roles(): RoleType[] {
    return this.roleTable.all().map((r) => toRoleType(r)!);
  }

  @Query(() => [OperationPermissionType], { description: "The operation table: what each operation requires, so frontends can hide what the user may not do." })
  operationPermissions(): OperationPermissionType[] {
    return Object.entries(OPERATIONS).map(([operation, rule]) => ({ operation, requires: [...rule.requires], scope: rule.scope }));
  }

  private decision(principal: Principal, action: Action, resource: string | null): DecisionType {
    const { allowed, reason } = decideAction(principal, action);
    return { allowed, action, resource, role: toRoleType(this.roleTable.find(principal.roleKey)), reason };
  }
}

export function toRoleType(role: Role | null): RoleType | null {
  if (!role) return null;
  return { key: role.key, name: role.name, description: role.description, builtIn: role.builtIn, permissions: role.permissions };
}
