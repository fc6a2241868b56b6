/**
 * The audit trail as a file: JSON Lines or CSV, produced as a stream.
 *
 * Rules:
 * - The columns are exactly the fields of the GraphQL `AuditEntry` type, in its order, with the
 *   values `auditEntries` returns (ids as strings, instants as ISO-8601 UTC, null as null / empty).
 * - Bounded memory: keyset pages over the entry id, each read only when the consumer has taken the
 *   previous one (stream backpressure). The export ends at the newest entry that existed when it
 *   was opened, so a busy trail cannot keep it running forever.
 * - JSON Lines: one JSON object per line ("\n"); no value can contain a raw line break.
 * - CSV (RFC 4180): a header row, CRLF between records, a field holding a comma, quote, CR or LF is
 *   quoted with inner quotes doubled; a text cell starting with = + - @ TAB or CR gets a leading "'"
 *   so spreadsheets never run it as a formula (CSV injection).
 */
import { Readable } from "node:stream";
import { getMetadataStorage, ID } from "type-graphql";
import type { Database } from "../db/database";
import type { AuditEntryEntity } from "./audit-entry.entity";
import { AuditEntryType } from "./audit-entry.type";
import type { AuditQueryService, ScopedAuditFilter } from "./audit-query.service";

export type ExportFormat = "jsonl" | "csv";

export const EXPORT_FORMATS: Record<ExportFormat, { contentType: string; extension: string }> = {
  jsonl: { contentType: "application/x-ndjson", extension: "jsonl" },
  csv: { contentType: "text/csv; charset=utf-8", extension: "csv" },
};

export const DEFAULT_EXPORT_PAGE_SIZE = 1000;
const STREAM_HIGH_WATER_MARK = 64 * 1024;

interface Column {
  /** Property of the entity. */
  property: string;
  /** Name in the GraphQL type, the JSON object and the CSV header. */
  name: string;
  isId: boolean;
}

/** The fields declared on the GraphQL AuditEntry type (read once, when this module loads). */
const COLUMNS: readonly Column[] = (() => {
  const seen = new Set<string>();
  return getMetadataStorage()
    .fields.filter((f) => f.target === AuditEntryType)
    .filter((f) => !seen.has(f.schemaName) && seen.add(f.schemaName))
    .map((f) => ({ property: f.name, name: f.schemaName, isId: f.getType() === ID }));
})();

export const EXPORT_COLUMNS: readonly string[] = COLUMNS.map((c) => c.name);

function valueOf(entry: AuditEntryEntity, column: Column): string | number | boolean | null {
  const value = (entry as unknown as Record<string, unknown>)[column.property];
  if (value == null) return null;
  if (value instanceof Date) return value.toISOString();
  if (column.isId) return String(value);
  return value as string | number | boolean;
}

export function jsonLine(entry: AuditEntryEntity): string {
  const object: Record<string, unknown> = {};
  for (const column of COLUMNS) object[column.name] = valueOf(entry, column);
  return `${JSON.stringify(object)}\n`;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV field: neutralized (text only) and quoted when needed. */
export function csvField(value: string | number | boolean | null): string {
  if (value == null) return "";
  let text = String(value);
  if (typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(): string {
  return `${EXPORT_COLUMNS.map(csvField).join(",")}\r\n`;
}

export function csvRecord(entry: AuditEntryEntity): string {
  return `${COLUMNS.map((column) => csvField(valueOf(entry, column))).join(",")}\r\n`;
}

export class AuditExportService {
  constructor(
    private readonly db: Database,
    private readonly queries: AuditQueryService,
    private readonly pageSize = DEFAULT_EXPORT_PAGE_SIZE,
  ) {}

  /**
   * Fixes where the export ends and reads its first page (so a failing database is reported before
   * any byte is sent); the remaining pages are read as the returned stream is consumed.
   */
  async open(filter: ScopedAuditFilter, format: ExportFormat): Promise<Readable> {
    const em = this.db.manager;
    const upToId = await this.queries.lastId(em);
    const pages = this.queries.pages(em, filter, upToId, this.pageSize);
    const first = await pages.next();
    const line = format === "csv" ? csvRecord : jsonLine;
    async function* chunks(): AsyncGenerator<string> {
      try {
        if (format === "csv") yield csvHeader();
        if (first.done) return;
        yield first.value.map(line).join("");
        for await (const page of pages) yield page.map(line).join("");
      } finally {
        await pages.return(undefined); // the client went away: stop reading pages
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: STREAM_HIGH_WATER_MARK });
  }
}
