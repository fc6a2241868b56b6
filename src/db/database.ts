/**
 * The database handle features receive: the DataSource plus transactions that are safe on both
 * dialects.
 *
 * TypeORM's better-sqlite3 driver has ONE connection and turns a second concurrent transaction into
 * a SAVEPOINT of the first, so on SQLite transactions are serialized through a queue here. SQLite
 * has a single writer anyway; PostgreSQL transactions run concurrently on the pool.
 * Rule: every write goes through `transaction()`.
 *
 * SQLite transactions start with BEGIN IMMEDIATE (TypeORM writes a deferred BEGIN): the write lock is
 * taken up front and waits under busy_timeout, so several processes on one file never hit
 * SQLITE_BUSY on a read-to-write upgrade (aud-08).
 * Between two queued SQLite transactions none is open (aud-07): SQLite may roll a whole transaction
 * back by itself (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM), TypeORM's ROLLBACK then fails
 * silently and its runner keeps counting an open transaction, so the next one would become a
 * SAVEPOINT that a later failure leaves open — and nothing acknowledged after it would be committed.
 * After each transaction the runner is reset to the connection's real state; a transaction still
 * open is rolled back, and a call that "committed" with its transaction still open fails.
 */
import type { DataSource, EntityManager } from "typeorm";
import type { Dialect } from "./data-source";

/** Synchronous statements on the raw SQLite connection (better-sqlite3), prepared once per SQL text. */
export interface SqliteStatements {
  all(sql: string, params?: readonly unknown[]): Array<Record<string, unknown>>;
  run(sql: string, params?: readonly unknown[]): void;
}

export interface RawSqlite {
  inTransaction: boolean;
  exec(sql: string): unknown;
  prepare(sql: string): { all(...params: unknown[]): unknown[]; run(...params: unknown[]): unknown };
}

const MAX_PREPARED = 200;

/** Statements on a raw better-sqlite3 connection, each SQL text prepared once. */
export function preparedStatements(connection: () => RawSqlite): SqliteStatements {
  const prepared = new Map<string, ReturnType<RawSqlite["prepare"]>>();
  const prepare = (sql: string) => {
    let statement = prepared.get(sql);
    if (!statement) {
      if (prepared.size >= MAX_PREPARED) prepared.clear();
      statement = connection().prepare(sql);
      prepared.set(sql, statement);
    }
    return statement;
  };
  return {
    all: (sql, params = []) => prepare(sql).all(...params) as Array<Record<string, unknown>>,
    run: (sql, params = []) => void prepare(sql).run(...params),
  };
}

export class Database {
  readonly dialect: Dialect;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly commitCallbacks = new WeakMap<EntityManager, Array<() => void>>();

  constructor(readonly dataSource: DataSource) {
    this.dialect = dataSource.options.type === "postgres" ? "postgres" : "sqlite";
    if (this.dialect === "sqlite") beginImmediate(dataSource);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const callbacks: Array<() => void> = [];
    const tracked = async (em: EntityManager): Promise<T> => {
      this.commitCallbacks.set(em, callbacks);
      try {
        return await work(em);
      } finally {
        this.commitCallbacks.delete(em);
      }
    };
    let run: Promise<T>;
    if (this.dialect === "postgres") run = this.dataSource.transaction(tracked);
    else {
      run = this.queue.then(() => this.sqliteTransaction(tracked));
      this.queue = run.catch(() => undefined);
    }
    return run.then((result) => {
      for (const callback of callbacks) callback();
      return result;
    });
  }

  /**
   * Runs `callback` once the transaction of `em` has committed (never if it rolls back). Outside a
   * transaction (`em` is the plain manager) it runs at once. Used to invalidate in-memory caches
   * only when the change is visible to every reader.
   */
  afterCommit(em: EntityManager, callback: () => void): void {
    const list = this.commitCallbacks.get(em);
    if (list) list.push(callback);
    else callback();
  }

  /**
   * SQLite only: `work` runs synchronously on the raw connection between BEGIN IMMEDIATE and COMMIT,
   * queued like every other transaction. Nothing else can run in between, so this is the cheapest
   * durable write there is (the audit group commit uses it); a throw rolls back.
   */
  sqliteBatch<T>(work: (sql: SqliteStatements) => T): Promise<T> {
    if (this.dialect !== "sqlite") throw new Error("sqliteBatch is for SQLite only");
    const run = this.queue.then(() => {
      const connection = this.raw();
      connection.exec("BEGIN IMMEDIATE TRANSACTION");
      try {
        const result = work(this.statements);
        connection.exec("COMMIT");
        return result;
      } finally {
        settleSqlite(this.dataSource);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** SQLite only: PRAGMA data_version, which changes when another connection (process) commits. */
  sqliteDataVersion(): number {
    return Number(this.statements.all("PRAGMA data_version")[0].data_version);
  }

  private readonly statements = preparedStatements(() => this.raw());

  /** SQLite only: the database file ("" for an in-memory database). */
  get sqliteFile(): string {
    const file = String(this.dataSource.options.database ?? "");
    return file === ":memory:" ? "" : file;
  }

  private raw(): RawSqlite {
    return (this.dataSource.driver as unknown as { databaseConnection: RawSqlite }).databaseConnection;
  }

  private async sqliteTransaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.dataSource.transaction(work);
    } catch (error) {
      settleSqlite(this.dataSource);
      throw error;
    }
    if (settleSqlite(this.dataSource)) throw new Error("the SQLite transaction was still open after COMMIT and has been rolled back");
    return result;
  }

  /**
   * Applies pending SQLite migrations when several processes may start together on one file (the
   * PostgreSQL path holds an advisory lock instead): a migration that another process applied after
   * this one read the list fails here and rolls back; while the others make progress, the list is
   * read again. A failure with no progress elsewhere is a real one and is thrown.
   */
  async runSqliteMigrations(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const before = await this.migrationProgress();
      try {
        await this.dataSource.runMigrations({ transaction: "each" });
        return;
      } catch (error) {
        settleSqlite(this.dataSource);
        if (attempt >= 20 || (await this.migrationProgress()) === before) throw error;
      }
    }
  }

  private async migrationProgress(): Promise<string> {
    try {
      const rows = (await this.dataSource.query(`SELECT COUNT(*) AS "n" FROM "migrations"`)) as Array<{ n: number }>;
      return String(rows[0].n);
    } catch {
      return "no migrations table";
    }
  }

  async ping(): Promise<void> {
    await this.dataSource.query("SELECT 1");
  }

  async pendingMigrations(): Promise<boolean> {
    return this.dataSource.showMigrations();
  }
}

/** TypeORM keeps one query runner for SQLite; its deferred BEGIN becomes BEGIN IMMEDIATE. */
function beginImmediate(dataSource: DataSource): void {
  const runner = dataSource.driver.createQueryRunner("master");
  const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
  (runner as { query: unknown }).query = (sql: string, ...rest: unknown[]) => query(sql === "BEGIN TRANSACTION" ? "BEGIN IMMEDIATE TRANSACTION" : sql, ...rest);
}

/** Puts the one SQLite connection and TypeORM's runner back to "no transaction"; true if one was still open. */
function settleSqlite(dataSource: DataSource): boolean {
  const connection = (dataSource.driver as unknown as { databaseConnection: { inTransaction: boolean; exec(sql: string): unknown } }).databaseConnection;
  const runner = dataSource.driver.createQueryRunner("master") as unknown as { isTransactionActive: boolean; transactionDepth: number };
  const open = connection.inTransaction;
  if (open) connection.exec("ROLLBACK");
  runner.isTransactionActive = false;
  runner.transactionDepth = 0;
  return open;
}
