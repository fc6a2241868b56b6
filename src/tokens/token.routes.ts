/**
 * The tiny token endpoint the frontend talks to after a login, and our JWKS.
 *
 * - POST /auth/token   grant_type=authorization_code (code, redirect_uri, code_verifier)
 *                      grant_type=refresh_token (refresh_token) — form or JSON body
 * - POST /auth/logout  refresh_token — revokes the session
 * - GET  /.well-known/jwks.json
 * Errors are OAuth error bodies: { "error": "invalid_grant", "error_description": "..." }.
 * Responses are never cached.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { HttpMeta } from "../sso/login.types";
import type { SessionService } from "./session.service";
import { OAuthError } from "./session.service";
import type { SigningKeys } from "./signing-keys";

export function httpMeta(request: FastifyRequest): HttpMeta {
  const ua = request.headers["user-agent"];
  return { ip: request.ip ?? null, userAgent: typeof ua === "string" ? ua : null, requestId: String(request.id) };
}

export function registerTokenRoutes(fastify: FastifyInstance, sessions: SessionService, keys: SigningKeys): void {
  fastify.post("/auth/token", async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    return answer(reply, async () => {
      switch (body.grant_type) {
        case "authorization_code":
          return sessions.exchangeCode({ code: body.code, redirectUri: body.redirect_uri, codeVerifier: body.code_verifier }, httpMeta(request));
        case "refresh_token":
          return sessions.refresh(body.refresh_token, httpMeta(request));
        default:
          throw new OAuthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
      }
    });
  });

  fastify.post("/auth/logout", async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    return answer(reply, async () => {
      await sessions.logout(body.refresh_token, httpMeta(request));
      return { status: "logged out" };
    });
  });

  fastify.get("/.well-known/jwks.json", async (_request, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return keys.jwks();
  });
}

async function answer(reply: FastifyReply, work: () => Promise<unknown>): Promise<unknown> {
  reply.header("cache-control", "no-store");
  try {
    return await work();
  } catch (error) {
    if (error instanceof OAuthError) return reply.code(error.status).send({ error: error.error, error_description: error.description });
    throw error;
  }
}
