/**
 * Audit retention (issue 4, aud-04): a purge is the one way entries leave the audit table. It removes
 * the entries older than the cutoff behind a signed checkpoint, so the chain still verifies; the
 * database keeps refusing every other UPDATE and DELETE; a forged checkpoint fails verification;
 * only platform principals purge; sequences continue after a purge.
 *
 * Old entries are written through the real AuditLog with a timestamp in the past, into streams of
 * their own (an organization id with no organization left: entries outlive organizations).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { AuditLog, type AuditRecord } from "../../src/audit/audit-log";
import { CheckpointSigner } from "../../src/audit/retention/checkpoint-signer.service";
import { RetentionService } from "../../src/audit/retention/retention.service";
import { ConfigError, loadConfig } from "../../src/config/config";
import { SecretBox } from "../../src/shared/secret-box";
import { DATABASES, type DatabaseKind } from "../support/databases";
import { createOrgWithPrincipals } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const DAY = 86_400_000;
const PURGE = `mutation($days: Int!) { purgeAuditEntries(olderThanDays: $days) { id organizationId throughSequence throughHash entryCount olderThan keyId signatureValid } }`;
const VERIFY = `query($id: ID) { verifyAuditChain(organizationId: $id) { ok entriesChecked firstBrokenSequence checkpointSequence } }`;
const CHECKPOINTS = `query($id: ID) { auditCheckpoints(organizationId: $id) { id organizationId throughSequence throughHash entryCount keyId signature signatureValid } }`;

const encryptionKey = () => randomBytes(32).toString("base64url");

function record(stream: string, daysAgo: number, label: string): AuditRecord {
  return {
    organizationId: stream,
    actorId: "retention-suite",
    actorKind: null,
    role: null,
    action: "read",
    operation: `Test.${label}`,
    resource: label,
    success: true,
    reason: null,
    ipAddress: null,
    userAgent: null,
    requestId: `retention-${randomUUID()}`,
    timestamp: new Date(Date.now() - daysAgo * DAY),
  };
}

interface Row {
  sequence: number;
  operation: string;
  previousHash: string;
  hash: string;
}

function sqlOf(server: TestServer, kind: DatabaseKind) {
  return (sql: string, params: unknown[] = []) => {
    let i = 0;
    const text = kind.name === "postgres" ? sql.replace(/\?/g, () => `$${++i}`) : sql;
    return server.app.db.dataSource.query(text, params);
  };
}

async function rowsOf(server: TestServer, kind: DatabaseKind, stream: string): Promise<Row[]> {
  const rows: Array<Record<string, unknown>> = await sqlOf(server, kind)(
    `SELECT "sequence", "operation", "previousHash", "hash" FROM "audit_entry" WHERE "stream" = ? ORDER BY "sequence"`,
    [stream],
  );
  return rows.map((r) => ({ sequence: Number(r.sequence), operation: String(r.operation), previousHash: String(r.previousHash), hash: String(r.hash) }));
}

async function checkpointCount(server: TestServer, kind: DatabaseKind, stream?: string): Promise<number> {
  const rows = await sqlOf(server, kind)(
    stream ? `SELECT COUNT(*) AS n FROM "audit_checkpoint" WHERE "stream" = ?` : `SELECT COUNT(*) AS n FROM "audit_checkpoint"`,
    stream ? [stream] : [],
  );
  return Number(rows[0].n);
}

/** old ×5 (400 days), younger ×2 (10 days), one backdated old entry after them, one current. */
async function seedStream(audit: AuditLog): Promise<string> {
  const stream = randomUUID();
  for (let i = 1; i <= 5; i += 1) await audit.record([record(stream, 400 - i, `old-${i}`)]);
  await audit.record([record(stream, 10, "young-6"), record(stream, 9, "young-7")]);
  await audit.record([record(stream, 500, "backdated-8")]);
  await audit.record([record(stream, 0, "current-9")]);
  return stream;
}

