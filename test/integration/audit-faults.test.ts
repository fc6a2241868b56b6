/**
 * "No gaps, fail closed" under real faults (aud-06 .. aud-09), against real processes of the built
 * service (`node dist/src/server/main.js`) and real databases:
 *
 * - aud-06 SIGKILL at random moments under a load of mutations (and decisions), restart on the same
 *   database: every acknowledged change exists with its entry, no change exists without one, every
 *   acknowledged decision has its entry, every stream is 1..n, the chain verifies. (A killed process
 *   leaves the OS page cache intact, so this cannot show a missing fsync: aud-09 covers that.)
 * - aud-07 the database goes away (PostgreSQL: the database stops accepting connections and the
 *   service's are terminated, idle and under load; SQLite: another process holds the write lock
 *   beyond the busy timeout), and the disk fills up (SQLite `PRAGMA max_page_count`): errors, nothing
 *   acknowledged, no partial rows, /readyz not ready; recovery works — and what is acknowledged after
 *   recovery is really committed (SQLite rolls a transaction back by itself on SQLITE_FULL, which
 *   once left TypeORM counting an open transaction and every later "commit" uncommitted).
 * - aud-08 several processes × many concurrent writers on one database (one SQLite WAL file): no lost
 *   rows, no SQLITE_BUSY reaching a client, gapless streams, a verifying chain; several processes
 *   started together on a fresh database all come up (they race for the migrations).
 * - aud-09 the service's SQLite connection runs with synchronous=FULL and journal_mode=WAL.
 *
 * Loads are bounded by count; nothing asserts a time. Measured numbers are printed (console.info).
 */
import Sqlite from "better-sqlite3";
import { Client } from "pg";
import {
  CREATE_MAPPING,
  VERIFY_CHAIN,
  gapless,
  gql,
  newSecrets,
  openDatabase,
  pool,
  readyz,
  startService,
  streamShapes,
  buildServiceOnce,
  type DatabaseView,
  type ServiceProcess,
  setUpOrganization,
  type ProcessOrganization,
  type ServiceSecrets,
} from "../support/audit-process";
import { DATABASES, type DatabaseKind, type TestDatabase } from "../support/databases";
import { createOrgWithPrincipals } from "../support/fixtures";
import { errorCode, ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

const CAN = `query($r: String) { can(action: READ, resource: $r) { allowed } }`;
const BUSY = /SQLITE_BUSY|database is locked/i;

const randomInt = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Org = ProcessOrganization;

/** What the database holds for an organization's mappings and their entries. */
async function mappingsAndEntries(view: DatabaseView, organizationId: string) {
  const mappings = await view.rows<{ id: string; idpGroup: string }>(`SELECT "id", "idpGroup" FROM "role_mapping" WHERE "organizationId" = '${organizationId}'`);
  const entries = await view.rows<{ resource: string; operation: string; success: boolean | number }>(
    `SELECT "resource", "operation", "success" FROM "audit_entry" WHERE "stream" = '${organizationId}'`,
  );
  const count = (operation: string, success: boolean) => {
    const counts = new Map<string, number>();
    for (const e of entries) if (e.operation === operation && Boolean(e.success) === success) counts.set(e.resource, (counts.get(e.resource) ?? 0) + 1);
    return counts;
  };
  return { mappings, created: count("Mutation.createRoleMapping", true), decisions: count("Query.can", true), failures: entries.filter((e) => !e.success) };
}

async function expectGaplessStreams(view: DatabaseView): Promise<number> {
  const shapes = await streamShapes(view);
  expect(shapes.length).toBeGreaterThan(0);
  for (const shape of shapes) expect(shape).toEqual(gapless(shape));
  return shapes.length;
}

async function expectChainVerifies(service: ServiceProcess, secrets: ServiceSecrets, organizationId: string): Promise<number> {
  const org = await gql<{ verifyAuditChain: { ok: boolean; entriesChecked: number; firstBrokenSequence: number | null } }>(service.url, secrets.platformKey, VERIFY_CHAIN, { id: organizationId });
  expect(org.errors).toBeUndefined();
  expect(org.data!.verifyAuditChain).toMatchObject({ ok: true, firstBrokenSequence: null });
  const platform = await gql<{ verifyAuditChain: { ok: boolean } }>(service.url, secrets.platformKey, VERIFY_CHAIN, { id: null });
  expect(platform.data!.verifyAuditChain.ok).toBe(true);
  return org.data!.verifyAuditChain.entriesChecked;
}

type Op = { kind: "mutation" | "decision"; name: string };

/** `mutations` createRoleMapping calls with unique groups, and a `can` decision after every fourth. */
function mixedOps(prefix: string, mutations: number): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < mutations; i += 1) {
    ops.push({ kind: "mutation", name: `${prefix}-g${i}` });
    if (i % 4 === 3) ops.push({ kind: "decision", name: `${prefix}-d${i}` });
  }
  return ops;
}

