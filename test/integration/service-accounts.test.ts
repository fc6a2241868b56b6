/**
 * Service-account API keys: issued once, stored as SHA-256 only, revocable at once, scoped to one
 * organization (SECURITY-CASES tok-10, aud-02), and the Authorization header rules around them.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals, createServiceAccount, type OrgFixture } from "../support/fixtures";
import { ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

const CREATE = `mutation($input: CreateServiceAccountInput!) {
  createServiceAccount(input: $input) {
    apiKey
    serviceAccount { id name keyPrefix createdAt lastUsedAt revokedAt organization { id } role { key } }
  }
}`;
const REVOKE = `mutation($id: ID!) { revokeServiceAccount(id: $id) { id revokedAt } }`;
const ME = `{ me { id kind displayName organization { id } role { key } permissions } }`;
const LIST = `query($org: ID!) { serviceAccounts(organizationId: $org) { id name keyPrefix createdAt lastUsedAt revokedAt role { key } } }`;

interface Created {
  apiKey: string;
  serviceAccount: { id: string; name: string; keyPrefix: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null; organization: { id: string }; role: { key: string } };
}

function expectUnauthenticated(response: GraphQLResponse, message: string | RegExp): void {
  expect(response.data ?? null).toBeNull();
  expect(response.errors).toHaveLength(1);
  expect(response.errors![0].extensions?.code).toBe("UNAUTHENTICATED");
  if (typeof message === "string") expect(response.errors![0].message).toBe(message);
  else expect(response.errors![0].message).toMatch(message);
}

/** Every value of every row of every table, as text (the whole database, not just known columns). */
async function everyStoredValue(server: TestServer): Promise<{ tables: string[]; values: string[] }> {
  const ds = server.app.db.dataSource;
  const tables: string[] =
    server.app.db.dialect === "postgres"
      ? (await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)).map(
          (r: { table_name: string }) => r.table_name,
        )
      : (await ds.query(`SELECT name FROM sqlite_master WHERE type = 'table'`)).map((r: { name: string }) => r.name);
  const values: string[] = [];
  for (const table of tables) {
    for (const row of await ds.query(`SELECT * FROM "${table}"`)) {
      for (const value of Object.values(row as Record<string, unknown>)) {
        if (value == null) continue;
        values.push(Buffer.isBuffer(value) ? value.toString("latin1") : value instanceof Date ? value.toISOString() : String(value));
      }
    }
  }
  return { tables, values };
}

/** For SQLite, the raw bytes of the database file and its WAL: deleted or rewritten rows included. */
function sqliteFileBytes(server: TestServer): string {
  const path = server.database.url.slice("sqlite:".length);
  return [path, `${path}-wal`, `${path}-journal`]
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString("latin1"))
    .join("\n");
}

