import { Field, ID, InputType, ObjectType } from "type-graphql";
import { MaxLength } from "class-validator";
import { ActionEnum, PrincipalKindEnum } from "../shared/graphql-enums";
import type { Action, PrincipalKind } from "../shared/principal";
import { RoleType } from "./role.type";

@ObjectType("Principal", { description: "The caller: a platform operator, a user, or a service account." })
export class PrincipalType {
  @Field(() => ID)
  id!: string;

  @Field(() => PrincipalKindEnum)
  kind!: PrincipalKind;

  @Field()
  displayName!: string;

  /** Resolved by a field resolver from organizationId. */
  organizationId!: string | null;

  @Field(() => RoleType, { nullable: true })
  role!: RoleType | null;

  @Field(() => [ActionEnum])
  permissions!: Action[];

  @Field(() => [String], { nullable: true, description: "USER principals: the IdP groups of their last login." })
  groups!: string[] | null;

  /** Resolved to `roleMapping` by a field resolver. */
  roleMappingId!: string | null;
}

@ObjectType("Decision", { description: "The answer to 'may the caller do <action> to <resource>?'" })
export class DecisionType {
  @Field()
  allowed!: boolean;

  @Field(() => ActionEnum)
  action!: Action;

  @Field(() => String, { nullable: true })
  resource!: string | null;

  @Field(() => RoleType, { nullable: true })
  role!: RoleType | null;

  @Field()
  reason!: string;
}

@ObjectType("OperationPermission", { description: "One row of the operation table: what a GraphQL operation requires." })
export class OperationPermissionType {
  @Field()
  operation!: string;

  @Field(() => [ActionEnum])
  requires!: Action[];

  @Field()
  scope!: string;
}

@InputType("PermissionCheckInput")
export class PermissionCheckInput {
  @Field(() => ActionEnum)
  action!: Action;

  @Field(() => String, { nullable: true })
  @MaxLength(512)
  resource?: string | null;
}
