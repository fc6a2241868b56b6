/**
 * The GraphQL surface against the real HTTP server (SECURITY-CASES gql-01..gql-09), plus the HTTP
 * routes beside /graphql and the x-request-id header.
 *
 * "Nothing executed" is read off the database: every root-field invocation writes an audit entry,
 * so a request refused before execution leaves the audit_entry row count unchanged; mutations are
 * also checked on the table they would have written.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { DATABASES } from "../support/databases";
import { createOrganization, createOrgWithPrincipals, type OrgFixture } from "../support/fixtures";
import { ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REQUEST_REJECTED = /^GRAPHQL_(VALIDATION|PARSE)_FAILED$/;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: () => { data?: Record<string, unknown> | null; errors?: GraphQLResponse["errors"] };
}

async function raw(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

function postGraphQL(server: TestServer, body: string, contentType = "application/json", extraHeaders: Record<string, string> = {}): Promise<RawResponse> {
  return raw(server.url, {
    method: "POST",
    headers: { "content-type": contentType, authorization: `Bearer ${server.platformKey}`, ...extraHeaders },
    body,
  });
}

async function count(server: TestServer, table: string): Promise<number> {
  const [row]: Array<{ n: unknown }> = await server.app.db.dataSource.query(`SELECT COUNT(*) AS "n" FROM "${table}"`);
  return Number(row.n);
}

/** Runs `request` and asserts no root field executed: no audit entry, no row in `tables`. */
async function expectNothingExecuted<T>(server: TestServer, request: () => Promise<T>, tables: string[] = []): Promise<T> {
  const watched = ["audit_entry", ...tables];
  const before = await Promise.all(watched.map((t) => count(server, t)));
  const result = await request();
  expect(await Promise.all(watched.map((t) => count(server, t)))).toEqual(before);
  return result;
}

function expectRejectedRequest(response: { status: number; errors?: GraphQLResponse["errors"]; data?: unknown }, message: RegExp): void {
  expect(response.status).toBe(400);
  expect(response.data ?? null).toBeNull();
  expect(response.errors?.length).toBeGreaterThan(0);
  for (const error of response.errors!) expect(error.extensions?.code).toMatch(REQUEST_REJECTED);
  expect(response.errors!.map((e) => e.message)).toContainEqual(expect.stringMatching(message));
}

/** organizations → edges → node → roleMappings → organization → roleMappings → ... `levels` fields deep. */
function nestedQuery(levels: number): string {
  const fields = ["organizations", "edges", "node"];
  while (fields.length < levels) fields.push(fields.length % 2 === 1 ? "roleMappings" : "organization");
  return `{ ${fields.join(" { ")} { id }${" }".repeat(fields.length)}`;
}

const aliased = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ");
const createOrgMutation = () => `mutation { createOrganization(input: { slug: "csrf-${randomUUID().slice(0, 8)}", name: "CSRF" }) { id } }`;

/** Body strings that must never reach a client after a database error. */
const LEAKS = ["role_mapping", "SELECT", "INSERT", "QueryFailedError", "SQLITE", "no such table", "relation", "stack", "node_modules", ".ts:", "exception"];

