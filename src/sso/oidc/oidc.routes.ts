/**
 * HTTP routes of the OIDC relying party.
 *
 *   GET /auth/oidc/:connectionId/login?redirect_uri=<frontend URL>[&code_challenge=<S256>&code_challenge_method=S256][&state=<frontend state>]
 *       → 302 to the IdP's authorization endpoint, with the browser-binding cookie set
 *   GET /auth/oidc/:connectionId/callback?code=...&state=...[&iss=...]
 *       → 302 to the frontend URL with a one-time code (see src/sso/login.service.ts)
 *
 * Rules:
 * - The browser-binding cookie is HttpOnly, SameSite=Lax (sent on the IdP's top-level redirect
 *   back, not on cross-site subrequests), Path=/auth/oidc, Secure when the public URL is https,
 *   and lives as long as a login transaction (10 minutes). Only its SHA-256 is stored.
 * - Refusals answer JSON `{ "error": CODE, "message": "..." }` with a 4xx status (500 only for
 *   the unexpected, with a generic message); never a stack trace. Responses are `no-store`.
 * - The callback URL (authorization code, state) is not written to the request log.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, HTTP_STATUS } from "../../shared/errors";
import type { HttpMeta } from "../login.types";
import { TRANSACTION_TTL_MS } from "./oidc-transaction.service";
import type { OidcLoginService } from "./oidc-login.service";

export const BROWSER_COOKIE = "rbac_oidc_browser";
const COOKIE_PATH = "/auth/oidc";


type Params = { connectionId: string };
type LoginQuery = { redirect_uri?: unknown; code_challenge?: unknown; code_challenge_method?: unknown; state?: unknown };

export function registerOidcRoutes(fastify: FastifyInstance, login: OidcLoginService, options: { secureCookies: boolean }): void {
  fastify.get<{ Params: Params; Querystring: LoginQuery }>("/auth/oidc/:connectionId/login", async (request, reply) => {
    reply.header("cache-control", "no-store");
    try {
      const { location, browserBinding } = await login.start(
        request.params.connectionId,
        { redirectUri: request.query.redirect_uri, codeChallenge: request.query.code_challenge, codeChallengeMethod: request.query.code_challenge_method, state: request.query.state },
        request.cookies[BROWSER_COOKIE] ?? null,
        httpMeta(request),
      );
      reply.setCookie(BROWSER_COOKIE, browserBinding, {
        path: COOKIE_PATH,
        httpOnly: true,
        sameSite: "lax",
        secure: options.secureCookies,
        maxAge: TRANSACTION_TTL_MS / 1000,
      });
      return reply.redirect(location, 302);
    } catch (error) {
      return sendError(request, reply, error);
    }
  });

  fastify.get<{ Params: Params }>("/auth/oidc/:connectionId/callback", { logLevel: "warn" }, async (request, reply) => {
    reply.header("cache-control", "no-store");
    try {
      const params = new URL(request.url, "http://callback.invalid").searchParams;
      const { location } = await login.callback(request.params.connectionId, params, request.cookies[BROWSER_COOKIE] ?? null, httpMeta(request));
      return reply.redirect(location, 302);
    } catch (error) {
      return sendError(request, reply, error);
    }
  });
}

function httpMeta(request: FastifyRequest): HttpMeta {
  const userAgent = request.headers["user-agent"];
  return { ip: request.ip ?? null, userAgent: typeof userAgent === "string" ? userAgent : null, requestId: String(request.id) };
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof AppError) {
    if (error.detail) request.log.warn({ code: error.code, detail: error.detail }, error.message);
    return reply.code(HTTP_STATUS[error.code]).send({ error: error.code, message: error.message });
  }
  request.log.error({ err: error }, "OIDC route failed");
  return reply.code(500).send({ error: "INTERNAL_SERVER_ERROR", message: "Internal server error" });
}
