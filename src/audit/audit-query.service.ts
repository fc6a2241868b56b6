/**
 * Reading the audit trail: one query builder behind the `auditEntries` pages and the export.
 *
 * Rules:
 * - A platform principal reads every stream (optionally one organization); anyone else reads only
 *   its own organization's entries; naming another organization answers NOT_FOUND.
 * - Every read goes through `scope()` first: the builder accepts only a scoped filter.
 * - Oldest first, keyset pagination on the entry id (served by indexes whatever the table size).
 *
 * The SQL is written here, parameterized, instead of through TypeORM's query builder and entity
 * loading: a page is one ordered index range read (see the 1764547900000-audit-read-indexes
 * migrations: every single filter of one organization has an ("organizationId", X, "id") index),
 * and an export reads a million rows, where per-row entity hydration was the cost.
 */
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityManager } from "typeorm";
import type { Principal } from "../shared/principal";
import { assertOrganizationVisible } from "../shared/scope";
import { AuditEntryEntity } from "./audit-entry.entity";

export interface AuditFilter {
  organizationId?: string | null;
  actorId?: string | null;
  action?: string | null;
  operation?: string | null;
  resource?: string | null;
  success?: boolean | null;
  from?: Date | null;
  to?: Date | null;
}

declare const scoped: unique symbol;
/** A filter limited to what its principal may read (see `AuditQueryService.scope`). */
export type ScopedAuditFilter = Readonly<AuditFilter> & { readonly [scoped]: true };

/**
 * An entry as an export reads it: the values of the requested properties, in their order (an
 * instant may stay its stored ISO-8601 text).
 */
export type AuditExportRow = unknown[];

const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export class AuditQueryService {
  /** Pins organization principals to their own organization; another organization → NOT_FOUND. */
  scope(principal: Principal, filter: AuditFilter): ScopedAuditFilter {
    let organizationId = filter.organizationId ?? null;
    if (principal.kind !== "PLATFORM") {
      if (organizationId) assertOrganizationVisible(principal, organizationId);
      organizationId = principal.organizationId;
    }
    return { ...filter, organizationId } as ScopedAuditFilter;
  }

  /**
   * `SELECT <columns> FROM audit_entry WHERE <filter> AND afterId < id (≤ upToId) ORDER BY id LIMIT n`,
   * with its parameters, in the manager's dialect.
   */
  sql(em: EntityManager, filter: ScopedAuditFilter, columns: readonly ColumnMetadata[], limit: number, afterId: number | null = null, upToId: number | null = null): { sql: string; parameters: unknown[] } {
    const postgres = em.connection.options.type === "postgres";
    const parameters: unknown[] = [];
    const where: string[] = [];
    const term = (column: string, operator: string, value: unknown) => {
      parameters.push(value);
      where.push(`"${column}" ${operator} ${postgres ? `$${parameters.length}` : "?"}`);
    };
    if (filter.organizationId) term("organizationId", "=", filter.organizationId);
    if (filter.actorId != null) term("actorId", "=", filter.actorId);
    if (filter.action != null) term("action", "=", filter.action);
    if (filter.operation != null) term("operation", "=", filter.operation);
    if (filter.resource != null) term("resource", "=", filter.resource);
    if (filter.success != null) term("success", "=", postgres ? filter.success : filter.success ? 1 : 0);
    if (filter.from != null) term("timestamp", ">=", filter.from.toISOString());
    if (filter.to != null) term("timestamp", "<", filter.to.toISOString());
    if (afterId != null) term("id", ">", afterId);
    if (upToId != null) term("id", "<=", upToId);
    parameters.push(limit);
    const select = columns.map((c) => `"${c.databaseName}" AS "${c.propertyName}"`).join(", ");
    const sql = `SELECT ${select} FROM "audit_entry"${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY "id" ASC LIMIT ${postgres ? `$${parameters.length}` : "?"}`;
    return { sql, parameters };
  }

  /** One page of entries matching the filter with afterId < id, oldest first. */
  async list(em: EntityManager, principal: Principal, filter: AuditFilter, limit: number, afterId: number | null): Promise<AuditEntryEntity[]> {
    const columns = em.connection.getMetadata(AuditEntryEntity).columns;
    const { sql, parameters } = this.sql(em, this.scope(principal, filter), columns, limit, afterId);
    const converters = columns.map((column) => converterOf(em, column, "date"));
    return (await rawRows(em, sql, parameters)).map((row) => {
      const entry = new AuditEntryEntity() as unknown as Record<string, unknown>;
      for (let at = 0; at < columns.length; at += 1) {
        const convert = converters[at];
        entry[columns[at].propertyName] = convert ? convert(row[at]) : row[at];
      }
      return entry as unknown as AuditEntryEntity;
    });
  }

  /** The id of the newest entry (0 when there is none): where an export taken now ends. */
  async lastId(em: EntityManager): Promise<number> {
    const [row] = (await em.query(`SELECT MAX("id") AS "last" FROM "audit_entry"`)) as Array<{ last: number | string | null }>;
    return Number(row?.last ?? 0);
  }

  /**
   * Every matching entry with id ≤ upToId, one keyset page at a time; the next page is read only
   * when asked for, and a page is valid until then (it is emptied when the next is asked for).
   * A row holds the values of the given properties in their order, read raw (no object per row)
   * and converted as entity loading does (booleans, instants), except that an instant stored in
   * the canonical ISO-8601 form stays that text: the export writes that very text.
   */
  async *pages(em: EntityManager, filter: ScopedAuditFilter, upToId: number, pageSize: number, properties: readonly string[]): AsyncGenerator<AuditExportRow[]> {
    const all = em.connection.getMetadata(AuditEntryEntity).columns;
    const columns = properties.map((property) => {
      const column = all.find((c) => c.propertyName === property);
      if (!column) throw new Error(`audit_entry has no column for ${property}`);
      return column;
    });
    const idAt = properties.indexOf("id");
    if (idAt < 0) throw new Error("an export reads the id (its keyset)");
    const converters = columns.map((column, at) => [at, converterOf(em, column, "text")] as const).filter(([, convert]) => convert !== null) as Array<[number, (value: unknown) => unknown]>;
    let afterId = 0;
    while (afterId < upToId) {
      const { sql, parameters } = this.sql(em, filter, columns, pageSize, afterId, upToId);
      const page = await rawRows(em, sql, parameters);
      for (const row of page) for (const [at, convert] of converters) row[at] = convert(row[at]);
      const count = page.length;
      if (count === 0) return;
      afterId = page[count - 1][idAt] as number;
      yield page;
      // Asked for the next page, the consumer is done with this one. Emptied, its rows die young
      // even though the array is still referenced for a while (a suspended generator's frame);
      // rows that outlive two young-generation GCs are promoted, and a million of them would pile
      // up in the old generation until a full GC (+30 MB RSS on SQLite).
      page.length = 0;
      if (count < pageSize) return;
    }
  }
}

