import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType("RoleMapping", { description: "IdP group → role, within one organization." })
export class RoleMappingType {
  @Field(() => ID)
  id!: string;

  @Field()
  idpGroup!: string;

  @Field(() => Int)
  priority!: number;

  @Field()
  createdAt!: Date;
  // organization and role are field resolvers (role-mapping.resolver.ts).
}
