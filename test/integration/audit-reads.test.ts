/**
 * AUDIT_READS=denials: an operator may stop recording successful reads and allowed decisions;
 * denials, errors and every mutation are still recorded.
 */
import { AuditEntryEntity } from "../../src/audit/audit-entry.entity";
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals } from "../support/fixtures";
import { ok, startServer, type TestServer } from "../support/server";

describe.each(DATABASES)("AUDIT_READS=denials on $name", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { env: { AUDIT_READS: "denials" } });
  });
  afterAll(() => server.stop());

  const entries = (requestId: string) => server.app.db.dataSource.getRepository(AuditEntryEntity).findBy({ requestId });

  test("allowed decisions and successful reads leave no entry; denied decisions and mutations do", async () => {
    const org = await createOrgWithPrincipals(server);
    ok(await server.gql(`{ can(action: READ) { allowed } me { id } }`, {}, org.keys.viewer, { "x-request-id": "reads-allowed" }));
    expect(await entries("reads-allowed")).toHaveLength(0);

    ok(await server.gql(`{ checkPermissions(checks: [{ action: READ }, { action: DELETE, resource: "r1" }]) { allowed } }`, {}, org.keys.viewer, { "x-request-id": "reads-mixed" }));
    const mixed = await entries("reads-mixed");
    expect(mixed.map((e) => [e.action, e.resource, e.success])).toEqual([["delete", "r1", false]]);

    const refused = await server.gql(`{ serviceAccounts(organizationId: "${org.id}") { id } }`, {}, org.keys.viewer, { "x-request-id": "reads-refused" });
    expect(refused.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await entries("reads-refused")).toHaveLength(1);

    ok(await server.gql(`mutation($i: CreateRoleMappingInput!) { createRoleMapping(input: $i) { id } }`, { i: { organizationId: org.id, idpGroup: "Ops", roleKey: "viewer" } }, org.keys.admin, { "x-request-id": "writes" }));
    expect(await entries("writes")).toHaveLength(1);
  });
});
