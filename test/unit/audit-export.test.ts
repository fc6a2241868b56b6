/**
 * src/audit/audit-export.*: the CSV and JSON Lines encodings, parameter checks, and the refusal a
 * role without `read` gets (no built-in role lacks it, so a principal is made up here).
 */
import Fastify from "fastify";
import { once } from "node:events";
import { AuditEntryEntity } from "../../src/audit/audit-entry.entity";
import { AuditExportService, csvField, csvHeader, EXPORT_COLUMNS } from "../../src/audit/audit-export.service";
import { parseExportParams, registerAuditExportRoutes } from "../../src/audit/audit-export.routes";
import type { AuditLog, AuditRecord } from "../../src/audit/audit-log";
import { AuditQueryService, type ScopedAuditFilter } from "../../src/audit/audit-query.service";
import type { Database } from "../../src/db/database";
import { AppError } from "../../src/shared/errors";
import type { Principal } from "../../src/shared/principal";

describe("CSV fields (RFC 4180, CSV injection)", () => {
  test.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["line1\nline2", '"line1\nline2"'],
    ["line1\r\nline2", '"line1\r\nline2"'],
    ["", ""],
  ])("quotes %j as %j", (value, encoded) => {
    expect(csvField(value)).toBe(encoded);
  });

  test.each([
    ["=1+1", "'=1+1"],
    ["+SUM(A1:A9)", "'+SUM(A1:A9)"],
    ["-2+3", "'-2+3"],
    ["@cmd", "'@cmd"],
    ["\tTAB", "'\tTAB"],
    ["\rCR", '"\'\rCR"'],
    ['=HYPERLINK("http://evil.test","x")', '"\'=HYPERLINK(""http://evil.test"",""x"")"'],
    ["a=b", "a=b"],
  ])("neutralizes a formula-like cell %j as %j", (value, encoded) => {
    expect(csvField(value)).toBe(encoded);
  });

  test("numbers, booleans and nulls are written as they are", () => {
    expect([csvField(42), csvField(true), csvField(false), csvField(null)]).toEqual(["42", "true", "false", ""]);
  });

  test("the header names the fields of the GraphQL AuditEntry type, ended by CRLF", () => {
    expect(EXPORT_COLUMNS).toEqual(expect.arrayContaining(["id", "sequence", "timestamp", "organizationId", "actorId", "actorKind", "role", "action", "operation", "resource", "success", "reason", "ipAddress", "userAgent", "requestId"]));
    expect(EXPORT_COLUMNS).not.toEqual(expect.arrayContaining(["hash"]));
    expect(csvHeader()).toBe(`${EXPORT_COLUMNS.join(",")}\r\n`);
  });
});

describe("export parameters", () => {
  const field = (query: Record<string, unknown>) => {
    try {
      parseExportParams(query);
      return "accepted";
    } catch (error) {
      return (error as AppError).extensions.field;
    }
  };

  test("defaults to JSON Lines and reads every filter", () => {
    expect(parseExportParams({})).toEqual({ format: "jsonl", filter: {} });
    expect(
      parseExportParams({
        format: "csv", organizationId: "o", actorId: "a", action: "read", operation: "Query.me", resource: "r", success: "false",
        from: "2026-01-31", to: "2026-02-01T12:30:15.5+02:00",
      }),
    ).toEqual({
      format: "csv",
      filter: {
        organizationId: "o", actorId: "a", action: "read", operation: "Query.me", resource: "r", success: false,
        from: new Date("2026-01-31T00:00:00.000Z"), to: new Date("2026-02-01T10:30:15.500Z"),
      },
    });
  });

  test.each([
    ["format", { format: "xml" }],
    ["format", { format: "toString" }],
    ["success", { success: "yes" }],
    ["from", { from: "yesterday" }],
    ["from", { from: "2026-02-30" }],
    ["to", { to: "2026-01-01T24:00:00Z" }],
    ["to", { to: "2026-01-01T10:00:00" }],
    ["from", { from: "2026-02-01", to: "2026-01-01" }],
    ["organisationId", { organisationId: "x" }],
    ["actorId", { actorId: ["a", "b"] }],
    ["actorId", { actorId: "" }],
    ["resource", { resource: "x".repeat(513) }],
  ])("refuses a bad %s (case %#)", (expected, query) => {
    expect(field(query)).toBe(expected);
  });
});

