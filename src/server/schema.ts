import type { GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType } from "type-graphql";
import { AuditResolver } from "../audit/audit.resolver";
import { RoleMappingResolver } from "../mappings/role-mapping.resolver";
import { OrganizationResolver } from "../organizations/organization.resolver";
import { AccessResolver } from "../roles/access.resolver";
import { ServiceAccountResolver } from "../service-accounts/service-account.resolver";
import { SigningKeyResolver } from "../tokens/signing-key.resolver";
import { UserResolver } from "../users/user.resolver";
import { LoginOptionsResolver } from "../sso/login-options.resolver";
import { OIDC_RESOLVERS } from "../sso/oidc/oidc.module";
import { PASSWORD_RESOLVERS } from "../sso/password/password.module";
import { ALERT_RESOLVERS } from "../audit/alerts/alerts.module";
import { LOG_STREAM_RESOLVERS } from "../audit/streams/log-stream.module";
import { RETENTION_RESOLVERS } from "../audit/retention/retention.module";
import { SAML_RESOLVERS } from "../sso/saml/saml.module";

export const RESOLVERS = [
  AccessResolver,
  OrganizationResolver,
  RoleMappingResolver,
  ServiceAccountResolver,
  AuditResolver,
  UserResolver,
  SigningKeyResolver,
  LoginOptionsResolver,
  ...SAML_RESOLVERS,
  ...OIDC_RESOLVERS,
  ...PASSWORD_RESOLVERS,
  ...ALERT_RESOLVERS,
  ...LOG_STREAM_RESOLVERS,
  ...RETENTION_RESOLVERS,
] as [Function, ...Function[]];

/** The type-graphql schema, without authorization or audit (those are applied in app.ts). */
export function buildTypeSchema(container?: ContainerType): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    container,
    validate: { forbidUnknownValues: false },
    // type-graphql requires a pubSub once a @Subscription exists. alertRaised brings its own
    // subscribe() (the app's alert feed, from the context), so no topic is ever used here.
    pubSub: {
      publish: () => undefined,
      subscribe: () => {
        throw new Error("no pubSub topics: every subscription brings its own subscribe()");
      },
    },
  });
}
