import { ArrayMaxSize, IsFQDN, IsOptional, Length, Matches, MaxLength } from "class-validator";
import { Field, InputType } from "type-graphql";
import { NoControlCharacters, SLUG_PATTERN } from "../shared/validation";

const slugRule = () =>
  Matches(SLUG_PATTERN, { message: "slug must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit" });
const domainsRule = () => IsFQDN({ require_tld: true, allow_underscores: false }, { each: true, message: "allowedDomains must contain domain names such as example.com, got $value" });

@InputType()
export class CreateOrganizationInput {
  @Field()
  @slugRule()
  slug!: string;

  @Field()
  @Length(1, 200)
  @NoControlCharacters()
  name!: string;

  @Field({ nullable: true, defaultValue: false })
  ssoEnabled?: boolean;

  @Field({ nullable: true, defaultValue: false })
  enforceSso?: boolean;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(100)
  @domainsRule()
  allowedDomains?: string[];

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(64)
  defaultRoleKey?: string | null;
}

@InputType()
export class UpdateOrganizationInput {
  @Field({ nullable: true })
  @IsOptional()
  @slugRule()
  slug?: string;

  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 200)
  @NoControlCharacters()
  name?: string;

  @Field({ nullable: true })
  ssoEnabled?: boolean;

  @Field({ nullable: true })
  enforceSso?: boolean;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(100)
  @domainsRule()
  allowedDomains?: string[];

  @Field(() => String, { nullable: true, description: "null clears the default role" })
  @IsOptional()
  @MaxLength(64)
  defaultRoleKey?: string | null;
}
