import type { EntityManager } from "typeorm";
import type { Database } from "../db/database";
import type { RequestContext } from "./context";
import { UnauthenticatedError } from "./errors";
import type { Principal } from "./principal";

/** The running mutation's transaction, else the plain manager (reads). */
export function managerFor(ctx: RequestContext, db: Database): EntityManager {
  return ctx.em ?? db.manager;
}

/** Rules guarantee a principal for every non-PUBLIC operation; this keeps the types honest. */
export function principalOf(ctx: RequestContext): Principal {
  if (!ctx.principal) throw ctx.credentialError ?? new UnauthenticatedError();
  return ctx.principal;
}

/** Lets a mutation name what it acted on, for its audit entry (mutations run one at a time). */
export function auditTarget(ctx: RequestContext, organizationId: string | null, resource: string): void {
  ctx.auditTarget = { organizationId, resource };
}
