/**
 * The SAML HTTP routes beside /graphql.
 *
 * Rules:
 * - GET  /auth/saml/:connectionId/metadata  our SP metadata (public: IdPs fetch it).
 * - GET  /auth/saml/:connectionId/login     organization SSO off → SSO_DISABLED; redirect_uri must be
 *   an allowed frontend URL (login flow); the request ID, redirect URI, PKCE challenge and state are
 *   stored in the database; the browser goes to the IdP with an AuthnRequest signed with RSA-SHA256
 *   (query signature for HTTP-Redirect, XML signature in an auto-posted form for HTTP-POST).
 * - POST /auth/saml/:connectionId/acs       SAMLResponse (+ RelayState) → validator → login flow →
 *   302 to the frontend with a one-time code.
 * - Every refusal answers JSON `{ error, message }` with a 4xx status (never a stack trace) and is
 *   recorded once through the login flow's recordFailure (refusals by the login flow itself are
 *   audited there, not again here). No session exists before the login flow succeeds.
 */
import { randomBytes } from "node:crypto";
import { SAML, ValidateInResponseTo } from "@node-saml/node-saml";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Database } from "../../db/database";
import type { OrganizationService } from "../../organizations/organization.service";
import { AppError, BadUserInputError, HTTP_STATUS, NotFoundError, SsoError } from "../../shared/errors";
import type { HttpMeta, LoginCompletion } from "../login.types";
import type { ResolvedSamlConnection, SamlConnectionService } from "./saml-connection.service";
import type { SamlConnectionEntity } from "./saml-connection.entity";
import { buildSpMetadata } from "./saml-metadata";
import type { SamlRequestStore } from "./saml-request.store";
import { SamlRefusal, type SamlResponseValidator } from "./saml-response.validator";


const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43,128}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface SamlRouteDeps {
  db: Database;
  logger: Logger;
  organizations: OrganizationService;
  login: LoginCompletion;
  connections: SamlConnectionService;
  store: SamlRequestStore;
  validator: SamlResponseValidator;
}

type Params = { connectionId: string };

