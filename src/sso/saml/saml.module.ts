import { hostOf, type SsoModule, type SsoModuleDeps } from "../sso-module";
import { SamlConnectionResolver } from "./saml-connection.resolver";
import { SamlConnectionService } from "./saml-connection.service";
import { SamlRequestStore } from "./saml-request.store";
import { SamlResponseValidator } from "./saml-response.validator";
import { registerSamlRoutes } from "./saml.routes";
import { SamlConnectionEntity } from "./saml-connection.entity";


/** GraphQL resolver classes of the SAML module (built into the schema by src/server/schema.ts). */
export const SAML_RESOLVERS: Function[] = [SamlConnectionResolver];

export function createSamlModule(deps: SsoModuleDeps): SsoModule {
  const connections = new SamlConnectionService(deps.organizations, deps.secrets, deps.publicUrl);
  const store = new SamlRequestStore(deps.db);
  const validator = new SamlResponseValidator(deps.db, store, deps.login);
  return {
    resolvers: [[SamlConnectionResolver, new SamlConnectionResolver(deps.db, connections)]],
    registerRoutes(fastify) {
      registerSamlRoutes(fastify, { db: deps.db, logger: deps.logger, organizations: deps.organizations, login: deps.login, connections, store, validator });
    },
    async loginOptions(organizationId) {
      const rows = await deps.db.manager.find(SamlConnectionEntity, { where: { organizationId }, order: { createdAt: "ASC" } });
      return rows.map((row) => {
        const resolved = connections.resolve(row);
        return { protocol: "saml" as const, name: hostOf(resolved.idpSsoUrl), loginUrl: resolved.loginUrl };
      });
    },
  };
}
