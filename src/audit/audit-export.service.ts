/**
 * The audit trail as a file: JSON Lines or CSV, produced as a stream.
 *
 * Rules:
 * - The columns are exactly the fields of the GraphQL `AuditEntry` type, in its order, with the
 *   values `auditEntries` returns (ids as strings, instants as ISO-8601 UTC, null as null / empty).
 * - Bounded memory: keyset pages over the entry id, each read only when the consumer has taken the
 *   previous one (stream backpressure). The export ends at the newest entry that existed when it
 *   was opened, so a busy trail cannot keep it running forever.
 * - Throughput: a page is read raw (no entity per row, only the exported columns) and encoded field
 *   by field into chunks of about CHUNK_CHARS characters (one socket write each, and small enough to
 *   stay out of V8's large-object space, which only a full GC frees).
 * - JSON Lines: one JSON object per line ("\n"); no value can contain a raw line break.
 * - CSV (RFC 4180): a header row, CRLF between records, a field holding a comma, quote, CR or LF is
 *   quoted with inner quotes doubled; a text cell starting with = + - @ TAB or CR gets a leading "'"
 *   so spreadsheets never run it as a formula (CSV injection).
 */
import { Readable } from "node:stream";
import { getMetadataStorage, ID } from "type-graphql";
import type { Database } from "../db/database";
import { AuditEntryType } from "./audit-entry.type";
import type { AuditExportRow, AuditQueryService, ScopedAuditFilter } from "./audit-query.service";

export type ExportFormat = "jsonl" | "csv";

export const EXPORT_FORMATS: Record<ExportFormat, { contentType: string; extension: string }> = {
  jsonl: { contentType: "application/x-ndjson", extension: "jsonl" },
  csv: { contentType: "text/csv; charset=utf-8", extension: "csv" },
};

export const DEFAULT_EXPORT_PAGE_SIZE = 2000;
const STREAM_HIGH_WATER_MARK = 64 * 1024;
/** Characters per stream chunk (below 128 KiB of UTF-16, V8's large-object threshold). */
const CHUNK_CHARS = 32 * 1024;

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
const EXPORT_PROPERTIES: readonly string[] = COLUMNS.map((c) => c.property);
/** `"name":` of each column, with the separating comma before every one but the first. */
const JSON_KEYS: readonly string[] = COLUMNS.map((c, i) => `${i === 0 ? "{" : ","}${JSON.stringify(c.name)}:`);

/**
 * An entry read by the export: the values of EXPORT_PROPERTIES in their order (what
 * AuditQueryService.pages yields), or an entity-like object. An instant may be a Date or its
 * ISO-8601 text.
 */
type ExportEntry = AuditExportRow | object;

function valuesOf(entry: ExportEntry): AuditExportRow {
  return Array.isArray(entry) ? entry : EXPORT_PROPERTIES.map((property) => (entry as Record<string, unknown>)[property]);
}

function valueOf(values: AuditExportRow, at: number): string | number | boolean | null {
  const value = values[at];
  const column = COLUMNS[at];
  if (value == null) return null;
  if (value instanceof Date) return value.toISOString();
  if (column.isId) return String(value);
  return value as string | number | boolean;
}

/** One JSON Lines record: exactly `JSON.stringify` of the object of the columns, in their order. */
export function jsonLine(entry: ExportEntry): string {
  const values = valuesOf(entry);
  let line = "";
  for (let i = 0; i < COLUMNS.length; i += 1) {
    const value = valueOf(values, i);
    line += JSON_KEYS[i] + (value === null ? "null" : typeof value === "string" ? JSON.stringify(value) : String(value));
  }
  return `${line}}\n`;
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

export function csvRecord(entry: ExportEntry): string {
  const values = valuesOf(entry);
  let record = csvField(valueOf(values, 0));
  for (let i = 1; i < COLUMNS.length; i += 1) record += `,${csvField(valueOf(values, i))}`;
  return `${record}\r\n`;
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
    const pages = this.queries.pages(em, filter, upToId, this.pageSize, EXPORT_PROPERTIES);
    const opened = await pages.next();
    let first: ExportEntry[] | null = opened.done ? null : opened.value;
    const takeFirst = () => {
      const page = first!;
      first = null; // not held for the whole export
      return page;
    };
    const line = format === "csv" ? csvRecord : jsonLine;
    function* encode(page: readonly ExportEntry[]): Generator<string> {
      let chunk = "";
      for (const entry of page) {
        chunk += line(entry);
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = "";
        }
      }
      if (chunk !== "") yield chunk;
    }
    async function* chunks(): AsyncGenerator<string> {
      try {
        if (format === "csv") yield csvHeader();
        if (first === null) return;
        yield* encode(takeFirst());
        for await (const page of pages) yield* encode(page);
      } finally {
        await pages.return(undefined); // the client went away: stop reading pages
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: STREAM_HIGH_WATER_MARK });
  }
}
