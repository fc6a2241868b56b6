/**
 * OIDC connections over GraphQL: validation with actionable messages, write-only secrets, tenant
 * isolation (acl-01) and mass assignment (acl-05). Logins themselves: oidc-login.test.ts.
 */
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals, type OrgFixture } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const CREATE = `mutation($i: CreateOidcConnectionInput!) { createOidcConnection(input: $i) { id issuer clientId hasClientSecret clientAuthMethod scopes groupsClaim maxIdTokenAgeSeconds } }`;
const UPDATE = `mutation($id: ID!, $i: UpdateOidcConnectionInput!) { updateOidcConnection(id: $id, input: $i) { id hasClientSecret clientAuthMethod redirectUri } }`;

describe.each(DATABASES)("OIDC connections on $name", (kind) => {
  let server: TestServer;
  let orgA: OrgFixture;
  let orgB: OrgFixture;

  beforeAll(async () => {
    server = await startServer(kind);
    orgA = await createOrgWithPrincipals(server);
    orgB = await createOrgWithPrincipals(server);
  });
  afterAll(() => server.stop());

  const input = (organizationId: string, extra: Record<string, unknown> = {}) => ({
    organizationId,
    issuer: "https://login.acme.example/realms/acme",
    clientId: `client-${Math.random().toString(36).slice(2, 10)}`,
    clientSecret: "a-client-secret-value",
    ...extra,
  });

  test("an organization admin creates a connection with the documented defaults", async () => {
    const data = ok(await server.gql<{ createOidcConnection: Record<string, unknown> }>(CREATE, { i: input(orgA.id) }, orgA.keys.admin));
    expect(data.createOidcConnection).toMatchObject({
      issuer: "https://login.acme.example/realms/acme",
      hasClientSecret: true,
      clientAuthMethod: "CLIENT_SECRET_BASIC",
      scopes: "openid email profile",
      groupsClaim: "groups",
      maxIdTokenAgeSeconds: 300,
    });
    const id = data.createOidcConnection.id as string;
    const listed = ok(await server.gql<{ oidcConnections: Array<{ id: string; redirectUri: string }> }>(`query($o: ID!) { oidcConnections(organizationId: $o) { id redirectUri } }`, { o: orgA.id }, orgA.keys.admin));
    expect(listed.oidcConnections.find((c) => c.id === id)?.redirectUri).toMatch(new RegExp(`/auth/oidc/${id}/callback$`));
  });

  test.each([
    ["an http issuer that is not loopback", { issuer: "http://login.acme.example" }, "issuer", /issuer must use https/],
    ["an issuer with a query", { issuer: "https://login.acme.example/?tenant=1" }, "issuer", /must not contain a query/],
    ["scopes without openid", { scopes: "email profile" }, "scopes", /scopes must include openid/],
    ["a secret method without a secret", { clientSecret: null }, "clientSecret", /clientSecret is required for CLIENT_SECRET_BASIC/],
    ["a public client with a secret", { clientAuthMethod: "NONE" }, "clientSecret", /public client .* has no client secret/],
    ["a redirect URI with a fragment", { redirectUri: "https://rbac.acme.example/cb#x" }, "redirectUri", /must not contain a fragment/],
    ["an ID-token age out of bounds", { maxIdTokenAgeSeconds: 5 }, "maxIdTokenAgeSeconds", /maxIdTokenAgeSeconds/],
  ])("BAD_USER_INPUT for %s, naming the field", async (_label, extra, field, message) => {
    const response = await server.gql(CREATE, { i: input(orgA.id, extra) }, orgA.keys.admin);
    expect(errorCode(response)).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0].extensions?.field).toBe(field);
    expect(response.errors?.[0].message).toMatch(message);
  });

  test("a duplicate (issuer, client) in one organization is a CONFLICT", async () => {
    const i = input(orgA.id);
    ok(await server.gql(CREATE, { i }, orgA.keys.admin));
    const response = await server.gql(CREATE, { i }, orgA.keys.admin);
    expect(errorCode(response)).toBe("CONFLICT");
  });

  test("acl-05 undeclared input fields (e.g. clientSecretSealed, hasClientSecret) are refused", async () => {
    const response = await server.gql(CREATE, { i: { ...input(orgA.id), clientSecretSealed: "v1.x.y" } }, orgA.keys.admin);
    expect(response.errors?.[0].extensions?.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
    const response2 = await server.gql(CREATE, { i: { ...input(orgA.id), hasClientSecret: false } }, orgA.keys.admin);
    expect(response2.errors?.[0].extensions?.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
  });

  test("the secret is write-only: an update without it keeps it, NONE drops it, and the schema has no field for it", async () => {
    const id = ok(await server.gql<{ createOidcConnection: { id: string } }>(CREATE, { i: input(orgA.id) }, orgA.keys.admin)).createOidcConnection.id;
    const kept = ok(await server.gql<{ updateOidcConnection: { hasClientSecret: boolean } }>(UPDATE, { id, i: { groupsClaim: "roles" } }, orgA.keys.admin));
    expect(kept.updateOidcConnection.hasClientSecret).toBe(true);
    const dropped = ok(await server.gql<{ updateOidcConnection: { hasClientSecret: boolean; clientAuthMethod: string } }>(UPDATE, { id, i: { clientAuthMethod: "NONE" } }, orgA.keys.admin));
    expect(dropped.updateOidcConnection).toMatchObject({ hasClientSecret: false, clientAuthMethod: "NONE" });
    const reset = ok(await server.gql<{ updateOidcConnection: { redirectUri: string } }>(UPDATE, { id, i: { redirectUri: null } }, orgA.keys.admin));
    expect(reset.updateOidcConnection.redirectUri).toMatch(/\/callback$/);
    const asking = await server.gql(`query($o: ID!) { oidcConnections(organizationId: $o) { clientSecret } }`, { o: orgA.id }, orgA.keys.admin);
    expect(errorCode(asking)).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  test("acl-01 another organization's connection answers NOT_FOUND everywhere, and nothing changes", async () => {
    const id = ok(await server.gql<{ createOidcConnection: { id: string } }>(CREATE, { i: input(orgB.id) }, orgB.keys.admin)).createOidcConnection.id;
    const calls: Array<[string, Record<string, unknown>]> = [
      [`query($id: ID!) { testOidcConnection(id: $id) { ok } }`, { id }],
      [UPDATE, { id, i: { groupsClaim: "stolen" } }],
      [`mutation($id: ID!) { deleteOidcConnection(id: $id) }`, { id }],
      [`query($o: ID!) { oidcConnections(organizationId: $o) { id } }`, { o: orgB.id }],
      [CREATE, { i: input(orgB.id) }],
    ];
    for (const [query, variables] of calls) {
      const response = await server.gql(query, variables, orgA.keys.admin);
      expect(errorCode(response)).toBe("NOT_FOUND");
    }
    const missing = await server.gql(`query($id: ID!) { testOidcConnection(id: $id) { ok } }`, { id: "00000000-0000-4000-8000-000000000000" }, orgA.keys.admin);
    expect(missing.errors?.[0].message).toBe(`OIDC connection not found: 00000000-0000-4000-8000-000000000000`);
    const foreign = await server.gql(`query($id: ID!) { testOidcConnection(id: $id) { ok } }`, { id }, orgA.keys.admin);
    expect(foreign.errors?.[0].message).toBe(`OIDC connection not found: ${id}`);
    const still = ok(await server.gql<{ oidcConnections: Array<{ id: string; groupsClaim: string }> }>(`query($o: ID!) { oidcConnections(organizationId: $o) { id groupsClaim } }`, { o: orgB.id }));
    expect(still.oidcConnections.find((c) => c.id === id)).toEqual({ id, groupsClaim: "groups" });
  });

  test("an unknown connection id on the login route answers NOT_FOUND as JSON, audited", async () => {
    const base = server.url.replace(/\/graphql$/, "");
    const response = await fetch(`${base}/auth/oidc/00000000-0000-4000-8000-000000000000/login?redirect_uri=https://x.example/`, { redirect: "manual" });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: "NOT_FOUND", message: "OIDC connection not found: 00000000-0000-4000-8000-000000000000" });
    await server.app.db.ping();
    const audits = await server.app.db.manager.query(`SELECT "operation", "success", "reason" FROM "audit_entry" WHERE "operation" = 'Auth.login.oidc' AND "reason" LIKE '%OIDC connection not found: 00000000-0000-4000-8000-000000000000%'`);
    expect(audits).toHaveLength(1);
    const garbage = await fetch(`${base}/auth/oidc/${encodeURIComponent("<script>")}/callback?state=x`, { redirect: "manual" });
    expect(garbage.status).toBe(404);
    expect(await garbage.text()).not.toContain("<script>");
  });
});
