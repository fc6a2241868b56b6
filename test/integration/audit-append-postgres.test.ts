/**
 * PostgreSQL group commits append on the head this instance wrote last, in one statement; when
 * another writer moved the head the statement changes nothing and the locking path runs. Either
 * way each stream stays one gapless, verifiable chain.
 */
import { AuditLog, type AuditRecord } from "../../src/audit/audit-log";
import { verifyChain } from "../../src/audit/audit-chain";
import { DATABASES } from "../support/databases";
import { startServer, type TestServer } from "../support/server";

const postgres = DATABASES.find((d) => d.name === "postgres");
const describeOnPostgres = postgres ? describe : describe.skip;

function record(stream: string, n: number): AuditRecord {
  return {
    organizationId: stream,
    actorId: "append-suite",
    actorKind: "SERVICE",
    role: "viewer",
    action: "read",
    operation: "Query.can",
    resource: `conversation:${n}`,
    success: n % 2 === 0,
    reason: null,
    ipAddress: null,
    userAgent: null,
    requestId: `append-${n}`,
    details: n % 3 === 0 ? { n } : null,
  };
}

describeOnPostgres("PostgreSQL audit append on a known head", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(postgres!);
  }, 60_000);
  afterAll(() => server?.stop(true));

  const sequences = async (stream: string) =>
    ((await server.app.db.manager.query(`SELECT "sequence" FROM "audit_entry" WHERE "stream" = $1 ORDER BY "sequence"`, [stream])) as Array<{ sequence: number }>).map((r) => r.sequence);

  test("two writers on one stream: guesses that hold append in one statement, stale ones fall back; one gapless chain", async () => {
    const stream = "org-append-a";
    const first = new AuditLog(server.app.db);
    const second = new AuditLog(server.app.db);
    const paths: string[] = [];
    first.onAppend = (path) => paths.push(path);
    let n = 0;
    await first.record([record(stream, n++)]); // locking path, learns the head
    await first.record([record(stream, n++), record(stream, n++)]); // on the known head
    expect(paths).toEqual(["locking", "known_head"]);
    expect((first as unknown as { contended: Map<string, number> }).contended.has(stream)).toBe(false);
    await second.record([record(stream, n++)]); // moves the head under the first writer
    await first.record([record(stream, n++)]); // stale guess: nothing written by it, locking path instead
    expect((first as unknown as { contended: Map<string, number> }).contended.has(stream)).toBe(true);
    expect(paths).toEqual(["locking", "known_head", "locking"]);
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? first : second).record([record(stream, n++)])));
    expect(await sequences(stream)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(await verifyChain(server.app.db.manager, stream)).toMatchObject({ ok: true, entriesChecked: n });
  });

  test("a batch over several streams appends each on its own head", async () => {
    const log = new AuditLog(server.app.db);
    for (let round = 0; round < 3; round += 1) {
      await log.record(["org-append-b", "org-append-c", "org-append-b"].map((s, i) => record(s, round * 10 + i)));
    }
    expect(await sequences("org-append-b")).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await sequences("org-append-c")).toEqual([1, 2, 3]);
    for (const stream of ["org-append-b", "org-append-c"]) expect((await verifyChain(server.app.db.manager, stream)).ok).toBe(true);
  });
});
