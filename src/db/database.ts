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

export class Database {
  readonly dialect: Dialect;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dataSource: DataSource) {
    this.dialect = dataSource.options.type === "postgres" ? "postgres" : "sqlite";
    if (this.dialect === "sqlite") beginImmediate(dataSource);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (this.dialect === "postgres") return this.dataSource.transaction(work);
    const run = this.queue.then(() => this.sqliteTransaction(work));
    this.queue = run.catch(() => undefined);
    return run;
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
