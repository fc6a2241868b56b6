import { Field, ID, ObjectType } from "type-graphql";

@ObjectType("User", { description: "A person of an organization, provisioned at their first SSO login." })
export class UserType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true })
  displayName!: string | null;

  @Field({ description: "IdP entity ID or OIDC issuer the account is keyed on, with subject." })
  issuer!: string;

  @Field()
  subject!: string;

  @Field(() => Date, { nullable: true })
  lastLoginAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "Set when deactivated: no login, sessions end at the next request." })
  disabledAt!: Date | null;

  @Field()
  createdAt!: Date;
  // groups, role and roleMapping are field resolvers (user.resolver.ts).
}
