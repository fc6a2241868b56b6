import { Arg, Ctx, ID, Mutation, Resolver } from "type-graphql";
import type { Database } from "../../db/database";
import type { RequestContext } from "../../shared/context";
import { auditTarget, managerFor, principalOf } from "../../shared/resolver-context";
import type { UserEntity } from "../../users/user.entity";
import { UserType } from "../../users/user.type";
import { CreatePasswordUserInput } from "./password-user.input";
import type { PasswordUserService } from "./password-user.service";

@Resolver()
export class PasswordUserResolver {
  constructor(
    private readonly db: Database,
    private readonly accounts: PasswordUserService,
  ) {}

  @Mutation(() => UserType, {
    description: "Creates a person who signs in with email and password (POST /auth/password/login). Refused when the organization enforces SSO.",
  })
  async createPasswordUser(@Arg("input") input: CreatePasswordUserInput, @Ctx() ctx: RequestContext): Promise<UserEntity> {
    const user = await this.accounts.create(managerFor(ctx, this.db), principalOf(ctx), input);
    auditTarget(ctx, user.organizationId, `user:${user.id}`);
    return user;
  }

  @Mutation(() => Boolean, { description: "Sets a new password on a password account; ends its sessions and lifts a lockout." })
  async setUserPassword(@Arg("id", () => ID) id: string, @Arg("password") password: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const user = await this.accounts.setPassword(managerFor(ctx, this.db), principalOf(ctx), id, password);
    auditTarget(ctx, user.organizationId, `user:${user.id}`);
    return true;
  }
}
