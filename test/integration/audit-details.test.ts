/**
 * aud-01 for configuration changes: the entry of a change carries a before/after of the changed
 * fields (and never a secret), and those details are part of the hash chain.
 */
import { DATABASES } from "../support/databases";
import { createMapping, createOrgWithPrincipals } from "../support/fixtures";
import { ok, startServer, type TestServer } from "../support/server";

const ENTRIES = `query($id: ID!, $op: String!) { auditEntries(filter: { organizationId: $id, operation: $op }) { edges { node { resource details success } } } }`;

describe.each(DATABASES)("audit details on $name", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());

  const detailsOf = async (orgId: string, op: string) => {
    const edges = ok(await server.gql(ENTRIES, { id: orgId, op })).auditEntries.edges as Array<{ node: { details: string | null } }>;
    return edges.map((e) => (e.node.details ? JSON.parse(e.node.details) : null));
  };

  test("updateOrganization records before/after of exactly the fields that changed", async () => {
    const org = await createOrgWithPrincipals(server);
    ok(
      await server.gql(
        `mutation($id: ID!) { updateOrganization(id: $id, input: { name: "Renamed", ssoEnabled: true, allowedDomains: ["Renamed.example.com"] }) { id } }`,
        { id: org.id },
        org.keys.admin,
      ),
    );
    const [details] = await detailsOf(org.id, "Mutation.updateOrganization");
    expect(details.changed).toEqual({
      name: [`Org ${org.slug}`, "Renamed"],
      ssoEnabled: [false, true],
      allowedDomains: [[], ["renamed.example.com"]],
    });
  });

  test("mapping changes record what was created, changed and deleted; the chain still verifies", async () => {
    const org = await createOrgWithPrincipals(server);
    const id = await createMapping(server, org.id, "Engineering", "developer", org.keys.admin);
    ok(await server.gql(`mutation($id: ID!) { updateRoleMapping(id: $id, input: { roleKey: "viewer", priority: 5 }) { id } }`, { id }, org.keys.admin));
    ok(await server.gql(`mutation($id: ID!) { deleteRoleMapping(id: $id) }`, { id }, org.keys.admin));
    expect(await detailsOf(org.id, "Mutation.createRoleMapping")).toEqual([{ created: { idpGroup: "Engineering", roleKey: "developer", priority: 0 } }]);
    expect(await detailsOf(org.id, "Mutation.updateRoleMapping")).toEqual([{ changed: { roleKey: ["developer", "viewer"], priority: [0, 5] } }]);
    expect(await detailsOf(org.id, "Mutation.deleteRoleMapping")).toEqual([{ deleted: { idpGroup: "Engineering", roleKey: "viewer", priority: 5 } }]);
    expect(ok(await server.gql(`query($id: ID) { verifyAuditChain(organizationId: $id) { ok } }`, { id: org.id })).verifyAuditChain.ok).toBe(true);
  });
});
