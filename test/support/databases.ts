/**
 * The databases every integration suite runs on: SQLite always, PostgreSQL too when
 * TEST_DATABASE_URL is set (CI sets it). Each call gives a fresh, empty database.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export interface DatabaseKind {
  name: "sqlite" | "postgres";
  create(): Promise<TestDatabase>;
}

const sqlite: DatabaseKind = {
  name: "sqlite",
  async create() {
    const dir = mkdtempSync(join(tmpdir(), "rbac-test-"));
    return { url: `sqlite:${join(dir, "rbac.sqlite")}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

function postgres(adminUrl: string): DatabaseKind {
  return {
    name: "postgres",
    async create() {
      const name = `rbac_test_${randomBytes(6).toString("hex")}`;
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        drop: async () => {
          const c = new Client({ connectionString: adminUrl });
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await c.end();
        },
      };
    },
  };
}

export const DATABASES: DatabaseKind[] = [sqlite, ...(process.env.TEST_DATABASE_URL ? [postgres(process.env.TEST_DATABASE_URL)] : [])];
