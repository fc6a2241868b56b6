import { ArrayMaxSize, ArrayMinSize, IsOptional, Length, Max, MaxLength, Min } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";
import { NoControlCharacters } from "../../shared/validation";
import { MAX_IDP_CERTIFICATES } from "./saml-certificates";
import { SamlBindingEnum, type SamlBindingName } from "./saml-connection.type";

const MAX_PEM = 16 * 1024;

@InputType()
export class CreateSamlConnectionInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field({ description: "The IdP's entity ID (Issuer)." })
  @Length(1, 1024)
  @NoControlCharacters()
  idpEntityId!: string;

  @Field({ description: "The IdP's SSO URL (http or https)." })
  @Length(1, 2048)
  idpSsoUrl!: string;

  @Field(() => SamlBindingEnum, { nullable: true, defaultValue: "HTTP_REDIRECT" })
  @IsOptional()
  idpSsoBinding?: SamlBindingName;

  @Field(() => [String], { description: "The IdP's signing certificates (PEM or base64), 1-5; any of them verifies." })
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_IDP_CERTIFICATES)
  @MaxLength(MAX_PEM, { each: true })
  idpCertificates!: string[];

  @Field(() => String, { nullable: true, description: "Defaults to `<public URL>/auth/saml/<id>/metadata`." })
  @IsOptional()
  @Length(1, 1024)
  @NoControlCharacters()
  spEntityId?: string | null;

  @Field(() => String, { nullable: true, description: "Defaults to `<public URL>/auth/saml/<id>/acs`." })
  @IsOptional()
  @Length(1, 2048)
  acsUrl?: string | null;

  @Field(() => String, { nullable: true, description: "Default `email` (then mail and the common URIs)." })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  emailAttribute?: string | null;

  @Field(() => String, { nullable: true, description: "Default `displayName` (then the common URIs)." })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  displayNameAttribute?: string | null;

  @Field(() => String, { nullable: true, description: "Default `groups` (then memberOf and the common URIs)." })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  groupsAttribute?: string | null;

  @Field(() => Int, { nullable: true, description: "0-300, default 5." })
  @IsOptional()
  @Min(0)
  @Max(300)
  clockSkewSeconds?: number | null;

  @Field(() => Boolean, { nullable: true, description: "Default false." })
  @IsOptional()
  allowIdpInitiated?: boolean | null;
}

/** Omitted fields stay as they are; null resets spEntityId / acsUrl / attribute names to their defaults. */
@InputType()
export class UpdateSamlConnectionInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 1024)
  @NoControlCharacters()
  idpEntityId?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 2048)
  idpSsoUrl?: string | null;

  @Field(() => SamlBindingEnum, { nullable: true })
  @IsOptional()
  idpSsoBinding?: SamlBindingName | null;

  @Field(() => [String], { nullable: true, description: "Replaces the list (to rotate: send old and new, later only the new)." })
  @IsOptional()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_IDP_CERTIFICATES)
  @MaxLength(MAX_PEM, { each: true })
  idpCertificates?: string[] | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 1024)
  @NoControlCharacters()
  spEntityId?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 2048)
  acsUrl?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  emailAttribute?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  displayNameAttribute?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 256)
  @NoControlCharacters()
  groupsAttribute?: string | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(0)
  @Max(300)
  clockSkewSeconds?: number | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  allowIdpInitiated?: boolean | null;
}
