import type { ValueTransformer } from "typeorm";

/**
 * Instants are stored as ISO-8601 UTC strings ("2026-11-30T10:11:15.123Z"): the same text on SQLite
 * and PostgreSQL, millisecond precision, and they sort and compare correctly as strings.
 */
export const isoInstant: ValueTransformer = {
  to: (value: Date | null | undefined) => (value instanceof Date ? value.toISOString() : value ?? null),
  from: (value: string | null) => (value == null ? null : new Date(value)),
};

export const INSTANT_COLUMN = { type: "varchar", length: 24, transformer: isoInstant } as const;
