import type { SsoModule, SsoModuleDeps } from "../sso-module";

/** GraphQL resolver classes of the OIDC module (built into the schema by src/server/schema.ts). */
export const OIDC_RESOLVERS: Function[] = [];

export function createOidcModule(_deps: SsoModuleDeps): SsoModule {
  return { resolvers: [], registerRoutes() {} };
}
