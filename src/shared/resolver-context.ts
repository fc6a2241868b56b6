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
export function auditTarget(ctx: RequestContext, organizationId: string | null, resource: string, details?: Record<string, unknown>): void {
  ctx.auditTarget = { organizationId, resource, details };
}

/** Before/after of the fields that changed, for the audit entry (never pass secrets). */
export function changedFields<T extends object>(before: T, after: T, fields: readonly (keyof T)[]): Record<string, [unknown, unknown]> {
  const changed: Record<string, [unknown, unknown]> = {};
  for (const field of fields) {
    const a = before[field] instanceof Date ? (before[field] as Date).toISOString() : before[field];
    const b = after[field] instanceof Date ? (after[field] as Date).toISOString() : after[field];
    if (JSON.stringify(a) !== JSON.stringify(b)) changed[String(field)] = [a ?? null, b ?? null];
  }
  return changed;
}
