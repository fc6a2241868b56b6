/**
 * SQLite's audit writer thread (the compiled worker the built service runs; dist/ is built once per
 * test run): its batches and the main connection's transactions on one file interleave into one
 * gapless chain; a failing batch is refused and the thread keeps serving; a thread that dies refuses
 * what was in flight and the next batch starts a new one.
 */
import { join, resolve } from "node:path";
import pino from "pino";
import type { AuditRecord } from "../../src/audit/audit-log";
import { AuditLog } from "../../src/audit/audit-log";
import { verifyChain } from "../../src/audit/audit-chain";
import type { SqliteAuditWriter as Writer } from "../../src/audit/sqlite-audit-writer";
import { buildServiceOnce } from "../support/audit-process";
import { DATABASES } from "../support/databases";
import { startServer, type TestServer } from "../support/server";

const sqlite = DATABASES.find((d) => d.name === "sqlite")!;
const ROOT = resolve(__dirname, "../..");

function compiledWriter(): typeof Writer {
  buildServiceOnce();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(join(ROOT, "dist/src/audit/sqlite-audit-writer.js")) as { SqliteAuditWriter: typeof Writer }).SqliteAuditWriter;
}

function record(organizationId: string, n: number): AuditRecord {
  return {
    organizationId,
    actorId: "writer-suite",
    actorKind: "SERVICE",
    role: "developer",
    action: "write",
    operation: "Query.can",
    resource: `conversation:${n}`,
    success: true,
    reason: "Role developer grants write",
    ipAddress: "127.0.0.1",
    userAgent: "writer-suite",
    requestId: `writer-${organizationId}-${n}`,
  };
}

describe("SQLite audit writer thread", () => {
  let server: TestServer;
  let writer: Writer;

  beforeAll(async () => {
    server = await startServer(sqlite);
    const SqliteAuditWriter = compiledWriter();
    writer = SqliteAuditWriter.forFile(server.app.db.sqliteFile, pino({ level: "silent" }))!;
    expect(writer).not.toBeNull();
  }, 60_000);

  afterAll(async () => {
    await writer?.close();
    await server?.stop(true);
  });

  test("batches of the thread and of the main connection interleave into one gapless chain per stream", async () => {
    const onThread = new AuditLog(server.app.db, writer);
    const onMain = new AuditLog(server.app.db);
    const streams = ["org-writer-a", "org-writer-b"];
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i += 1) {
      const log = i % 3 === 0 ? onMain : onThread;
      writes.push(log.record([record(streams[i % 2], i), record(streams[(i + 1) % 2], i + 1000)]));
      if (i % 25 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    for (const stream of streams) {
      const rows = (await server.app.db.manager.query(`SELECT "sequence" FROM "audit_entry" WHERE "stream" = ? ORDER BY "sequence"`, [stream])) as Array<{ sequence: number }>;
      expect(rows.map((r) => r.sequence)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(await verifyChain(server.app.db.manager, stream)).toMatchObject({ ok: true, entriesChecked: 200 });
    }
  });

  test("a batch that cannot be written is refused with the reason, and the thread keeps serving", async () => {
    const unwritable = { ...record("org-writer-c", 1), requestId: null as unknown as string }; // NOT NULL column
    await expect(writer.append([unwritable])).rejects.toThrow(/NOT NULL/);
    const [row] = await writer.append([record("org-writer-c", 2)]);
    expect(row).toMatchObject({ stream: "org-writer-c", sequence: 1 });
  });

  test("batches that arrive together share one commit; a bad one among them is refused alone", async () => {
    const unwritable = { ...record("org-writer-e", 0), requestId: null as unknown as string };
    const outcomes = await Promise.allSettled([
      writer.append([record("org-writer-e", 1)]),
      writer.append([unwritable]),
      writer.append([record("org-writer-e", 2), record("org-writer-e", 3)]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const rows = (await server.app.db.manager.query(`SELECT "sequence", "resource" FROM "audit_entry" WHERE "stream" = ? ORDER BY "sequence"`, ["org-writer-e"])) as Array<{
      sequence: number;
      resource: string;
    }>;
    expect(rows).toEqual([
      { sequence: 1, resource: "conversation:1" },
      { sequence: 2, resource: "conversation:2" },
      { sequence: 3, resource: "conversation:3" },
    ]);
    expect((await verifyChain(server.app.db.manager, "org-writer-e")).ok).toBe(true);
  });

  test("a thread that dies refuses what was in flight; the next batch starts a new thread", async () => {
    const inFlight = writer.append([record("org-writer-d", 1)]);
    await (writer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const outcome = await inFlight.then(
      () => "committed",
      (error: Error) => error.message,
    );
    // Either it committed before the thread died, or it was refused; never left hanging.
    expect(["committed", "audit writer thread exited with code 1"]).toContain(outcome);
    const [row] = await writer.append([record("org-writer-d", 2)]);
    expect(row.stream).toBe("org-writer-d");
    const rows = (await server.app.db.manager.query(`SELECT "sequence" FROM "audit_entry" WHERE "stream" = ? ORDER BY "sequence"`, ["org-writer-d"])) as Array<{ sequence: number }>;
    // A refused batch may still have committed (the thread died between COMMIT and its answer): an
    // entry without an acknowledgment is allowed, an acknowledgment without its entry never.
    if (outcome === "committed") expect(rows.map((r) => r.sequence)).toEqual([1, 2]);
    else expect([[1], [1, 2]]).toContainEqual(rows.map((r) => r.sequence));
  });
});
