/**
 * Builds the TypeORM DataSource for a DATABASE_URL.
 *
 * - `sqlite:<path>` (default `sqlite:./data/rbac.sqlite`): TypeORM 1.x reaches SQLite 3 through the
 *   synchronous better-sqlite3 driver (it dropped the `sqlite3` package). WAL journal,
 *   synchronous=FULL, a busy timeout and foreign keys on.
 * - `postgres://` / `postgresql://`: the `pg` driver with a pool.
 * Schema changes only through the migrations of the dialect; never `synchronize`.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DataSource, type DataSourceOptions } from "typeorm";
import { ENTITIES } from "./entities";
import { applySqlitePragmas } from "./sqlite-pragmas";
import { POSTGRES_MIGRATIONS } from "./migrations/postgres";
import { SQLITE_MIGRATIONS } from "./migrations/sqlite";

export type Dialect = "sqlite" | "postgres";

export interface DatabaseTarget {
  dialect: Dialect;
  /** File path for SQLite, connection URL for PostgreSQL. */
  location: string;
}

export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (!path) throw new Error("DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/rbac.sqlite");
    return { dialect: "sqlite", location: path === ":memory:" ? path : resolve(path) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: "postgres", location: url };
  throw new Error(`DATABASE_URL must start with sqlite: or postgres://, got "${url.split(":")[0]}:..."`);
}

export function dataSourceOptions(target: DatabaseTarget, poolSize = 10): DataSourceOptions {
  if (target.dialect === "sqlite") {
    return {
      type: "better-sqlite3",
      database: target.location,
      entities: ENTITIES,
      migrations: SQLITE_MIGRATIONS,
      migrationsRun: false,
      synchronize: false,
      timeout: 5000,
      prepareDatabase: applySqlitePragmas,
    };
  }
  return {
    type: "postgres",
    url: target.location,
    entities: ENTITIES,
    migrations: POSTGRES_MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    poolSize,
    extra: { connectionTimeoutMillis: 5000 },
  };
}

export function createDataSource(url: string, poolSize?: number): DataSource {
  const target = parseDatabaseUrl(url);
  if (target.dialect === "sqlite" && target.location !== ":memory:") mkdirSync(dirname(target.location), { recursive: true });
  return new DataSource(dataSourceOptions(target, poolSize));
}
