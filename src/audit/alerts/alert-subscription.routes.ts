/**
 * GraphQL subscriptions over WebSocket (graphql-ws, protocol graphql-transport-ws) on the HTTP
 * server's /graphql path.
 *
 * Rules:
 * - The connection authenticates once, in ConnectionInit: `connectionParams.authorization` =
 *   "Bearer <API key or access token>", checked by the same Authentication as HTTP requests. No or
 *   a refused credential closes the socket with 4403 Forbidden. Tokens never travel in the URL,
 *   and no cookie is used, so a cross-site page cannot ride on a browser's session.
 * - Only subscription operations are served here (queries and mutations keep going through HTTP,
 *   with their limits and audit). A document is parsed with the same token limit as HTTP (2000),
 *   validated with graphql's rules, and must name `alertRaised` directly.
 * - Each subscription start — allowed or refused — and each connection attempt is audited, and the
 *   answer waits for the entry (fail closed: no entry, no subscription).
 * - At most 10 subscriptions per connection; messages up to 64 KiB; 5 s to send ConnectionInit.
 * - Errors leave with their code (AppError) or masked as INTERNAL_SERVER_ERROR; never a stack.
 * - A subscription sent over HTTP POST/GET is refused (BAD_USER_INPUT) and audited.
 * - The client IP is the socket's peer address (TRUST_PROXY is not applied to WebSocket upgrades).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  GraphQLError,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { AppError, AuditUnavailableError, BadUserInputError, UnauthenticatedError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import type { Authentication } from "../../tokens/authentication";
import type { AuditLog, AuditRecord } from "../audit-log";
import type { AlertEvents } from "./alert-events";
import { ALERT_SUBSCRIPTION, authorizeAlertSubscription, inScope, type AlertScope, type AlertSubscriptionContext } from "./alert-subscription.resolver";

const PATH = "/graphql";
const MAX_TOKENS = 2000;
const MAX_SUBSCRIPTIONS = 10;
const MAX_PAYLOAD = 64 * 1024;
const RECHECK_MS = 5_000;
const KEEP_ALIVE_MS = 12_000;

export interface AlertSubscriptionDeps {
  authentication: Authentication;
  audit: AuditLog;
  logger: Logger;
  events: AlertEvents;
  env: string;
}

interface Connection {
  principal: Principal;
  authorization: string;
  ip: string | null;
  userAgent: string | null;
  checkedAt: number;
}

export function registerAlertSubscriptions(fastify: FastifyInstance, schema: GraphQLSchema, deps: AlertSubscriptionDeps): { close(): Promise<void> } {
  const { authentication, audit, logger, events } = deps;
  const connections = new WeakMap<object, Connection>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((request.url ?? "").split("?")[0] !== PATH) {
      // Another module may serve this path; when none does, refuse rather than leave it hanging.
      if (fastify.server.listenerCount("upgrade") === 1) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      }
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
  };
  fastify.server.on("upgrade", onUpgrade);

  const record = (meta: { ipAddress: string | null; userAgent: string | null; requestId: string }, fields: Partial<AuditRecord> & Pick<AuditRecord, "operation" | "success">) =>
    audit.record([
      {
        organizationId: null,
        actorId: "anonymous",
        actorKind: null,
        role: null,
        action: "read",
        resource: "*",
        reason: null,
        ...meta,
        ...fields,
      },
    ]);

  const actor = (p: Principal) => ({
    organizationId: p.organizationId,
    actorId: p.id,
    actorKind: p.kind,
    role: p.roleKey ?? (p.kind === "PLATFORM" ? "platform" : null),
  });

  const metaOf = (request: IncomingMessage) => {
    const userAgent = request.headers["user-agent"];
    return { ipAddress: request.socket.remoteAddress ?? null, userAgent: typeof userAgent === "string" ? userAgent.slice(0, 512) : null, requestId: randomUUID() };
  };

  const server = useServer<Record<string, unknown> | undefined, { request: IncomingMessage }>(
    {
      schema,
      isProd: deps.env === "production",
      connectionInitWaitTimeout: 5_000,

      onConnect: async (ctx) => {
        const meta = metaOf(ctx.extra.request);
        const params = ctx.connectionParams ?? {};
        const header = params.authorization ?? params.Authorization;
        const result =
          typeof header === "string" && header !== ""
            ? await authentication.fromAuthorizationHeader(header)
            : { principal: null, error: new UnauthenticatedError("Authentication required: send connectionParams { authorization: 'Bearer <API key or access token>' }") };
        if (!result.principal) {
          await record(meta, { operation: "Subscription.connect", action: "authenticate", success: false, reason: `UNAUTHENTICATED: ${result.error?.message ?? "refused"}` });
          return false;
        }
        await record(meta, { ...actor(result.principal), operation: "Subscription.connect", action: "authenticate", success: true });
        connections.set(ctx, { principal: result.principal, authorization: header as string, ip: meta.ipAddress, userAgent: meta.userAgent, checkedAt: Date.now() });
        return true;
      },

      onSubscribe: async (ctx, _id, payload) => {
        const connection = connections.get(ctx);
        if (!connection) return [new UnauthenticatedError()];
        const meta = { ipAddress: connection.ip, userAgent: connection.userAgent, requestId: randomUUID() };
        const prepared = prepare(schema, payload.query, payload.operationName ?? null, payload.variables ?? null);
        if (prepared instanceof Array) return prepared;
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS) {
          return [new BadUserInputError("subscriptions", `At most ${MAX_SUBSCRIPTIONS} subscriptions per connection`)];
        }
        const scope = authorizeAlertSubscription(connection.principal, null, prepared.organizationId);
        const resource = prepared.organizationId ? `organization:${prepared.organizationId}` : "*";
        const target = connection.principal.organizationId ?? (scope instanceof AppError ? null : scope.organizationId);
        try {
          await record(meta, {
            ...actor(connection.principal),
            organizationId: target,
            operation: ALERT_SUBSCRIPTION,
            resource,
            success: !(scope instanceof AppError),
            reason: scope instanceof AppError ? `${scope.code}: ${scope.message}` : null,
          });
        } catch (error) {
          audit.markFailed();
          logger.error({ err: error }, "audit entry of a subscription could not be written; subscription refused");
          return [new AuditUnavailableError()];
        }
        if (scope instanceof AppError) return [scope];
        const contextValue: AlertSubscriptionContext = {
          requestId: meta.requestId,
          ip: connection.ip,
          userAgent: connection.userAgent,
          principal: connection.principal,
          credentialError: null,
          alertFeed: (s: AlertScope) => events.subscribe({ accepts: (alert) => inScope(s, alert), check: () => recheck(connection) }),
        };
        return { schema, document: prepared.document, operationName: payload.operationName, variableValues: payload.variables ?? undefined, contextValue };
      },

      onError: (_ctx, _id, _payload, errors) => errors.map((e) => publicError(e, logger)),
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map((e) => publicError(e, logger)) } : undefined),
    },
    wss,
    KEEP_ALIVE_MS,
  );

  /** The connection's credential, checked again before an event at most every RECHECK_MS. */
  const recheck = async (connection: Connection) => {
    if (Date.now() - connection.checkedAt < RECHECK_MS) return;
    const { principal } = await authentication.fromAuthorizationHeader(connection.authorization);
    if (!principal || principal.id !== connection.principal.id || principal.organizationId !== connection.principal.organizationId) {
      throw new UnauthenticatedError("The credential of this subscription is no longer valid (revoked, expired or changed); reconnect with a current one");
    }
    connection.principal = principal;
    connection.checkedAt = Date.now();
  };

  // A subscription sent as a plain HTTP request is refused before Apollo sees it (and audited).
  fastify.addHook("preHandler", async (request, reply) => {
    if (request.routeOptions.url !== PATH) return;
    const subscription = httpSubscription(request);
    if (!subscription) return;
    const { principal, error } = await authentication.fromAuthorizationHeader(request.headers.authorization);
    const reason = notOverHttpMessage;
    await record(
      { ipAddress: request.ip ?? null, userAgent: typeof request.headers["user-agent"] === "string" ? request.headers["user-agent"].slice(0, 512) : null, requestId: String(request.id) },
      { ...(principal ? actor(principal) : {}), operation: ALERT_SUBSCRIPTION, success: false, reason: `BAD_USER_INPUT: ${reason}${error ? ` (${error.code})` : ""}` },
    );
    return reply.code(400).send({ errors: [{ message: reason, extensions: { code: "BAD_USER_INPUT" } }] });
  });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      fastify.server.off("upgrade", onUpgrade);
      await Promise.resolve()
        .then(() => server.dispose())
        .catch((error: unknown) => logger.warn({ err: error }, "closing the subscription server failed"));
    })());
  fastify.addHook("preClose", close);
  return { close };
}

