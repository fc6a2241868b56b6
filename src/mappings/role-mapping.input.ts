import { IsOptional, Length, Max, MaxLength, Min } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";
import { NoControlCharacters } from "../shared/validation";

@InputType()
export class CreateRoleMappingInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field({ description: "The exact group string the IdP sends; matched case-sensitively." })
  @Length(1, 256)
  @NoControlCharacters()
  idpGroup!: string;

  @Field()
  @MaxLength(64)
  roleKey!: string;

  @Field(() => Int, { nullable: true, defaultValue: 0, description: "Higher wins when several groups match." })
  @IsOptional()
  @Min(-1000)
  @Max(1000)
  priority?: number;
}

@InputType()
export class UpdateRoleMappingInput {
  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  idpGroup?: string;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(64)
  roleKey?: string;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(-1000)
  @Max(1000)
  priority?: number;
}
