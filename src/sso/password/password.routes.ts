/**
 * HTTP route of password login.
 *
 *   POST /auth/password/login   application/json
 *     { "email", "password", "redirect_uri", "code_challenge"?, "code_challenge_method"? ("S256"), "state"? }
 *     200 { "redirect_url": "<frontend URL>?code=…&state=…" }   the SPA navigates there
 *     401 { "error": "INVALID_CREDENTIALS", "message": "Wrong email or password" }   unknown account or wrong password
 *     429 { "error": "RATE_LIMITED", … } + Retry-After                              account or IP locked
 *     403 { "error": "SSO_REQUIRED", "message", "sso_login_urls": [...] }           the organization enforces SSO
 *     400 BAD_USER_INPUT (with "field") / SSO_CALLBACK_MISMATCH; 415 for a body that is not JSON
 *
 * Rules:
 * - JSON only: a cross-site HTML form cannot post here (no login CSRF), and the body — the password —
 *   is never logged (Fastify logs method and URL only). Responses are `no-store`.
 * - Refusals answer JSON `{ "error": CODE, "message": "..." }` with a 4xx status; anything
 *   unexpected a generic 500. Never a stack trace.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, HTTP_STATUS, type ErrorCode } from "../../shared/errors";
import { httpMeta } from "../../tokens/token.routes";
import { InvalidCredentialsError, type PasswordLoginService } from "./password-login.service";

/** A deactivated account (SSO_LOGIN_FAILED) is a refusal of the person, not of a malformed request. */
const STATUS: Readonly<Record<ErrorCode, number>> = { ...HTTP_STATUS, SSO_LOGIN_FAILED: 403 };

export function registerPasswordRoutes(fastify: FastifyInstance, login: PasswordLoginService): void {
  // Errors before the handler (body too large, broken JSON, unknown media type) are refused logins too.
  const errorHandler = async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    reply.header("cache-control", "no-store");
    if (!error.statusCode || error.statusCode >= 500) return sendError(request, reply, error);
    await login.recordMalformed(`BAD_REQUEST: ${error.code ?? error.statusCode}`, httpMeta(request));
    // Not error.message: a JSON syntax error quotes the body, and so the password.
    if (error.statusCode === 415) return reply.code(415).send({ error: "UNSUPPORTED_MEDIA_TYPE", message: "Send the login as application/json" });
    if (error.statusCode === 413) return reply.code(413).send({ error: "BAD_REQUEST", message: "The request body is too large" });
    return reply.code(error.statusCode).send({ error: "BAD_REQUEST", message: "The request body is not valid JSON" });
  };

  fastify.post("/auth/password/login", { errorHandler }, async (request, reply) => {
    reply.header("cache-control", "no-store");
    if (!isJson(request)) {
      await login.recordMalformed("UNSUPPORTED_MEDIA_TYPE: not application/json", httpMeta(request));
      return reply.code(415).send({ error: "UNSUPPORTED_MEDIA_TYPE", message: "Send the login as application/json" });
    }
    try {
      const { redirectUrl } = await login.handle(request.body, httpMeta(request));
      return reply.code(200).send({ redirect_url: redirectUrl });
    } catch (error) {
      return sendError(request, reply, error);
    }
  });
}

function isJson(request: FastifyRequest): boolean {
  const type = request.headers["content-type"];
  return typeof type === "string" && /^application\/json\s*(;|$)/i.test(type);
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof InvalidCredentialsError) return reply.code(401).send(error.body);
  if (error instanceof AppError) {
    if (error.detail) request.log.warn({ code: error.code, detail: error.detail }, error.message);
    const body: Record<string, unknown> = { error: error.code, message: error.message };
    const ext = error.extensions as Record<string, unknown>;
    if (error.code === "BAD_USER_INPUT" && typeof ext.field === "string") body.field = ext.field;
    if (error.code === "SSO_REQUIRED") body.sso_login_urls = ext.ssoLoginUrls ?? [];
    if (error.code === "RATE_LIMITED" && typeof ext.retryAfterSeconds === "number") {
      reply.header("retry-after", String(ext.retryAfterSeconds));
      body.retry_after = ext.retryAfterSeconds;
    }
    return reply.code(STATUS[error.code]).send(body);
  }
  request.log.error({ err: error }, "password login failed");
  return reply.code(500).send({ error: "INTERNAL_SERVER_ERROR", message: "Internal server error" });
}
