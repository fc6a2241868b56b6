import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { ChangeFeed } from "../db/change-feed";
import type { Database } from "../db/database";
import type { OrganizationService } from "../organizations/organization.service";
import type { RoleService } from "../roles/role.service";
import type { UserService } from "../users/user.service";
import type { SecretBox } from "../shared/secret-box";
import type { LoginCompletion } from "./login.types";

/** What src/server/app.ts hands each SSO protocol module. */
export interface SsoModuleDeps {
  db: Database;
  /** Writers that change sessions or credentials tell every instance's caches through it. */
  changes: ChangeFeed;
  logger: Logger;
  organizations: OrganizationService;
  roles: RoleService;
  users: UserService;
  login: LoginCompletion;
  secrets: SecretBox;
  /** Public base URL of this service, e.g. https://rbac.example.com (defaults for ACS / redirect URIs). */
  publicUrl: string;
  /** NODE_ENV: OIDC accepts http issuers (loopback only) only outside production. */
  env: "development" | "production" | "test";
}

/** One way to log in to an organization, for home-realm discovery (`loginOptions`). */
export interface LoginOption {
  protocol: "saml" | "oidc";
  /** Something a person recognizes: the IdP's host. */
  name: string;
  /** Start here: `GET <loginUrl>?redirect_uri=<frontend URL>&code_challenge=<S256>&state=<opaque>`. */
  loginUrl: string;
}

/** A protocol module: its GraphQL resolvers (class → instance), its HTTP routes and its login entry points. */
export interface SsoModule {
  resolvers: ReadonlyArray<readonly [Function, object]>;
  registerRoutes(fastify: FastifyInstance): void;
  loginOptions?(organizationId: string): Promise<LoginOption[]>;
}

/** The host of an IdP URL, for a login button's label (the URL itself when it does not parse). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
