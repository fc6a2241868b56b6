/** src/audit/audit-log.ts: what an audit entry stores (aud-03) and what its hash covers (aud-04). */
import { AuditEntryEntity } from "../../src/audit/audit-entry.entity";
import { canonicalEntry, clean, entryHash } from "../../src/audit/audit-log";

describe("clean (aud-03)", () => {
  // prettier-ignore
  const CONTROL: Array<[string, string, string]> = [
    ["line feed",           "a\nb",      "a\\u000ab"],
    ["carriage return",     "a\rb",      "a\\u000db"],
    ["CRLF",                "a\r\nb",    "a\\u000d\\u000ab"],
    ["tab",                 "a\tb",      "a\\u0009b"],
    ["NUL",                 "a\u0000b",  "a\\u0000b"],
    ["escape (ANSI)",       "\u001b[31mred", "\\u001b[31mred"],
    ["DEL",                 "a\u007fb",  "a\\u007fb"],
    ["C1 next line",        "a\u0085b",  "a\\u0085b"],
    ["line separator",      "a\u2028b",  "a\\u2028b"],
    ["paragraph separator", "a\u2029b",  "a\\u2029b"],
  ];

  test.each(CONTROL)("aud-03 %s is stored encoded", (_name, input, stored) => {
    expect(clean(input, 1024)).toBe(stored);
  });

  test("aud-03 a forged log line in a name never yields a raw line break", () => {
    const forged = 'eve\n{"level":30,"msg":"login ok","actorId":"admin"}\r\n';
    const stored = clean(forged, 1024);
    expect(stored).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(stored).toBe('eve\\u000a{"level":30,"msg":"login ok","actorId":"admin"}\\u000d\\u000a');
  });

  test("aud-03 quotes and other printable text are kept intact", () => {
    const text = `O'Brien "the admin" <admin@corp.com> ${"`"}x${"`"} ünïcödé ✓ 😀`;
    expect(clean(text, 1024)).toBe(text);
  });

  test("aud-03 a backslash is escaped too, so a typed \\u000a stays distinguishable from a newline", () => {
    expect(clean("a\\u000ab", 100)).toBe("a\\u005cu000ab");
    expect(clean("a\nb", 100)).toBe("a\\u000ab");
  });

  test("truncation never cuts an escape sequence in half", () => {
    const stored = clean(`${"x".repeat(8)}\n`, 12);
    expect(stored).toBe(`${"x".repeat(8)}…`);
  });

  test("null stays null", () => {
    expect(clean(null, 10)).toBeNull();
  });

  test("text up to the bound is kept whole", () => {
    expect(clean("x".repeat(64), 64)).toBe("x".repeat(64));
  });

  test("longer text is cut to exactly the bound, marked with an ellipsis", () => {
    const stored = clean("x".repeat(2000), 1024);
    expect(stored).toHaveLength(1024);
    expect(stored).toBe(`${"x".repeat(1023)}…`);
  });

  test("the bound applies after encoding, so encoded text still fits the column", () => {
    const stored = clean("\n".repeat(100), 64);
    expect(stored.length).toBeLessThanOrEqual(64);
    expect(stored).not.toContain("\n");
  });
});

describe("canonicalEntry / entryHash (aud-04)", () => {
  function entry(): AuditEntryEntity {
    const e = new AuditEntryEntity();
    Object.assign(e, {
      stream: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
      sequence: 7,
      timestamp: new Date("2025-11-30T10:00:00.000Z"),
      organizationId: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
      actorId: "sa-1",
      actorKind: "SERVICE",
      role: "admin",
      action: "admin+delete",
      operation: "Mutation.deleteRoleMapping",
      resource: "roleMapping:m-1",
      success: true,
      reason: null,
      ipAddress: "10.0.0.1",
      userAgent: "curl/8",
      requestId: "req-1",
    });
    return e;
  }

  const PREVIOUS = "a".repeat(64);

  // prettier-ignore
  const CHANGES: Array<[keyof AuditEntryEntity, unknown]> = [
    ["stream",         "platform"],
    ["sequence",       8],
    ["timestamp",      new Date("2025-11-30T10:00:00.001Z")],
    ["organizationId", null],
    ["actorId",        "sa-2"],
    ["actorKind",      "PLATFORM"],
    ["role",           "viewer"],
    ["action",         "admin"],
    ["operation",      "Mutation.createRoleMapping"],
    ["resource",       "roleMapping:m-2"],
    ["success",        false],
    ["reason",         "FORBIDDEN: Missing permission: delete"],
    ["ipAddress",      "10.0.0.2"],
    ["userAgent",      "curl/9"],
    ["requestId",      "req-2"],
  ];

  test("the hash is SHA-256 hex and deterministic", () => {
    expect(entryHash(PREVIOUS, entry())).toMatch(/^[0-9a-f]{64}$/);
    expect(entryHash(PREVIOUS, entry())).toBe(entryHash(PREVIOUS, entry()));
  });

  test.each(CHANGES)("aud-04 changing %s changes the canonical entry and the hash", (field, value) => {
    const changed = Object.assign(entry(), { [field]: value });
    expect(canonicalEntry(changed)).not.toBe(canonicalEntry(entry()));
    expect(entryHash(PREVIOUS, changed)).not.toBe(entryHash(PREVIOUS, entry()));
  });

  test("the hash covers every field the entry stores (no field left out of the chain)", () => {
    const covered = CHANGES.map(([field]) => field).sort();
    const stored = Object.keys(entry()).sort();
    expect(covered).toEqual(stored);
  });

  test("aud-04 the previous hash is chained in", () => {
    expect(entryHash("b".repeat(64), entry())).not.toBe(entryHash(PREVIOUS, entry()));
    expect(entryHash("", entry())).not.toBe(entryHash(PREVIOUS, entry()));
  });

  test("null and the empty string hash differently", () => {
    const empty = Object.assign(entry(), { reason: "" });
    expect(entryHash(PREVIOUS, empty)).not.toBe(entryHash(PREVIOUS, entry()));
  });

  test("moving text across a field boundary changes the hash", () => {
    const a = Object.assign(entry(), { actorId: "sa-1", role: "admin" });
    const b = Object.assign(entry(), { actorId: 'sa-1","admin', role: "" });
    const c = Object.assign(entry(), { actorId: "sa-1a", role: "dmin" });
    const hashes = new Set([a, b, c].map((e) => entryHash(PREVIOUS, e)));
    expect(hashes.size).toBe(3);
  });
});
