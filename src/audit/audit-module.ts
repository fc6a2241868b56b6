import type { FastifyInstance } from "fastify";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import type { Database } from "../db/database";
import type { OrganizationService } from "../organizations/organization.service";
import type { SecretBox } from "../shared/secret-box";
import type { Authentication } from "../tokens/authentication";
import type { AuditLog } from "./audit-log";

/** What src/server/app.ts hands each audit feature module (alerts, log streams, retention). */
export interface AuditModuleDeps {
  db: Database;
  logger: Logger;
  audit: AuditLog;
  organizations: OrganizationService;
  secrets: SecretBox;
  authentication: Authentication;
  publicUrl: string;
  env: "development" | "production" | "test";
}

/** A feature module: GraphQL resolvers (class → instance), HTTP routes, and background work. */
export interface AuditModule {
  resolvers: ReadonlyArray<readonly [Function, object]>;
  registerRoutes?(fastify: FastifyInstance, schema: GraphQLSchema): void | Promise<void>;
  /** Starts background work (delivery workers, schedules) once the server listens. */
  start?(): void;
  /** Stops it at shutdown, before the database closes. */
  stop?(): Promise<void>;
}
