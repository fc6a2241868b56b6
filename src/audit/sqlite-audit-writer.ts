/**
 * SQLite's audit group commits in a worker thread.
 *
 * better-sqlite3 is synchronous: on the main thread every COMMIT waits for its fsync
 * (synchronous=FULL) with the event loop stopped, and nothing else is served meanwhile. The writer
 * thread has its own connection to the same file with the same pragmas, so the fsync of one batch
 * overlaps with serving the requests of the next; SQLite's write lock orders its transactions with
 * the main connection's (mutations) and with other processes', exactly as between processes.
 *
 * Rules:
 * - A batch is acknowledged only after the writer's COMMIT returned (durable); an error, or the
 *   thread dying, rejects every batch in flight (the callers answer AUDIT_UNAVAILABLE) and the next
 *   batch starts a new thread.
 * - Used when the service runs compiled (the worker is a .js file next to this one) on a file
 *   database; otherwise (ts sources under test, `:memory:`) the batch runs on the main connection.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { AuditEntryEntity } from "./audit-entry.entity";
import type { AuditRecord } from "./audit-log";

const WORKER_SCRIPT = join(__dirname, "sqlite-audit-worker.js");

interface Pending {
  resolve: (rows: AuditEntryEntity[]) => void;
  reject: (error: Error) => void;
}

export class SqliteAuditWriter {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  private constructor(
    private readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** A writer for this database file, or null where batches stay on the main connection. */
  static forFile(file: string, logger: Logger): SqliteAuditWriter | null {
    return file && existsSync(WORKER_SCRIPT) ? new SqliteAuditWriter(file, logger) : null;
  }

  append(records: AuditRecord[]): Promise<AuditEntryEntity[]> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref(); // a batch in flight keeps the process alive (shutdown waits for it)
      worker.postMessage({ id, records });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    const worker = new Worker(WORKER_SCRIPT, { workerData: { file: this.file } });
    worker.on("message", (message: { id: number; rows?: AuditEntryEntity[]; error?: string }) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (this.pending.size === 0) worker.unref();
      if (message.error !== undefined) waiting.reject(new Error(message.error));
      else waiting.resolve(message.rows!);
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.logger.error({ err: error }, "audit writer thread stopped; batches in flight are refused");
      for (const [, waiting] of this.pending) waiting.reject(error);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`audit writer thread exited with code ${code}`)));
    worker.unref();
    return worker;
  }
}
