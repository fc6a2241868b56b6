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
    const run = this.queue.then(() => this.dataSource.transaction(work));
    this.queue = run.catch(() => undefined);
    return run;
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