/** What the clients saw. */
class Tally {
  readonly mappings = new Map<string, string>(); // group → id of an acknowledged createRoleMapping
  readonly decisions = new Set<string>(); // resources of acknowledged decisions
  readonly refused: string[] = []; // answered, but with an error
  lost = 0; // no answer at all (the process died under the request)
  mutationsSent = 0;
  decisionsSent = 0;

  async send(service: ServiceProcess, org: Org, op: Op): Promise<"acknowledged" | "refused" | "lost"> {
    try {
      if (op.kind === "mutation") {
        this.mutationsSent += 1;
        const reply = await gql<{ createRoleMapping: { id: string } }>(service.url, org.adminKey, CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: op.name, roleKey: "viewer" } });
        if (reply.status === 200 && reply.data?.createRoleMapping?.id) {
          this.mappings.set(op.name, reply.data.createRoleMapping.id);
          return "acknowledged";
        }
        this.refused.push(`${op.name}: ${JSON.stringify(reply.errors)}`);
        return "refused";
      }
      this.decisionsSent += 1;
      const reply = await gql<{ can: { allowed: boolean } }>(service.url, org.viewerKey, CAN, { r: op.name });
      if (reply.status === 200 && reply.data?.can?.allowed === true) {
        this.decisions.add(op.name);
        return "acknowledged";
      }
      this.refused.push(`${op.name}: ${JSON.stringify(reply.errors)}`);
      return "refused";
    } catch {
      this.lost += 1;
      return "lost";
    }
  }
}

/**
 * The trail matches what clients were told: every acknowledged change exists with exactly one
 * success entry, no change exists without one (nor an entry without its change — the load never
 * deletes), every acknowledged decision has its entry, every stream is 1..n. Returns how many
 * changes committed without their acknowledgement reaching the client.
 */
async function expectTrailMatches(view: DatabaseView, organizationId: string, tally: Tally): Promise<{ inDoubt: number; streams: number }> {
  const { mappings, created, decisions } = await mappingsAndEntries(view, organizationId);
  const byGroup = new Map(mappings.map((m) => [m.idpGroup, m.id]));
  for (const [group, id] of tally.mappings) {
    expect([group, byGroup.get(group)]).toEqual([group, id]);
    expect([group, created.get(`roleMapping:${id}`)]).toEqual([group, 1]);
  }
  for (const m of mappings) expect([m.idpGroup, created.get(`roleMapping:${m.id}`)]).toEqual([m.idpGroup, 1]);
  expect(created.size).toBe(mappings.length);
  for (const name of tally.decisions) expect([name, decisions.get(name)]).toEqual([name, 1]);
  const streams = await expectGaplessStreams(view);
  return { inDoubt: [...byGroup.keys()].filter((g) => !tally.mappings.has(g)).length, streams };
}

