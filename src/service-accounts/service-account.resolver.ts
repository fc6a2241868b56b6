import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Database } from "../db/database";
import type { RequestContext } from "../shared/context";
import { auditTarget, managerFor, principalOf } from "../shared/resolver-context";
import type { OrganizationService } from "../organizations/organization.service";
import { OrganizationType } from "../organizations/organization.type";
import { toRoleType } from "../roles/access.resolver";
import type { RoleService } from "../roles/role.service";
import { RoleType } from "../roles/role.type";
import type { ServiceAccountEntity } from "./service-account.entity";
import { CreateServiceAccountInput } from "./service-account.input";
import type { ServiceAccountService } from "./service-account.service";
import { CreatedServiceAccountType, ServiceAccountType } from "./service-account.type";

@Resolver(() => ServiceAccountType)
export class ServiceAccountResolver {
  constructor(
    private readonly db: Database,
    private readonly accounts: ServiceAccountService,
    private readonly organizations: OrganizationService,
    private readonly roles: RoleService,
  ) {}

  @Query(() => [ServiceAccountType])
  serviceAccounts(@Arg("organizationId", () => ID) organizationId: string, @Ctx() ctx: RequestContext): Promise<ServiceAccountEntity[]> {
    return this.accounts.list(this.db.manager, principalOf(ctx), organizationId);
  }

  @Mutation(() => CreatedServiceAccountType, { description: "The API key is in the answer, once." })
  async createServiceAccount(@Arg("input") input: CreateServiceAccountInput, @Ctx() ctx: RequestContext) {
    const { account, apiKey } = await this.accounts.create(managerFor(ctx, this.db), principalOf(ctx), input);
    auditTarget(ctx, account.organizationId, `serviceAccount:${account.id}`);
    return { serviceAccount: account, apiKey };
  }

  @Mutation(() => ServiceAccountType, { description: "Takes effect at the next request made with the key." })
  async revokeServiceAccount(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ServiceAccountEntity> {
    const account = await this.accounts.revoke(managerFor(ctx, this.db), principalOf(ctx), id);
    auditTarget(ctx, account.organizationId, `serviceAccount:${account.id}`);
    return account;
  }

  @FieldResolver(() => OrganizationType)
  organization(@Root() account: ServiceAccountEntity) {
    return this.organizations.find(this.db.manager, account.organizationId);
  }

  @FieldResolver(() => RoleType)
  role(@Root() account: ServiceAccountEntity): RoleType | null {
    return toRoleType(this.roles.find(account.roleKey));
  }
}
