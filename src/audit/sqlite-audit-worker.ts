/**
 * The audit writer thread of SQLite (see sqlite-audit-writer.ts): its own connection, the same
 * pragmas (WAL, synchronous=FULL), one transaction per batch. A message is { id, records }; the
 * answer { id, rows } once committed and on disk, or { id, error } after a rollback.
 */
import "reflect-metadata";
import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { applySqlitePragmas } from "../db/data-source";
import { preparedStatements } from "../db/database";
import { appendSqlite, type AuditRecord } from "./audit-log";

const connection = new BetterSqlite3((workerData as { file: string }).file, { timeout: 5000 });
applySqlitePragmas(connection);
const statements = preparedStatements(() => connection);

parentPort!.on("message", ({ id, records }: { id: number; records: AuditRecord[] }) => {
  try {
    connection.exec("BEGIN IMMEDIATE TRANSACTION");
    const rows = appendSqlite(statements, records);
    connection.exec("COMMIT");
    parentPort!.postMessage({ id, rows });
  } catch (error) {
    // SQLite may already have rolled back by itself (SQLITE_FULL, SQLITE_IOERR, ...).
    if (connection.inTransaction) connection.exec("ROLLBACK");
    parentPort!.postMessage({ id, error: error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error) });
  }
});
