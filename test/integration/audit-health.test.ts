/**
 * aud-05 / aud-07 and readiness: when audit entries cannot be written, nothing is acknowledged and
 * /readyz reports the audit store unhealthy until a write succeeds again.
 */
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

describe.each(DATABASES)("audit store health on $name", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());

  const readyz = async () => {
    const response = await fetch(server.url.replace("/graphql", "/readyz"));
    return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
  };
  const breakAudit = () =>
    kind.name === "postgres"
      ? server.app.db.dataSource.query(
          `CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$; CREATE TRIGGER "fail_audit" BEFORE INSERT ON "audit_entry" FOR EACH ROW EXECUTE FUNCTION fail_audit()`,
        )
      : server.app.db.dataSource.query(`CREATE TRIGGER "fail_audit" BEFORE INSERT ON "audit_entry" BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
  const repairAudit = () =>
    kind.name === "postgres"
      ? server.app.db.dataSource.query(`DROP TRIGGER "fail_audit" ON "audit_entry"; DROP FUNCTION fail_audit()`)
      : server.app.db.dataSource.query(`DROP TRIGGER "fail_audit"`);

  test("aud-05 a failing audit store refuses decisions and mutations, /readyz turns 503, and both recover together", async () => {
    const org = await createOrgWithPrincipals(server);
    expect((await readyz()).body.checks.audit).toBe("ok");

    await breakAudit();
    try {
      const decision = await server.gql(`{ can(action: READ) { allowed } }`, {}, org.keys.viewer);
      expect(errorCode(decision)).toBe("AUDIT_UNAVAILABLE");
      expect(decision.data).toBeNull();
      const mutation = await server.gql(`mutation($i: CreateRoleMappingInput!) { createRoleMapping(input: $i) { id } }`, { i: { organizationId: org.id, idpGroup: "Ops", roleKey: "viewer" } }, org.keys.admin);
      expect(errorCode(mutation)).toBe("AUDIT_UNAVAILABLE");
      const rows = await server.app.db.dataSource.query(kind.name === "postgres" ? `SELECT COUNT(*) AS n FROM "role_mapping" WHERE "idpGroup" = 'Ops'` : `SELECT COUNT(*) AS n FROM "role_mapping" WHERE "idpGroup" = 'Ops'`);
      expect(Number(rows[0].n)).toBe(0);

      const unready = await readyz();
      expect(unready.status).toBe(503);
      expect(unready.body.checks.audit).toMatch(/^failing since \d{4}-/);
    } finally {
      await repairAudit();
    }

    expect(ok(await server.gql(`{ can(action: READ) { allowed } }`, {}, org.keys.viewer)).can.allowed).toBe(true);
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: "ok", migrations: "ok", audit: "ok" });
  });
});
