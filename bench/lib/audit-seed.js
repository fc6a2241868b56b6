'use strict';
// Seeds audit entries for the audit scenarios (auditEntries page, audit export).

// Writes `count` audit entries of one organization straight into the SQLite file, in one
// transaction (chained hashes are not needed to measure reads). PostgreSQL: generate_series.
// Then the database is left as a long-running one would be, so the measured run does not pay for
// the bulk load: SQLite's write-ahead log is checkpointed and truncated (otherwise the service's
// first commit checkpoints hundreds of MB, blocking its event loop, and reads walk a huge WAL
// index), and PostgreSQL's table is analyzed (what autovacuum does within a minute).
async function seedAuditEntries(ctx, organizationId, count) {
  const ts = (i) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  if (ctx.databaseUrl.startsWith('sqlite:')) {
    const Database = require('better-sqlite3');
    const db = new Database(ctx.databaseUrl.slice('sqlite:'.length));
    db.pragma('busy_timeout = 10000');
    const insert = db.prepare(
      'INSERT INTO "audit_entry" ("stream","sequence","timestamp","organizationId","actorId","actorKind","role","action","operation","resource","success","reason","ipAddress","userAgent","requestId","previousHash","hash") ' +
        "VALUES (?, ?, ?, ?, ?, 'SERVICE', 'service', ?, 'Query.can', ?, ?, NULL, '10.0.0.1', 'bench', ?, '', '')",
    );
    const offset = 1_000_000;
    db.transaction(() => {
      for (let i = 1; i <= count; i++) {
        insert.run(organizationId, offset + i, ts(i), organizationId, `actor-${i % 50}`, i % 4 === 0 ? 'delete' : 'read', `conversation:${i}`, i % 4 === 0 ? 0 : 1, `seed-${i}`);
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return;
  }
  const { Client } = require('pg');
  const client = new Client({ connectionString: ctx.databaseUrl });
  await client.connect();
  await client.query(
    `INSERT INTO "audit_entry" ("stream","sequence","timestamp","organizationId","actorId","actorKind","role","action","operation","resource","success","reason","ipAddress","userAgent","requestId","previousHash","hash")
     SELECT $1, 1000000 + i, to_char(timestamp '2026-01-01' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), $1, 'actor-' || (i % 50), 'SERVICE', 'service',
            CASE WHEN i % 4 = 0 THEN 'delete' ELSE 'read' END, 'Query.can', 'conversation:' || i, i % 4 <> 0, NULL, '10.0.0.1', 'bench', 'seed-' || i, '', ''
     FROM generate_series(1, $2::int) AS i`,
    [organizationId, count],
  );
  await client.query('ANALYZE "audit_entry"');
  await client.end();
}

module.exports = { seedAuditEntries };
