import { Field, ID, ObjectType } from "type-graphql";
import { PageInfo } from "../shared/pagination";

@ObjectType("Organization")
export class OrganizationType {
  @Field(() => ID)
  id!: string;

  @Field()
  slug!: string;

  @Field()
  name!: string;

  @Field()
  ssoEnabled!: boolean;

  @Field()
  enforceSso!: boolean;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
  // allowedDomains, defaultRole and roleMappings are field resolvers (organization.resolver.ts).
}

@ObjectType("OrganizationEdge")
export class OrganizationEdge {
  @Field()
  cursor!: string;

  @Field(() => OrganizationType)
  node!: OrganizationType;
}

@ObjectType("OrganizationConnection")
export class OrganizationConnection {
  @Field(() => [OrganizationEdge])
  edges!: OrganizationEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
