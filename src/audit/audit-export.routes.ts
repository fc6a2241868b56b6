/**
 * GET /audit/export?format=jsonl|csv&organizationId=&actorId=&action=&operation=&resource=&success=&from=&to=
 *
 * Rules:
 * - Authorized by the operation table's row `Http.auditExport` through the same decide() as every
 *   GraphQL field: no or refused credential → 401, a role without the action → 403
 *   ("Missing permission: read").
 * - Organization principals export only their own organization; naming another answers 404
 *   NOT_FOUND exactly like an organization that does not exist. Platform principals export any
 *   organization, or everything.
 * - Every request writes one audit entry (operation `Http.auditExport`, the filter as resource),
 *   refused ones included. An export starts streaming only once its entry is durable; if the entry
 *   cannot be written the answer is 503 AUDIT_UNAVAILABLE and nothing is exported (fail closed).
 * - Parameters are checked before anything is read: an unknown, repeated or malformed one → 400
 *   BAD_USER_INPUT naming the field.
 * - Errors are JSON `{ "error": CODE, "message": … }`; no response is cached.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decide } from "../authz/decide";
import { operationRule } from "../authz/operations";
import type { Database } from "../db/database";
import { AppError, AuditUnavailableError, BadUserInputError, UnauthenticatedError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import { AuditExportService, EXPORT_FORMATS, type ExportFormat } from "./audit-export.service";
import type { AuditLog, AuditRecord } from "./audit-log";
import type { AuditFilter, AuditQueryService, ScopedAuditFilter } from "./audit-query.service";

export const AUDIT_EXPORT_OPERATION = "Http.auditExport";
export const AUDIT_EXPORT_URL = "/audit/export";

export interface AuditExportDeps {
  db: Database;
  audit: AuditLog;
  queries: AuditQueryService;
  /** Authorization header → principal (the service's Authentication). */
  authenticate(authorization: string | undefined): Promise<{ principal: Principal | null; error: AppError | null }>;
  pageSize?: number;
}

const STATUS: Partial<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  AUDIT_UNAVAILABLE: 503,
};

export function registerAuditExportRoutes(fastify: FastifyInstance, deps: AuditExportDeps): void {
  const rule = operationRule(AUDIT_EXPORT_OPERATION);
  if (!rule) throw new Error(`The operation table has no row for ${AUDIT_EXPORT_OPERATION}`);
  const exporter = new AuditExportService(deps.db, deps.queries, deps.pageSize);

  fastify.route({
    method: "GET",
    url: AUDIT_EXPORT_URL,
    exposeHeadRoute: false, // a HEAD must not write an audit entry and run the export
    handler: async (request, reply) => {
      reply.header("cache-control", "no-store");
      const { principal, error: credentialError } = await deps.authenticate(request.headers.authorization);
      let params: ExportParams | null = null;
      let filter: ScopedAuditFilter | null = null;
      let refusal: AppError | null = null;
      try {
        const decision = decide(rule, principal, credentialError);
        if (decision !== true) throw decision;
        if (!principal) throw credentialError ?? new UnauthenticatedError();
        params = parseExportParams(request.query);
        filter = deps.queries.scope(principal, params.filter);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        refusal = error;
      }

      const resource = filter && params ? resourceOf(params.format, filter) : `audit-export?${rawQuery(request)}`;
      try {
        await deps.audit.record([entryFor(request, principal, resource, refusal)]);
      } catch (error) {
        request.log.error({ err: error }, "audit entry could not be written; export refused");
        return sendError(reply, new AuditUnavailableError());
      }
      if (refusal) return sendError(reply, refusal);

      const { format } = params!;
      const stream = await exporter.open(filter!, format);
      return reply
        .header("content-type", EXPORT_FORMATS[format].contentType)
        .header("content-disposition", `attachment; filename="${fileName(filter!, format)}"`)
        .header("x-content-type-options", "nosniff")
        .send(stream);
    },
  });
}

function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  const status = STATUS[error.code] ?? 500;
  if (status === 401) reply.header("www-authenticate", "Bearer");
  const extra = error.extensions ?? {};
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (typeof extra.field === "string") body.field = extra.field;
  if (Array.isArray(extra.missing)) body.missing = extra.missing;
  return reply.code(status).send(body);
}

