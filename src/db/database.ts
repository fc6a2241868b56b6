/**
 * The database handle features receive: the DataSource plus transactions that are safe on both
 * dialects. Rule: every write goes through `transaction()` (or, for the audit log, `sqliteBatch` /
 * `sqliteExclusive`).
 *
 * PostgreSQL transactions run concurrently on the pool.
 *
 * SQLite has one writer, and TypeORM's better-sqlite3 driver has ONE connection that turns a second
 * concurrent transaction into a SAVEPOINT of the first. So SQLite transactions are queued here and
 * run as **group commits**: the queued transactions run one after another, each in its own
 * SAVEPOINT of one BEGIN IMMEDIATE … COMMIT, and every caller is answered after that COMMIT. A
 * transaction that fails rolls back to its savepoint only; the others still commit. One fsync
 * (synchronous=FULL) then serves the whole group instead of each transaction.
 * - BEGIN IMMEDIATE takes the write lock up front and waits under busy_timeout, so several processes
 *   on one file never hit SQLITE_BUSY on a read-to-write upgrade (aud-08).
 * - SQLite may roll a whole transaction back by itself (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY,
 *   SQLITE_NOMEM) and TypeORM's ROLLBACK then fails silently (aud-07). When that happens nothing of
 *   the group was committed: the transactions that had run are refused with that error, those that
 *   had not run yet go to the next group. After every group the runner is reset to the
 *   connection's real state; a transaction still open after COMMIT is rolled back and refused.
 * - `sqliteExclusive` work (the audit writer thread's batches) holds the queue with no transaction
 *   open on this connection, so this process never contends with itself for the write lock.
 *   Exclusive work queued together runs together: the writer thread commits its batches in order.
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

/** A queued SQLite unit of work: inside the group's transaction, or alone with none open. */
interface Member {
  kind: "transaction" | "exclusive";
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Upper bound of transactions per group commit (bounds how long the write lock is held). */
const MAX_GROUP = 64;

export class Database {
  readonly dialect: Dialect;
  private readonly members: Member[] = [];
  private runningGroups = false;
  /** While exclusive work runs: what is in flight (more exclusive work may join). */
  private exclusiveRuns: Set<Promise<void>> | null = null;
  private readonly transactionCallbacks = new WeakMap<EntityManager, Array<() => void>>();

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
      this.transactionCallbacks.set(em, callbacks);
      try {
        return await work(em);
      } finally {
        this.transactionCallbacks.delete(em);
      }
    };
    const run = this.dialect === "postgres" ? this.dataSource.transaction(tracked) : this.enqueue<T>("transaction", () => this.dataSource.transaction(tracked));
    const ended = () => {
      for (const callback of callbacks) callback();
    };
    return run.finally(ended);
  }

  /**
   * Runs `callback` once the transaction of `em` has ended, committed or rolled back; outside a
   * transaction (`em` is the plain manager) at once. Caches are dropped then, never before: a
   * reader could otherwise put the old row back.
   */
  afterTransaction(em: EntityManager, callback: () => void): void {
    const callbacks = this.transactionCallbacks.get(em);
    if (callbacks) callbacks.push(callback);
    else callback();
  }

  /**
   * SQLite only: `work` runs synchronously on the raw connection, in a savepoint of the next group
   * commit (the audit log's group commit when it has no writer thread); a throw rolls it back.
   */
  sqliteBatch<T>(work: (sql: SqliteStatements) => T): Promise<T> {
    if (this.dialect !== "sqlite") throw new Error("sqliteBatch is for SQLite only");
    return this.enqueue<T>("transaction", async () => {
      const connection = this.raw();
      connection.exec("SAVEPOINT raw_batch");
      try {
        const result = work(this.statements);
        connection.exec("RELEASE SAVEPOINT raw_batch");
        return result;
      } catch (error) {
        if (connection.inTransaction) connection.exec("ROLLBACK TO SAVEPOINT raw_batch; RELEASE SAVEPOINT raw_batch");
        throw error;
      }
    });
  }

  /**
   * SQLite only: `run` holds the transaction queue while no transaction of this connection is open —
   * for writes made through another connection of this process (the audit writer thread).
   */
  sqliteExclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.dialect !== "sqlite") throw new Error("sqliteExclusive is for SQLite only");
    return this.enqueue<T>("exclusive", run);
  }

  private readonly statements = preparedStatements(() => this.raw());

  /** SQLite only: a synchronous read on the main connection (prepared once), for per-request checks. */
  sqliteRead(sql: string, params: readonly unknown[] = []): Array<Record<string, unknown>> {
    return this.statements.all(sql, params);
  }

  /** SQLite only: the database file ("" for an in-memory database). */
  get sqliteFile(): string {
    const file = String(this.dataSource.options.database ?? "");
    return file === ":memory:" ? "" : file;
  }

  private raw(): RawSqlite {
    return (this.dataSource.driver as unknown as { databaseConnection: RawSqlite }).databaseConnection;
  }

  private enqueue<T>(kind: Member["kind"], run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const member: Member = { kind, run, resolve: resolve as (value: unknown) => void, reject };
      if (kind === "exclusive" && this.exclusiveRuns && this.members.length === 0) this.startExclusive(member);
      else this.members.push(member);
      if (!this.runningGroups) void this.runGroups();
    });
  }

  private startExclusive(member: Member): void {
    const runs = this.exclusiveRuns!;
    const done: Promise<void> = member
      .run()
      .then(member.resolve, member.reject)
      .finally(() => runs.delete(done));
    runs.add(done);
  }

  private async runGroups(): Promise<void> {
    this.runningGroups = true;
    try {
      while (this.members.length > 0) {
        if (this.members[0].kind === "exclusive") {
          // Exclusive work runs together (the writer thread orders its own batches), never beside a
          // group; more joins while it lasts, until a transaction is queued.
          const runs = (this.exclusiveRuns = new Set());
          while (this.members.length > 0 && this.members[0].kind === "exclusive") this.startExclusive(this.members.shift()!);
          while (runs.size > 0) await Promise.race(runs);
          this.exclusiveRuns = null;
          continue;
        }
        let size = 0;
        while (size < this.members.length && size < MAX_GROUP && this.members[size].kind === "transaction") size += 1;
        await this.runGroup(this.members.splice(0, size));
      }
    } finally {
      this.runningGroups = false;
    }
  }

  /** One SQLite transaction for the whole group; each member in its own savepoint (see the header). */
  private async runGroup(group: Member[]): Promise<void> {
    const connection = this.raw();
    try {
      connection.exec("BEGIN IMMEDIATE TRANSACTION");
    } catch (error) {
      settleSqlite(this.dataSource);
      for (const member of group) member.reject(error);
      return;
    }
    // TypeORM now opens each member's transaction as a SAVEPOINT of this one.
    const runner = this.dataSource.driver.createQueryRunner("master") as unknown as { isTransactionActive: boolean; transactionDepth: number };
    runner.isTransactionActive = true;
    runner.transactionDepth = 1;
    const outcomes: Array<{ value: unknown } | { error: unknown } | null> = [];
    let lost: unknown = null;
    for (const member of group) {
      if (lost !== null) {
        outcomes.push(null);
        continue;
      }
      try {
        outcomes.push({ value: await member.run() });
      } catch (error) {
        outcomes.push({ error });
        if (!connection.inTransaction) lost = error; // SQLite rolled the whole transaction back by itself
      }
    }
    let failure: unknown = lost;
    if (failure === null) {
      try {
        connection.exec("COMMIT");
      } catch (error) {
        failure = error;
      }
    }
    if (settleSqlite(this.dataSource) && failure === null) failure = new Error("the SQLite transaction was still open after COMMIT and has been rolled back");
    const notRun: Member[] = [];
    group.forEach((member, i) => {
      const outcome = outcomes[i];
      if (outcome === null) notRun.push(member);
      else if ("error" in outcome) member.reject(outcome.error);
      else if (failure !== null) member.reject(failure);
      else member.resolve(outcome.value);
    });
    this.members.unshift(...notRun);
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
