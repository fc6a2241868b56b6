'use strict';
// Creates a throw-away PostgreSQL database for one service start and drops it after.

const { Client } = require('pg');

async function withAdminClient(adminUrl, fn) {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// Returns { url, drop() } for a new empty database on the same server as adminUrl.
async function createDatabase(adminUrl) {
  const name = `rbac_bench_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdminClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdminClient(adminUrl, async (c) => {
        try {
          await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); // PostgreSQL 13+
        } catch {
          await c.query(`DROP DATABASE IF EXISTS "${name}"`);
        }
      }),
  };
}

module.exports = { createDatabase };
