/**
 * acl-04: removing the last path to the admin role of an organization is refused unless a platform
 * principal forces it; two concurrent demotions leave one admin path.
 */
import { RoleMappingEntity } from "../../src/mappings/role-mapping.entity";
import { DATABASES } from "../support/databases";
import { createMapping, createOrgWithPrincipals, type OrgFixture } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const DELETE = `mutation($id: ID!, $force: Boolean) { deleteRoleMapping(id: $id, force: $force) }`;
const DEMOTE = `mutation($id: ID!, $force: Boolean) { updateRoleMapping(id: $id, input: { roleKey: "viewer" }, force: $force) { id role { key } } }`;
const DEFAULT_ROLE = `mutation($id: ID!, $role: String, $force: Boolean) { updateOrganization(id: $id, input: { defaultRoleKey: $role }, force: $force) { id defaultRole { key } } }`;

describe.each(DATABASES)("acl-04 admin paths on $name", (kind) => {
  let server: TestServer;
  let org: OrgFixture;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());
  beforeEach(async () => {
    org = await createOrgWithPrincipals(server);
  });

  const adminMappings = () => server.app.db.dataSource.getRepository(RoleMappingEntity).countBy({ organizationId: org.id, roleKey: "admin" });

  test("acl-04 deleting the only admin mapping is refused with a clear reason, and nothing changes", async () => {
    const id = await createMapping(server, org.id, "Admins", "admin");
    const res = await server.gql(DELETE, { id }, org.keys.admin);
    expect(errorCode(res)).toBe("CONFLICT");
    expect(res.errors![0].extensions!.reason).toBe("LAST_ADMIN_PATH");
    expect(res.errors![0].message).toMatch(/last way to become admin/);
    expect(await adminMappings()).toBe(1);
  });

  test("acl-04 demoting the only admin mapping, or moving the admin default role away, is refused", async () => {
    const id = await createMapping(server, org.id, "Admins", "admin");
    expect(errorCode(await server.gql(DEMOTE, { id }, org.keys.admin))).toBe("CONFLICT");

    const other = await createOrgWithPrincipals(server);
    ok(await server.gql(DEFAULT_ROLE, { id: other.id, role: "admin" }, other.keys.admin));
    const res = await server.gql(DEFAULT_ROLE, { id: other.id, role: "viewer" }, other.keys.admin);
    expect(errorCode(res)).toBe("CONFLICT");
  });

  test("acl-04 with another admin path left, the change goes through", async () => {
    const first = await createMapping(server, org.id, "Admins", "admin");
    await createMapping(server, org.id, "Platform-Admins", "admin");
    expect(ok(await server.gql(DELETE, { id: first }, org.keys.admin)).deleteRoleMapping).toBe(true);
    expect(await adminMappings()).toBe(1);
  });

  test("acl-04 only a platform principal may force it; an organization admin asking to force is FORBIDDEN", async () => {
    const id = await createMapping(server, org.id, "Admins", "admin");
    const refused = await server.gql(DELETE, { id, force: true }, org.keys.admin);
    expect(errorCode(refused)).toBe("FORBIDDEN");
    expect(refused.errors![0].message).toBe("Missing permission: platform");
    expect(ok(await server.gql(DELETE, { id, force: true })).deleteRoleMapping).toBe(true);
    expect(await adminMappings()).toBe(0);
  });

  test("acl-04 two concurrent demotions of the two admin mappings leave exactly one", async () => {
    const a = await createMapping(server, org.id, "Admins", "admin");
    const b = await createMapping(server, org.id, "Platform-Admins", "admin");
    const results = await Promise.all([server.gql(DELETE, { id: a }, org.keys.admin), server.gql(DEMOTE, { id: b }, org.keys.admin)]);
    const succeeded = results.filter((r) => !r.errors);
    const refused = results.filter((r) => errorCode(r) === "CONFLICT");
    expect(succeeded).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(await adminMappings()).toBe(1);
  });

  test("acl-04 an organization without any admin path can still change its mappings", async () => {
    const id = await createMapping(server, org.id, "Engineering", "developer");
    expect(ok(await server.gql(DEMOTE, { id }, org.keys.admin)).updateRoleMapping.role.key).toBe("viewer");
  });
});
