/**
 * Home-realm discovery: `loginOptions(email)` (PUBLIC).
 *
 * Rules:
 * - The organization is found by the email's domain (allowed domains are unique per organization).
 * - A domain that is not registered, or whose organization has SSO off, answers exactly the same
 *   thing whatever the domain: "no SSO for this domain" — nothing else is revealed about it.
 * - A registered domain with SSO on lists its login entry points; `passwordAllowed` is false when
 *   the organization enforces SSO.
 */
import { Arg, Query, Resolver } from "type-graphql";
import type { Database } from "../db/database";
import { OrganizationDomainEntity, OrganizationEntity } from "../organizations/organization.entity";
import { BadUserInputError } from "../shared/errors";
import { LoginOptionsType } from "./login-options.type";
import type { SsoModule } from "./sso-module";

const EMAIL = /^[^\s@]{1,64}@([A-Za-z0-9.-]{1,253})$/;
const NO_SSO: LoginOptionsType = { sso: [], passwordAllowed: true, message: "No SSO for this domain: log in with your email and password" };

@Resolver()
export class LoginOptionsResolver {
  constructor(
    private readonly db: Database,
    private readonly modules: readonly SsoModule[],
  ) {}

  @Query(() => LoginOptionsType, { description: "How a person with this email logs in: SSO entry points and whether a password is allowed." })
  async loginOptions(@Arg("email") email: string): Promise<LoginOptionsType> {
    const match = EMAIL.exec(email.trim());
    if (!match) throw new BadUserInputError("email", "email must look like name@example.com");
    const domain = await this.db.manager.findOne(OrganizationDomainEntity, { where: { domain: match[1].toLowerCase() } });
    const org = domain ? await this.db.manager.findOne(OrganizationEntity, { where: { id: domain.organizationId } }) : null;
    if (!org || !org.ssoEnabled) return NO_SSO;
    const sso = (await Promise.all(this.modules.map((m) => m.loginOptions?.(org.id) ?? Promise.resolve([])))).flat();
    return {
      sso,
      passwordAllowed: !org.enforceSso,
      message: org.enforceSso
        ? `${org.name} requires single sign-on: continue with your identity provider`
        : sso.length > 0
          ? `Continue with your identity provider, or log in with your email and password`
          : "No SSO for this domain: log in with your email and password",
    };
  }
}
