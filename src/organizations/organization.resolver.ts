import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Database } from "../db/database";
import type { RequestContext } from "../shared/context";
import { decodeCursor, pageSize, toConnection } from "../shared/pagination";
import { auditTarget, changedFields, managerFor, principalOf } from "../shared/resolver-context";
import type { RoleMappingService } from "../mappings/role-mapping.service";
import { RoleMappingType } from "../mappings/role-mapping.type";
import { toRoleType } from "../roles/access.resolver";
import type { RoleService } from "../roles/role.service";
import { RoleType } from "../roles/role.type";
import { CreateOrganizationInput, UpdateOrganizationInput } from "./organization.input";
import type { OrganizationEntity } from "./organization.entity";
import type { DefaultRoleGuard, OrganizationService } from "./organization.service";
import type { AdminPathGuard } from "../mappings/admin-path.guard";
import type { UserService } from "../users/user.service";
import type { SessionService } from "../tokens/session.service";
import { OrganizationConnection, OrganizationType } from "./organization.type";

@Resolver(() => OrganizationType)
export class OrganizationResolver {
  constructor(
    private readonly db: Database,
    private readonly orgs: OrganizationService,
    private readonly roles: RoleService,
    private readonly mappings: RoleMappingService,
    private readonly users: UserService,
    private readonly adminPaths: AdminPathGuard,
    private readonly sessions: SessionService,
  ) {}

  private adminPathsFor(force: boolean): DefaultRoleGuard {
    return {
      before: (em, principal, organizationId) => this.adminPaths.before(em, principal, organizationId, force),
      after: (em, principal, organizationId, before) => this.adminPaths.after(em, principal, organizationId, before, force),
    };
  }

  @Query(() => OrganizationConnection, { description: "Platform principals see every organization; others their own." })
  async organizations(
    @Arg("first", () => Int, { nullable: true }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<OrganizationConnection> {
    const limit = pageSize(first);
    const rows = await this.orgs.list(this.db.manager, principalOf(ctx), limit + 1, decodeCursor<string>(after, "string"));
    return toConnection(rows, limit, (org) => org.slug);
  }

  @Query(() => OrganizationType, { nullable: true })
  organization(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<OrganizationEntity> {
    return this.orgs.get(this.db.manager, principalOf(ctx), id);
  }

  @Mutation(() => OrganizationType)
  async createOrganization(@Arg("input") input: CreateOrganizationInput, @Ctx() ctx: RequestContext): Promise<OrganizationEntity> {
    const org = await this.orgs.create(managerFor(ctx, this.db), principalOf(ctx), input);
    auditTarget(ctx, org.id, `organization:${org.id}`);
    return org;
  }

  @Mutation(() => OrganizationType)
  async updateOrganization(
    @Arg("id", () => ID) id: string,
    @Arg("input") input: UpdateOrganizationInput,
    @Arg("force", { defaultValue: false, description: "Platform principals only: allow a default-role change that removes the last path to the admin role." }) force: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<OrganizationEntity> {
    const em = managerFor(ctx, this.db);
    const guard = input.defaultRoleKey !== undefined ? this.adminPathsFor(force) : undefined;
    const before = { ...(await this.orgs.get(em, principalOf(ctx), id)), allowedDomains: await this.orgs.domainsOf(em, id) };
    const org = await this.orgs.update(em, principalOf(ctx), id, input, guard);
    const after = { ...org, allowedDomains: await this.orgs.domainsOf(em, org.id) };
    const changed = changedFields(before, after, ["slug", "name", "ssoEnabled", "enforceSso", "defaultRoleKey", "allowedRedirectUrls", "allowedDomains"]);
    if (input.defaultRoleKey !== undefined) {
      await this.sessions.endSessionsOf(em, await this.users.recomputeRoles(em, org), "role changed by a default-role change");
    }
    auditTarget(ctx, org.id, `organization:${org.id}`, { changed });
    return org;
  }

  @Mutation(() => Boolean)
  async deleteOrganization(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await this.orgs.delete(managerFor(ctx, this.db), principalOf(ctx), id);
    auditTarget(ctx, id, `organization:${id}`);
    return true;
  }

  @FieldResolver(() => [String])
  allowedDomains(@Root() org: OrganizationEntity): Promise<string[]> {
    return this.orgs.domainsOf(this.db.manager, org.id);
  }

  @FieldResolver(() => [String], { description: "Frontend URLs a login may return to." })
  allowedRedirectUrls(@Root() org: OrganizationEntity): string[] {
    return JSON.parse(org.allowedRedirectUrls) as string[];
  }

  @FieldResolver(() => RoleType, { nullable: true })
  defaultRole(@Root() org: OrganizationEntity): RoleType | null {
    return toRoleType(this.roles.find(org.defaultRoleKey));
  }

  @FieldResolver(() => [RoleMappingType])
  roleMappings(@Root() org: OrganizationEntity) {
    return this.mappings.listOf(this.db.manager, org.id);
  }
}