describe.each(DATABASES)("GraphQL surface on $name", (kind) => {
  let server: TestServer;
  let org: OrgFixture;
  let base: string;

  beforeAll(async () => {
    server = await startServer(kind);
    org = await createOrgWithPrincipals(server);
    base = server.url.replace(/\/graphql$/, "");
  });
  afterAll(() => server.stop());

  test("gql-01 20 levels of nesting are rejected at validation, before any resolver runs", async () => {
    const query = nestedQuery(20);
    expect(query.match(/{/g)).toHaveLength(21);
    const response = await expectNothingExecuted(server, () => server.gql(query));
    expectRejectedRequest(response, /depth/i);
    // The same shape at a modest depth is served: the limit is what refused the deep one.
    expect(ok(await server.gql(nestedQuery(6))).organizations).toBeDefined();
  });

  test("gql-02 100 aliases of one field are rejected", async () => {
    const response = await expectNothingExecuted(server, () => server.gql(`{ ${aliased(100, "me { id }")} }`));
    expectRejectedRequest(response, /alias/i);
  });

  test("gql-02 100 aliases of a credential mutation (createServiceAccount) are rejected; no key is issued", async () => {
    const query = `mutation($input: CreateServiceAccountInput!) { ${aliased(100, "createServiceAccount(input: $input) { apiKey }")} }`;
    const response = await expectNothingExecuted(server, () => server.gql(query, { input: { organizationId: org.id, name: "flood" } }), ["service_account"]);
    expectRejectedRequest(response, /alias/i);
  });

  test("gql-03 a JSON array of operations (batching) is rejected with HTTP 400", async () => {
    const batch = JSON.stringify([{ query: createOrgMutation() }, { query: createOrgMutation() }, { query: "{ me { id } }" }]);
    const response = await expectNothingExecuted(server, () => postGraphQL(server, batch), ["organization"]);
    expect(response.status).toBe(400);
    expect(response.json().errors?.[0].message).toMatch(/batch/i);
  });

  test("gql-04 1000 duplicated fields are rejected", async () => {
    const response = await expectNothingExecuted(server, () => server.gql(`{ me { ${"id ".repeat(1000)}} }`));
    expect(response.status).toBe(400);
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0].extensions?.code).toMatch(REQUEST_REJECTED);
  });

  test("gql-04 1000 directives are rejected as a bad request (HTTP 400, not a server error)", async () => {
    const response = await expectNothingExecuted(server, () => server.gql(`{ me { id ${"@include(if: true) ".repeat(1000)}} }`));
    expectRejectedRequest(response, /limit|directive|token/i);
  });

  test("a malformed document is a client error: HTTP 400 GRAPHQL_PARSE_FAILED, not a server error", async () => {
    const response = await expectNothingExecuted(server, () => server.gql(`{ me { id `));
    expect(response.status).toBe(400);
    expect(response.errors?.[0].extensions?.code).toBe("GRAPHQL_PARSE_FAILED");
    expect(response.errors?.[0].message).toMatch(/^Syntax Error/);
  });

  test.each([
    ["organizations, inline literal", `{ organizations(first: 100000) { edges { cursor } } }`, {}],
    ["auditEntries, inline literal", `{ auditEntries(first: 100000) { edges { cursor } } }`, {}],
    ["organizations, variable", `query($first: Int) { organizations(first: $first) { edges { cursor } } }`, { first: 100000 }],
    ["auditEntries, variable", `query($first: Int) { auditEntries(first: $first) { edges { cursor } } }`, { first: 100000 }],
    ["organizations, first: 0", `{ organizations(first: 0) { edges { cursor } } }`, {}],
  ])("gql-05 first: 100000 (%s) → BAD_USER_INPUT naming the bound", async (_label, query, variables) => {
    const response = await server.gql(query, variables);
    expect(response.data ?? null).toBeNull();
    expect(response.errors).toHaveLength(1);
    expect(response.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
    expect(response.errors![0].message).toMatch(/^first must be between 1 and 100, got (100000|0)$/);
  });

  test("gql-08 CSRF: POST as text/plain, urlencoded or multipart is rejected and nothing runs", async () => {
    const mutation = createOrgMutation();
    const boundary = "----csrf-boundary";
    const bodies: Array<[string, string]> = [
      ["text/plain", JSON.stringify({ query: mutation })],
      ["text/plain;charset=UTF-8", JSON.stringify({ query: mutation })],
      ["application/x-www-form-urlencoded", new URLSearchParams({ query: mutation }).toString()],
      [
        `multipart/form-data; boundary=${boundary}`,
        `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: mutation })}\r\n--${boundary}--\r\n`,
      ],
    ];
    for (const [contentType, body] of bodies) {
      const response = await expectNothingExecuted(server, () => postGraphQL(server, body, contentType), ["organization"]);
      expect({ contentType, rejected: response.status === 400 || response.status === 415 }).toEqual({ contentType, rejected: true });
      expect(response.text).not.toContain('"createOrganization"');
    }
  });

  test("gql-08 a mutation sent with GET is rejected, with or without a preflight header; nothing runs", async () => {
    const url = `${server.url}?query=${encodeURIComponent(createOrgMutation())}`;
    const authorization = `Bearer ${server.platformKey}`;
    const plain = await expectNothingExecuted(server, () => raw(url, { headers: { authorization } }), ["organization"]);
    expect(plain.status).toBe(400);
    expect(plain.json().errors?.[0].message).toMatch(/Cross-Site Request Forgery/);
    const preflighted = await expectNothingExecuted(server, () => raw(url, { headers: { authorization, "apollo-require-preflight": "true" } }), ["organization"]);
    expect(preflighted.status).toBe(405);
    expect(preflighted.json().errors?.[0].message).toMatch(/GET requests only support query operations/);

    // A query over GET with the preflight header is served: GET itself is wired, mutations are not.
    const query = await raw(`${server.url}?query=${encodeURIComponent("{ roles { key } }")}`, { headers: { authorization, "apollo-require-preflight": "true" } });
    expect(query.status).toBe(200);
    expect(query.json().data?.roles).toHaveLength(4);
  });

  test.each([
    ["two fragments spreading each other", `query { me { ...A } } fragment A on Principal { id ...B } fragment B on Principal { id ...A }`],
    ["a fragment spreading itself", `query { me { ...A } } fragment A on Principal { id ...A }`],
    ["a cycle through a nested type", `query { me { ...P } } fragment P on Principal { organization { ...O } } fragment O on Organization { roleMappings { organization { ...O } } }`],
  ])("gql-09 fragment cycles are rejected: %s", async (_label, query) => {
    const response = await expectNothingExecuted(server, () => server.gql(query));
    expectRejectedRequest(response, /Cannot spread fragment/);
  });

  test("GET /healthz → 200", async () => {
    const response = await raw(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  test("GET /readyz → 200 ready, database, migrations and audit store ok", async () => {
    const response = await raw(`${base}/readyz`);
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", audit: "ok" } });
  });

  describe("x-request-id on every response", () => {
    const requests: Array<[string, (server: TestServer, base: string, headers: Record<string, string>) => Promise<RawResponse>]> = [
      ["GET /healthz", (_s, b, h) => raw(`${b}/healthz`, { headers: h })],
      ["GET /readyz", (_s, b, h) => raw(`${b}/readyz`, { headers: h })],
      ["POST /graphql", (s, _b, h) => postGraphQL(s, JSON.stringify({ query: "{ roles { key } }" }), "application/json", h)],
      ["POST /graphql rejected (batch)", (s, _b, h) => postGraphQL(s, JSON.stringify([{ query: "{ roles { key } }" }]), "application/json", h)],
      ["POST /graphql unauthenticated", (s, _b, h) => raw(s.url, { method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify({ query: "{ me { id } }" }) })],
      ["GET of an unknown route (404)", (_s, b, h) => raw(`${b}/no-such-route`, { headers: h })],
    ];

    test.each(requests)("%s: a UUID is generated when none is sent", async (_label, send) => {
      const response = await send(server, base, {});
      expect(response.headers.get("x-request-id")).toMatch(UUID);
    });

    test.each(requests)("%s: a valid incoming id is echoed", async (_label, send) => {
      const id = `req-${randomUUID().slice(0, 8)}`;
      const response = await send(server, base, { "x-request-id": id });
      expect(response.headers.get("x-request-id")).toBe(id);
    });

    test.each(requests)("%s: an invalid incoming id (spaces, too long, separators) is replaced", async (_label, send) => {
      for (const invalid of ["has spaces in it", "x".repeat(65), "a;b,c", "<script>"]) {
        const response = await send(server, base, { "x-request-id": invalid });
        expect(response.headers.get("x-request-id")).toMatch(UUID);
      }
    });

    test("the request id that answered is the one in the audit entry", async () => {
      const response = await postGraphQL(server, JSON.stringify({ query: "{ roles { key } }" }), "application/json", { "x-request-id": "has spaces" });
      const id = response.headers.get("x-request-id")!;
      const rows: Array<{ requestId: string; operation: string }> = await server.app.db.dataSource.query(`SELECT "requestId", "operation" FROM "audit_entry"`);
      expect(rows.filter((r) => r.requestId === id)).toEqual([{ requestId: id, operation: "Query.roles" }]);
      expect(rows.some((r) => r.requestId === "has spaces")).toBe(false);
    });
  });

  /** gql-07: a resolver meets a broken database; the answer must say nothing about it. */
  async function expectMaskedDatabaseError(target: TestServer): Promise<void> {
    const victim = await createOrganization(target);
    await target.app.db.transaction((em) => em.query(`ALTER TABLE "role_mapping" RENAME TO "role_mapping_moved_away"`));
    const calls = [
      { query: `query($o: ID!) { roleMappings(organizationId: $o) { id } }`, variables: { o: victim.id } },
      { query: `mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`, variables: { input: { organizationId: victim.id, idpGroup: "g", roleKey: "viewer" } } },
      { query: `query($o: ID!) { organization(id: $o) { roleMappings { id } } }`, variables: { o: victim.id } },
    ];
    for (const { query, variables } of calls) {
      const response = await postGraphQL(target, JSON.stringify({ query, variables }));
      const body = response.json();
      expect(body.errors).toHaveLength(1);
      expect(body.errors![0].message).toBe("Internal server error");
      expect(body.errors![0].extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
      for (const leak of LEAKS) expect({ leak, found: response.text.toLowerCase().includes(leak.toLowerCase()) }).toEqual({ leak, found: false });
    }
  }

  describe("with NODE_ENV=production", () => {
    let production: TestServer;
    beforeAll(async () => {
      production = await startServer(kind, { env: { NODE_ENV: "production", RBAC_ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
    });
    afterAll(() => production.stop());

    test.each([
      ["__schema", `{ __schema { types { name } } }`],
      ["__type", `{ __type(name: "Organization") { fields { name } } }`],
      ["__schema inside a fragment", `query { ...Q } fragment Q on Query { __schema { queryType { name } } }`],
    ])("gql-06 introspection (%s) is refused", async (_label, query) => {
      const response = await expectNothingExecuted(production, () => production.gql(query));
      expectRejectedRequest(response, /introspection/i);
      expect(response.errors?.[0].message).not.toMatch(/Organization|RoleMapping/);
    });

    test.each([
      ["a misspelled root field", `{ mee { id } }`],
      ["a misspelled nested field", `{ me { idd } }`],
      ["a misspelled argument", `{ organizations(frist: 1) { edges { cursor } } }`],
    ])("gql-06 %s gets no 'Did you mean' suggestion", async (_label, query) => {
      const response = await production.gql(query);
      expect(response.status).toBe(400);
      expect(response.errors?.length).toBeGreaterThan(0);
      for (const error of response.errors!) expect(error.message).not.toMatch(/did you mean/i);
    });

    test("gql-07 a database error in a resolver → 'Internal server error', no SQL, stack or table name (production)", () => expectMaskedDatabaseError(production));
  });

  describe("with NODE_ENV=development", () => {
    let development: TestServer;
    beforeAll(async () => {
      development = await startServer(kind, { env: { NODE_ENV: "development" } });
    });
    afterAll(() => development.stop());

    test("gql-06 introspection works in development", async () => {
      const data = ok(await development.gql<{ __schema: { types: Array<{ name: string }> } }>(`{ __schema { types { name } } }`));
      expect(data.__schema.types.map((t) => t.name)).toEqual(expect.arrayContaining(["Organization", "RoleMapping", "AuditEntry"]));
    });

    test("gql-07 a database error in a resolver → 'Internal server error', no SQL, stack or table name (development)", () => expectMaskedDatabaseError(development));
  });
});
