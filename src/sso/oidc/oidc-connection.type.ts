import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export const OidcClientAuthMethodEnum = {
  CLIENT_SECRET_BASIC: "CLIENT_SECRET_BASIC",
  CLIENT_SECRET_POST: "CLIENT_SECRET_POST",
  NONE: "NONE",
} as const;
export type OidcClientAuthMethodName = keyof typeof OidcClientAuthMethodEnum;
registerEnumType(OidcClientAuthMethodEnum, {
  name: "OidcClientAuthMethod",
  description: "How we authenticate at the IdP's token endpoint. NONE: public client (PKCE only), no secret is kept.",
});

@ObjectType("OidcConnection", { description: "An OpenID Connect identity provider of an organization. The client secret is write-only." })
export class OidcConnectionType {
  @Field(() => ID)
  id!: string;

  @Field({ description: "Issuer identifier; `<issuer>/.well-known/openid-configuration` is fetched (discovery)." })
  issuer!: string;

  @Field()
  clientId!: string;

  @Field({ description: "Whether a client secret is stored (it is never returned)." })
  hasClientSecret!: boolean;

  @Field(() => OidcClientAuthMethodEnum)
  clientAuthMethod!: OidcClientAuthMethodName;

  @Field({ description: "The redirect (callback) URI to register at the IdP." })
  redirectUri!: string;

  @Field({ description: "Where a login with this connection starts: `GET <loginUrl>?redirect_uri=<frontend URL>`." })
  loginUrl!: string;

  @Field({ description: "Space-separated scopes requested; always includes openid." })
  scopes!: string;

  @Field({ description: "ID token / UserInfo claim that carries the person's groups." })
  groupsClaim!: string;

  @Field(() => Int, { description: "An ID token issued (iat) longer ago than this is refused." })
  maxIdTokenAgeSeconds!: number;

  @Field(() => Int, { nullable: true, description: "When set: sent as max_age, and auth_time must be at most this old." })
  maxAuthAgeSeconds!: number | null;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
  // organization is a field resolver (oidc-connection.resolver.ts).
}
