/** Every SQLite connection of the service (TypeORM's and the audit writer thread's) runs with these. */
export function applySqlitePragmas(db: { pragma(sql: string): unknown }): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
}
