import { Field, ObjectType } from "type-graphql";

@ObjectType("LoginOption")
export class LoginOptionType {
  @Field({ description: "saml or oidc" })
  protocol!: string;

  @Field({ description: "The identity provider's host, for the button label." })
  name!: string;

  @Field({ description: "GET <loginUrl>?redirect_uri=<frontend URL>&code_challenge=<S256>&state=<opaque>" })
  loginUrl!: string;
}

@ObjectType("LoginOptions", { description: "How a person with this email logs in (home-realm discovery)." })
export class LoginOptionsType {
  @Field(() => [LoginOptionType], { description: "SSO entry points of the person's organization; empty when it has none or SSO is off." })
  sso!: LoginOptionType[];

  @Field({ description: "May this person log in with a password? False when the organization enforces SSO." })
  passwordAllowed!: boolean;

  @Field({ description: "A sentence to show the person." })
  message!: string;
}
