/**
 * Prometheus metrics (prom-client) on a registry of our own.
 *
 * Rules:
 * - Labels are bounded: operation names come from the schema's root fields, outcomes and actions
 *   from fixed sets — never from user input.
 * - Counting decisions and logins reads the committed audit entries, so the metrics agree with
 *   the trail.
 * - Collecting is cheap and never touches the database.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AuditEntryEntity } from "../audit/audit-entry.entity";

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requestSeconds: Histogram<"operation" | "outcome">;
  private readonly decisions: Counter<"action" | "allowed">;
  private readonly logins: Counter<"protocol" | "outcome">;
  private readonly auditFlushSeconds: Histogram;
  private readonly cacheLookups: Counter<"cache" | "result">;
  private readonly auditAppends: Counter<"path">;

  constructor(sources: { auditQueueDepth: () => number; pool: () => PoolStats | null; changeFeedListening: () => boolean }) {
    collectDefaultMetrics({ register: this.registry, prefix: "rbac_process_" });
    this.requestSeconds = new Histogram({
      name: "rbac_graphql_root_field_seconds",
      help: "Time to answer one root field, including its durable audit entry",
      labelNames: ["operation", "outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.decisions = new Counter({ name: "rbac_decisions_total", help: "can / checkPermissions decisions", labelNames: ["action", "allowed"], registers: [this.registry] });
    this.cacheLookups = new Counter({
      name: "rbac_cache_lookups_total",
      help: "Lookups in the in-memory caches of the decision path (API keys, sessions), by result",
      labelNames: ["cache", "result"],
      registers: [this.registry],
    });
    this.auditAppends = new Counter({
      name: "rbac_audit_appends_total",
      help: "PostgreSQL group commits per stream, by path: known_head (one statement) or locking (another instance wrote the stream lately)",
      labelNames: ["path"],
      registers: [this.registry],
    });
    new Gauge({
      name: "rbac_change_feed_listening",
      help: "1 while cache invalidations from other instances are received (PostgreSQL LISTEN; always 1 on SQLite); at 0 the caches are bypassed",
      registers: [this.registry],
      collect() {
        this.set(sources.changeFeedListening() ? 1 : 0);
      },
    });
    this.logins = new Counter({ name: "rbac_logins_total", help: "Logins by protocol and outcome", labelNames: ["protocol", "outcome"], registers: [this.registry] });
    this.auditFlushSeconds = new Histogram({
      name: "rbac_audit_flush_seconds",
      help: "Time to commit one group-commit batch of audit entries",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    new Gauge({
      name: "rbac_audit_queue_depth",
      help: "Audit entries waiting for their group commit",
      registers: [this.registry],
      collect() {
        this.set(sources.auditQueueDepth());
      },
    });
    new Gauge({
      name: "rbac_db_pool_connections",
      help: "PostgreSQL pool connections by state (absent on SQLite)",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        const stats = sources.pool();
        if (!stats) return;
        this.set({ state: "total" }, stats.total);
        this.set({ state: "idle" }, stats.idle);
        this.set({ state: "waiting" }, stats.waiting);
      },
    });
  }

  observeRootField(operation: string, seconds: number, ok: boolean): void {
    this.requestSeconds.observe({ operation, outcome: ok ? "ok" : "error" }, seconds);
  }

  /** A counter callback for one cache (hit = true). */
  cacheObserver(cache: "api_keys" | "sessions"): (hit: boolean) => void {
    const hits = this.cacheLookups.labels(cache, "hit");
    const misses = this.cacheLookups.labels(cache, "miss");
    return (hit) => (hit ? hits : misses).inc();
  }

  observeAuditAppend(path: "known_head" | "locking"): void {
    this.auditAppends.inc({ path });
  }

  observeAuditFlush(seconds: number): void {
    this.auditFlushSeconds.observe(seconds);
  }

  /** Decisions and logins, from committed audit entries. */
  observeEntries(entries: readonly AuditEntryEntity[]): void {
    for (const e of entries) {
      if (e.operation === "Query.can" || e.operation === "Query.checkPermissions") {
        this.decisions.inc({ action: ACTIONS.has(e.action) ? e.action : "other", allowed: String(e.success) });
      } else if (e.operation.startsWith("Auth.login.")) {
        const protocol = e.operation.slice("Auth.login.".length);
        this.logins.inc({ protocol: PROTOCOLS.has(protocol) ? protocol : "other", outcome: e.success ? "success" : "failure" });
      }
    }
  }
}

const ACTIONS = new Set(["read", "write", "delete", "admin"]);
const PROTOCOLS = new Set(["saml", "oidc", "password"]);