/**
 * Rows as arrays of column values, without an object per row. PostgreSQL: a pooled client in
 * array row mode. SQLite: the one connection TypeORM shares, in one synchronous call (no other
 * statement runs in between; it reads what a TypeORM query at that moment would read).
 */
async function rawRows(em: EntityManager, sql: string, parameters: unknown[]): Promise<unknown[][]> {
  if (em.connection.options.type === "postgres") {
    const driver = em.connection.driver as unknown as { obtainMasterConnection(): Promise<[PgClient, (error?: unknown) => void]> };
    const [client, release] = await driver.obtainMasterConnection();
    try {
      const result = await client.query({ text: sql, values: parameters, rowMode: "array" });
      release();
      // pg keeps its last result reachable for a while; rows left on it outlive a young-generation
      // GC or two and are promoted, so an export's garbage piles up in the old generation (RSS
      // +130 MB over 1,000,000 rows). Taken off the result, a page dies young once it is written.
      const { rows } = result;
      result.rows = [];
      return rows;
    } catch (error) {
      release(error); // a client that failed mid-query is not reused
      throw error;
    }
  }
  const connection = (em.connection.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
  let statements = SQLITE_STATEMENTS.get(connection);
  if (!statements) SQLITE_STATEMENTS.set(connection, (statements = new Map()));
  let statement = statements.get(sql);
  if (!statement) {
    if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
    statement = connection.prepare(sql).raw(true);
    statements.set(sql, statement);
  }
  return statement.all(...parameters);
}

/**
 * Prepared SQLite statements by connection and SQL (preparing cost about a third of a page read).
 * The SQL varies only with which filters are set, so a handful of entries is the usual size.
 */
const SQLITE_STATEMENTS = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();
const MAX_CACHED_STATEMENTS = 64;

interface PgClient {
  query(config: { text: string; values: unknown[]; rowMode: "array" }): Promise<{ rows: unknown[][] }>;
}

interface SqliteStatement {
  all(...parameters: unknown[]): unknown[][];
}

interface SqliteConnection {
  prepare(sql: string): { raw(on: boolean): SqliteStatement };
}

/**
 * How a raw value of the column becomes what entity loading would give (null: it stays as read).
 * instants "text": an instant stored in canonical form stays its text (what toISOString() of the
 * loaded Date gives, see src/shared/dates.ts).
 */
function converterOf(em: EntityManager, column: ColumnMetadata, instants: "date" | "text"): ((value: unknown) => unknown) | null {
  const { driver } = em.connection;
  if (column.transformer) {
    if (instants === "date") return (value) => driver.prepareHydratedValue(value, column);
    return (value) => (typeof value === "string" && CANONICAL_INSTANT.test(value) ? value : driver.prepareHydratedValue(value, column));
  }
  if (column.type === "boolean" && em.connection.options.type !== "postgres") return (value) => (value == null ? null : value === 1 || value === true);
  if (em.connection.options.type === "postgres" && column.type === "integer") return null; // int4 arrives as a number
  if (column.type === "varchar" || column.type === "text" || column.type === "integer") return null;
  return (value) => driver.prepareHydratedValue(value, column);
}
