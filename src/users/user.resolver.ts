import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Database } from "../db/database";
import { RoleMappingType } from "../mappings/role-mapping.type";
import type { OrganizationService } from "../organizations/organization.service";
import { toRoleType } from "../roles/access.resolver";
import type { RoleService } from "../roles/role.service";
import { RoleType } from "../roles/role.type";
import type { RequestContext } from "../shared/context";
import { auditTarget, managerFor, principalOf } from "../shared/resolver-context";
import type { UserEntity } from "./user.entity";
import type { UserService } from "./user.service";
import { UserType } from "./user.type";
import type { SessionService } from "../tokens/session.service";
import { RoleMappingEntity } from "../mappings/role-mapping.entity";

@Resolver(() => UserType)
export class UserResolver {
  constructor(
    private readonly db: Database,
    private readonly people: UserService,
    private readonly organizations: OrganizationService,
    private readonly roles: RoleService,
    private readonly sessions: SessionService,
  ) {}

  @Query(() => [UserType], { description: "The organization's people (provisioned at their first login)." })
  async users(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<UserEntity[]> {
    await this.organizations.get(this.db.manager, principalOf(ctx), organizationId);
    return this.people.list(this.db.manager, organizationId);
  }

  @Mutation(() => UserType, { description: "Deprovisions a person: no more logins; their sessions end at the next request." })
  async deactivateUser(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<UserEntity> {
    const em = managerFor(ctx, this.db);
    const user = await this.people.deactivate(em, principalOf(ctx), id);
    await this.sessions.endSessionsOf(em, [user.id], "account deactivated");
    auditTarget(ctx, user.organizationId, `user:${user.id}`);
    return user;
  }

  @FieldResolver(() => [String])
  groups(@Root() user: UserEntity): string[] {
    return JSON.parse(user.groups) as string[];
  }

  @FieldResolver(() => RoleType, { nullable: true })
  role(@Root() user: UserEntity): RoleType | null {
    return toRoleType(this.roles.find(user.roleKey));
  }

  @FieldResolver(() => RoleMappingType, { nullable: true, description: "The mapping that gave the role (null: default role or none)." })
  roleMapping(@Root() user: UserEntity): Promise<RoleMappingEntity | null> | null {
    return user.roleMappingId ? this.db.manager.findOne(RoleMappingEntity, { where: { id: user.roleMappingId } }) : null;
  }
}