describe.each(DATABASES)("audit faults on $name", (kind: DatabaseKind) => {
  const running = new Set<ServiceProcess>();
  const databases: TestDatabase[] = [];

  beforeAll(() => buildServiceOnce(), 120_000);
  afterEach(async () => {
    for (const service of running) await service.kill();
    running.clear();
  });
  afterAll(async () => {
    for (const database of databases) await database.drop();
  });

  const freshDatabase = async () => {
    const database = await kind.create();
    databases.push(database);
    return database;
  };
  const start = async (database: TestDatabase, secrets: ServiceSecrets, watch?: Record<string, RegExp>) => {
    const service = await startService({ databaseUrl: database.url, secrets, watch });
    running.add(service);
    return service;
  };

  test("aud-06 kill -9 at random moments under load: every acknowledged change and decision has its entry, streams have no gaps, the chain verifies", async () => {
    const MUTATIONS = 1000;
    const KILLS = 5;
    const IN_FLIGHT = 8;
    const database = await freshDatabase();
    const secrets = newSecrets();
    let service = await start(database, secrets);
    const org = await setUpOrganization(service, secrets, "faults");
    const tally = new Tally();
    const killedAfter: number[] = []; // mutations sent when each kill was ordered

    for (let round = 0; round <= KILLS && tally.mutationsSent < MUTATIONS; round += 1) {
      if (round > 0) service = await start(database, secrets);
      const killing = round < KILLS;
      const ops = mixedOps(`r${round}`, killing ? Math.min(MUTATIONS - tally.mutationsSent, randomInt(100, 200)) : MUTATIONS - tally.mutationsSent);
      const killAt = killing ? randomInt(Math.floor(ops.length / 3), ops.length) : -1;
      const target = service;
      let dispatched = 0;
      let killed = false;
      let kill: Promise<void> | null = null;
      await pool(
        ops,
        IN_FLIGHT,
        (op) => {
          dispatched += 1;
          if (dispatched === killAt) {
            killedAfter.push(tally.mutationsSent);
            // A random moment: 0-10 ms after this request left, with up to IN_FLIGHT others in flight.
            kill = delay(randomInt(0, 10)).then(() => {
              killed = true;
              return target.kill();
            });
          }
          return tally.send(target, org, op);
        },
        () => killed,
      );
      if (killing) {
        expect(kill).not.toBeNull();
        await kill;
        running.delete(target);
      }
    }

    // The last round ran on a restarted process that was not killed: it still serves.
    const view = await openDatabase(database.url);
    try {
      const { inDoubt, streams } = await expectTrailMatches(view, org.id, tally);
      expect(tally.refused).toEqual([]);
      expect((await mappingsAndEntries(view, org.id)).failures).toEqual([]);
      const checked = await expectChainVerifies(service, secrets, org.id);
      console.info(
        `[${kind.name}] aud-06: ${killedAfter.length} kills (after ${killedAfter.join(", ")} mutations sent), ${tally.mutationsSent} mutations sent, ` +
          `${tally.mappings.size} acknowledged, ${inDoubt} committed without the answer reaching the client, ` +
          `${tally.decisionsSent} decisions sent, ${tally.decisions.size} acknowledged, ${tally.lost} requests cut off by a kill; ${streams} streams gapless, ${checked} entries verified`,
      );
      expect(killedAfter).toHaveLength(KILLS);
      expect(tally.mutationsSent).toBe(MUTATIONS);
      expect(tally.mappings.size).toBeGreaterThan(MUTATIONS / 2);
    } finally {
      await view.close();
    }
  }, 180_000);

  test("aud-08 three processes × 20 concurrent writers on one database: nothing lost, no busy error reaches a client, gapless, the chain verifies", async () => {
    const PROCESSES = 3;
    const IN_FLIGHT = 20;
    const MUTATIONS_EACH = 150;
    const database = await freshDatabase();
    const secrets = newSecrets();
    // Started together on a fresh database: they race for the migrations too.
    const services = await Promise.all(Array.from({ length: PROCESSES }, () => start(database, secrets, { busy: BUSY })));
    const org = await setUpOrganization(services[0], secrets, "faults");
    const tally = new Tally();
    // Every process writes to the same organization's stream: one chain, many writers.
    await Promise.all(
      services.map((service, p) => {
        const ops = mixedOps(`p${p}`, MUTATIONS_EACH);
        for (let i = ops.length; i < 2 * MUTATIONS_EACH; i += 1) ops.push({ kind: "decision", name: `p${p}-x${i}` });
        return pool(ops, IN_FLIGHT, (op) => tally.send(service, org, op));
      }),
    );

    expect(tally.refused).toEqual([]);
    expect(tally.lost).toBe(0);
    expect(services.map((s) => s.logMatches("busy"))).toEqual(services.map(() => 0));
    expect(tally.mappings.size).toBe(PROCESSES * MUTATIONS_EACH);
    expect(tally.decisions.size).toBe(tally.decisionsSent);

    const view = await openDatabase(database.url);
    try {
      const { inDoubt, streams } = await expectTrailMatches(view, org.id, tally);
      expect(inDoubt).toBe(0);
      const { decisions, failures } = await mappingsAndEntries(view, org.id);
      expect(decisions.size).toBe(tally.decisions.size);
      expect(failures).toEqual([]);
      const checked = await expectChainVerifies(services[PROCESSES - 1], secrets, org.id);
      console.info(
        `[${kind.name}] aud-08: ${PROCESSES} processes × ${IN_FLIGHT} in flight on one stream: ${tally.mappings.size} mutations and ${tally.decisions.size} decisions acknowledged, ` +
          `0 refused, 0 busy log lines; ${streams} streams gapless, ${checked} entries verified`,
      );
    } finally {
      await view.close();
    }
  }, 120_000);

  test("aud-08 four processes started together on a fresh database all come up (the migrations are not raced into a crash)", async () => {
    for (let round = 0; round < 2; round += 1) {
      const database = await freshDatabase();
      const secrets = newSecrets();
      const services = await Promise.all(Array.from({ length: 4 }, () => start(database, secrets)));
      for (const service of services) {
        expect((await readyz(service.base)).body).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", audit: "ok" } });
        await service.stop();
        running.delete(service);
      }
    }
  }, 90_000);

  test("aud-07 database unavailable: requests get an error, nothing is acknowledged, /readyz is not ready; after recovery it works again", async () => {
    const database = await freshDatabase();
    const secrets = newSecrets();
    const service = await start(database, secrets);
    const org = await setUpOrganization(service, secrets, "faults");
    expect((await gql(service.url, org.adminKey, CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "before", roleKey: "viewer" } })).data?.createRoleMapping).toBeTruthy();
    expect((await gql<{ can: { allowed: boolean } }>(service.url, org.viewerKey, CAN, { r: "before" })).data?.can?.allowed).toBe(true);
    expect((await readyz(service.base)).status).toBe(200);

    const outage = await takeDatabaseAway(kind, database.url);
    let replies: Array<{ status: number; data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, any> }> }>;
    let unready: Awaited<ReturnType<typeof readyz>>;
    try {
      replies = await Promise.all([
        gql(service.url, org.adminKey, CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "during", roleKey: "viewer" } }),
        gql(service.url, org.viewerKey, CAN, { r: "during" }),
      ]);
      unready = await readyz(service.base);
    } finally {
      await outage.end();
    }

    for (const reply of replies) {
      expect(reply.data ?? null).toBeNull();
      expect(reply.errors).toHaveLength(1);
      expect(["AUDIT_UNAVAILABLE", "INTERNAL_SERVER_ERROR"]).toContain(reply.errors![0].extensions?.code);
      // Masked: no driver message, SQL or stack.
      expect(JSON.stringify(reply.errors)).not.toMatch(/SQLITE|database .* (not|locked)|terminat|connect|SELECT|INSERT|at .*\.js/i);
    }
    expect(unready.status).toBe(503);
    expect(unready.body.status).toBe("not ready");

    // Recovery: the next requests are served (the PostgreSQL pool reconnects), and /readyz turns ready.
    let recovered = false;
    for (let attempt = 0; attempt < 20 && !recovered; attempt += 1) {
      const decision = await gql<{ can: { allowed: boolean } }>(service.url, org.viewerKey, CAN, { r: "after" });
      recovered = decision.data?.can?.allowed === true;
      if (!recovered) await delay(250);
    }
    expect(recovered).toBe(true);
    expect((await gql(service.url, org.adminKey, CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "after", roleKey: "viewer" } })).data?.createRoleMapping).toBeTruthy();
    const ready = await readyz(service.base);
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: "ok", migrations: "ok", audit: "ok" });

    const view = await openDatabase(database.url);
    try {
      const { mappings, created, decisions } = await mappingsAndEntries(view, org.id);
      expect(mappings.map((m) => m.idpGroup).sort()).toEqual(["after", "before"]);
      expect(created.size).toBe(2);
      expect(decisions.has("during")).toBe(false);
      expect(decisions.get("after")).toBeGreaterThanOrEqual(1);
      expect(decisions.get("before")).toBe(1);
      await expectGaplessStreams(view);
      await expectChainVerifies(service, secrets, org.id);
      console.info(`[${kind.name}] aud-07 outage: ${replies.length} requests refused (${replies.map((r) => r.errors![0].extensions?.code).join(", ")}), /readyz ${unready.status} ${JSON.stringify(unready.body.checks)}; recovered`);
    } finally {
      await view.close();
    }
  }, 90_000);

  if (kind.name === "postgres") {
    test("aud-07 the database goes away under a load of mutations: nothing is acknowledged without its entry, and the service recovers", async () => {
      const IN_FLIGHT = 8;
      const database = await freshDatabase();
      const secrets = newSecrets();
      const service = await start(database, secrets);
      const org = await setUpOrganization(service, secrets, "faults");
      const tally = new Tally();
      const ops = mixedOps("load", 300);
      const outageAt = randomInt(60, 120);
      let dispatched = 0;
      let outage: Promise<void> | null = null;
      let refusedDuringOutage = 0;
      await pool(ops, IN_FLIGHT, async (op) => {
        dispatched += 1;
        if (dispatched === outageAt) {
          // Away for the next 60 requests (whatever they hit: authentication, the resolver, the entry, COMMIT).
          const away = takeDatabaseAway(kind, database.url);
          outage = away.then(async (o) => {
            while (dispatched < outageAt + 60) await delay(5);
            await o.end();
          });
        }
        const whileAway = outage !== null;
        if ((await tally.send(service, org, op)) === "refused" && whileAway) refusedDuringOutage += 1;
      });
      await outage;

      // Recovered: a decision is given again, and /readyz turns ready once an entry is written.
      let recovered = false;
      for (let attempt = 0; attempt < 20 && !recovered; attempt += 1) {
        recovered = (await gql<{ can: { allowed: boolean } }>(service.url, org.viewerKey, CAN, { r: "after" })).data?.can?.allowed === true;
        if (!recovered) await delay(250);
      }
      expect(recovered).toBe(true);
      expect((await readyz(service.base)).status).toBe(200);
      expect(tally.lost).toBe(0);
      expect(tally.refused.length).toBeGreaterThan(0);
      for (const refusal of tally.refused) expect(refusal).toMatch(/"code":"(AUDIT_UNAVAILABLE|INTERNAL_SERVER_ERROR)"/);

      const view = await openDatabase(database.url);
      try {
        const { inDoubt, streams } = await expectTrailMatches(view, org.id, tally);
        const checked = await expectChainVerifies(service, secrets, org.id);
        console.info(
          `[postgres] aud-07 outage under load: ${tally.mutationsSent} mutations and ${tally.decisionsSent} decisions sent, ` +
            `${tally.mappings.size} + ${tally.decisions.size} acknowledged, ${tally.refused.length} refused (${refusedDuringOutage} of them sent after the outage began), ${inDoubt} committed without the answer reaching the client; ` +
            `${streams} streams gapless, ${checked} entries verified`,
        );
      } finally {
        await view.close();
      }
    }, 90_000);
  }

  if (kind.name === "sqlite") {
    describe("in-process service on SQLite", () => {
      let server: TestServer;
      beforeAll(async () => {
        server = await startServer(kind);
      });
      afterAll(() => server.stop());
      const pragma = async (sql: string) => (await server.app.db.dataSource.query(sql)) as Array<Record<string, unknown>>;

      test("aud-09 the service's connection runs with synchronous=FULL and journal_mode=WAL (and a busy timeout)", async () => {
        expect(await pragma("PRAGMA synchronous")).toEqual([{ synchronous: 2 }]);
        expect(await pragma("PRAGMA journal_mode")).toEqual([{ journal_mode: "wal" }]);
        expect(await pragma("PRAGMA busy_timeout")).toEqual([{ timeout: 5000 }]);
      });

      test("aud-07 disk full (PRAGMA max_page_count): a mutation fails with no partial rows, a decision is refused; raising the limit recovers", async () => {
        const org = await createOrgWithPrincipals(server);
        const sql = (text: string) => server.app.db.dataSource.query(text) as Promise<Array<Record<string, any>>>;
        const [{ page_count: pages }] = await sql("PRAGMA page_count");
        const [{ max_page_count: unlimited }] = await sql("PRAGMA max_page_count");
        await sql(`PRAGMA max_page_count = ${pages}`);
        let decisionsBeforeFull = 0;
        let refusedDecision: ReturnType<typeof errorCode> = undefined;
        let mutation: GraphQLResponse | undefined;
        try {
          // Fill the last free space with decisions until one is refused (bounded).
          for (let i = 0; i < 2000 && refusedDecision === undefined; i += 1) {
            const decision = await server.gql(CAN, { r: `fill-${i}` }, org.keys.viewer);
            if (decision.errors) {
              expect(decision.data ?? null).toBeNull();
              refusedDecision = errorCode(decision);
            } else decisionsBeforeFull += 1;
          }
          expect(refusedDecision).toBe("AUDIT_UNAVAILABLE");
          // Full now: a decision is refused, a mutation fails.
          expect(errorCode(await server.gql(CAN, { r: "full" }, org.keys.viewer))).toBe("AUDIT_UNAVAILABLE");
          mutation = await server.gql(CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "disk-full", roleKey: "viewer" } }, org.keys.admin);
          expect(mutation.data ?? null).toBeNull();
          expect(["AUDIT_UNAVAILABLE", "INTERNAL_SERVER_ERROR"]).toContain(errorCode(mutation));
          expect(JSON.stringify(mutation.errors)).not.toMatch(/SQLITE|full|INSERT/i);
          const unready = await readyz(server.url.replace("/graphql", ""));
          expect(unready.status).toBe(503);
        } finally {
          await sql(`PRAGMA max_page_count = ${unlimited}`);
        }
        // Raising the limit recovers: decisions are given, the refused mutation goes through, /readyz is ready.
        expect(ok(await server.gql(CAN, { r: "recovered" }, org.keys.viewer)).can.allowed).toBe(true);
        const created = ok(await server.gql(CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "disk-full", roleKey: "viewer" } }, org.keys.admin)).createRoleMapping;
        expect((await readyz(server.url.replace("/graphql", ""))).status).toBe(200);
        // A transaction that fails normally after the episode (a duplicate group) rolls back cleanly...
        expect(errorCode(await server.gql(CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "disk-full", roleKey: "viewer" } }, org.keys.admin))).toBe("CONFLICT");
        // ...and what is acknowledged afterwards is really committed: another connection sees it and can take the write lock.
        const later = ok(await server.gql(CREATE_MAPPING, { i: { organizationId: org.id, idpGroup: "after-full", roleKey: "viewer" } }, org.keys.admin)).createRoleMapping;

        const view = await openDatabase(server.database.url);
        try {
          // No partial rows of the refused attempts: one mapping "disk-full" (the retry), entries only for acknowledged calls.
          const { mappings, created: entries, decisions } = await mappingsAndEntries(view, org.id);
          expect(mappings.map((m) => [m.idpGroup, m.id]).sort()).toEqual([["after-full", later.id], ["disk-full", created.id]]);
          expect([...entries.keys()].sort()).toEqual([`roleMapping:${created.id}`, `roleMapping:${later.id}`].sort());
          expect(decisions.has("full")).toBe(false);
          expect(decisions.get("recovered")).toBe(1);
          expect(decisions.size).toBe(decisionsBeforeFull + 1);
          await expectGaplessStreams(view);
          await view.rows("BEGIN IMMEDIATE");
          await view.rows("ROLLBACK");
        } finally {
          await view.close();
        }
        expect(ok(await server.gql(VERIFY_CHAIN, { id: org.id })).verifyAuditChain).toMatchObject({ ok: true });
        console.info(`[sqlite] aud-07 disk full at ${pages} pages: ${decisionsBeforeFull} decisions fitted, then refused (${refusedDecision}); the mutation failed with ${errorCode(mutation!)}; recovered`);
      });
    });
  }
});

/**
 * Takes the service's database away without touching anyone else's:
 * - PostgreSQL: the test database stops accepting connections (ALLOW_CONNECTIONS false applies to
 *   superusers too) and the service's connections are terminated.
 * - SQLite: another connection holds the write lock (BEGIN IMMEDIATE) for longer than the service's
 *   busy timeout, as a stuck process would.
 */
async function takeDatabaseAway(kind: DatabaseKind, url: string): Promise<{ end(): Promise<void> }> {
  if (kind.name === "sqlite") {
    const holder = new Sqlite(url.slice("sqlite:".length), { fileMustExist: true, timeout: 5000 });
    holder.exec("BEGIN IMMEDIATE");
    return {
      end: async () => {
        holder.exec("ROLLBACK");
        holder.close();
      },
    };
  }
  const name = new URL(url).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
  return {
    end: async () => {
      await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await client.end();
    },
  };
}
