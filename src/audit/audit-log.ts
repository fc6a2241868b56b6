/**
 * Appends audit entries.
 *
 * Rules:
 * - Each organization (and the "platform" stream for entries of no organization) has its own
 *   sequence 1, 2, 3, ... without gaps and a hash chain: hash = SHA-256(previousHash ‖ "\n" ‖
 *   canonical entry). The stream head row is locked by the UPDATE that advances it, so concurrent
 *   writers (PostgreSQL) queue per stream instead of forking the chain.
 * - `appendInTransaction` writes inside the caller's transaction: a mutation and its entry commit
 *   or roll back together.
 * - `record` writes in its own transaction and resolves only once the entry is committed; calls
 *   arriving together share one transaction (group commit). A failure rejects every waiting caller,
 *   so nothing is acknowledged without its entry (fail closed).
 * - Text fields are stored with backslashes and control characters escaped (\u005c, \u000a) and cut to the column size, so no input
 *   can break a log line or make the insert itself fail.
 */
import { createHash } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { Dialect } from "../db/data-source";
import type { Database, SqliteStatements } from "../db/database";
import type { PrincipalKind } from "../shared/principal";
import type { AuditEntryEntity } from "./audit-entry.entity";
import type { SqliteAuditWriter } from "./sqlite-audit-writer";

export const PLATFORM_STREAM = "platform";
const MAX_BATCH = 500;

export interface AuditRecord {
  organizationId: string | null;
  actorId: string;
  actorKind: PrincipalKind | null;
  role: string | null;
  action: string;
  operation: string;
  resource: string;
  success: boolean;
  reason: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  requestId: string;
  timestamp?: Date;
  /** Structured context, e.g. { changed: { name: ["Old", "New"] } }; never a secret. */
  details?: Record<string, unknown> | null;
}

/** The start of an authentication event's entry (login, token, logout): a person, not yet known. */
export function authenticationRecord(operation: string, action: string, http: { ip: string | null; userAgent: string | null; requestId: string }): AuditRecord {
  return {
    organizationId: null,
    actorId: "anonymous",
    actorKind: "USER",
    role: null,
    action,
    operation,
    resource: "*",
    success: true,
    reason: null,
    ipAddress: http.ip,
    userAgent: http.userAgent,
    requestId: http.requestId,
  };
}

