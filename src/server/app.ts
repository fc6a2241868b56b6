/**
 * The one place where everything is wired: database, services, authentication, the schema with
 * audit + shield, Apollo on Fastify, and the HTTP routes beside /graphql.
 */
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import fastifyCookie from "@fastify/cookie";
import fastifyFormbody from "@fastify/formbody";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from "@as-integrations/fastify";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import { applyMiddleware } from "graphql-middleware";
import { Client as PgClient } from "pg";
import pino, { type Logger } from "pino";
import type { ContainerType } from "type-graphql";
import { buildShield, withoutAllowWrappers } from "../authz/rules";
import { Metrics, type PoolStats } from "../metrics/metrics";
import { serveMetrics } from "../metrics/metrics-server";
import { registerAuditExportRoutes } from "../audit/audit-export.routes";
import { AuditLog } from "../audit/audit-log";
import { SqliteAuditWriter } from "../audit/sqlite-audit-writer";
import { AuditQueryService } from "../audit/audit-query.service";
import { AuditResolver } from "../audit/audit.resolver";
import type { AuditModuleDeps } from "../audit/audit-module";
import { createAlertsModule } from "../audit/alerts/alerts.module";
import { createLogStreamModule } from "../audit/streams/log-stream.module";
import { createRetentionModule } from "../audit/retention/retention.module";
import type { Config } from "../config/config";
import { createDataSource, parseDatabaseUrl } from "../db/data-source";
import { ChangeFeed } from "../db/change-feed";
import { Database } from "../db/database";
import { AdminPathGuard } from "../mappings/admin-path.guard";
import { RoleMappingResolver } from "../mappings/role-mapping.resolver";
import { RoleMappingService } from "../mappings/role-mapping.service";
import { OrganizationResolver } from "../organizations/organization.resolver";
import { OrganizationService } from "../organizations/organization.service";
import { AccessResolver } from "../roles/access.resolver";
import { RoleService } from "../roles/role.service";
import { ServiceAccountResolver } from "../service-accounts/service-account.resolver";
import { ServiceAccountService } from "../service-accounts/service-account.service";
import type { RequestContext } from "../shared/context";
import { loadOrCreateKeyFile } from "../shared/encryption-key";
import { SecretBox } from "../shared/secret-box";
import { LoginOptionsResolver } from "../sso/login-options.resolver";
import { LoginService } from "../sso/login.service";
import { createOidcModule } from "../sso/oidc/oidc.module";
import { createPasswordModule } from "../sso/password/password.module";
import { createSamlModule } from "../sso/saml/saml.module";
import type { SsoModuleDeps } from "../sso/sso-module";
import { AccessTokenAuthenticator } from "../tokens/access-token.authenticator";
import { AccessTokens } from "../tokens/access-tokens";
import { ApiKeyAuthenticator } from "../tokens/api-key.authenticator";
import { SessionService } from "../tokens/session.service";
import { SigningKeyResolver } from "../tokens/signing-key.resolver";
import { SigningKeys } from "../tokens/signing-keys";
import { registerTokenRoutes } from "../tokens/token.routes";
import { UserResolver } from "../users/user.resolver";
import { UserService } from "../users/user.service";
import { Authentication } from "../tokens/authentication";
import { ensurePlatformKey, type BootstrapOutcome } from "../tokens/bootstrap";
import { auditMiddleware } from "./audit-middleware";
import { contextFactory } from "./context";
import { errorLoggingPlugin, formatError } from "./format-error";
import { withPageSizeBound } from "./page-size-rule";
import { buildTypeSchema } from "./schema";

export interface App {
  readonly fastify: FastifyInstance;
  readonly db: Database;
  readonly logger: Logger;
  readonly bootstrap: BootstrapOutcome;
  readonly signingKeys: SigningKeys;
  readonly accessTokens: AccessTokens;
  readonly login: LoginService;
  /** The separate metrics listener, when METRICS_PORT is set. */
  readonly metricsUrl: string | null;
  close(): Promise<void>;
}

