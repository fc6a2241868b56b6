/** Relay-style connections with a bounded page size and opaque cursors. */
import { Field, ObjectType } from "type-graphql";
import { BadUserInputError } from "./errors";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export function pageSize(first: number | null | undefined): number {
  if (first == null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError("first", `first must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`);
  }
  return first;
}

export function encodeCursor(value: string | number): string {
  return Buffer.from(JSON.stringify([value])).toString("base64url");
}

export function decodeCursor<T extends string | number>(cursor: string | null | undefined, type: "string" | "number"): T | null {
  if (cursor == null) return null;
  try {
    const [value] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof value === type) return value as T;
  } catch {
    // fall through
  }
  throw new BadUserInputError("after", "after is not a cursor returned by this API");
}

/** Builds a page from `limit + 1` fetched rows. */
export function toConnection<T>(rows: T[], limit: number, cursorOf: (row: T) => string | number) {
  const page = rows.slice(0, limit);
  const edges = page.map((node) => ({ node, cursor: encodeCursor(cursorOf(node)) }));
  return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
}
