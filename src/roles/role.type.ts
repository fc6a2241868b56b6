import { Field, ObjectType } from "type-graphql";
import { ActionEnum } from "../shared/graphql-enums";
import type { Action } from "../shared/principal";

@ObjectType("Role", { description: "A role and the actions it grants (the role table)." })
export class RoleType {
  @Field()
  key!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field()
  builtIn!: boolean;

  @Field(() => [ActionEnum])
  permissions!: Action[];
}