const MIGRATION_LOCK_ID = 7_263_000;
const CLOCK_TOLERANCE_SECONDS = 5;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({
    level: config.logLevel,
    base: { service: "intercom-enterprise-rbac" },
    redact: { paths: ["req.headers.authorization", "headers.authorization", "apiKey", "*.apiKey", "password", "*.password"], censor: "[redacted]" },
  });
}

export async function createApp(config: Config, logger: Logger = createLogger(config)): Promise<App> {
  const dataSource = createDataSource(config.databaseUrl, config.databasePoolSize);
  await dataSource.initialize();
  let feed: ChangeFeed | null = null;
  try {
    const db = new Database(dataSource);
    await migrate(db, config.databaseUrl);
    const changes = (feed = new ChangeFeed(db, db.dialect === "postgres" ? config.databaseUrl : null, logger));
    await changes.start();

    const roles = new RoleService();
    await roles.load(db);
    const organizations = new OrganizationService(roles, changes);
    const adminPaths = new AdminPathGuard(db, roles);
    const mappings = new RoleMappingService(roles, organizations, adminPaths);
    const serviceAccounts = new ServiceAccountService(roles, organizations, changes);
    const auditWriter = db.dialect === "sqlite" ? SqliteAuditWriter.forFile(db.sqliteFile, logger) : null;
    const audit = new AuditLog(db, auditWriter);
    const metrics = new Metrics({ auditQueueDepth: () => audit.pending, pool: () => poolStats(db), changeFeedListening: () => changes.listening });
    const bootstrap = await ensurePlatformKey(db, config.bootstrapApiKey);
    const secrets = new SecretBox(encryptionKey(config));
    const signingKeys = new SigningKeys(db, secrets, (config.accessTokenTtlSeconds + CLOCK_TOLERANCE_SECONDS) * 1000, config.signingKeyRotationDays * 86_400_000);
    await signingKeys.init();
    const accessTokens = new AccessTokens(signingKeys, {
      issuer: config.publicUrl,
      audience: config.tokenAudience,
      ttlSeconds: config.accessTokenTtlSeconds,
      clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    });
    const sessions = new SessionService(
      db,
      audit,
      accessTokens,
      { codeTtlSeconds: 60, refreshIdleSeconds: config.refreshTokenIdleSeconds, sessionMaxSeconds: config.sessionMaxSeconds },
      changes,
      metrics.cacheObserver("sessions"),
    );
    const users = new UserService(mappings, changes);
    const authentication = new Authentication([
      new AccessTokenAuthenticator(accessTokens, sessions, roles),
      new ApiKeyAuthenticator(db, roles, logger, changes, metrics.cacheObserver("api_keys")),
    ]);
    const login = new LoginService(db, audit, roles, users, sessions);
    const ssoDeps: SsoModuleDeps = { db, changes, logger, organizations, roles, users, login, secrets, publicUrl: config.publicUrl, env: config.env };
    const ssoModules = [createSamlModule(ssoDeps), createOidcModule(ssoDeps), createPasswordModule(ssoDeps)];

    const auditDeps: AuditModuleDeps = { db, logger, audit, organizations, secrets, authentication, publicUrl: config.publicUrl, env: config.env };
    const retention = createRetentionModule(auditDeps, { retentionDays: config.auditRetentionDays });
    const auditModules = [createAlertsModule(auditDeps), createLogStreamModule(auditDeps), retention];

    const auditQueries = new AuditQueryService();
    const resolvers = new Map<unknown, unknown>([
      [AccessResolver, new AccessResolver(db, roles, organizations)],
      [OrganizationResolver, new OrganizationResolver(db, organizations, roles, mappings, users, adminPaths, sessions)],
      [RoleMappingResolver, new RoleMappingResolver(db, mappings, organizations, roles, users, sessions)],
      [SigningKeyResolver, new SigningKeyResolver(signingKeys)],
      [UserResolver, new UserResolver(db, users, organizations, roles, sessions)],
      [ServiceAccountResolver, new ServiceAccountResolver(db, serviceAccounts, organizations, roles)],
      [AuditResolver, new AuditResolver(db, auditQueries, retention.checkpoints)],
      ...ssoModules.flatMap((m) => m.resolvers),
      ...auditModules.flatMap((m) => m.resolvers),
      [LoginOptionsResolver, new LoginOptionsResolver(db, ssoModules)],
    ]);
    const container: ContainerType = { get: (someClass) => resolvers.get(someClass) };
    audit.onFlush = (seconds) => metrics.observeAuditFlush(seconds);
    audit.onAppend = (path) => metrics.observeAuditAppend(path);
    audit.onCommitted((entries) => metrics.observeEntries(entries));
    const observe = (operation: string, seconds: number, ok: boolean) => metrics.observeRootField(operation, seconds, ok);
    // Audit is applied first, so it wraps shield and also records what shield denies.
    const typeSchema = await buildTypeSchema(container);
    const audited = auditMiddleware(db, audit, logger, observe, { successfulReads: config.auditReads === "all" });
    const schema = withoutAllowWrappers(applyMiddleware(typeSchema, audited, buildShield()), typeSchema);

    const fastify = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      // Every request is already in the audit trail; access lines are logged at debug (errors always).
      logController: new LogController({ disableRequestLogging: true }),
      trustProxy: config.trustProxy,
      requestIdHeader: false,
      genReqId: (req) => {
        const given = req.headers["x-request-id"];
        return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
      },
      bodyLimit: 1024 * 1024,
    });
    fastify.addHook("onRequest", async (request, reply) => {
      reply.header("x-request-id", request.id);
    });
    fastify.addHook("onResponse", async (request, reply) => {
      const line = { method: request.method, url: request.url.split("?")[0], statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
      if (reply.statusCode >= 500) request.log.error(line, "request failed");
      else request.log.debug(line, "request completed");
    });
    // Form posts only reach routes that ask for them (the SAML ACS); /graphql keeps refusing them (CSRF).
    await fastify.register(fastifyFormbody, { bodyLimit: 512 * 1024 });
    await fastify.register(fastifyCookie);

    const armor = new ApolloArmor({
      maxDepth: { n: 10 },
      maxAliases: { n: 15 },
      maxDirectives: { n: 20 },
      // Token limit via graphql-js's parser (below): armor's own re-parse turns every parse error into a 500.
      maxTokens: { enabled: false },
      costLimit: { maxCost: 5000 },
      blockFieldSuggestion: { enabled: !config.introspection },
    });
    const protection = armor.protect();
    const apollo = new ApolloServer<RequestContext>({
      schema,
      introspection: config.introspection,
      csrfPrevention: true,
      parseOptions: { maxTokens: 2000 },
      allowBatchedHttpRequests: false,
      includeStacktraceInErrorResponses: false,
      stopOnTerminationSignals: false,
      formatError,
      validationRules: withPageSizeBound(protection.validationRules),
      // No response caching (answers are per principal; /graphql sends Cache-Control: no-store), and
      // the cache-control plugin would hook into the resolution of every field.
      plugins: [...protection.plugins, errorLoggingPlugin(logger), fastifyApolloDrainPlugin(fastify), ApolloServerPluginCacheControlDisabled()],
    });
    await apollo.start();

    fastify.route({
      url: "/graphql",
      method: ["GET", "POST", "OPTIONS"],
      onRequest: async (_request, reply) => {
        reply.header("cache-control", "no-store");
      },
      handler: fastifyApolloHandler(apollo, { context: contextFactory(authentication) }),
    });
    fastify.setErrorHandler((error: FastifyError, request, reply) => {
      // Client errors of the HTTP layer (415, 413, 400 body parse) keep their message; the rest is masked.
      if (error.statusCode && error.statusCode < 500) {
        return reply.code(error.statusCode).send({ error: error.code ?? "BAD_REQUEST", message: error.message });
      }
      request.log.error({ err: error }, "internal error (masked in the response)");
      return reply.code(500).send({ error: "INTERNAL_SERVER_ERROR", message: "Internal server error" });
    });
    registerTokenRoutes(fastify, sessions, signingKeys);
    registerAuditExportRoutes(fastify, { db, audit, queries: auditQueries, authenticate: (header) => authentication.fromAuthorizationHeader(header) });
    for (const module of ssoModules) module.registerRoutes(fastify);
    for (const module of auditModules) await module.registerRoutes?.(fastify, schema);
    const metricsServer = config.metricsPort !== undefined ? await serveMetrics(metrics, config.metricsHost, config.metricsPort) : null;
    if (!metricsServer) {
      // Without a metrics port of its own, /metrics is for platform principals (Prometheus sends the key as a bearer token).
      fastify.get("/metrics", async (request, reply) => {
        const { principal } = await authentication.fromAuthorizationHeader(request.headers.authorization);
        if (!principal) return reply.code(401).send({ error: "UNAUTHENTICATED", message: "GET /metrics needs a platform API key (or set METRICS_PORT)" });
        if (principal.kind !== "PLATFORM") return reply.code(403).send({ error: "FORBIDDEN", message: "Missing permission: platform" });
        return reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
      });
    }
    fastify.get("/healthz", async () => ({ status: "ok" }));
    fastify.get("/readyz", async (_request, reply) => {
      const checks = await readiness(db);
      const audited = audit.health;
      checks.audit = audited.ok ? "ok" : `failing since ${audited.failingSince!.toISOString()}`;
      const ready = Object.values(checks).every((c) => c === "ok");
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    });

    for (const module of auditModules) module.start?.();
    let closing: Promise<void> | null = null;
    return {
      fastify,
      db,
      logger,
      bootstrap,
      signingKeys,
      accessTokens,
      login,
      metricsUrl: metricsServer?.url ?? null,
      close: () =>
        (closing ??= (async () => {
          // Drain in-flight requests, but never wait forever on a client that stopped reading.
          const grace = setTimeout(() => fastify.server.closeAllConnections(), Math.min(5000, config.shutdownTimeoutMs / 2));
          grace.unref();
          await fastify.close();
          clearTimeout(grace);
          await metricsServer?.close();
          await apollo.stop();
          for (const module of auditModules) await module.stop?.();
          await audit.flush();
          await auditWriter?.close();
          await changes.stop();
          await dataSource.destroy();
        })()),
    };
  } catch (error) {
    await feed?.stop();
    if (dataSource.isInitialized) await dataSource.destroy();
    throw error;
  }
}