export function registerSamlRoutes(fastify: FastifyInstance, deps: SamlRouteDeps): void {
  const { db, logger, organizations, login, connections, store, validator } = deps;

  const load = async (id: string): Promise<{ entity: SamlConnectionEntity; connection: ResolvedSamlConnection } | null> => {
    const entity = await connections.find(db.manager, id);
    return entity ? { entity, connection: connections.resolve(entity) } : null;
  };

  /** Refuses a login: one recordFailure, then the JSON answer. */
  const refuse = async (request: FastifyRequest, reply: FastifyReply, error: unknown, context: { organizationId: string | null; connectionId: string | null; actor?: string | null }) => {
    const appError = asAppError(error, logger, request);
    try {
      await login.recordFailure({
        organizationId: context.organizationId,
        connectionId: context.connectionId,
        protocol: "saml",
        reason: reasonOf(appError),
        actor: context.actor ?? (error instanceof SamlRefusal ? error.actor : null),
        http: httpMeta(request),
      });
    } catch (auditError) {
      logger.error({ reqId: request.id, err: auditError }, "the refused SAML login could not be audited");
    }
    return send(reply, appError);
  };

  const ssoOff = (slug: string) => new SsoError("SSO_DISABLED", `SSO is disabled for organization ${slug}; ask an administrator to enable it`);

  fastify.get<{ Params: Params }>("/auth/saml/:connectionId/metadata", async (request, reply) => {
    const found = await load(request.params.connectionId);
    if (!found) return send(reply, new NotFoundError("SAML connection", request.params.connectionId));
    const { connection } = found;
    return reply
      .header("cache-control", "public, max-age=300")
      .type("application/samlmetadata+xml; charset=utf-8")
      .send(buildSpMetadata({ entityId: connection.spEntityId, acsUrl: connection.acsUrl, certificatePem: connection.spCertificate }));
  });

  fastify.get<{ Params: Params; Querystring: Record<string, unknown> }>("/auth/saml/:connectionId/login", async (request, reply) => {
    const id = request.params.connectionId;
    const found = await load(id);
    if (!found) return refuse(request, reply, new NotFoundError("SAML connection", id), { organizationId: null, connectionId: null });
    const { entity, connection } = found;
    const context = { organizationId: connection.organizationId, connectionId: connection.id };
    try {
      const org = await organizations.find(db.manager, connection.organizationId);
      if (!org) throw new NotFoundError("SAML connection", id);
      if (!org.ssoEnabled) throw ssoOff(org.slug);
      const query = request.query ?? {};
      const redirectUri = single(query.redirect_uri, "redirect_uri");
      if (!redirectUri) throw new BadUserInputError("redirect_uri", "redirect_uri is required: the frontend URL to return to after the login");
      const codeChallenge = single(query.code_challenge, "code_challenge");
      if (codeChallenge !== null && !CODE_CHALLENGE.test(codeChallenge)) {
        throw new BadUserInputError("code_challenge", "code_challenge must be a PKCE S256 challenge (43-128 base64url characters)");
      }
      const method = single(query.code_challenge_method, "code_challenge_method");
      if (method !== null && method !== "S256") throw new BadUserInputError("code_challenge_method", "code_challenge_method must be S256");
      const state = single(query.state, "state");
      if (state !== null && (state.length > 512 || CONTROL.test(state))) throw new BadUserInputError("state", "state must be at most 512 characters without control characters");
      await login.assertRedirectAllowed(org.id, redirectUri);

      const requestId = `_${randomBytes(20).toString("hex")}`;
      await store.save(connection.id, requestId, { redirectUri, codeChallenge, clientState: state });
      const saml = new SAML({
        callbackUrl: connection.acsUrl,
        issuer: connection.spEntityId,
        entryPoint: connection.idpSsoUrl,
        idpCert: connection.idpCertificates,
        privateKey: connections.openSpKey(entity),
        publicCert: connection.spCertificate,
        signatureAlgorithm: "sha256",
        digestAlgorithm: "sha256",
        identifierFormat: null,
        disableRequestedAuthnContext: true,
        validateInResponseTo: ValidateInResponseTo.never,
        generateUniqueId: () => requestId,
      });
      reply.header("cache-control", "no-store");
      if (connection.idpSsoBinding === "post") {
        return reply.type("text/html; charset=utf-8").send(await saml.getAuthorizeFormAsync("", undefined, {}));
      }
      return reply.redirect(await saml.getAuthorizeUrlAsync("", undefined, {}), 302);
    } catch (error) {
      return refuse(request, reply, error, context);
    }
  });

  fastify.post<{ Params: Params; Body: unknown }>("/auth/saml/:connectionId/acs", async (request, reply) => {
    const id = request.params.connectionId;
    const found = await load(id);
    if (!found) return refuse(request, reply, new NotFoundError("SAML connection", id), { organizationId: null, connectionId: null });
    const { connection } = found;
    const context = { organizationId: connection.organizationId, connectionId: connection.id };
    let validated;
    try {
      const org = await organizations.find(db.manager, connection.organizationId);
      if (!org) throw new NotFoundError("SAML connection", id);
      if (!org.ssoEnabled) throw ssoOff(org.slug);
      const body = (request.body ?? {}) as Record<string, unknown>;
      if (typeof body.SAMLResponse !== "string" || body.SAMLResponse.length === 0) {
        throw new SamlRefusal("SSO_LOGIN_FAILED", "SAML response rejected: post the form field SAMLResponse (application/x-www-form-urlencoded)");
      }
      const relayState = typeof body.RelayState === "string" && body.RelayState !== "" ? body.RelayState : null;
      validated = await validator.validate(connection, body.SAMLResponse, relayState);
    } catch (error) {
      return refuse(request, reply, error, context);
    }
    try {
      const { redirectUrl } = await login.complete(validated.identity, validated.request, httpMeta(request));
      return reply.header("cache-control", "no-store").redirect(redirectUrl, 302);
    } catch (error) {
      return send(reply, asAppError(error, logger, request)); // the login flow audits its own refusals
    }
  });
}

function single(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw new BadUserInputError(name, `${name} must be given once`);
  return value;
}

function httpMeta(request: FastifyRequest): HttpMeta {
  const agent = request.headers["user-agent"];
  return { ip: request.ip ?? null, userAgent: typeof agent === "string" ? agent : null, requestId: request.id };
}

function asAppError(error: unknown, logger: Logger, request: FastifyRequest): AppError {
  if (error instanceof AppError) {
    if (error.detail) logger.info({ reqId: request.id, code: error.code, detail: error.detail }, error.message);
    return error;
  }
  logger.error({ reqId: request.id, err: error }, "SAML route failed");
  return new AppError("INTERNAL_SERVER_ERROR", "Internal server error");
}

function send(reply: FastifyReply, error: AppError) {
  const status = HTTP_STATUS[error.code];
  return reply.code(status).header("cache-control", "no-store").send({ error: error.code, message: error.message });
}

/** The audit reason: code, public message and the internal detail, without any long base64 (signatures, messages). */
function reasonOf(error: AppError): string {
  const detail = error.detail ? ` (${error.detail})` : "";
  return `${error.code}: ${error.message}${detail}`.replace(/[A-Za-z0-9+/=]{60,}/g, "…");
}
