/**
 * Tells every instance when data that instances keep in memory has changed, so caches on the
 * decision path (API keys, sessions) stay exact across several processes on one database.
 *
 * Rules:
 * - A writer calls `changed(em, topic)` inside its transaction. This instance's caches of the
 *   topic are invalidated right after the transaction ends (never before it: a concurrent reader
 *   could put the old row back; also after a rollback, since SQLite's one connection lets readers
 *   see a transaction's rows before it ends). Other instances hear of it at that same commit:
 *   PostgreSQL NOTIFY is delivered on commit and dropped on rollback. On SQLite the transaction
 *   advances the topic's row in `change_version`, which every cache read compares with the value
 *   it saw last (one indexed read of a two-row table): other processes' changes act at once.
 *   (PRAGMA data_version would not do: the audit writer thread's commits move it all the time.)
 * - A cache entry is valid only while its topic's version is still the one read before the database
 *   read that filled it, so a change that commits during that read is never cached over.
 * - While the PostgreSQL listener is not connected, `version()` is NO_CACHE and caches are bypassed;
 *   every (re)connect invalidates everything, since notifications may have been missed meanwhile.
 */
import { Client } from "pg";
import type { Logger } from "pino";
import type { EntityManager } from "typeorm";
import type { Database } from "./database";

export const TOPICS = ["credentials", "sessions"] as const;
export type Topic = (typeof TOPICS)[number];

/** version() while caches must not be used. */
export const NO_CACHE = -1;

const CHANNEL = "rbac_changes";
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export class ChangeFeed {
  private readonly versions = new Map<Topic, number>(TOPICS.map((t) => [t, 0]));
  private live: boolean;
  private client: Client | null = null;
  private stopped = false;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly seen = new Map<Topic, number>();

  constructor(
    private readonly db: Database,
    private readonly postgresUrl: string | null,
    private readonly logger: Logger,
  ) {
    // PostgreSQL caches stay off until LISTEN is in place.
    this.live = db.dialect === "sqlite";
  }

  async start(): Promise<void> {
    if (this.db.dialect === "postgres") await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** Whether caches may be used now (for /readyz-style reporting and tests). */
  get listening(): boolean {
    return this.live;
  }

  /** The token a cache entry of `topic` is stored with; NO_CACHE means: do not cache, do not trust. */
  version(topic: Topic): number {
    if (!this.live) return NO_CACHE;
    if (this.db.dialect === "sqlite") {
      const [row] = this.db.sqliteRead(`SELECT "version" FROM "change_version" WHERE "topic" = ?`, [topic]);
      const stored = row ? Number(row.version) : 0;
      if (stored !== (this.seen.get(topic) ?? 0)) {
        this.seen.set(topic, stored);
        this.bump(topic);
      }
    }
    return this.versions.get(topic)!;
  }

  /** Call inside the writing transaction (or with the plain manager: then it acts at once). */
  async changed(em: EntityManager, topic: Topic): Promise<void> {
    if (this.db.dialect === "postgres") await em.query("SELECT pg_notify($1, $2)", [CHANNEL, topic]);
    else await em.query(`INSERT INTO "change_version" ("topic", "version") VALUES (?, 1) ON CONFLICT ("topic") DO UPDATE SET "version" = "version" + 1`, [topic]);
    this.db.afterTransaction(em, () => this.bump(topic));
  }

  private bump(topic: Topic): void {
    this.versions.set(topic, this.versions.get(topic)! + 1);
  }

  private bumpAll(): void {
    for (const topic of TOPICS) this.bump(topic);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.postgresUrl!, application_name: "rbac-change-feed" });
    client.on("notification", (message) => {
      if ((TOPICS as readonly string[]).includes(message.payload ?? "")) this.bump(message.payload as Topic);
      else this.bumpAll();
    });
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, new Error("connection ended")));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RECONNECT_MIN_MS;
    this.bumpAll(); // whatever was cached before may have changed while nobody listened
    this.live = true;
  }

  private lost(client: Client, error: unknown): void {
    if (this.client !== null && this.client !== client) return;
    this.client = null;
    this.live = false;
    this.bumpAll();
    client.removeAllListeners();
    client.on("error", () => undefined);
    client.end().catch(() => undefined);
    if (this.stopped || this.retryTimer) return;
    this.logger.warn({ err: error, retryMs: this.retryMs }, "change feed (LISTEN) lost; caches bypassed until it reconnects");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }
}
