import { IsOptional, Length, MaxLength } from "class-validator";
import { Field, ID, InputType } from "type-graphql";
import { NoControlCharacters } from "../shared/validation";

@InputType()
export class CreateServiceAccountInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field()
  @Length(1, 200)
  @NoControlCharacters()
  name!: string;

  @Field(() => String, { nullable: true, description: "Defaults to `service`." })
  @IsOptional()
  @MaxLength(64)
  roleKey?: string | null;
}