const notOverHttpMessage = "Subscriptions are served over WebSocket only: connect a graphql-ws client (protocol graphql-transport-ws) to ws(s)://<host>/graphql";

interface Prepared {
  document: DocumentNode;
  organizationId: string | null;
}

/** Parses and validates a subscription document; its errors otherwise. */
function prepare(schema: GraphQLSchema, query: string, operationName: string | null, variables: Record<string, unknown> | null): Prepared | GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: MAX_TOKENS });
  } catch (error) {
    return [error instanceof GraphQLError ? withCode(error, "GRAPHQL_PARSE_FAILED") : new GraphQLError("Syntax error", { extensions: { code: "GRAPHQL_PARSE_FAILED" } })];
  }
  const invalid = validate(schema, document, specifiedRules);
  if (invalid.length > 0) return invalid.map((e) => withCode(e, "GRAPHQL_VALIDATION_FAILED"));
  const operation = getOperationAST(document, operationName);
  if (!operation) return [new BadUserInputError("operationName", "Name the operation to run (operationName)")];
  if (operation.operation !== "subscription") {
    return [new BadUserInputError("operation", "Only subscriptions are served over WebSocket; send queries and mutations as HTTP requests to /graphql")];
  }
  const [selection] = operation.selectionSet.selections;
  if (operation.selectionSet.selections.length !== 1 || selection.kind !== "Field" || selection.name.value !== "alertRaised") {
    return [new BadUserInputError("operation", "Select alertRaised directly under subscription")];
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return coerced.errors.map((e) => withCode(e, "BAD_USER_INPUT"));
  const field = schema.getSubscriptionType()!.getFields().alertRaised;
  const args = getArgumentValues(field, selection as FieldNode, coerced.coerced);
  const organizationId = typeof args.organizationId === "string" ? args.organizationId : null;
  return { document, organizationId };
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });
}

