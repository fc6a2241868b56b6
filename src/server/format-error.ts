/**
 * What a client may see of an error.
 *
 * Rules:
 * - AppErrors keep their code, message and extensions.
 * - Argument validation failures become BAD_USER_INPUT naming the field and the rule broken.
 * - GraphQL's own request errors (parse, validation, variable coercion) pass with their code.
 * - Everything else — database errors, bugs, graphql-js execution failures — becomes
 *   INTERNAL_SERVER_ERROR with a generic message; the original is logged, never sent.
 * - No stack trace ever leaves the server.
 */
import type { GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { ArgumentValidationError } from "type-graphql";
import type { ValidationError } from "class-validator";
import type { Logger } from "pino";
import type { ApolloServerPlugin } from "@apollo/server";
import type { RequestContext } from "../shared/context";
import { AppError } from "../shared/errors";

const REQUEST_ERROR_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    const original = originalOf(error);
    const where = { locations: formatted.locations, path: formatted.path };
    if (original instanceof AppError) {
      return { message: original.message, ...where, extensions: { ...original.extensions } };
    }
    if (original instanceof ArgumentValidationError) {
      const { field, message } = firstViolation(original.extensions.validationErrors as ValidationError[]);
      return { message: `Invalid input: ${message}`, ...where, extensions: { code: "BAD_USER_INPUT", field } };
    }
    const code = formatted.extensions?.code;
    const fromResolver = original !== error || formatted.path !== undefined;
    if (typeof code === "string" && REQUEST_ERROR_CODES.has(code) && !fromResolver) {
      return { message: formatted.message, locations: formatted.locations, extensions: { code } };
    }
    return { message: "Internal server error", ...where, extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

/** Logs what formatError hides (and AppError details), with the request id. */
export function errorLoggingPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const original = originalOf(error);
            const log = { reqId: contextValue.requestId, path: error.path };
            if (original instanceof AppError) {
              if (original.detail) logger.warn({ ...log, code: original.code, detail: original.detail }, original.message);
            } else if (!(original instanceof ArgumentValidationError) && !(error.extensions?.code && REQUEST_ERROR_CODES.has(String(error.extensions.code)) && !error.path)) {
              logger.error({ ...log, err: original }, "internal error (masked in the response)");
            }
          }
        },
      };
    },
  };
}

/** The thrown error behind a resolver or validation error. */
function originalOf(error: unknown): unknown {
  const unwrapped = unwrapResolverError(error);
  const inner = (unwrapped as { originalError?: unknown } | null)?.originalError;
  return inner instanceof AppError ? inner : unwrapped;
}

function firstViolation(errors: ValidationError[], parent = ""): { field: string; message: string } {
  for (const e of errors ?? []) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    if (e.constraints) {
      const message = Object.values(e.constraints)[0];
      return { field, message: message.startsWith(e.property) ? `${field}${message.slice(e.property.length)}` : `${field}: ${message}` };
    }
    if (e.children?.length) return firstViolation(e.children, field);
  }
  return { field: parent || "input", message: "invalid value" };
}
