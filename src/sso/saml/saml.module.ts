import type { SsoModule, SsoModuleDeps } from "../sso-module";

/** GraphQL resolver classes of the SAML module (built into the schema by src/server/schema.ts). */
export const SAML_RESOLVERS: Function[] = [];

export function createSamlModule(_deps: SsoModuleDeps): SsoModule {
  return { resolvers: [], registerRoutes() {} };
}
