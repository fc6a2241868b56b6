/**
 * The one error family of the service.
 *
 * Rules:
 * - Every error a client may see is an AppError with a fixed `extensions.code` and a public message
 *   a person can act on; `detail` is internal and only reaches the logs.
 * - Anything that is not an AppError (or a GraphQL parse / validation error) is masked by the
 *   server to INTERNAL_SERVER_ERROR (see src/server/format-error.ts).
 */
import { GraphQLError } from "graphql";

export type ErrorCode =
  | "UNAUTHENTICATED"
  | "TOKEN_EXPIRED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "BAD_USER_INPUT"
  | "CONFLICT"
  | "AUDIT_UNAVAILABLE"
  | "NO_ROLE_MAPPING"
  | "SSO_REQUIRED"
  | "SSO_DISABLED"
  | "SSO_CALLBACK_MISMATCH"
  | "SSO_LOGIN_FAILED"
  | "DOMAIN_NOT_ALLOWED"
  | "RATE_LIMITED"
  | "INTERNAL_SERVER_ERROR";

/** The HTTP status of each code, for the routes beside /graphql (one table for all of them). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  SSO_LOGIN_FAILED: 400,
  SSO_CALLBACK_MISMATCH: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  SSO_DISABLED: 403,
  SSO_REQUIRED: 403,
  DOMAIN_NOT_ALLOWED: 403,
  NO_ROLE_MAPPING: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
  AUDIT_UNAVAILABLE: 503,
};

export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, options: { detail?: string; extensions?: Record<string, unknown> } = {}) {
    super(message, { extensions: { ...options.extensions, code } });
    this.code = code;
    this.detail = options.detail;
    this.name = "AppError";
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = "Authentication required: send 'Authorization: Bearer <API key or access token>'", detail?: string) {
    super("UNAUTHENTICATED", message, { detail });
  }
}

/** Lists exactly what is missing, as the seed's middleware does: "Missing permission: delete". */
export class ForbiddenError extends AppError {
  constructor(readonly missing: string[]) {
    super("FORBIDDEN", `Missing permission: ${missing.join(", ")}`, { extensions: { missing } });
  }
}

/** Used for missing objects AND for other organizations' objects: the two must be indistinguishable. */
export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super("NOT_FOUND", `${what} not found: ${id}`);
  }
}

export class BadUserInputError extends AppError {
  constructor(field: string, message: string) {
    super("BAD_USER_INPUT", message, { extensions: { field } });
  }
}

export class ConflictError extends AppError {
  constructor(field: string, message: string) {
    super("CONFLICT", message, { extensions: { field } });
  }
}

/** The audit trail could not be written: the action did not happen (fail closed). */
export class AuditUnavailableError extends AppError {
  constructor(detail?: string) {
    super("AUDIT_UNAVAILABLE", "The audit trail is unavailable, so the request was not carried out; try again later", { detail });
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * A refused login (SAML / OIDC / password). `message` is shown to the person (a specific, actionable
 * reason such as "callback URL mismatch: expected X, got Y"); `detail` goes to logs and the audit
 * entry only.
 */
export class SsoError extends AppError {
  constructor(
    code: Extract<ErrorCode, "NO_ROLE_MAPPING" | "SSO_REQUIRED" | "SSO_DISABLED" | "SSO_CALLBACK_MISMATCH" | "SSO_LOGIN_FAILED" | "DOMAIN_NOT_ALLOWED" | "RATE_LIMITED" | "UNAUTHENTICATED">,
    message: string,
    options: { detail?: string; extensions?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}
