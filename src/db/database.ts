/**
 * The database handle features receive: the DataSource plus transactions that are safe on both
 * dialects.
 *
 * TypeORM's better-sqlite3 driver has ONE connection and turns a second concurrent transaction into
 * a SAVEPOINT of the first, so on SQLite transactions are serialized through a queue here. SQLite
 * has a single writer anyway; PostgreSQL transactions run concurrently on the pool.
 * Rule: every write goes through `transaction()`.
 */
import type { DataSource, EntityManager } from "typeorm";
import type { Dialect } from "./data-source";

export class Database {
  readonly dialect: Dialect;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dataSource: DataSource) {
    this.dialect = dataSource.options.type === "postgres" ? "postgres" : "sqlite";
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
