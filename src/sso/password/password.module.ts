import type { SsoModule, SsoModuleDeps } from "../sso-module";

/** GraphQL resolver classes of the password-login module (built into the schema by src/server/schema.ts). */
export const PASSWORD_RESOLVERS: Function[] = [];

export function createPasswordModule(_deps: SsoModuleDeps): SsoModule {
  return { resolvers: [], registerRoutes() {} };
}
