import { IsIn, IsOptional, Length, Matches, Max, MaxLength, Min } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";
import { NoControlCharacters } from "../../shared/validation";
import { OidcClientAuthMethodEnum, type OidcClientAuthMethodName } from "./oidc-connection.type";

// Scope tokens per RFC 6749 §3.3, space-separated; that openid is among them is checked by the service.
const SCOPES = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;
const PRINTABLE = /^[\x21-\x7e]+$/;

const scopesRule = () => Matches(SCOPES, { message: "scopes must be space-separated scope tokens, e.g. \"openid email profile\"" });
const secretRule = () => Matches(PRINTABLE, { message: "clientSecret must be printable ASCII without spaces" });
const authMethodRule = () => IsIn(Object.keys(OidcClientAuthMethodEnum));

@InputType()
export class CreateOidcConnectionInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field({ description: "Issuer identifier, e.g. https://login.example.com/realms/acme (https required)." })
  @Length(1, 512)
  @NoControlCharacters()
  issuer!: string;

  @Field()
  @Length(1, 256)
  @NoControlCharacters()
  clientId!: string;

  @Field(() => String, { nullable: true, description: "Write-only. Required unless clientAuthMethod is NONE." })
  @IsOptional()
  @Length(1, 512)
  @secretRule()
  clientSecret?: string | null;

  @Field(() => OidcClientAuthMethodEnum, { nullable: true, defaultValue: "CLIENT_SECRET_BASIC" })
  @IsOptional()
  @authMethodRule()
  clientAuthMethod?: OidcClientAuthMethodName;

  @Field(() => String, { nullable: true, description: "Defaults to <public URL>/auth/oidc/<connection id>/callback." })
  @IsOptional()
  @Length(1, 2048)
  @NoControlCharacters()
  redirectUri?: string | null;

  @Field(() => String, { nullable: true, defaultValue: "openid email profile" })
  @IsOptional()
  @Length(6, 512)
  @scopesRule()
  scopes?: string;

  @Field(() => String, { nullable: true, defaultValue: "groups" })
  @IsOptional()
  @Length(1, 128)
  @NoControlCharacters()
  groupsClaim?: string;

  @Field(() => Int, { nullable: true, defaultValue: 300 })
  @IsOptional()
  @Min(30)
  @Max(3600)
  maxIdTokenAgeSeconds?: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(0)
  @Max(2_592_000)
  maxAuthAgeSeconds?: number | null;
}

@InputType({ description: "Absent fields stay unchanged; clientSecret absent = the stored secret is kept." })
export class UpdateOidcConnectionInput {
  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 512)
  @NoControlCharacters()
  issuer?: string;

  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  clientId?: string;

  @Field(() => String, { nullable: true, description: "Write-only; replaces the stored secret." })
  @IsOptional()
  @Length(1, 512)
  @secretRule()
  clientSecret?: string | null;

  @Field(() => OidcClientAuthMethodEnum, { nullable: true, description: "NONE also deletes the stored secret." })
  @IsOptional()
  @authMethodRule()
  clientAuthMethod?: OidcClientAuthMethodName;

  @Field(() => String, { nullable: true, description: "null resets to the default." })
  @IsOptional()
  @Length(1, 2048)
  @NoControlCharacters()
  redirectUri?: string | null;

  @Field({ nullable: true })
  @IsOptional()
  @Length(6, 512)
  @scopesRule()
  scopes?: string;

  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 128)
  @NoControlCharacters()
  groupsClaim?: string;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(30)
  @Max(3600)
  maxIdTokenAgeSeconds?: number;

  @Field(() => Int, { nullable: true, description: "null turns the auth_time bound off." })
  @IsOptional()
  @Min(0)
  @Max(2_592_000)
  maxAuthAgeSeconds?: number | null;
}
