import type { EntityManager } from "typeorm";
import type { AppError } from "./errors";
import type { Principal } from "./principal";

/** Per-request context handed to rules and resolvers. Built in src/server/context.ts. */
export interface RequestContext {
  readonly requestId: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** null when no credential was sent or it was rejected (then credentialError says why). */
  readonly principal: Principal | null;
  readonly credentialError: AppError | null;
  /** The transaction of the running mutation: its writes and its audit entry commit together. */
  em?: EntityManager;
  /** Set by a mutation's resolver: the organization and resource it acted on, for its audit entry. */
  auditTarget?: { organizationId: string | null; resource: string; details?: Record<string, unknown> };
}