/**
 * Applies pending migrations; on PostgreSQL one instance at a time (advisory lock, held on a
 * connection of its own so that the migrations keep the whole pool, even a pool of one).
 */
async function migrate(db: Database, databaseUrl: string): Promise<void> {
  if (db.dialect !== "postgres") {
    await db.runSqliteMigrations();
    return;
  }
  const lock = new PgClient({ connectionString: databaseUrl, application_name: "rbac-migration-lock" });
  await lock.connect();
  try {
    await lock.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
    await db.dataSource.runMigrations({ transaction: "each" });
  } finally {
    await lock.end().catch(() => undefined); // ending the session releases the lock
  }
}

/** The PostgreSQL pool, for metrics (SQLite has one connection and no pool). */
function poolStats(db: Database): PoolStats | null {
  if (db.dialect !== "postgres") return null;
  const pool = (db.dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
  return pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : null;
}

function encryptionKey(config: Config): Buffer {
  if (config.encryptionKey) return config.encryptionKey;
  const target = parseDatabaseUrl(config.databaseUrl);
  const dir = target.dialect === "sqlite" && target.location !== ":memory:" ? dirname(target.location) : "./data";
  return loadOrCreateKeyFile(join(dir, "encryption.key"));
}

async function readiness(db: Database): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  try {
    await db.ping();
    checks.database = "ok";
    checks.migrations = (await db.pendingMigrations()) ? "pending" : "ok";
  } catch {
    checks.database = "unreachable";
  }
  return checks;
}
