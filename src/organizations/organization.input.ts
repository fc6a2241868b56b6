import { ArrayMaxSize, IsFQDN, IsOptional, IsUrl, Length, Matches, MaxLength, isFQDN, type ValidationArguments } from "class-validator";
import { Field, InputType } from "type-graphql";
import { NoControlCharacters, SLUG_PATTERN } from "../shared/validation";

const slugRule = () =>
  Matches(SLUG_PATTERN, { message: "slug must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit" });
const redirectsRule = () =>
  IsUrl(
    { require_tld: false, require_protocol: true, protocols: ["https", "http"], allow_fragments: false },
    { each: true, message: "allowedRedirectUrls must contain absolute https URLs (http only for localhost), got $value" },
  );
const FQDN = { require_tld: true, allow_underscores: false };
const domainsRule = () =>
  IsFQDN(FQDN, {
    each: true,
    message: (args: ValidationArguments) => {
      const bad = ([] as unknown[]).concat(args.value).find((d) => typeof d !== "string" || !isFQDN(d, FQDN));
      return `allowedDomains must contain domain names such as example.com; "${String(bad)}" is not one`;
    },
  });

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

  @Field(() => [String], { nullable: true, description: "Frontend URLs a login may return to (with a one-time code)." })
  @IsOptional()
  @ArrayMaxSize(20)
  @redirectsRule()
  allowedRedirectUrls?: string[];
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

  @Field(() => [String], { nullable: true, description: "Frontend URLs a login may return to (with a one-time code)." })
  @IsOptional()
  @ArrayMaxSize(20)
  @redirectsRule()
  allowedRedirectUrls?: string[];
}