interface Waiting {
  records: AuditRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class AuditLog {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly committedListeners: Array<(entries: AuditEntryEntity[]) => void> = [];
  /** Observes each group commit (seconds), for metrics. */
  onFlush: ((seconds: number) => void) | null = null;
  /** PostgreSQL: observes how each stream's part of a group commit was written, for metrics. */
  onAppend: ((path: "known_head" | "locking") => void) | null = null;
  /** Set when a write fails, cleared by the next successful one; /readyz reports it. */
  private failingSince: Date | null = null;
  /** PostgreSQL: the head each stream had after this instance's last append (a guess, see appendOnKnownHead). */
  private readonly heads = new Map<string, { lastSequence: number; lastHash: string }>();
  /** PostgreSQL: streams whose guessed head was wrong lately (another instance writes them too), until when. */
  private readonly contended = new Map<string, number>();

  constructor(
    private readonly db: Database,
    /** SQLite: the writer thread of group commits (null: they run on the main connection). */
    private readonly sqliteWriter: SqliteAuditWriter | null = null,
  ) {}

  /** Durable once the promise resolves; concurrent calls share one commit. */
  record(records: AuditRecord[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ records, resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        // this tick's requests join the batch
        this.scheduled = false;
        this.startBatches();
      });
    }
    return done;
  }

  /** Returns the rows written; announce them once the transaction has committed. */
  async appendInTransaction(em: EntityManager, records: AuditRecord[]): Promise<AuditEntryEntity[]> {
    const written: AuditEntryEntity[] = [];
    for (const [stream, entries] of byStream(records)) written.push(...(await this.appendToStream(em, stream, entries)));
    return written;
  }

  /**
   * Called with entries once they are committed (alert rules, live streams). Listeners must not
   * throw; they run after the writer's transaction, never inside it.
   */
  onCommitted(listener: (entries: AuditEntryEntity[]) => void): void {
    this.committedListeners.push(listener);
  }

  /** For callers that committed entries with appendInTransaction: announce them now. */
  announce(entries: AuditEntryEntity[]): void {
    for (const listener of this.committedListeners) {
      try {
        listener(entries);
      } catch {
        // a listener's failure must never undo or delay what is already committed
      }
    }
  }

  /** Entries waiting for their group commit. */
  get pending(): number {
    return this.waiting.reduce((n, w) => n + w.records.length, 0);
  }

  get health(): { ok: boolean; failingSince: Date | null } {
    return { ok: this.failingSince === null, failingSince: this.failingSince };
  }

  markFailed(): void {
    this.failingSince ??= new Date();
  }

  markWritten(): void {
    this.failingSince = null;
  }

  /** Resolves when every entry recorded so far is committed (used at shutdown). */
  async flush(): Promise<void> {
    while (this.scheduled || this.waiting.length > 0 || this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /** Starts batches while there is room: one at a time, several for SQLite's writer thread (it commits them in order). */
  private startBatches(): void {
    const limit = this.sqliteWriter ? SQLITE_WRITER_BATCHES_IN_FLIGHT : 1;
    while (this.waiting.length > 0 && this.inFlight < limit) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.inFlight += 1;
      void this.commitBatch(batch).finally(() => {
        this.inFlight -= 1;
        this.startBatches();
      });
    }
  }

  private async commitBatch(batch: Waiting[]): Promise<void> {
    try {
      const started = performance.now();
      const records = batch.flatMap((w) => w.records);
      const written =
        this.db.dialect === "sqlite"
          ? await (this.sqliteWriter
              ? this.db.sqliteExclusive(() => this.sqliteWriter!.append(records))
              : this.db.sqliteBatch((sql) => appendSqlite(sql, records)))
          : await this.appendPostgres(records);
      this.onFlush?.((performance.now() - started) / 1000);
      this.markWritten();
      this.announce(written);
      for (const w of batch) w.resolve();
    } catch (error) {
      this.markFailed();
      for (const w of batch) w.reject(error);
    }
  }

  /**
   * PostgreSQL group commit. Each stream's entries go in one autocommit statement that assumes the
   * head this instance wrote last: the head row moves only if it is still that head, and the
   * entries are inserted only if it moved — otherwise nothing changes and the locking path runs
   * (BEGIN, UPDATE … RETURNING, INSERT, COMMIT). A stream another instance also writes keeps the
   * locking path for a while instead of failing the guess every time.
   */
  private async appendPostgres(records: AuditRecord[]): Promise<AuditEntryEntity[]> {
    // Streams in parallel (each locks only its own head row); one batch at a time, so this instance
    // never guesses a head that one of its own statements is still writing (under READ COMMITTED a
    // guess past an uncommitted head matches nothing).
    const parts = await Promise.all(
      byStream(records).map(async ([stream, entries]) => {
        const rows = await this.appendOnKnownHead(stream, entries);
        this.onAppend?.(rows ? "known_head" : "locking");
        return rows ?? this.db.transaction((em) => this.appendToStream(em, stream, entries));
      }),
    );
    return parts.flat();
  }

  private async appendOnKnownHead(stream: string, records: AuditRecord[]): Promise<AuditEntryEntity[] | null> {
    const head = this.heads.get(stream);
    if (!head || (this.contended.get(stream) ?? 0) > Date.now()) return null;
    const lastSequence = head.lastSequence + records.length;
    const rows = chain(stream, lastSequence, head.lastHash, records);
    const lastHash = rows[rows.length - 1].hash;
    const values: unknown[] = [lastSequence, lastHash, stream, head.lastSequence, head.lastHash];
    const sql =
      `WITH "head" AS (UPDATE "audit_stream" SET "lastSequence" = $1, "lastHash" = $2 WHERE "stream" = $3 AND "lastSequence" = $4 AND "lastHash" = $5 RETURNING 1) ` +
      `INSERT INTO "audit_entry" (${COLUMN_LIST}) SELECT * FROM (${valuesList(rows, "postgres", values, true)}) AS "v" (${COLUMN_LIST}) WHERE EXISTS (SELECT 1 FROM "head") RETURNING "sequence"`;
    this.heads.delete(stream); // until this append is known to have landed
    const inserted = (await this.db.manager.query(sql, values)) as unknown[];
    if (inserted.length !== rows.length) {
      if (this.contended.size >= MAX_HEADS) this.contended.clear();
      this.contended.set(stream, Date.now() + CONTENDED_MS);
      return null;
    }
    this.heads.set(stream, { lastSequence, lastHash });
    return rows;
  }

  private async appendToStream(em: EntityManager, stream: string, records: AuditRecord[]): Promise<AuditEntryEntity[]> {
    // Plain parameterized SQL: this runs for every audited request, and TypeORM's query builder
    // costs more than the statements themselves. The UPDATE … RETURNING locks the stream head, so
    // concurrent PostgreSQL writers queue per stream instead of forking the chain.
    // On PostgreSQL every statement is a round trip: the stream row is created only the first time,
    // and the entries and the new head hash go in one statement.
    const postgres = this.db.dialect === "postgres";
    const p = postgres ? (sql: string) => sql : sqliteParams;
    const advance = async () => {
      const result: unknown[] = await em.query(p(ADVANCE_STREAM), [records.length, stream]);
      return (Array.isArray(result[0]) ? result[0][0] : result[0]) as { lastSequence: number; lastHash: string } | undefined;
    };
    let head = await advance();
    if (!head) {
      await em.query(p(ENSURE_STREAM), [stream]);
      head = (await advance())!;
    }
    const rows = chain(stream, Number(head.lastSequence), head.lastHash, records);
    const insert = insertStatement(rows, this.db.dialect);
    const newHash = rows[rows.length - 1].hash;
    if (postgres) {
      const n = insert.values.length;
      await em.query(`WITH "inserted" AS (${insert.sql}) UPDATE "audit_stream" SET "lastHash" = $${n + 1} WHERE "stream" = $${n + 2}`, [...insert.values, newHash, stream]);
      // A guess for the next group commit (appendOnKnownHead checks it; a rollback makes it fail once).
      if (this.heads.size >= MAX_HEADS) this.heads.clear();
      this.heads.set(stream, { lastSequence: Number(head.lastSequence), lastHash: newHash });
    } else {
      await em.query(insert.sql, insert.values);
      await em.query(p(SET_STREAM_HASH), [newHash, stream]);
    }
    return rows;
  }

}

