/**
 * Password login: password accounts over GraphQL, the login route over HTTP.
 * Wiring only; the rules live in the files it assembles.
 */
import type { SsoModule, SsoModuleDeps } from "../sso-module";
import { PasswordLoginLimiter } from "./password-login.limiter";
import { PasswordLoginService } from "./password-login.service";
import { PasswordUserResolver } from "./password-user.resolver";
import { PasswordUserService } from "./password-user.service";
import { registerPasswordRoutes } from "./password.routes";

/** GraphQL resolver classes of the password-login module (built into the schema by src/server/schema.ts). */
export const PASSWORD_RESOLVERS: Function[] = [PasswordUserResolver];

export function createPasswordModule(deps: SsoModuleDeps): SsoModule {
  const limiter = new PasswordLoginLimiter(deps.db);
  const accounts = new PasswordUserService(deps.organizations, deps.roles, deps.users, (em, email) => limiter.unlockAccount(em, email), deps.changes);
  const login = new PasswordLoginService(deps.db, deps.login, limiter, deps.publicUrl);
  return {
    resolvers: [[PasswordUserResolver, new PasswordUserResolver(deps.db, accounts)]],
    registerRoutes(fastify) {
      registerPasswordRoutes(fastify, login);
    },
  };
}
