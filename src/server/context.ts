import type { FastifyRequest } from "fastify";
import type { Authentication } from "../tokens/authentication";
import type { RequestContext } from "../shared/context";

export function contextFactory(authentication: Authentication) {
  return async (request: FastifyRequest): Promise<RequestContext> => {
    const { principal, error } = await authentication.fromAuthorizationHeader(request.headers.authorization);
    const userAgent = request.headers["user-agent"];
    return {
      requestId: String(request.id),
      ip: request.ip ?? null,
      userAgent: typeof userAgent === "string" ? userAgent : null,
      principal,
      credentialError: error,
    };
  };
}
