/**
 * Audits every root-field invocation. It wraps graphql-shield (it is applied first), so denials by
 * a rule — which no resolver ever sees — and unauthenticated attempts are recorded too.
 *
 * Rules:
 * - Mutation: the resolver's writes and its audit entry commit in one transaction. When the
 *   mutation fails (denied, bad input, conflict, error) that transaction rolls back and the failure
 *   is recorded on its own.
 * - Query: the answer leaves only after its entry is committed (group commit, see AuditLog).
 *   `can` / `checkPermissions` record one entry per decision. An operator may turn off the entries
 *   of successful reads and allowed decisions (AUDIT_READS=denials); denials never go unrecorded.
 * - If the entry cannot be written the caller gets AUDIT_UNAVAILABLE and nothing was done
 *   (fail closed): a mutation is rolled back, a decision is not given.
 * - An organization principal's entries land in its organization's stream; a platform principal's
 *   in the stream of the organization its mutation targeted, else in the platform stream.
 */
import { types } from "node:util";
import type { GraphQLResolveInfo } from "graphql";
import type { IMiddlewareFunction } from "graphql-middleware";
import type { Logger } from "pino";
import { operationRule } from "../authz/operations";
import type { AuditEntryEntity } from "../audit/audit-entry.entity";
import type { AuditLog, AuditRecord } from "../audit/audit-log";
import type { Database } from "../db/database";
import type { RequestContext } from "../shared/context";
import { AppError, AuditUnavailableError } from "../shared/errors";
import type { DecisionType } from "../roles/access.type";

type Resolve = (root: unknown, args: Record<string, unknown>, ctx: RequestContext, info: GraphQLResolveInfo) => unknown;

const DECISION_OPERATIONS = new Set(["Query.can", "Query.checkPermissions"]);

/** Called once per root field with its duration (seconds, audit included) and whether it succeeded. */
export type RootFieldObserver = (operation: string, seconds: number, ok: boolean) => void;

export interface AuditOptions {
  /** false (AUDIT_READS=denials): successful queries and allowed decisions are not recorded; denials, errors and mutations always are. */
  successfulReads: boolean;
}

export function auditMiddleware(db: Database, audit: AuditLog, logger: Logger, observe: RootFieldObserver = () => {}, options: AuditOptions = { successfulReads: true }) {
  const query: IMiddlewareFunction<unknown, RequestContext> = async (resolve, root, args, ctx, info) => {
    const operation = `Query.${info.fieldName}`;
    const started = performance.now();
    const outcome = await settle(() => (resolve as Resolve)(root, args, ctx, info));
    try {
      const records = recordsFor(ctx, operation, args, outcome).filter((r) => options.successfulReads || !r.success);
      if (records.length > 0) await durably(logger, audit, ctx, () => audit.record(records));
    } finally {
      observe(operation, (performance.now() - started) / 1000, !("error" in outcome));
    }
    if ("error" in outcome) throw outcome.error;
    return outcome.result;
  };

  const mutation: IMiddlewareFunction<unknown, RequestContext> = async (resolve, root, args, ctx, info) => {
    const operation = `Mutation.${info.fieldName}`;
    const started = performance.now();
    let ok = false;
    try {
      let written: AuditEntryEntity[] = [];
      const committed = await db.transaction(async (em) => {
        ctx.em = em;
        ctx.auditTarget = undefined;
        try {
          const result = await (resolve as Resolve)(root, args, ctx, info);
          if (isError(result)) throw result;
          await durably(logger, audit, ctx, async () => {
            written = await audit.appendInTransaction(em, recordsFor(ctx, operation, args, { result }));
          });
          return result;
        } finally {
          ctx.em = undefined;
        }
      });
      audit.markWritten();
      audit.announce(written);
      ok = true;
      return committed;
    } catch (error) {
      if (error instanceof AuditUnavailableError) throw error;
      await durably(logger, audit, ctx, () => audit.record(recordsFor(ctx, operation, args, { error })));
      throw error;
    } finally {
      observe(operation, (performance.now() - started) / 1000, ok);
    }
  };

  return { Query: query, Mutation: mutation };
}

type Outcome = { result: unknown } | { error: unknown };

async function settle(run: () => unknown): Promise<Outcome> {
  try {
    const result = await run();
    return isError(result) ? { error: result } : { result };
  } catch (error) {
    return { error };
  }
}

/** graphql-shield returns (not throws) errors; some come from another realm, where instanceof fails. */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

async function durably(logger: Logger, audit: AuditLog, ctx: RequestContext, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    audit.markFailed();
    logger.error({ reqId: ctx.requestId, err: error }, "audit entry could not be written; request refused");
    throw new AuditUnavailableError(error instanceof Error ? error.message : String(error));
  }
}

function recordsFor(ctx: RequestContext, operation: string, args: Record<string, unknown>, outcome: Outcome): AuditRecord[] {
  const base = baseRecord(ctx, operation, args);
  if ("error" in outcome) return [{ ...base, success: false, reason: reasonOf(outcome.error) }];
  if (DECISION_OPERATIONS.has(operation)) {
    const decisions = ([] as DecisionType[]).concat(outcome.result as DecisionType | DecisionType[]);
    if (decisions.length === 0) return [{ ...base, resource: "*", reason: "no checks requested" }];
    return decisions.map((d) => ({ ...base, action: d.action.toLowerCase(), resource: d.resource ?? "*", success: d.allowed, reason: d.reason }));
  }
  return [base];
}

function baseRecord(ctx: RequestContext, operation: string, args: Record<string, unknown>): AuditRecord {
  const p = ctx.principal;
  const target = ctx.auditTarget;
  const requires = operationRule(operation)?.requires ?? [];
  return {
    organizationId: p?.organizationId ?? (p?.kind === "PLATFORM" ? target?.organizationId ?? null : null),
    actorId: p?.id ?? "anonymous",
    actorKind: p?.kind ?? null,
    role: p ? p.roleKey ?? (p.kind === "PLATFORM" ? "platform" : null) : null,
    action: requires.length > 0 ? requires.map((a) => a.toLowerCase()).join("+") : operation.startsWith("Mutation.") ? "mutation" : "query",
    operation,
    resource: target?.resource ?? resourceFromArgs(args),
    details: target?.details ?? null,
    success: true,
    reason: null,
    ipAddress: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
  };
}

/** What a call names when no resolver said more (denied calls, queries). */
function resourceFromArgs(args: Record<string, unknown>): string {
  const input = (args.input ?? args.filter ?? {}) as Record<string, unknown>;
  if (typeof args.id === "string") return `id:${args.id}`;
  const organizationId = args.organizationId ?? input.organizationId;
  if (typeof organizationId === "string") return `organization:${organizationId}`;
  if (typeof input.slug === "string") return `organization-slug:${input.slug}`;
  return "*";
}

function reasonOf(error: unknown): string {
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  if (error instanceof Error && (error as { extensions?: { code?: string } }).extensions?.code === "BAD_USER_INPUT") {
    return `BAD_USER_INPUT: ${error.message}`;
  }
  return "INTERNAL_SERVER_ERROR";
}