async function waitFor<T>(probe: () => Promise<T | null | undefined>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe.each(DATABASES)("service accounts on $name", (kind) => {
  let server: TestServer;
  let a: OrgFixture;
  let b: OrgFixture;

  async function create(org: OrgFixture, name: string, roleKey?: string, key = org.keys.admin): Promise<Created> {
    return ok(await server.gql<{ createServiceAccount: Created }>(CREATE, { input: { organizationId: org.id, name, ...(roleKey ? { roleKey } : {}) } }, key))
      .createServiceAccount;
  }

  beforeAll(async () => {
    server = await startServer(kind);
    a = await createOrgWithPrincipals(server);
    b = await createOrgWithPrincipals(server);
  });
  afterAll(() => server.stop());

  test("tok-10 a new key is shown once, starts with rbac_sk_, and authenticates as that account (kind SERVICE, organization, role)", async () => {
    const created = await create(a, "ci-pipeline", "developer");
    expect(created.apiKey).toMatch(/^rbac_sk_[A-Za-z0-9_-]{40,}$/);
    expect(created.serviceAccount).toMatchObject({ name: "ci-pipeline", organization: { id: a.id }, role: { key: "developer" }, lastUsedAt: null, revokedAt: null });
    expect(created.serviceAccount.keyPrefix).toMatch(/^rbac_sk_/);
    expect(created.apiKey.startsWith(created.serviceAccount.keyPrefix)).toBe(true);
    expect(created.serviceAccount.keyPrefix.length).toBeLessThan(created.apiKey.length - 16);

    const me = ok(await server.gql(ME, {}, created.apiKey)).me;
    expect(me).toEqual({
      id: created.serviceAccount.id,
      kind: "SERVICE",
      displayName: "ci-pipeline",
      organization: { id: a.id },
      role: { key: "developer" },
      permissions: ["READ", "WRITE"],
    });
  });

  test("the role defaults to `service` when roleKey is left out", async () => {
    const created = await create(a, "defaulted");
    expect(created.serviceAccount.role.key).toBe("service");
    expect(ok(await server.gql(ME, {}, created.apiKey)).me.role).toEqual({ key: "service" });
  });

  test("tok-10 serviceAccounts lists the keyPrefix but never the key, and no field can read it back", async () => {
    const created = await create(a, "listed", "viewer");
    const response = await server.gql(LIST, { org: a.id }, a.keys.admin);
    const listed = ok(response).serviceAccounts.find((s: { id: string }) => s.id === created.serviceAccount.id);
    expect(listed).toMatchObject({ name: "listed", keyPrefix: created.serviceAccount.keyPrefix, role: { key: "viewer" }, revokedAt: null });
    const secretPart = created.apiKey.slice(created.serviceAccount.keyPrefix.length);
    expect(JSON.stringify(response)).not.toContain(created.apiKey);
    expect(JSON.stringify(response)).not.toContain(secretPart);
    expect(JSON.stringify(response)).not.toContain(sha256(created.apiKey));

    for (const field of ["apiKey", "key", "keyHash"]) {
      const attempt = await server.gql(`query($org: ID!) { serviceAccounts(organizationId: $org) { id ${field} } }`, { org: a.id }, a.keys.admin);
      expect(attempt.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(attempt.errors?.[0]?.message).toContain(`Cannot query field "${field}" on type "ServiceAccount"`);
    }
  });

  test("tok-10 / aud-02 the database holds only SHA-256 of keys: no service key, nor the platform key, appears in clear in any table", async () => {
    const created = await create(a, "canary", "developer");
    // Use both keys (successfully and not), so every place that sees a request had its chance to store them.
    ok(await server.gql(ME, {}, created.apiKey));
    ok(await server.gql(`{ can(action: DELETE, resource: "conversation:1") { allowed } }`, {}, created.apiKey));
    await server.gql(`mutation { deleteOrganization(id: "${a.id}") }`, {}, created.apiKey);
    ok(await server.gql(ME, {}, server.platformKey));
    await server.gql(ME, {}, `${created.apiKey}x`);

    const { tables, values } = await everyStoredValue(server);
    expect(tables).toEqual(expect.arrayContaining(["service_account", "platform_key", "audit_entry", "organization", "role_mapping"]));
    expect(values.length).toBeGreaterThan(50);

    const secrets: Record<string, string> = {
      "the new service key": created.apiKey,
      "the secret part of the new service key": created.apiKey.slice(created.serviceAccount.keyPrefix.length),
      "the platform key": server.platformKey,
      "the tail of the platform key": server.platformKey.slice(8),
      ...Object.fromEntries(Object.entries(a.keys).map(([role, key]) => [`the ${role} fixture key`, key])),
    };
    for (const [name, secret] of Object.entries(secrets)) {
      expect({ name, storedIn: values.filter((v) => v.includes(secret)) }).toEqual({ name, storedIn: [] });
    }

    // What IS stored: the SHA-256 of each key.
    const accountRows = await server.app.db.dataSource.query(`SELECT "keyHash" FROM "service_account" WHERE "id" = ${server.app.db.dialect === "postgres" ? "$1" : "?"}`, [
      created.serviceAccount.id,
    ]);
    expect(accountRows).toEqual([{ keyHash: sha256(created.apiKey) }]);
    const platformRows = await server.app.db.dataSource.query(`SELECT "keyHash" FROM "platform_key"`);
    expect(platformRows).toEqual([{ keyHash: sha256(server.platformKey) }]);

    if (kind.name === "sqlite") {
      const bytes = sqliteFileBytes(server);
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.includes(created.apiKey)).toBe(false);
      expect(bytes.includes(server.platformKey)).toBe(false);
      expect(bytes.includes(sha256(created.apiKey))).toBe(true);
    }
  });

  test("tok-10 a revoked key is UNAUTHENTICATED at the very next request", async () => {
    const created = await create(a, "to-revoke", "developer");
    expect(ok(await server.gql(ME, {}, created.apiKey)).me.id).toBe(created.serviceAccount.id);

    const revoked = ok(await server.gql(REVOKE, { id: created.serviceAccount.id }, a.keys.admin)).revokeServiceAccount;
    expect(revoked.id).toBe(created.serviceAccount.id);
    expect(Number.isNaN(Date.parse(revoked.revokedAt))).toBe(false);

    expectUnauthenticated(await server.gql(ME, {}, created.apiKey), "Invalid or revoked API key");
    expectUnauthenticated(
      await server.gql(`mutation($org: ID!) { updateOrganization(id: $org, input: { name: "after revoke" }) { id } }`, { org: a.id }, created.apiKey),
      "Invalid or revoked API key",
    );
    const listed = ok(await server.gql(LIST, { org: a.id }, a.keys.admin)).serviceAccounts.find((s: { id: string }) => s.id === created.serviceAccount.id);
    expect(listed.revokedAt).toBe(revoked.revokedAt);
  });

  test("revoking twice is harmless: same answer, revokedAt unchanged, the key stays refused", async () => {
    const created = await create(a, "revoke-twice");
    const first = ok(await server.gql(REVOKE, { id: created.serviceAccount.id }, a.keys.admin)).revokeServiceAccount;
    const second = ok(await server.gql(REVOKE, { id: created.serviceAccount.id }, a.keys.admin)).revokeServiceAccount;
    expect(second).toEqual(first);
    expectUnauthenticated(await server.gql(ME, {}, created.apiKey), "Invalid or revoked API key");
  });

  test("tok-10 a key of organization A used on organization B's resources → NOT_FOUND, and B's account keeps working", async () => {
    const bAccount = await createServiceAccount(server, b.id, "viewer");
    const probes = [
      { query: `query($id: ID!) { organization(id: $id) { id name } }`, id: b.id, message: `Organization not found: ${b.id}` },
      { query: `query($id: ID!) { serviceAccounts(organizationId: $id) { id keyPrefix } }`, id: b.id, message: `Organization not found: ${b.id}` },
      { query: `query($id: ID!) { roleMappings(organizationId: $id) { id } }`, id: b.id, message: `Organization not found: ${b.id}` },
      { query: REVOKE, id: bAccount.id, message: `Service account not found: ${bAccount.id}` },
      {
        query: `mutation($id: ID!) { createServiceAccount(input: { organizationId: $id, name: "planted" }) { apiKey } }`,
        id: b.id,
        message: `Organization not found: ${b.id}`,
      },
    ];
    for (const probe of probes) {
      const response = await server.gql(probe.query, { id: probe.id }, a.keys.admin);
      expect(response.errors).toHaveLength(1);
      expect(response.errors![0]).toMatchObject({ message: probe.message, extensions: { code: "NOT_FOUND" } });
    }
    expect(ok(await server.gql(ME, {}, bAccount.apiKey)).me).toMatchObject({ id: bAccount.id, organization: { id: b.id } });
    const bAccounts = ok(await server.gql(LIST, { org: b.id })).serviceAccounts;
    expect(bAccounts.find((s: { id: string }) => s.id === bAccount.id).revokedAt).toBeNull();
    expect(bAccounts.map((s: { name: string }) => s.name)).not.toContain("planted");
  });

  test("the keys of a deleted organization stop working at the next request", async () => {
    const doomed = await createOrgWithPrincipals(server);
    expect(ok(await server.gql(ME, {}, doomed.keys.admin)).me.organization).toEqual({ id: doomed.id });
    expect(ok(await server.gql(`mutation($id: ID!) { deleteOrganization(id: $id) }`, { id: doomed.id })).deleteOrganization).toBe(true);
    for (const key of Object.values(doomed.keys)) expectUnauthenticated(await server.gql(ME, {}, key), "Invalid or revoked API key");
  });

  const MALFORMED = [
    { name: "Basic credentials", header: "Basic x" },
    { name: "Bearer without a token", header: "Bearer" },
    { name: "two tokens", header: "Bearer one two" },
    { name: "a token without scheme", header: "rbac_sk_abcdefabcdefabcdefabcdefabcdefabcdefabc" },
  ];

  test.each(MALFORMED)("a malformed Authorization header ($name) → UNAUTHENTICATED with a message naming the expected form", async ({ header }) => {
    const response = await server.gql(ME, {}, null, { authorization: header });
    expectUnauthenticated(response, /Bearer <API key or access token>/);
  });

  test("an unknown key of the right form → UNAUTHENTICATED `Invalid or revoked API key`; no credential at all says how to send one", async () => {
    expectUnauthenticated(await server.gql(ME, {}, "rbac_sk_ThisKeyWasNeverIssuedByTheServiceAtAll000000"), "Invalid or revoked API key");
    expectUnauthenticated(await server.gql(ME, {}, null), /Authorization: Bearer/);
  });

  test("lastUsedAt is empty until the key is used, then set", async () => {
    const created = await create(a, "used-later", "viewer");
    const lastUsedOf = async () =>
      ok(await server.gql(LIST, { org: a.id }, a.keys.admin)).serviceAccounts.find((s: { id: string }) => s.id === created.serviceAccount.id)
        .lastUsedAt as string | null;
    expect(await lastUsedOf()).toBeNull();

    ok(await server.gql(ME, {}, created.apiKey));
    // lastUsedAt is written off the request path: wait for it rather than expecting it in the same tick.
    const lastUsedAt = await waitFor(lastUsedOf, "lastUsedAt to be recorded");
    expect(Date.parse(lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(created.serviceAccount.createdAt));
  });
});
