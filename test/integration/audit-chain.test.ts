/**
 * aud-04: verifyAuditChain walks an organization's hash chain and names the first broken sequence
 * when a row is edited or deleted behind the service's back (an attacker with database access, who
 * first has to drop the append-only triggers).
 */
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals, type OrgFixture } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const VERIFY = `query($id: ID) { verifyAuditChain(organizationId: $id) { ok entriesChecked firstBrokenSequence } }`;

describe.each(DATABASES)("aud-04 verifyAuditChain on $name", (kind) => {
  let server: TestServer;
  let org: OrgFixture;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());
  beforeEach(async () => {
    org = await createOrgWithPrincipals(server);
    for (let i = 0; i < 5; i += 1) ok(await server.gql(`{ can(action: WRITE, resource: "r${i}") { allowed } }`, {}, org.keys.developer));
  });

  const sql = (sqlite: string, postgres: string) => server.app.db.dataSource.query(kind.name === "postgres" ? postgres : sqlite);
  const dropTriggers = () =>
    kind.name === "postgres"
      ? sql("", `DROP TRIGGER "audit_entry_no_update_delete" ON "audit_entry"`)
      : Promise.all([sql(`DROP TRIGGER "audit_entry_no_update"`, ""), sql(`DROP TRIGGER "audit_entry_no_delete"`, "")]);
  const restoreTriggers = () =>
    kind.name === "postgres"
      ? sql("", `CREATE TRIGGER "audit_entry_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_entry" FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()`)
      : Promise.all([
          sql(`CREATE TRIGGER "audit_entry_no_update" BEFORE UPDATE ON "audit_entry" BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END`, ""),
          sql(`CREATE TRIGGER "audit_entry_no_delete" BEFORE DELETE ON "audit_entry" BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END`, ""),
        ]);

  test("aud-04 an untouched chain verifies, counting every entry of the organization", async () => {
    const rows = await server.app.db.dataSource.query(kind.name === "postgres" ? `SELECT COUNT(*) AS n FROM "audit_entry" WHERE "stream" = $1` : `SELECT COUNT(*) AS n FROM "audit_entry" WHERE "stream" = ?`, [org.id]);
    const result = ok(await server.gql(VERIFY, { id: org.id }, org.keys.admin)).verifyAuditChain;
    expect(result).toEqual({ ok: true, entriesChecked: Number(rows[0].n), firstBrokenSequence: null });
  });

  test("aud-04 an edited entry is named by its sequence number", async () => {
    await dropTriggers();
    try {
      await sql(
        `UPDATE "audit_entry" SET "reason" = 'nothing to see' WHERE "stream" = '${org.id}' AND "sequence" = 6`,
        `UPDATE "audit_entry" SET "reason" = 'nothing to see' WHERE "stream" = '${org.id}' AND "sequence" = 6`,
      );
    } finally {
      await restoreTriggers();
    }
    const result = ok(await server.gql(VERIFY, { id: org.id })).verifyAuditChain;
    expect(result).toMatchObject({ ok: false, firstBrokenSequence: 6, entriesChecked: 5 });
  });

  test("aud-04 a deleted entry is named by its sequence number, and so is a deleted last entry", async () => {
    await dropTriggers();
    try {
      await sql(`DELETE FROM "audit_entry" WHERE "stream" = '${org.id}' AND "sequence" = 3`, `DELETE FROM "audit_entry" WHERE "stream" = '${org.id}' AND "sequence" = 3`);
    } finally {
      await restoreTriggers();
    }
    expect(ok(await server.gql(VERIFY, { id: org.id })).verifyAuditChain).toMatchObject({ ok: false, firstBrokenSequence: 3 });

    const other = await createOrgWithPrincipals(server);
    const last = ok(await server.gql(VERIFY, { id: other.id })).verifyAuditChain.entriesChecked as number;
    await dropTriggers();
    try {
      await sql(`DELETE FROM "audit_entry" WHERE "stream" = '${other.id}' AND "sequence" = ${last}`, `DELETE FROM "audit_entry" WHERE "stream" = '${other.id}' AND "sequence" = ${last}`);
    } finally {
      await restoreTriggers();
    }
    expect(ok(await server.gql(VERIFY, { id: other.id })).verifyAuditChain).toMatchObject({ ok: false, firstBrokenSequence: last });
  });

  test("another organization's chain answers NOT_FOUND; the platform stream is for platform principals", async () => {
    const other = await createOrgWithPrincipals(server);
    expect(errorCode(await server.gql(VERIFY, { id: other.id }, org.keys.admin))).toBe("NOT_FOUND");
    expect(errorCode(await server.gql(VERIFY, { id: null }, org.keys.admin))).toBe("FORBIDDEN");
    expect(ok(await server.gql(VERIFY, { id: null })).verifyAuditChain.ok).toBe(true);
  });
});
