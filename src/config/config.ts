/**
 * Environment → validated, frozen configuration. Start-up fails listing every problem at once.
 * Only src/server/ and ormconfig.ts read configuration; features receive what they need.
 */
import { z } from "zod";

const boolean = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, "must be sqlite:<path> or postgres://user:password@host:port/database")
    .default("sqlite:./data/rbac.sqlite"),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  RBAC_BOOTSTRAP_API_KEY: z
    .string()
    .min(32, "must be at least 32 characters")
    .max(512, "must be at most 512 characters")
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
    .refine((v) => !v.includes("."), "must not contain dots (dots mark access tokens)")
    .refine((v) => !/^rbac_(sk|rt)_/.test(v), "must not start with rbac_sk_ or rbac_rt_ (those prefixes mark service-account keys and refresh tokens)")
    .optional(),
  GRAPHQL_INTROSPECTION: boolean.optional(),
  TRUST_PROXY: boolean.default(false),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
  REFRESH_TOKEN_IDLE_SECONDS: z.coerce.number().int().min(300).max(90 * 86_400).default(86_400),
  SESSION_MAX_SECONDS: z.coerce.number().int().min(300).max(365 * 86_400).default(14 * 86_400),
  SIGNING_KEY_ROTATION_DAYS: z.coerce.number().int().min(0).max(365).default(30),
  AUDIT_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .refine((v) => v === 0 || (v >= 30 && v <= 36_500), "must be 0 (keep audit entries forever) or 30 to 36500 days")
    .default(0),
  TOKEN_AUDIENCE: z.string().min(1).max(200).default("intercom-enterprise-rbac"),
  AUDIT_READS: z.enum(["all", "denials"]).default("all"),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  RBAC_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, "base64url").length === 32, "must be 32 random bytes in base64 (openssl rand -base64 32)")
    .optional(),
});

export interface Config {
  readonly env: "development" | "production" | "test";
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  readonly logLevel: string;
  readonly bootstrapApiKey: string | undefined;
  /** Introspection and "did you mean" suggestions: on outside production unless set. */
  readonly introspection: boolean;
  readonly trustProxy: boolean;
  readonly shutdownTimeoutMs: number;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenIdleSeconds: number;
  readonly sessionMaxSeconds: number;
  readonly tokenAudience: string;
  /** Our token-signing key is replaced at this age (0: only when an operator rotates it). */
  readonly signingKeyRotationDays: number;
  /** Audit entries older than this are purged behind a signed checkpoint (0: kept forever). */
  readonly auditRetentionDays: number;
  /** GET /metrics on its own listener (no credential) when set; else on the main port for platform principals. */
  readonly metricsPort: number | undefined;
  /** "denials": successful reads and allowed decisions are not audited (denials and mutations always are). */
  readonly auditReads: "all" | "denials";
  readonly metricsHost: string;
  /** Base URL browsers and IdPs reach this service at; defaults to http://localhost:<PORT>. */
  readonly publicUrl: string;
  /** 32-byte key for secrets at rest; when absent (never in production) a key file beside the data is used. */
  readonly encryptionKey: Buffer | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  if (present.NODE_ENV === "production" && !present.RBAC_ENCRYPTION_KEY) {
    problems.push("RBAC_ENCRYPTION_KEY: is required in production (32 random bytes in base64: openssl rand -base64 32)");
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return Object.freeze({
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    logLevel: e.LOG_LEVEL,
    bootstrapApiKey: e.RBAC_BOOTSTRAP_API_KEY,
    introspection: e.GRAPHQL_INTROSPECTION ?? e.NODE_ENV !== "production",
    trustProxy: e.TRUST_PROXY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenIdleSeconds: e.REFRESH_TOKEN_IDLE_SECONDS,
    sessionMaxSeconds: e.SESSION_MAX_SECONDS,
    tokenAudience: e.TOKEN_AUDIENCE,
    signingKeyRotationDays: e.SIGNING_KEY_ROTATION_DAYS,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    metricsPort: e.METRICS_PORT,
    auditReads: e.AUDIT_READS,
    metricsHost: e.METRICS_HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ""),
    encryptionKey: e.RBAC_ENCRYPTION_KEY ? Buffer.from(e.RBAC_ENCRYPTION_KEY, "base64url") : undefined,
  });
}
