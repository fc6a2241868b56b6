/**
 * Several stateless instances on one database behave as one service: three real processes of
 * `node dist/src/server/main.js` share the database, the platform key and the encryption key.
 * - a revocation, a deactivation or a mapping change made on one instance holds on the others at the
 *   very next request (nothing that decides is cached per instance);
 * - concurrent refreshes of one refresh token, one per instance, give exactly one winner;
 * - tokens signed by one instance verify on the others (shared, sealed signing keys).
 */
import { DATABASES, type TestDatabase } from "../support/databases";
import { gql, newSecrets, startService, type ServiceProcess } from "../support/audit-process";

jest.setTimeout(120_000);

describe.each(DATABASES)("three instances on one $name database", (kind) => {
  let database: TestDatabase;
  let instances: ServiceProcess[] = [];
  const secrets = newSecrets();

  beforeAll(async () => {
    database = await kind.create();
    instances = await Promise.all([0, 1, 2].map(() => startService({ databaseUrl: database.url, secrets })));
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await database?.drop();
  });

  const platform = <T = Record<string, any>>(i: number, query: string, variables: Record<string, unknown> = {}) => gql<T>(instances[i].url, secrets.platformKey, query, variables);
  const post = async (i: number, path: string, body: unknown) => {
    const response = await fetch(`${instances[i].base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  async function organizationWithPerson() {
    const slug = `multi-${Math.random().toString(36).slice(2, 10)}`;
    const domain = `${slug}.example.com`;
    const redirect = "http://localhost:3000/callback";
    const org = (await platform<{ createOrganization: { id: string } }>(0, `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`, {
      i: { slug, name: slug, allowedDomains: [domain], allowedRedirectUrls: [redirect] },
    })).data!.createOrganization;
    const email = `person@${domain}`;
    const password = "Multi-instance-correct-horse-battery";
    const user = (await platform<{ createPasswordUser: { id: string } }>(1, `mutation($i: CreatePasswordUserInput!) { createPasswordUser(input: $i) { id } }`, {
      i: { organizationId: org.id, email, displayName: "Person", roleKey: "developer", password },
    })).data!.createPasswordUser;
    const login = await post(2, "/auth/password/login", { email, password, redirect_uri: redirect });
    expect(login.status).toBe(200);
    const code = new URL(login.body.redirect_url).searchParams.get("code");
    const tokens = await post(0, "/auth/token", { grant_type: "authorization_code", code, redirect_uri: redirect });
    expect(tokens.status).toBe(200);
    return { org, user, tokens: tokens.body as { access_token: string; refresh_token: string } };
  }

  test("a token issued on one instance works on every instance; deactivating the person on another ends it everywhere at once", async () => {
    const { user, tokens } = await organizationWithPerson();
    for (const i of [0, 1, 2]) {
      const me = await gql<{ me: { kind: string } }>(instances[i].url, tokens.access_token, `{ me { kind } }`);
      expect(me.data?.me.kind).toBe("USER");
    }
    expect((await platform(1, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, { id: user.id })).errors).toBeUndefined();
    for (const i of [0, 2]) {
      const me = await gql(instances[i].url, tokens.access_token, `{ me { kind } }`);
      expect(me.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    }
  });

  test("a service key revoked on one instance is refused by the others at the next request; a mapping made on one is listed by all", async () => {
    const { org } = await organizationWithPerson();
    const created = await platform<{ createServiceAccount: { apiKey: string; serviceAccount: { id: string } } }>(
      0,
      `mutation($i: CreateServiceAccountInput!) { createServiceAccount(input: $i) { apiKey serviceAccount { id } } }`,
      { i: { organizationId: org.id, name: "multi" } },
    );
    const { apiKey, serviceAccount } = created.data!.createServiceAccount;
    expect((await gql(instances[2].url, apiKey, `{ can(action: WRITE) { allowed } }`)).data?.can.allowed).toBe(true);
    await platform(1, `mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`, { id: serviceAccount.id });
    for (const i of [0, 2]) expect((await gql(instances[i].url, apiKey, `{ can(action: WRITE) { allowed } }`)).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");

    await platform(2, `mutation($i: CreateRoleMappingInput!) { createRoleMapping(input: $i) { id } }`, { i: { organizationId: org.id, idpGroup: "Engineering", roleKey: "developer" } });
    for (const i of [0, 1]) {
      const listed = await platform<{ roleMappings: Array<{ idpGroup: string }> }>(i, `query($id: ID!) { roleMappings(organizationId: $id) { idpGroup } }`, { id: org.id });
      expect(listed.data!.roleMappings.map((m) => m.idpGroup)).toEqual(["Engineering"]);
    }
  });

  test("one refresh token sent to the three instances at once: exactly one rotation wins", async () => {
    const { tokens } = await organizationWithPerson();
    const answers = await Promise.all([0, 1, 2].map((i) => post(i, "/auth/token", { grant_type: "refresh_token", refresh_token: tokens.refresh_token })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400).map((a) => a.body.error)).toEqual(["invalid_grant", "invalid_grant"]);
  });
});
