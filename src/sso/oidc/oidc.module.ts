/**
 * The OIDC relying party: connections over GraphQL, login routes over HTTP.
 * Wiring only; the rules live in the files it assembles.
 */
import { hostOf, type SsoModule, type SsoModuleDeps } from "../sso-module";
import { OidcClientService } from "./oidc-client.service";
import { OidcConnectionResolver } from "./oidc-connection.resolver";
import { OidcConnectionService } from "./oidc-connection.service";
import { OidcLoginService } from "./oidc-login.service";
import { OidcTransactionService } from "./oidc-transaction.service";
import { registerOidcRoutes } from "./oidc.routes";
import { OidcConnectionEntity } from "./oidc-connection.entity";


/** GraphQL resolver classes of the OIDC module (built into the schema by src/server/schema.ts). */
export const OIDC_RESOLVERS: Function[] = [OidcConnectionResolver];

export function createOidcModule(deps: SsoModuleDeps): SsoModule {
  // http issuers (loopback only) are for tests and local development, never production.
  const policy = { allowHttpLoopback: deps.env !== "production" };
  const connections = new OidcConnectionService(deps.organizations, deps.secrets, deps.publicUrl, policy);
  const clients = new OidcClientService(policy);
  const transactions = new OidcTransactionService(deps.db, deps.secrets);
  const login = new OidcLoginService({ db: deps.db, logger: deps.logger, organizations: deps.organizations, login: deps.login, connections, clients, transactions });
  return {
    resolvers: [[OidcConnectionResolver, new OidcConnectionResolver(deps.db, connections, clients, deps.organizations)]],
    registerRoutes(fastify) {
      registerOidcRoutes(fastify, login, { secureCookies: deps.publicUrl.startsWith("https:") });
    },
    async loginOptions(organizationId) {
      const rows = await deps.db.manager.find(OidcConnectionEntity, { where: { organizationId }, order: { createdAt: "ASC" } });
      return rows.map((row) => ({ protocol: "oidc" as const, name: hostOf(row.issuer), loginUrl: connections.loginUrlOf(row) }));
    },
  };
}
