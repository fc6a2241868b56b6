/**
 * SQLite group commit of transactions (src/db/database.ts): concurrent transactions share one
 * COMMIT, each in its own savepoint; one that fails rolls back alone; callers are answered only
 * after the COMMIT; afterTransaction callbacks run once each transaction has ended, committed or not.
 */
import { DATABASES } from "../support/databases";
import { startServer, type TestServer } from "../support/server";

const sqlite = DATABASES.find((d) => d.name === "sqlite")!;

describe("SQLite group commit", () => {
  let server: TestServer;
  let commits = 0;

  beforeAll(async () => {
    server = await startServer(sqlite);
    await server.app.db.manager.query(`CREATE TABLE "scratch" ("n" integer PRIMARY KEY)`);
    const connection = (server.app.db.dataSource.driver as unknown as { databaseConnection: { exec(sql: string): unknown } }).databaseConnection;
    const exec = connection.exec.bind(connection);
    connection.exec = (sql: string) => {
      if (/^COMMIT/i.test(sql)) commits += 1;
      return exec(sql);
    };
  }, 60_000);

  afterAll(() => server?.stop(true));

  test("concurrent transactions commit together; the one that fails rolls back alone", async () => {
    const db = server.app.db;
    const endedCallbacks: number[] = [];
    const before = commits;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, n) =>
        db.transaction(async (em) => {
          await em.query(`INSERT INTO "scratch" ("n") VALUES (?)`, [n]);
          db.afterTransaction(em, () => endedCallbacks.push(n));
          if (n === 7) throw new Error("transaction 7 fails after its insert");
          return n;
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason.message)).toEqual(["transaction 7 fails after its insert"]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(19);
    const rows = (await db.manager.query(`SELECT "n" FROM "scratch" ORDER BY "n"`)) as Array<{ n: number }>;
    expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 20 }, (_, n) => n).filter((n) => n !== 7));
    expect(endedCallbacks.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n)); // the failed one too
    expect(commits - before).toBeLessThan(20); // shared COMMITs (the first one usually runs alone)
    expect(commits - before).toBeGreaterThanOrEqual(1);
  });

  test("a transaction's answer comes only after its COMMIT, and a failed COMMIT refuses every member of its group", async () => {
    const db = server.app.db;
    const answered: number[] = [];
    const connection = (db.dataSource.driver as unknown as { databaseConnection: { exec(sql: string): unknown } }).databaseConnection;
    const exec = connection.exec;
    connection.exec = (sql: string) => {
      if (/^COMMIT/i.test(sql)) {
        throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
      }
      return exec(sql);
    };
    try {
      const outcomes = await Promise.allSettled(
        [100, 101, 102].map((n) =>
          db
            .transaction((em) => em.query(`INSERT INTO "scratch" ("n") VALUES (?)`, [n]))
            .then(() => {
              answered.push(n);
            }),
        ),
      );
      expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
      expect(answered).toEqual([]);
      const rows = (await db.manager.query(`SELECT "n" FROM "scratch" WHERE "n" >= 100`)) as unknown[];
      expect(rows).toEqual([]); // rolled back: nothing half-committed
    } finally {
      connection.exec = exec;
    }
    // and the next transaction works
    await db.transaction((em) => em.query(`INSERT INTO "scratch" ("n") VALUES (?)`, [103]));
    expect((await db.manager.query(`SELECT "n" FROM "scratch" WHERE "n" >= 100`)) as unknown[]).toEqual([{ n: 103 }]);
  });
});