describe("GET /audit/export refusals decided by the operation table", () => {
  const noRead: Principal = { id: "sa-1", kind: "SERVICE", displayName: "no read", organizationId: "org-1", roleKey: "custom", permissions: new Set() };

  async function serve(principal: Principal | null) {
    const recorded: AuditRecord[] = [];
    const fastify = Fastify();
    registerAuditExportRoutes(fastify, {
      db: {} as Database,
      audit: { record: async (records: AuditRecord[]) => void recorded.push(...records) } as unknown as AuditLog,
      queries: new AuditQueryService(),
      authenticate: async () => ({ principal, error: null }),
    });
    await fastify.ready();
    return { fastify, recorded };
  }

  test("a role without read gets 403 'Missing permission: read', and the refusal is audited", async () => {
    const { fastify, recorded } = await serve(noRead);
    const response = await fastify.inject({ method: "GET", url: "/audit/export?format=csv" });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ error: "FORBIDDEN", message: "Missing permission: read", missing: ["read"] });
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(recorded).toEqual([
      expect.objectContaining({ operation: "Http.auditExport", actorId: "sa-1", success: false, reason: "FORBIDDEN: Missing permission: read", organizationId: "org-1" }),
    ]);
    await fastify.close();
  });

  test("no credential: 401 with a Bearer challenge", async () => {
    const { fastify, recorded } = await serve(null);
    const response = await fastify.inject({ method: "GET", url: "/audit/export" });
    expect(response.statusCode).toBe(401);
    expect(response.headers["www-authenticate"]).toBe("Bearer");
    expect(response.json()).toMatchObject({ error: "UNAUTHENTICATED" });
    expect(recorded).toEqual([expect.objectContaining({ actorId: "anonymous", success: false })]);
    await fastify.close();
  });

  test("HEAD does not run the export", async () => {
    const { fastify, recorded } = await serve(noRead);
    const response = await fastify.inject({ method: "HEAD", url: "/audit/export" });
    expect(response.statusCode).toBe(404);
    expect(recorded).toEqual([]);
    await fastify.close();
  });
});

describe("the export stream pulls pages only as fast as it is read (backpressure)", () => {
  function entry(id: number): AuditEntryEntity {
    return Object.assign(new AuditEntryEntity(), {
      id, sequence: id, timestamp: new Date(0), organizationId: "org-1", actorId: "a", actorKind: "SERVICE", role: "viewer", action: "read",
      operation: "Query.can", resource: `conversation:${id}`.padEnd(300, "x"), success: true, reason: null, ipAddress: null, userAgent: null, requestId: `r-${id}`,
    });
  }

  function fakeTrail(totalPages: number) {
    const state = { pulled: 0, closed: false };
    const queries = {
      lastId: async () => totalPages * 1000,
      async *pages() {
        try {
          for (let page = 0; page < totalPages; page += 1) {
            state.pulled += 1;
            yield Array.from({ length: 1000 }, (_, i) => entry(page * 1000 + i + 1));
          }
        } finally {
          state.closed = true;
        }
      },
    } as unknown as AuditQueryService;
    const exporter = new AuditExportService({ manager: {} } as Database, queries);
    return { state, exporter };
  }

  test("an unread export has read its first page and at most one more", async () => {
    const { state, exporter } = fakeTrail(100);
    const stream = await exporter.open({} as ScopedAuditFilter, "jsonl");
    await once(stream, "readable");
    stream.read(1024);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state.pulled).toBeLessThanOrEqual(2);
    stream.destroy();
  });

  test("read to the end it yields every entry once, in order", async () => {
    const { state, exporter } = fakeTrail(5);
    const stream = await exporter.open({} as ScopedAuditFilter, "jsonl");
    let text = "";
    for await (const chunk of stream) text += chunk;
    const ids = text.trim().split("\n").map((line) => Number(JSON.parse(line).id));
    expect(ids).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(state).toEqual({ pulled: 5, closed: true });
  });

  test("a client that goes away stops the reading of pages", async () => {
    const { state, exporter } = fakeTrail(100);
    const stream = await exporter.open({} as ScopedAuditFilter, "csv");
    await once(stream, "readable");
    stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state.closed).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(2);
  });
});
