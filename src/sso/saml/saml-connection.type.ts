import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export const SamlBindingEnum = {
  HTTP_REDIRECT: "HTTP_REDIRECT",
  HTTP_POST: "HTTP_POST",
} as const;
export type SamlBindingName = keyof typeof SamlBindingEnum;
registerEnumType(SamlBindingEnum, {
  name: "SamlBinding",
  description: "How the signed AuthnRequest reaches the IdP's SSO URL: a redirect (query signature) or an auto-submitted form (XML signature).",
});

@ObjectType("SamlCertificate", { description: "An X.509 certificate (public): its PEM, SHA-256 fingerprint and validity." })
export class SamlCertificateType {
  @Field()
  pem!: string;

  @Field({ description: "SHA-256 fingerprint, colon-separated hex (as most IdP consoles show it)." })
  fingerprintSha256!: string;

  @Field()
  subject!: string;

  @Field()
  issuer!: string;

  @Field()
  notBefore!: Date;

  @Field()
  notAfter!: Date;

  @Field()
  expired!: boolean;
}

@ObjectType("SamlConnection", {
  description: "A SAML 2.0 identity provider of an organization, and our service-provider side of it. The SP private key is never readable.",
})
export class SamlConnectionType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field({ description: "The IdP's entity ID: the Issuer of its responses and assertions." })
  idpEntityId!: string;

  @Field({ description: "The IdP's single sign-on URL (where the AuthnRequest is sent)." })
  idpSsoUrl!: string;

  @Field(() => SamlBindingEnum)
  idpSsoBinding!: SamlBindingName;

  @Field(() => [SamlCertificateType], { description: "Every listed certificate verifies (rotation: keep the old one until the IdP has switched)." })
  idpCertificates!: SamlCertificateType[];

  @Field({ description: "Our SP entity ID (the Audience the IdP must name). Paste it into the IdP." })
  spEntityId!: string;

  @Field({ description: "Our Assertion Consumer Service URL (Recipient / Destination / Reply URL). Paste it into the IdP." })
  acsUrl!: string;

  @Field({ description: "Our SP metadata (entity ID, ACS URL, signing certificate), for IdPs that import metadata." })
  metadataUrl!: string;

  @Field({ description: "Where a login with this connection starts: `GET <loginUrl>?redirect_uri=<frontend URL>`." })
  loginUrl!: string;

  @Field(() => SamlCertificateType, { description: "Our certificate for signed AuthnRequests (the private key stays sealed in the database)." })
  spCertificate!: SamlCertificateType;

  @Field({ description: "Attribute (Name or FriendlyName) carrying the email address." })
  emailAttribute!: string;

  @Field({ description: "Attribute carrying the display name." })
  displayNameAttribute!: string;

  @Field({ description: "Attribute carrying the groups (one value per group)." })
  groupsAttribute!: string;

  @Field(() => Int, { description: "Allowed clock difference for NotBefore / NotOnOrAfter, 0-300 seconds." })
  clockSkewSeconds!: number;

  @Field({ description: "Whether responses the IdP sends unasked (no InResponseTo) are accepted." })
  allowIdpInitiated!: boolean;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
}