/** Column types PostgreSQL cannot infer for parameters in a VALUES list. */
const CASTS: Partial<Record<(typeof ENTRY_COLUMNS)[number], string>> = { sequence: "::integer", success: "::boolean" };
const MAX_HEADS = 10_000;
/** SQLite's writer thread gets the next batches while it commits (and commits them together), so it never waits for the main thread. */
const SQLITE_WRITER_BATCHES_IN_FLIGHT = 8;
const CONTENDED_MS = 5_000;

const ENSURE_STREAM = `INSERT INTO "audit_stream" ("stream", "lastSequence", "lastHash") VALUES ($1, 0, '') ON CONFLICT ("stream") DO NOTHING`;
const ADVANCE_STREAM = `UPDATE "audit_stream" SET "lastSequence" = "lastSequence" + $1 WHERE "stream" = $2 RETURNING "lastSequence", "lastHash"`;
const SET_STREAM_HASH = `UPDATE "audit_stream" SET "lastHash" = $1 WHERE "stream" = $2`;

/**
 * The append of a group commit on SQLite, synchronously on a raw connection whose transaction the
 * caller holds (BEGIN IMMEDIATE … COMMIT): the audit writer thread's, or the main connection's.
 */
export function appendSqlite(sql: SqliteStatements, records: AuditRecord[]): AuditEntryEntity[] {
  const written: AuditEntryEntity[] = [];
  for (const [stream, entries] of byStream(records)) {
    sql.run(sqliteParams(ENSURE_STREAM), [stream]);
    const [head] = sql.all(sqliteParams(ADVANCE_STREAM), [entries.length, stream]);
    const rows = chain(stream, Number(head.lastSequence), String(head.lastHash), entries);
    const insert = insertStatement(rows, "sqlite");
    sql.run(insert.sql, insert.values);
    sql.run(sqliteParams(SET_STREAM_HASH), [rows[rows.length - 1].hash, stream]);
    written.push(...rows);
  }
  return written;
}

/**
 * `VALUES (…), (…)` for `rows`, their parameters appended to `values` (numbered after what it
 * holds on PostgreSQL). `casts`: for a VALUES list PostgreSQL types from its parameters alone.
 */
function valuesList(rows: AuditEntryEntity[], dialect: Dialect, values: unknown[], casts = false): string {
  const tuples = rows.map((row) => {
    const placeholders = ENTRY_COLUMNS.map((column) => {
      values.push(toSql(row[column], dialect));
      return dialect === "postgres" ? `$${values.length}${casts ? (CASTS[column] ?? "") : ""}` : "?";
    });
    return `(${placeholders.join(", ")})`;
  });
  return `VALUES ${tuples.join(", ")}`;
}

function insertStatement(rows: AuditEntryEntity[], dialect: Dialect): { sql: string; values: unknown[] } {
  const values: unknown[] = [];
  return { sql: `INSERT INTO "audit_entry" (${COLUMN_LIST}) ${valuesList(rows, dialect, values)}`, values };
}

