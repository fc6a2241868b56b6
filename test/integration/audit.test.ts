/**
 * The audit trail, first version (issue 2 "Audit"; SECURITY-CASES aud-01, aud-02, aud-04, aud-05):
 * every root-field invocation writes entries — allowed or denied, denied by shield before any
 * resolver, unauthenticated — with who / what / when / where / outcome; per-organization sequences
 * without gaps and a hash chain, also under concurrency; the database refuses to change entries;
 * entries outlive their organization; and when an entry cannot be written nothing happens.
 * Rows are read straight from the database through the DataSource.
 */
import { createHash, randomUUID } from "node:crypto";
import { DATABASES } from "../support/databases";
import { createOrganization, createOrgWithPrincipals, createServiceAccount, type OrgFixture } from "../support/fixtures";
import { errorCode, ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

interface AuditRow {
  id: number;
  stream: string;
  sequence: number;
  timestamp: string;
  organizationId: string | null;
  actorId: string;
  actorKind: string | null;
  role: string | null;
  action: string;
  operation: string;
  resource: string;
  success: boolean;
  reason: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  requestId: string;
  details: string | null;
  previousHash: string;
  hash: string;
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const USER_AGENT = "audit-suite/1.0 (+https://example.test/agent)";
const CREATE_MAPPING = `mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`;

const requestId = () => `aud-${randomUUID()}`;

async function auditRows(server: TestServer): Promise<AuditRow[]> {
  const rows: Array<Record<string, unknown>> = await server.app.db.dataSource.query(`SELECT * FROM "audit_entry" ORDER BY "id"`);
  return rows.map((r) => ({ ...r, id: Number(r.id), sequence: Number(r.sequence), success: r.success === true || r.success === 1 }) as AuditRow);
}

async function entriesOf(server: TestServer, id: string): Promise<AuditRow[]> {
  return (await auditRows(server)).filter((r) => r.requestId === id).sort((a, b) => a.id - b.id);
}

/** Sends a request with its own request id and user agent; returns the response and that id. */
async function call(server: TestServer, query: string, variables: Record<string, unknown> = {}, key?: string | null, id = requestId()) {
  const response = await server.gql(query, variables, key, { "x-request-id": id, "user-agent": USER_AGENT });
  return { response, id };
}

async function principalId(server: TestServer, key: string): Promise<string> {
  return ok(await server.gql<{ me: { id: string } }>(`{ me { id } }`, {}, key)).me.id;
}

/** hash = SHA-256(previousHash ‖ "\n" ‖ canonical entry), as src/audit/audit-log.ts documents it. */
function expectedHash(r: AuditRow): string {
  const canonical = JSON.stringify([
    r.stream, r.sequence, r.timestamp, r.organizationId, r.actorId, r.actorKind, r.role,
    r.action, r.operation, r.resource, r.success, r.reason, r.ipAddress, r.userAgent, r.requestId,
    // structured details (before/after of a change) are hashed too when an entry has them
    ...(r.details == null ? [] : [r.details]),
  ]);
  return createHash("sha256").update(r.previousHash).update("\n").update(canonical).digest("hex");
}

/** Every stream: sequence 1..n without gaps, each entry chained to the previous one, heads in step. */
async function expectStreamsIntact(server: TestServer): Promise<Map<string, AuditRow[]>> {
  const streams = new Map<string, AuditRow[]>();
  for (const row of await auditRows(server)) streams.set(row.stream, [...(streams.get(row.stream) ?? []), row]);
  const heads: Array<{ stream: string; lastSequence: unknown; lastHash: string }> = await server.app.db.dataSource.query(`SELECT * FROM "audit_stream"`);
  for (const [stream, rows] of streams) {
    rows.sort((a, b) => a.sequence - b.sequence);
    expect({ stream, sequences: rows.map((r) => r.sequence) }).toEqual({ stream, sequences: rows.map((_, i) => i + 1) });
    rows.forEach((row, i) => {
      expect(row.stream).toBe(row.organizationId ?? "platform");
      expect(row.previousHash).toBe(i === 0 ? "" : rows[i - 1].hash);
      expect(row.hash).toBe(expectedHash(row));
    });
    const head = heads.find((h) => h.stream === stream);
    expect({ lastSequence: Number(head?.lastSequence), lastHash: head?.lastHash }).toEqual({ lastSequence: rows.length, lastHash: rows.at(-1)!.hash });
  }
  return streams;
}

/** Installs a real trigger that makes inserting an entry of `operation` fail; returns its removal. */
async function breakAuditInsertsFor(server: TestServer, operation: string): Promise<() => Promise<void>> {
  const { db } = server.app;
  const name = `test_fail_${operation.replace(/\W/g, "_").toLowerCase()}`;
  if (db.dialect === "sqlite") {
    await db.transaction((em) =>
      em.query(`CREATE TRIGGER "${name}" BEFORE INSERT ON "audit_entry" WHEN NEW."operation" = '${operation}' BEGIN SELECT RAISE(ABORT, 'forced'); END`),
    );
    return () => db.transaction((em) => em.query(`DROP TRIGGER "${name}"`));
  }
  await db.transaction(async (em) => {
    await em.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced'; END $$`);
    await em.query(`CREATE TRIGGER ${name} BEFORE INSERT ON "audit_entry" FOR EACH ROW WHEN (NEW."operation" = '${operation}') EXECUTE FUNCTION ${name}()`);
  });
  return () =>
    db.transaction(async (em) => {
      await em.query(`DROP TRIGGER ${name} ON "audit_entry"`);
      await em.query(`DROP FUNCTION ${name}()`);
    });
}

async function mappingGroups(server: TestServer, organizationId: string): Promise<string[]> {
  const rows: Array<{ organizationId: string; idpGroup: string }> = await server.app.db.dataSource.query(`SELECT * FROM "role_mapping"`);
  return rows.filter((r) => r.organizationId === organizationId).map((r) => r.idpGroup).sort();
}

function expectError(response: GraphQLResponse, code: string): void {
  expect(response.errors?.map((e) => e.extensions?.code)).toEqual([code]);
}

describe.each(DATABASES)("audit entries on $name", (kind) => {
  let server: TestServer;
  let org: OrgFixture;
  const ids: Record<string, string> = {};
  /** Every credential the suite handles: none may ever reach the database in clear (aud-02). */
  const secrets: string[] = [];

  beforeAll(async () => {
    server = await startServer(kind);
    org = await createOrgWithPrincipals(server);
    for (const role of ["admin", "developer", "viewer", "service"] as const) ids[role] = await principalId(server, org.keys[role]);
    ids.platform = await principalId(server, server.platformKey);
    secrets.push(server.platformKey, ...Object.values(org.keys));
  });
  afterAll(() => server.stop());

  test("aud-01 an allowed query writes one entry: actor, role, action, operation, outcome, UTC time, IP, user agent, request id", async () => {
    const before = Date.now();
    const { response } = await call(server, `{ me { id } }`, {}, org.keys.developer, "test-req-1");
    const after = Date.now();

    expect(ok(response)).toEqual({ me: { id: ids.developer } });
    expect(response.headers.get("x-request-id")).toBe("test-req-1");
    const entries = await entriesOf(server, "test-req-1");
    expect(entries).toHaveLength(1);
    const [entry] = entries;
    expect(entry).toMatchObject({
      organizationId: org.id,
      actorId: ids.developer,
      actorKind: "SERVICE",
      role: "developer",
      action: "query",
      operation: "Query.me",
      resource: "*",
      success: true,
      reason: null,
      userAgent: USER_AGENT,
      requestId: "test-req-1",
    });
    expect(entry.ipAddress).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(entry.timestamp).toMatch(ISO_UTC);
    expect(Date.parse(entry.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(entry.timestamp)).toBeLessThanOrEqual(after + 1000);

    // The same entry through the API: UTC instant, same fields.
    const listed = ok(
      await server.gql<{ auditEntries: { edges: Array<{ node: Record<string, unknown> }> } }>(
        `{ auditEntries(filter: { actorId: "${ids.developer}", operation: "Query.me" }) { edges { node { timestamp requestId userAgent ipAddress success actorKind } } } }`,
      ),
    );
    const node = listed.auditEntries.edges.map((e) => e.node).find((n) => n.requestId === "test-req-1");
    expect(node).toEqual({ timestamp: entry.timestamp, requestId: "test-req-1", userAgent: USER_AGENT, ipAddress: entry.ipAddress, success: true, actorKind: "SERVICE" });
  });

  test("aud-01 an allowed mutation by an organization admin names the mapping it created", async () => {
    const { response, id } = await call(server, CREATE_MAPPING, { input: { organizationId: org.id, idpGroup: "audited-group", roleKey: "viewer" } }, org.keys.admin);
    const mappingId = ok(response).createRoleMapping.id as string;

    expect(await entriesOf(server, id)).toEqual([
      expect.objectContaining({
        organizationId: org.id,
        actorId: ids.admin,
        actorKind: "SERVICE",
        role: "admin",
        action: "admin",
        operation: "Mutation.createRoleMapping",
        resource: `roleMapping:${mappingId}`,
        success: true,
        reason: null,
        userAgent: USER_AGENT,
      }),
    ]);

    const removal = await call(server, `mutation($id: ID!) { deleteRoleMapping(id: $id) }`, { id: mappingId }, org.keys.admin);
    expect(ok(removal.response)).toEqual({ deleteRoleMapping: true });
    expect(await entriesOf(server, removal.id)).toEqual([
      expect.objectContaining({ operation: "Mutation.deleteRoleMapping", action: "admin+delete", resource: `roleMapping:${mappingId}`, success: true, organizationId: org.id }),
    ]);
  });

  test("aud-01 a platform mutation lands in the stream of the organization it created", async () => {
    const slug = `audited-${randomUUID().slice(0, 8)}`;
    const { response, id } = await call(server, `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }`, { input: { slug, name: "Audited" } });
    const created = ok(response).createOrganization.id as string;
    expect(await entriesOf(server, id)).toEqual([
      expect.objectContaining({
        stream: created,
        organizationId: created,
        actorId: ids.platform,
        actorKind: "PLATFORM",
        role: "platform",
        operation: "Mutation.createOrganization",
        resource: `organization:${created}`,
        success: true,
      }),
    ]);
  });

  test("aud-01 a denial by shield, before any resolver runs, is audited with its reason and changes nothing", async () => {
    const groupsBefore = await mappingGroups(server, org.id);
    const { response, id } = await call(server, CREATE_MAPPING, { input: { organizationId: org.id, idpGroup: "viewer-escalation", roleKey: "admin" } }, org.keys.viewer);

    expectError(response, "FORBIDDEN");
    expect(response.errors?.[0].message).toBe("Missing permission: admin");
    expect(await mappingGroups(server, org.id)).toEqual(groupsBefore);
    expect(await entriesOf(server, id)).toEqual([
      expect.objectContaining({
        organizationId: org.id,
        actorId: ids.viewer,
        actorKind: "SERVICE",
        role: "viewer",
        action: "admin",
        operation: "Mutation.createRoleMapping",
        resource: `organization:${org.id}`,
        success: false,
        reason: "FORBIDDEN: Missing permission: admin",
        userAgent: USER_AGENT,
      }),
    ]);
  });

  test("aud-01 an organization admin calling a platform operation is denied and audited", async () => {
    const { response, id } = await call(server, `mutation { createOrganization(input: { slug: "never-${randomUUID().slice(0, 8)}", name: "Never" }) { id } }`, {}, org.keys.admin);
    expectError(response, "FORBIDDEN");
    expect(await entriesOf(server, id)).toEqual([
      expect.objectContaining({ actorId: ids.admin, organizationId: org.id, operation: "Mutation.createOrganization", success: false, reason: "FORBIDDEN: Missing permission: platform" }),
    ]);
  });

  test.each([
    ["no credential", null],
    ["an unknown API key", `rbac_sk_canary${randomUUID().replace(/-/g, "")}`],
    ["an unknown platform-style key", `canary-platform-${randomUUID()}`],
  ])("aud-01 an unauthenticated attempt with %s is audited as anonymous", async (_label, key) => {
    if (key) secrets.push(key);
    const organizationsBefore: unknown[] = await server.app.db.dataSource.query(`SELECT "id" FROM "organization"`);
    const query = await call(server, `{ me { id } }`, {}, key);
    const mutation = await call(server, `mutation { createOrganization(input: { slug: "anon-${randomUUID().slice(0, 8)}", name: "Anon" }) { id } }`, {}, key);

    for (const { response, id } of [query, mutation]) {
      expectError(response, "UNAUTHENTICATED");
      const entries = await entriesOf(server, id);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ actorId: "anonymous", actorKind: null, role: null, organizationId: null, stream: "platform", success: false, userAgent: USER_AGENT });
      expect(entries[0].reason).toMatch(/^UNAUTHENTICATED: /);
    }
    expect((await entriesOf(server, query.id))[0].operation).toBe("Query.me");
    expect((await entriesOf(server, mutation.id))[0].operation).toBe("Mutation.createOrganization");
    expect(await server.app.db.dataSource.query(`SELECT "id" FROM "organization"`)).toHaveLength(organizationsBefore.length);
  });

  test("every root field of one request writes its own entry, public ones and anonymous callers included", async () => {
    const { response, id } = await call(server, `{ me { id } roles { key } operationPermissions { operation } }`, {}, org.keys.viewer);
    ok(response);
    expect((await entriesOf(server, id)).map((e) => [e.operation, e.success]).sort()).toEqual([
      ["Query.me", true],
      ["Query.operationPermissions", true],
      ["Query.roles", true],
    ]);

    const anonymous = await call(server, `{ operationPermissions { operation } }`, {}, null);
    ok(anonymous.response);
    expect(await entriesOf(server, anonymous.id)).toEqual([expect.objectContaining({ operation: "Query.operationPermissions", actorId: "anonymous", success: true })]);
  });

  test("can writes one entry per decision, with the action, resource, outcome and reason", async () => {
    const denied = await call(server, `{ can(action: DELETE, resource: "conversation:1") { allowed } }`, {}, org.keys.developer);
    expect(ok(denied.response)).toEqual({ can: { allowed: false } });
    expect(await entriesOf(server, denied.id)).toEqual([
      expect.objectContaining({
        operation: "Query.can",
        actorId: ids.developer,
        role: "developer",
        action: "delete",
        resource: "conversation:1",
        success: false,
        reason: "Missing permission: delete (role developer does not grant it)",
      }),
    ]);

    const allowed = await call(server, `{ can(action: READ) { allowed } }`, {}, org.keys.developer);
    expect(ok(allowed.response)).toEqual({ can: { allowed: true } });
    expect(await entriesOf(server, allowed.id)).toEqual([expect.objectContaining({ operation: "Query.can", action: "read", resource: "*", success: true })]);
  });

  test("checkPermissions writes one entry per check (and one for an empty list)", async () => {
    const checks = [
      { action: "READ", resource: "conversation:7" },
      { action: "WRITE", resource: "conversation:7" },
      { action: "ADMIN", resource: "workspace" },
    ];
    const { response, id } = await call(server, `query($checks: [PermissionCheckInput!]!) { checkPermissions(checks: $checks) { allowed } }`, { checks }, org.keys.viewer);
    expect(ok(response)).toEqual({ checkPermissions: [{ allowed: true }, { allowed: false }, { allowed: false }] });
    const entries = await entriesOf(server, id);
    expect(entries.map((e) => [e.operation, e.action, e.resource, e.success])).toEqual([
      ["Query.checkPermissions", "read", "conversation:7", true],
      ["Query.checkPermissions", "write", "conversation:7", false],
      ["Query.checkPermissions", "admin", "workspace", false],
    ]);
    expect(entries.map((e) => e.sequence)).toEqual([entries[0].sequence, entries[0].sequence + 1, entries[0].sequence + 2]);

    const empty = await call(server, `{ checkPermissions(checks: []) { allowed } }`, {}, org.keys.viewer);
    expect(ok(empty.response)).toEqual({ checkPermissions: [] });
    expect(await entriesOf(server, empty.id)).toHaveLength(1);
  });

  test("aud-04 sequences run 1..n per organization without gaps and every entry chains to the previous one", async () => {
    const streams = await expectStreamsIntact(server);
    expect(streams.get(org.id)?.length).toBeGreaterThan(10);
    expect(streams.has("platform")).toBe(true);
  });

  test("aud-04 50 concurrent mutations and queries keep every stream gapless and chained", async () => {
    const target = await createOrgWithPrincipals(server);
    secrets.push(...Object.values(target.keys));
    const inStreamBefore = (await auditRows(server)).filter((r) => r.stream === target.id).length;

    const calls = Array.from({ length: 50 }, (_, i) => {
      switch (i % 5) {
        case 0:
          return call(server, CREATE_MAPPING, { input: { organizationId: target.id, idpGroup: `group-${i}`, roleKey: "viewer" } }, target.keys.admin);
        case 1:
          return call(server, `{ can(action: WRITE, resource: "ticket:${i}") { allowed } }`, {}, target.keys.developer);
        case 2:
          return call(server, `query($o: ID!) { roleMappings(organizationId: $o) { id } }`, { o: target.id }, target.keys.viewer);
        case 3:
          return call(server, CREATE_MAPPING, { input: { organizationId: target.id, idpGroup: `denied-${i}`, roleKey: "admin" } }, target.keys.viewer);
        default:
          return call(server, `mutation($input: CreateServiceAccountInput!) { createServiceAccount(input: $input) { serviceAccount { id } } }`, { input: { organizationId: target.id, name: `bot-${i}` } });
      }
    });
    const results = await Promise.all(calls);

    results.forEach(({ response }, i) => {
      if (i % 5 === 3) expectError(response, "FORBIDDEN");
      else ok(response);
    });
    const rows = await auditRows(server);
    for (const { id } of results) expect(rows.filter((r) => r.requestId === id)).toHaveLength(1);
    expect(rows.filter((r) => r.stream === target.id)).toHaveLength(inStreamBefore + 50);
    expect(await mappingGroups(server, target.id)).toEqual(Array.from({ length: 10 }, (_, k) => `group-${k * 5}`).sort());
    await expectStreamsIntact(server);
  });

  test("aud-04 the database refuses UPDATE and DELETE on audit_entry; rows stay unchanged", async () => {
    const { dataSource } = server.app.db;
    const before = await auditRows(server);
    const statements = [
      `UPDATE "audit_entry" SET "reason" = 'tampered' WHERE "id" = ${before[0].id}`,
      `UPDATE "audit_entry" SET "success" = ${kind.name === "sqlite" ? 1 : "true"}`,
      `DELETE FROM "audit_entry" WHERE "id" = ${before.at(-1)!.id}`,
      `DELETE FROM "audit_entry"`,
      ...(kind.name === "postgres" ? [`TRUNCATE "audit_entry"`] : []),
    ];
    for (const sql of statements) {
      await expect(dataSource.query(sql)).rejects.toThrow(/append-only/);
    }
    expect(await auditRows(server)).toEqual(before);
  });

  test("deleting an organization keeps its entries", async () => {
    const doomed = await createOrganization(server);
    const key = (await createServiceAccount(server, doomed.id, "admin")).apiKey;
    secrets.push(key);
    ok(await server.gql(CREATE_MAPPING, { input: { organizationId: doomed.id, idpGroup: "soon-gone", roleKey: "viewer" } }, key));
    const before = (await auditRows(server)).filter((r) => r.organizationId === doomed.id);
    expect(before.length).toBeGreaterThanOrEqual(3);

    const { response, id } = await call(server, `mutation($id: ID!) { deleteOrganization(id: $id) }`, { id: doomed.id });
    expect(ok(response)).toEqual({ deleteOrganization: true });
    expect(errorCode(await server.gql(`query($id: ID!) { organization(id: $id) { id } }`, { id: doomed.id }))).toBe("NOT_FOUND");

    const after = (await auditRows(server)).filter((r) => r.organizationId === doomed.id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.find((r) => r.requestId === id)).toMatchObject({ operation: "Mutation.deleteOrganization", resource: `organization:${doomed.id}`, success: true });
    const listed = ok(await server.gql(`query($o: ID!) { auditEntries(filter: { organizationId: $o }, first: 100) { edges { node { sequence } } } }`, { o: doomed.id }));
    expect(listed.auditEntries.edges.map((e: { node: { sequence: number } }) => e.node.sequence)).toEqual(after.map((r) => r.sequence));
  });

  test("aud-05 an audit insert forced to fail: createRoleMapping answers AUDIT_UNAVAILABLE and the mapping is rolled back", async () => {
    const groupsBefore = await mappingGroups(server, org.id);
    const repair = await breakAuditInsertsFor(server, "Mutation.createRoleMapping");
    let response: GraphQLResponse;
    try {
      ({ response } = await call(server, CREATE_MAPPING, { input: { organizationId: org.id, idpGroup: "unaudited", roleKey: "viewer" } }, org.keys.admin));
    } finally {
      await repair();
    }

    expectError(response, "AUDIT_UNAVAILABLE");
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0].message).not.toMatch(/forced|audit_entry|INSERT/);
    expect(await mappingGroups(server, org.id)).toEqual(groupsBefore);
    expect((await auditRows(server)).filter((r) => r.operation === "Mutation.createRoleMapping" && r.resource.includes("unaudited"))).toEqual([]);
    await expectStreamsIntact(server);

    // Nothing was half-written: once the trail works again the same mapping can be created.
    ok(await server.gql(CREATE_MAPPING, { input: { organizationId: org.id, idpGroup: "unaudited", roleKey: "viewer" } }, org.keys.admin));
  });

  test.each([
    ["Query.can", `{ can(action: READ, resource: "conversation:9") { allowed reason } }`, "can"],
    ["Query.checkPermissions", `{ checkPermissions(checks: [{ action: READ }]) { allowed reason } }`, "checkPermissions"],
  ])("aud-05 a decision whose entry cannot be written (%s) is an error, not an answer (fail closed)", async (operation, query, field) => {
    const repair = await breakAuditInsertsFor(server, operation);
    let response: GraphQLResponse;
    try {
      ({ response } = await call(server, query, {}, org.keys.developer));
    } finally {
      await repair();
    }
    expectError(response, "AUDIT_UNAVAILABLE");
    expect(response.data?.[field] ?? null).toBeNull();
    expect(JSON.stringify(response)).not.toMatch(/"allowed"/);
    await expectStreamsIntact(server);

    // The same question is answered again once the trail works.
    expect(ok(await server.gql(query, {}, org.keys.developer))[field]).toBeTruthy();
  });

  test("aud-02 API keys (platform, service accounts, refused canaries) never appear in clear in the audit trail or any table", async () => {
    const revoked = await createServiceAccount(server, org.id, "viewer");
    secrets.push(revoked.apiKey);
    ok(await server.gql(`mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`, { id: revoked.id }));
    expectError(await server.gql(`{ me { id } }`, {}, revoked.apiKey), "UNAUTHENTICATED");

    const trail = JSON.stringify(await auditRows(server));
    const tables: string[] = [];
    for (const table of ["audit_entry", "audit_stream", "service_account", "platform_key", "organization", "role_mapping"]) {
      tables.push(JSON.stringify(await server.app.db.dataSource.query(`SELECT * FROM "${table}"`)));
    }
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    for (const secret of secrets) {
      expect(trail.includes(secret)).toBe(false);
      expect(tables.some((t) => t.includes(secret))).toBe(false);
    }
  });
});
