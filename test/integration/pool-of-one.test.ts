/**
 * PostgreSQL with DATABASE_POOL_SIZE=1: every flow still completes. A transaction that asked the
 * pool for a second connection would wait for itself here, and with the default pool of 10 would
 * hang ten concurrent requests (found by the refresh benchmark: the token signer read the active
 * key outside the refresh transaction).
 */
import { DATABASES } from "../support/databases";
import { createOrganization, createServiceAccount } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const postgres = DATABASES.find((d) => d.name === "postgres");
const describeOnPostgres = postgres ? describe : describe.skip;
const REDIRECT = "http://localhost:3000/callback";

describeOnPostgres("PostgreSQL with a pool of one connection", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(postgres!, { env: { DATABASE_POOL_SIZE: "1" } });
  }, 60_000);
  afterAll(() => server?.stop(true));

  const base = () => server.url.replace(/\/graphql$/, "");
  const post = async (path: string, body: Record<string, unknown>) => {
    const response = await fetch(`${base()}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };

  test("administration, decisions, password login, token exchange, refreshes (concurrent) and logout", async () => {
    const domain = "pool-one.example.com";
    const org = await createOrganization(server, { allowedDomains: [domain], allowedRedirectUrls: [REDIRECT] });
    const account = await createServiceAccount(server, org.id, "developer");
    expect(ok(await server.gql(`{ can(action: WRITE) { allowed } }`, {}, account.apiKey)).can.allowed).toBe(true);
    const mapping = ok(
      await server.gql(`mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`, {
        input: { organizationId: org.id, idpGroup: "Pool", roleKey: "viewer" },
      }),
    ).createRoleMapping.id as string;
    ok(await server.gql(`mutation($id: ID!) { updateRoleMapping(id: $id, input: { roleKey: "developer" }) { id } }`, { id: mapping }));
    ok(await server.gql(`mutation($id: ID!) { deleteRoleMapping(id: $id) }`, { id: mapping }));

    const email = `person@${domain}`;
    const password = "Pool-of-one-correct-horse-battery";
    ok(
      await server.gql(`mutation($input: CreatePasswordUserInput!) { createPasswordUser(input: $input) { id } }`, {
        input: { organizationId: org.id, email, displayName: "Pool", roleKey: "developer", password },
      }),
    );
    const sessions = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const login = await post("/auth/password/login", { email, password, redirect_uri: REDIRECT });
        expect(login.status).toBe(200);
        const code = new URL(login.json.redirect_url).searchParams.get("code");
        const tokens = await post("/auth/token", { grant_type: "authorization_code", code, redirect_uri: REDIRECT });
        expect(tokens.status).toBe(200);
        return tokens.json;
      }),
    );
    const refreshed = await Promise.all(sessions.map((s) => post("/auth/token", { grant_type: "refresh_token", refresh_token: s.refresh_token })));
    expect(refreshed.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(ok(await server.gql(`{ me { kind } }`, {}, refreshed[0].json.access_token)).me.kind).toBe("USER");
    expect((await post("/auth/logout", { refresh_token: refreshed[0].json.refresh_token })).status).toBeLessThan(300);
    expect(errorCode(await server.gql(`{ me { kind } }`, {}, refreshed[0].json.access_token))).toBe("UNAUTHENTICATED");

    const chain = ok(await server.gql(`query($o: ID!) { verifyAuditChain(organizationId: $o) { ok } }`, { o: org.id }));
    expect(chain.verifyAuditChain.ok).toBe(true);
  }, 60_000);
});
