/** src/shared/pagination.ts: bounded page size and opaque cursors (gql-05). */
import { AppError } from "../../src/shared/errors";
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, MAX_PAGE_SIZE, pageSize, toConnection } from "../../src/shared/pagination";

function thrown(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected an AppError");
}

describe("pageSize", () => {
  test("no `first` → the default page size", () => {
    expect(pageSize(undefined)).toBe(DEFAULT_PAGE_SIZE);
    expect(pageSize(null)).toBe(DEFAULT_PAGE_SIZE);
  });

  test.each([1, 20, MAX_PAGE_SIZE])("first: %d is accepted", (first) => {
    expect(pageSize(first)).toBe(first);
  });

  test.each([0, -1, MAX_PAGE_SIZE + 1, 100_000, 1.5, Number.NaN])("gql-05 first: %d → BAD_USER_INPUT naming the field", (first) => {
    const error = thrown(() => pageSize(first));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
    expect(error.message).toContain(String(MAX_PAGE_SIZE));
  });
});

describe("cursors", () => {
  test.each(["acme", "org-with-dashes", "ünïcödé ✓", "", "a\"quote"])("a string cursor round-trips (%j)", (value) => {
    expect(decodeCursor(encodeCursor(value), "string")).toBe(value);
  });

  test.each([0, 1, 42, 2 ** 40])("a number cursor round-trips (%d)", (value) => {
    expect(decodeCursor(encodeCursor(value), "number")).toBe(value);
  });

  test("no cursor → null", () => {
    expect(decodeCursor(null, "string")).toBeNull();
    expect(decodeCursor(undefined, "number")).toBeNull();
  });

  test("a cursor is opaque: URL-safe, no raw value inside", () => {
    const cursor = encodeCursor("acme");
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain("acme");
  });

  test.each([
    ["garbage", "not a cursor!"],
    ["empty", ""],
    ["base64 of plain text", Buffer.from("acme").toString("base64url")],
    ["base64 of an object", Buffer.from('{"slug":"acme"}').toString("base64url")],
    ["base64 of an empty array", Buffer.from("[]").toString("base64url")],
    ["a number cursor where a string is expected", encodeCursor(7)],
  ])("%s → BAD_USER_INPUT naming `after`", (_name, cursor) => {
    const error = thrown(() => decodeCursor(cursor, "string"));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.extensions).toMatchObject({ field: "after" });
  });

  test("a string cursor where a number is expected → BAD_USER_INPUT", () => {
    expect(thrown(() => decodeCursor(encodeCursor("7"), "number")).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
  });
});

describe("toConnection", () => {
  const rows = [{ slug: "a" }, { slug: "b" }, { slug: "c" }];

  test("limit + 1 rows → a full page with hasNextPage and the last edge's cursor", () => {
    const page = toConnection(rows, 2, (r) => r.slug);
    expect(page.edges.map((e) => e.node.slug)).toEqual(["a", "b"]);
    expect(page.pageInfo).toEqual({ hasNextPage: true, endCursor: page.edges[1].cursor });
    expect(decodeCursor(page.pageInfo.endCursor, "string")).toBe("b");
  });

  test("the last page has no next page; an empty page has no end cursor", () => {
    expect(toConnection(rows, 3, (r) => r.slug).pageInfo.hasNextPage).toBe(false);
    expect(toConnection([], 3, (r: { slug: string }) => r.slug).pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });
});