const PUBLIC_CODES = new Set(["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"]);

/** AppErrors and request errors keep their message and code; anything else is masked (and logged). */
function publicError(error: GraphQLError, logger: Logger): GraphQLFormattedError {
  const original = error.originalError ?? error;
  if (original instanceof AppError) return { message: original.message, locations: error.locations, path: error.path, extensions: { ...original.extensions } };
  const code = error.extensions?.code;
  if (typeof code === "string" && PUBLIC_CODES.has(code) && !error.originalError) return { message: error.message, locations: error.locations, extensions: { code } };
  logger.error({ err: original }, "subscription error (masked in the answer)");
  return { message: "Internal server error", locations: error.locations, path: error.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

/** Is this HTTP request a GraphQL subscription? Only documents that mention the word are parsed. */
function httpSubscription(request: FastifyRequest): boolean {
  const source = (request.method === "GET" ? request.query : request.body) as Record<string, unknown> | null | undefined;
  const query = source && typeof source === "object" ? source.query : undefined;
  if (typeof query !== "string" || !query.includes("subscription")) return false;
  try {
    const operationName = typeof source!.operationName === "string" ? source!.operationName : null;
    return getOperationAST(parse(query, { maxTokens: MAX_TOKENS }), operationName)?.operation === "subscription";
  } catch {
    return false;
  }
}