function entryFor(request: FastifyRequest, principal: Principal | null, resource: string, refusal: AppError | null): AuditRecord {
  const userAgent = request.headers["user-agent"];
  return {
    organizationId: principal?.organizationId ?? null,
    actorId: principal?.id ?? "anonymous",
    actorKind: principal?.kind ?? null,
    role: principal ? principal.roleKey ?? (principal.kind === "PLATFORM" ? "platform" : null) : null,
    action: "read",
    operation: AUDIT_EXPORT_OPERATION,
    resource,
    success: refusal === null,
    reason: refusal ? `${refusal.code}: ${refusal.message}` : null,
    ipAddress: request.ip ?? null,
    userAgent: typeof userAgent === "string" ? userAgent : null,
    requestId: String(request.id),
  };
}

function rawQuery(request: FastifyRequest): string {
  const at = request.url.indexOf("?");
  return at < 0 ? "" : request.url.slice(at + 1);
}

// ─── Parameters ──────────────────────────────────────────────────────────────────────────────────

export interface ExportParams {
  format: ExportFormat;
  filter: AuditFilter;
}

/** The text filters and their longest accepted value (as the `auditEntries` filter input). */
const TEXT_FILTERS = { organizationId: 64, actorId: 64, action: 64, operation: 128, resource: 512 } as const;
const PARAMETERS = ["format", ...Object.keys(TEXT_FILTERS), "success", "from", "to"];

export function parseExportParams(query: unknown): ExportParams {
  const given = (query ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(given)) {
    if (!PARAMETERS.includes(name)) throw new BadUserInputError(name, `Unknown parameter: ${name.slice(0, 64)}; expected ${PARAMETERS.join(", ")}`);
    if (typeof value !== "string") throw new BadUserInputError(name, `${name} may be given once`);
  }
  const value = (name: string) => given[name] as string | undefined;

  const format = value("format") ?? "jsonl";
  if (!Object.hasOwn(EXPORT_FORMATS, format)) throw new BadUserInputError("format", "format must be jsonl or csv");

  const filter: AuditFilter = {};
  for (const [name, max] of Object.entries(TEXT_FILTERS) as Array<[keyof typeof TEXT_FILTERS, number]>) {
    const text = value(name);
    if (text === undefined) continue;
    if (text.length === 0 || text.length > max) throw new BadUserInputError(name, `${name} must be 1 to ${max} characters`);
    filter[name] = text;
  }
  const success = value("success");
  if (success !== undefined) {
    if (success !== "true" && success !== "false") throw new BadUserInputError("success", "success must be true or false");
    filter.success = success === "true";
  }
  for (const name of ["from", "to"] as const) {
    const text = value(name);
    if (text !== undefined) filter[name] = parseInstant(name, text);
  }
  if (filter.from && filter.to && filter.from > filter.to) throw new BadUserInputError("from", "from must not be after to");
  return { format: format as ExportFormat, filter };
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** ISO 8601: a date (UTC midnight) or a date-time with Z or an offset; impossible dates are refused. */
function parseInstant(field: string, text: string): Date {
  const m = INSTANT.exec(text);
  const problem = () => new BadUserInputError(field, `${field} must be an ISO 8601 instant such as 2026-01-31 or 2026-01-31T12:00:00Z`);
  if (!m) throw problem();
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(Number);
  const millis = Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3));
  const local = new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis));
  if (local.getUTCFullYear() !== year || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw problem();
  }
  const zone = m[8] ?? "Z";
  if (zone === "Z") return local;
  const [zh, zm] = zone.slice(1).split(":").map(Number);
  if (zh > 23 || zm > 59) throw problem();
  const offsetMinutes = (zone.startsWith("-") ? -1 : 1) * (zh * 60 + zm);
  return new Date(local.getTime() - offsetMinutes * 60_000);
}

/** The export's filter, as its audit entry names it. */
function resourceOf(format: ExportFormat, filter: ScopedAuditFilter): string {
  const parts = new URLSearchParams({ format });
  for (const name of [...Object.keys(TEXT_FILTERS), "success", "from", "to"] as Array<keyof AuditFilter>) {
    const value = filter[name];
    if (value != null) parts.set(name, value instanceof Date ? value.toISOString() : String(value));
  }
  return `audit-export?${parts.toString()}`;
}

function fileName(filter: ScopedAuditFilter, format: ExportFormat): string {
  const scope = filter.organizationId ? filter.organizationId.replace(/[^A-Za-z0-9._-]/g, "_") : "all";
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return `audit-${scope}-${stamp}.${EXPORT_FORMATS[format].extension}`;
}