describe.each(DATABASES)("audit retention on $name", (kind) => {
  let server: TestServer;
  let audit: AuditLog;
  const key = encryptionKey();

  beforeAll(async () => {
    server = await startServer(kind, { env: { RBAC_ENCRYPTION_KEY: key } });
    audit = new AuditLog(server.app.db);
  });
  afterAll(() => server?.stop());

  test("aud-04 purgeAuditEntries removes the entries older than the cutoff, keeps the rest, and leaves a signed checkpoint the chain verifies from", async () => {
    const stream = await seedStream(audit);
    const before = await rowsOf(server, kind, stream);
    expect(before.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const purged = ok(await server.gql(PURGE, { days: 30 })).purgeAuditEntries as Array<Record<string, unknown>>;
    const checkpoint = purged.find((c) => c.organizationId === stream);
    expect(checkpoint).toMatchObject({ throughSequence: 5, throughHash: before[4].hash, entryCount: 5, signatureValid: true });
    expect(Date.parse(String(checkpoint!.olderThan))).toBeLessThan(Date.now() - 29 * DAY);

    // 1–5 are gone; the younger entries stay, and so does the backdated one behind them; the purge is recorded.
    const after = await rowsOf(server, kind, stream);
    expect(after.map((r) => [r.sequence, r.operation])).toEqual([
      [6, "Test.young-6"],
      [7, "Test.young-7"],
      [8, "Test.backdated-8"],
      [9, "Test.current-9"],
      [10, "Audit.retention.purge"],
    ]);
    expect(after[0].previousHash).toBe(before[4].hash);
    expect(await checkpointCount(server, kind, stream)).toBe(1);

    expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toEqual({ ok: true, entriesChecked: 5, firstBrokenSequence: null, checkpointSequence: 5 });
    const listed = ok(await server.gql(CHECKPOINTS, { id: stream })).auditCheckpoints;
    expect(listed).toEqual([expect.objectContaining({ id: checkpoint!.id, throughSequence: 5, entryCount: 5, keyId: checkpoint!.keyId, signatureValid: true })]);

    // Nothing left to purge in that stream: a second run writes no checkpoint for it.
    const again = ok(await server.gql(PURGE, { days: 30 })).purgeAuditEntries as Array<Record<string, unknown>>;
    expect(again.filter((c) => c.organizationId === stream)).toEqual([]);
    // The operator's mutations are audited (platform stream), and that stream verifies too.
    expect(ok(await server.gql(VERIFY, { id: null })).verifyAuditChain).toMatchObject({ ok: true });
  });

  test("sequences continue after a purge, and the chain keeps verifying", async () => {
    const stream = await seedStream(audit);
    ok(await server.gql(PURGE, { days: 30 }));
    await audit.record([record(stream, 0, "after-11"), record(stream, 0, "after-12")]);
    const rows = await rowsOf(server, kind, stream);
    expect(rows.map((r) => r.sequence)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    for (let i = 1; i < rows.length; i += 1) expect(rows[i].previousHash).toBe(rows[i - 1].hash);
    expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toEqual({ ok: true, entriesChecked: 7, firstBrokenSequence: null, checkpointSequence: 5 });
  });

  test("a second purge chains on the first checkpoint; an organization admin reads its checkpoints and verifies from the latest", async () => {
    const org = await createOrgWithPrincipals(server);
    const service = new RetentionService(server.app.db, audit, new CheckpointSigner(new SecretBox(Buffer.from(key, "base64url"))));
    const actor = { actorId: "retention-suite", actorKind: null, role: null, requestId: `retention-${randomUUID()}`, ipAddress: null, userAgent: null };
    // White box: the service with a cutoff just ahead of now purges everything the stream has so far.
    const first = await server.app.db.transaction((em) => service.purgeStream(em, org.id, new Date(Date.now() + 1000), actor));
    ok(await server.gql(`{ can(action: READ) { allowed } }`, {}, org.keys.viewer));
    const second = await server.app.db.transaction((em) => service.purgeStream(em, org.id, new Date(Date.now() + 1000), actor));
    expect(first!.checkpoint.throughSequence).toBeGreaterThan(0);
    expect(second!.checkpoint).toMatchObject({ throughSequence: first!.checkpoint.throughSequence + 2, entryCount: 2 }); // its purge entry + the decision

    const listed = ok(await server.gql(CHECKPOINTS, { id: org.id }, org.keys.admin)).auditCheckpoints;
    expect(listed.map((c: { throughSequence: number; signatureValid: boolean }) => [c.throughSequence, c.signatureValid])).toEqual([
      [second!.checkpoint.throughSequence, true],
      [first!.checkpoint.throughSequence, true],
    ]);
    expect(ok(await server.gql(VERIFY, { id: org.id }, org.keys.admin)).verifyAuditChain).toMatchObject({
      ok: true,
      checkpointSequence: second!.checkpoint.throughSequence,
    });
    expect((await rowsOf(server, kind, org.id))[0].sequence).toBe(second!.checkpoint.throughSequence + 1);

    const other = await createOrgWithPrincipals(server);
    expect(errorCode(await server.gql(CHECKPOINTS, { id: other.id }, org.keys.admin))).toBe("NOT_FOUND");
    expect(errorCode(await server.gql(CHECKPOINTS, { id: null }, org.keys.admin))).toBe("FORBIDDEN");
    expect(errorCode(await server.gql(CHECKPOINTS, { id: org.id }, org.keys.viewer))).toBe("FORBIDDEN");
  });

  test("batches (as the schedule runs them): a limit purges the run in steps, each checkpoint chaining on the last", async () => {
    const stream = await seedStream(audit);
    const service = new RetentionService(server.app.db, audit, new CheckpointSigner(new SecretBox(Buffer.from(key, "base64url"))));
    const actor = { actorId: "retention", actorKind: null, role: null, requestId: `retention-${randomUUID()}`, ipAddress: null, userAgent: null };
    const olderThan = new Date(Date.now() - 30 * DAY);
    const steps: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const purged = await server.app.db.transaction((em) => service.purgeStream(em, stream, olderThan, actor, 2));
      if (!purged) break;
      steps.push(purged.checkpoint.throughSequence);
    }
    expect(steps).toEqual([2, 4, 5]);
    expect((await rowsOf(server, kind, stream)).map((r) => r.sequence)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toEqual({ ok: true, entriesChecked: 7, firstBrokenSequence: null, checkpointSequence: 5 });
  });

  test("aud-04 the database still refuses UPDATE of any entry, DELETE of entries no checkpoint covers, and any change to checkpoints", async () => {
    const stream = await seedStream(audit);
    ok(await server.gql(PURGE, { days: 30 }));
    const sql = sqlOf(server, kind);
    const before = await rowsOf(server, kind, stream);
    const statements = [
      `DELETE FROM "audit_entry" WHERE "stream" = '${stream}' AND "sequence" = 6`,
      `DELETE FROM "audit_entry" WHERE "stream" = '${stream}'`,
      `DELETE FROM "audit_entry"`,
      `UPDATE "audit_entry" SET "reason" = 'tampered' WHERE "stream" = '${stream}' AND "sequence" = 6`,
      `UPDATE "audit_entry" SET "sequence" = "sequence" - 5 WHERE "stream" = '${stream}'`,
      `UPDATE "audit_checkpoint" SET "throughSequence" = 9 WHERE "stream" = '${stream}'`,
      `DELETE FROM "audit_checkpoint" WHERE "stream" = '${stream}'`,
      `UPDATE "audit_checkpoint_key" SET "keySealed" = 'x'`,
      `DELETE FROM "audit_checkpoint_key"`,
      ...(kind.name === "postgres" ? [`TRUNCATE "audit_entry"`, `TRUNCATE "audit_checkpoint"`, `TRUNCATE "audit_checkpoint_key"`] : []),
    ];
    for (const statement of statements) await expect(sql(statement)).rejects.toThrow(/append-only/);
    expect(await rowsOf(server, kind, stream)).toEqual(before);
    expect(await checkpointCount(server, kind, stream)).toBe(1);
  });

  test("a purge by a non-platform principal is FORBIDDEN and purges nothing; the refusal is audited; the age has a floor of 30 days", async () => {
    const org = await createOrgWithPrincipals(server);
    const stream = await seedStream(audit);
    for (const role of ["admin", "developer", "viewer", "service"] as const) {
      const response = await server.gql(PURGE, { days: 30 }, org.keys[role]);
      expect(errorCode(response)).toBe("FORBIDDEN");
      expect(response.errors![0].message).toBe("Missing permission: platform");
    }
    expect(await checkpointCount(server, kind, stream)).toBe(0);
    expect((await rowsOf(server, kind, stream)).map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const denied = (await rowsOf(server, kind, org.id)).filter((r) => r.operation === "Mutation.purgeAuditEntries");
    expect(denied).toHaveLength(4);

    const tooYoung = await server.gql(PURGE, { days: 29 });
    expect(errorCode(tooYoung)).toBe("BAD_USER_INPUT");
    expect(tooYoung.errors![0].extensions).toMatchObject({ field: "olderThanDays" });
    expect(await checkpointCount(server, kind, stream)).toBe(0);
  });
});

describe.each(DATABASES)("audit retention against tampering on $name", (kind) => {
  let server: TestServer;
  let audit: AuditLog;

  beforeEach(async () => {
    server = await startServer(kind, { env: { RBAC_ENCRYPTION_KEY: encryptionKey() } });
    audit = new AuditLog(server.app.db);
  });
  afterEach(() => server?.stop());

  test("aud-04 a forged checkpoint (bad signature, inserted by SQL) lets the database delete, but verification fails and retention refuses the stream", async () => {
    const stream = await seedStream(audit);
    const sql = sqlOf(server, kind);
    const [entry3] = (await rowsOf(server, kind, stream)).filter((r) => r.sequence === 3);
    await sql(
      `INSERT INTO "audit_checkpoint" ("id", "stream", "throughSequence", "throughHash", "entryCount", "olderThan", "createdAt", "keyId", "signature") VALUES (?, ?, 3, ?, 3, ?, ?, ?, ?)`,
      [randomUUID(), stream, entry3.hash, new Date().toISOString(), new Date().toISOString(), randomUUID(), randomBytes(32).toString("base64url")],
    );
    await sql(`DELETE FROM "audit_entry" WHERE "stream" = ? AND "sequence" <= 3`, [stream]);

    expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toMatchObject({ ok: false, firstBrokenSequence: 1, checkpointSequence: null });
    expect(ok(await server.gql(CHECKPOINTS, { id: stream })).auditCheckpoints).toEqual([expect.objectContaining({ throughSequence: 3, signatureValid: false })]);

    const refused = await server.gql(PURGE, { days: 30 });
    expect(errorCode(refused)).toBe("CONFLICT");
    expect(refused.errors![0].extensions).toMatchObject({ reason: "AUDIT_CHAIN_BROKEN", organizationId: stream, sequence: 3 });
    expect(await checkpointCount(server, kind, stream)).toBe(1);
    expect((await rowsOf(server, kind, stream)).map((r) => r.sequence)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  test("aud-04 a signature copied onto an edited checkpoint does not verify", async () => {
    const stream = await seedStream(audit);
    const genuine = (ok(await server.gql(PURGE, { days: 30 })).purgeAuditEntries as Array<Record<string, string>>).find((c) => c.organizationId === stream)!;
    const stored = await sqlOf(server, kind)(`SELECT * FROM "audit_checkpoint" WHERE "id" = ?`, [genuine.id]);
    const { createdAt, olderThan, keyId, signature, throughHash } = stored[0];
    // The attacker claims entries 6 and 7 were purged too, reusing the genuine signature and key.
    const [entry7] = (await rowsOf(server, kind, stream)).filter((r) => r.sequence === 7);
    await sqlOf(server, kind)(
      `INSERT INTO "audit_checkpoint" ("id", "stream", "throughSequence", "throughHash", "entryCount", "olderThan", "createdAt", "keyId", "signature") VALUES (?, ?, 7, ?, 2, ?, ?, ?, ?)`,
      [randomUUID(), stream, entry7.hash, olderThan, createdAt, keyId, signature],
    );
    expect(throughHash).not.toBe(entry7.hash);
    await sqlOf(server, kind)(`DELETE FROM "audit_entry" WHERE "stream" = ? AND "sequence" <= 7`, [stream]);
    expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toMatchObject({ ok: false, firstBrokenSequence: 6, checkpointSequence: 5 });
  });

  test("aud-04 retention never erases the evidence of an edited entry: the stream is refused and nothing is deleted", async () => {
    const stream = await seedStream(audit);
    const sql = sqlOf(server, kind);
    const [drop, restore] =
      kind.name === "postgres"
        ? [[`DROP TRIGGER "audit_entry_no_update_delete" ON "audit_entry"`], [`CREATE TRIGGER "audit_entry_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_entry" FOR EACH ROW EXECUTE FUNCTION audit_entry_retention_guard()`]]
        : [[`DROP TRIGGER "audit_entry_no_update"`], [`CREATE TRIGGER "audit_entry_no_update" BEFORE UPDATE ON "audit_entry" BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END`]];
    for (const s of drop) await sql(s);
    try {
      await sql(`UPDATE "audit_entry" SET "reason" = 'nothing to see' WHERE "stream" = ? AND "sequence" = 2`, [stream]);
    } finally {
      for (const s of restore) await sql(s);
    }
    const refused = await server.gql(PURGE, { days: 30 });
    expect(errorCode(refused)).toBe("CONFLICT");
    expect(refused.errors![0].extensions).toMatchObject({ reason: "AUDIT_CHAIN_BROKEN", organizationId: stream, sequence: 2 });
    expect(await checkpointCount(server, kind)).toBe(0);
    expect((await rowsOf(server, kind, stream)).map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toMatchObject({ ok: false, firstBrokenSequence: 2 });
  });
});

describe.each(DATABASES)("scheduled retention (AUDIT_RETENTION_DAYS) on $name", (kind) => {
  test("a server started with AUDIT_RETENTION_DAYS=30 purges expired entries behind a checkpoint; the chain verifies", async () => {
    const key = encryptionKey();
    const first = await startServer(kind, { env: { RBAC_ENCRYPTION_KEY: key } });
    const stream = await seedStream(new AuditLog(first.app.db));
    await first.stop(false);

    const server = await startServer(kind, { database: first.database, env: { RBAC_ENCRYPTION_KEY: key, AUDIT_RETENTION_DAYS: "30", RBAC_BOOTSTRAP_API_KEY: first.platformKey } });
    try {
      let checkpoints: Array<{ throughSequence: number; signatureValid: boolean }> = [];
      for (let attempt = 0; attempt < 200 && checkpoints.length === 0; attempt += 1) {
        checkpoints = ok(await server.gql(CHECKPOINTS, { id: stream })).auditCheckpoints;
        if (checkpoints.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(checkpoints).toEqual([expect.objectContaining({ throughSequence: 5, signatureValid: true })]);
      const rows = await rowsOf(server, kind, stream);
      expect(rows.map((r) => r.sequence)).toEqual([6, 7, 8, 9, 10]);
      expect(rows.at(-1)).toMatchObject({ operation: "Audit.retention.purge" });
      expect(ok(await server.gql(VERIFY, { id: stream })).verifyAuditChain).toEqual({ ok: true, entriesChecked: 5, firstBrokenSequence: null, checkpointSequence: 5 });
    } finally {
      await server.stop();
    }
  });
});

describe("AUDIT_RETENTION_DAYS", () => {
  const problemsOf = (value: string) => {
    try {
      loadConfig({ AUDIT_RETENTION_DAYS: value });
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  test("defaults to 0 (keep forever); 30 … 36500 days are accepted", () => {
    expect(loadConfig({}).auditRetentionDays).toBe(0);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: "30" }).auditRetentionDays).toBe(30);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: "36500" }).auditRetentionDays).toBe(36_500);
  });

  test.each(["1", "29", "36501", "-1", "30.5", "forever"])("%s is refused, naming the variable", (value) => {
    expect(problemsOf(value).map((p) => p.split(":")[0])).toEqual(["AUDIT_RETENTION_DAYS"]);
  });
});