function toSql(value: unknown, dialect: Dialect): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "boolean") return dialect === "postgres" ? value : value ? 1 : 0;
  return value ?? null;
}

/** `$1, $2` → `?, ?` (the statements above are written for PostgreSQL). */
function sqliteParams(sql: string): string {
  return sql.replace(/\$\d+/g, "?");
}

/** Records grouped by stream, streams in a fixed order (concurrent PostgreSQL writers lock heads in that order: no deadlock). */
function byStream(records: AuditRecord[]): Array<[string, AuditRecord[]]> {
  const streams = new Map<string, AuditRecord[]>();
  for (const record of records) {
    const stream = record.organizationId ?? PLATFORM_STREAM;
    const list = streams.get(stream);
    if (list) list.push(record);
    else streams.set(stream, [record]);
  }
  return [...streams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Rows for `records` following a stream head that has just been advanced to `lastSequence`. */
function chain(stream: string, lastSequence: number, lastHash: string, records: AuditRecord[]): AuditEntryEntity[] {
  let sequence = lastSequence - records.length;
  let previousHash = lastHash;
  return records.map((record) => {
    sequence += 1;
    const row = toRow(stream, sequence, record);
    row.previousHash = previousHash;
    row.hash = entryHash(previousHash, row);
    previousHash = row.hash;
    return row;
  });
}

const ENTRY_COLUMNS = [
  "stream", "sequence", "timestamp", "organizationId", "actorId", "actorKind", "role", "action", "operation",
  "resource", "success", "reason", "ipAddress", "userAgent", "requestId", "previousHash", "hash", "details",
] as const satisfies ReadonlyArray<keyof AuditEntryEntity>;
const COLUMN_LIST = ENTRY_COLUMNS.map((c) => `"${c}"`).join(", ");

const LIMITS = { details: 8192, actorId: 64, role: 64, action: 64, operation: 128, resource: 512, reason: 1024, ipAddress: 64, userAgent: 512, requestId: 64 };

/** Escapes control characters (aud-03) and bounds the length to the column size. */
export function clean(value: string, max: number): string;
export function clean(value: string | null, max: number): string | null;
export function clean(value: string | null, max: number): string | null {
  if (value == null) return null;
  // eslint-disable-next-line no-control-regex
  const escaped = value.replace(/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  if (escaped.length <= max) return escaped;
  // Cut before an escape sequence rather than through it.
  return `${escaped.slice(0, max - 1).replace(/\\u[0-9a-f]{0,3}$|\\$/, "")}…`;
}

/** JSON already escapes control characters; an oversized value is replaced, never cut into invalid JSON. */
function detailsJson(details: Record<string, unknown>): string {
  const json = JSON.stringify(details).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return json.length <= LIMITS.details ? json : JSON.stringify({ truncated: true, size: json.length });
}

/** A plain object, not the entity class: the SQLite writer thread loads no TypeORM. */
function toRow(stream: string, sequence: number, r: AuditRecord): AuditEntryEntity {
  return {
    stream,
    sequence,
    timestamp: r.timestamp ?? new Date(),
    organizationId: r.organizationId,
    actorId: clean(r.actorId, LIMITS.actorId),
    actorKind: r.actorKind,
    role: clean(r.role, LIMITS.role),
    action: clean(r.action, LIMITS.action),
    operation: clean(r.operation, LIMITS.operation),
    resource: clean(r.resource, LIMITS.resource),
    success: r.success,
    reason: clean(r.reason, LIMITS.reason),
    ipAddress: clean(r.ipAddress, LIMITS.ipAddress),
    userAgent: clean(r.userAgent, LIMITS.userAgent),
    requestId: clean(r.requestId, LIMITS.requestId),
    details: r.details ? detailsJson(r.details) : null,
    previousHash: "",
    hash: "",
  } as AuditEntryEntity;
}

/** The canonical encoding the chain hashes: a JSON array of the fields in a fixed order. */
export function canonicalEntry(e: AuditEntryEntity): string {
  return JSON.stringify([
    e.stream, e.sequence, e.timestamp.toISOString(), e.organizationId, e.actorId, e.actorKind, e.role,
    e.action, e.operation, e.resource, e.success, e.reason, e.ipAddress, e.userAgent, e.requestId,
    ...(e.details == null ? [] : [e.details]),
  ]);
}

export function entryHash(previousHash: string, e: AuditEntryEntity): string {
  return createHash("sha256").update(previousHash).update("\n").update(canonicalEntry(e)).digest("hex");
}
