/**
 * The audit writer thread of SQLite (see sqlite-audit-writer.ts): its own connection, the same
 * pragmas (WAL, synchronous=FULL). A message is { id, records }; the answer { id, rows } once
 * committed and on disk, or { id, error }.
 *
 * Batches that arrive while a commit runs are committed together (one fsync), each in its own
 * savepoint: a batch that cannot be written is refused alone, unless SQLite rolled the whole
 * transaction back by itself (SQLITE_FULL, SQLITE_IOERR, ...), which refuses them all.
 */
import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { applySqlitePragmas } from "../db/sqlite-pragmas";
import { preparedStatements } from "../db/database";
import { appendSqlite, type AuditRecord } from "./audit-log";
import type { AuditEntryEntity } from "./audit-entry.entity";

interface Batch {
  id: number;
  records: AuditRecord[];
}

const connection = new BetterSqlite3((workerData as { file: string }).file, { timeout: 5000 });
applySqlitePragmas(connection);
const statements = preparedStatements(() => connection);
const queued: Batch[] = [];
let scheduled = false;

parentPort!.on("message", (batch: Batch) => {
  queued.push(batch);
  if (!scheduled) {
    scheduled = true;
    setImmediate(commitQueued); // the batches already delivered join this commit
  }
});

function commitQueued(): void {
  scheduled = false;
  const batches = queued.splice(0);
  const outcomes: Array<{ rows: AuditEntryEntity[] } | { error: string }> = [];
  try {
    connection.exec("BEGIN IMMEDIATE TRANSACTION");
    for (const batch of batches) {
      connection.exec("SAVEPOINT batch");
      try {
        outcomes.push({ rows: appendSqlite(statements, batch.records) });
        connection.exec("RELEASE SAVEPOINT batch");
      } catch (error) {
        outcomes.push({ error: describe(error) });
        if (!connection.inTransaction) throw error; // SQLite rolled everything back
        connection.exec("ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch");
      }
    }
    connection.exec("COMMIT");
  } catch (error) {
    if (connection.inTransaction) connection.exec("ROLLBACK");
    const reason = describe(error);
    for (const batch of batches) parentPort!.postMessage({ id: batch.id, error: reason });
    return;
  }
  batches.forEach((batch, i) => parentPort!.postMessage({ id: batch.id, ...outcomes[i] }));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
}
