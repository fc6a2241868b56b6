/**
 * The first platform key: "bootstrap key once and never again" (issue 2).
 *
 * - RBAC_BOOTSTRAP_API_KEY on a fresh database registers exactly that key; once a platform key
 *   exists, the variable is ignored.
 * - Without it, a random `rbac_pk_` key is issued once and `npm start`'s entry prints it once.
 * - A bootstrap key shorter than 32 characters stops the start, listing every problem.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "pg";
import { ConfigError, loadConfig } from "../../src/config/config";
import { PlatformKeyEntity } from "../../src/tokens/platform-key.entity";
import { buildServiceOnce } from "../support/audit-process";
import { DATABASES, type TestDatabase } from "../support/databases";
import { startServer, type TestServer } from "../support/server";

const ROOT = resolve(__dirname, "../..");
const MAIN = join(ROOT, "dist/src/server/main.js");
const ME = `{ me { kind displayName organization { id } } }`;

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");
/** 48 printable characters, as an operator's automation would choose. */
const operatorKey = () => randomBytes(24).toString("hex");

// ---------------------------------------------------------------------------------------------
// the built entry point (`npm start` runs `node dist/src/server/main.js` after the build)

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function runMain(env: Record<string, string>): Running {
  buildServiceOnce();
  // A clean environment: nothing of the test runner's (e.g. a bootstrap key) leaks into the child.
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function logLines(stdout: string): Array<Record<string, any>> {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/** Waits for the "listening" log line and returns the logged /graphql URL. */
async function listeningUrl(run: Running): Promise<string> {
  for (;;) {
    const line = logLines(run.stdout()).find((l) => l.msg === "listening");
    if (line) return line.url as string;
    const code = await Promise.race([run.exited, new Promise<"wait">((r) => setTimeout(() => r("wait"), 50))]);
    if (code !== "wait") throw new Error(`the service exited (${code}) before listening:\n${run.stderr()}\n${run.stdout()}`);
  }
}

async function stopWithSigterm(run: Running): Promise<number | null> {
  run.child.kill("SIGTERM");
  return run.exited;
}

async function kindOf(url: string, key: string | null): Promise<{ kind?: string; code?: string; message?: string }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: ME }),
  });
  const body = (await response.json()) as { data?: { me?: { kind: string } } | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  return { kind: body.data?.me?.kind, code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message };
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Did the start get as far as the database (SQLite file created / any table in PostgreSQL)? */
async function databaseWasTouched(database: TestDatabase): Promise<boolean> {
  if (database.url.startsWith("sqlite:")) return existsSync(database.url.slice("sqlite:".length));
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    return rows[0].n > 0;
  } finally {
    await client.end();
  }
}

const PRINTED_KEY = /^\s+(rbac_pk_[A-Za-z0-9_-]+)\s*$/m;

// ---------------------------------------------------------------------------------------------

describe.each(DATABASES)("bootstrap key once and never again on $name", (kind) => {
  const running: Running[] = [];
  const servers: TestServer[] = [];
  const databases: TestDatabase[] = [];

  async function freshDatabase(): Promise<TestDatabase> {
    const database = await kind.create();
    databases.push(database);
    return database;
  }
  async function start(database: TestDatabase, env: Record<string, string>): Promise<TestServer> {
    const server = await startServer(kind, { database, env });
    servers.push(server);
    return server;
  }
  async function platformKeyRows(server: TestServer) {
    return server.app.db.manager.find(PlatformKeyEntity, { order: { createdAt: "ASC" } });
  }

  afterEach(async () => {
    for (const run of running.splice(0)) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
    for (const server of servers.splice(0)) await server.stop(false).catch(() => undefined);
    for (const database of databases.splice(0)) await database.drop();
  });

  test("RBAC_BOOTSTRAP_API_KEY on a fresh database registers exactly that key as a PLATFORM principal", async () => {
    const key = operatorKey();
    const server = await start(await freshDatabase(), { RBAC_BOOTSTRAP_API_KEY: key });
    expect(server.app.bootstrap).toEqual({ created: true, apiKey: key, fromEnvironment: true });
    expect((await server.gql(ME, {}, key)).data?.me).toEqual({ kind: "PLATFORM", displayName: "bootstrap", organization: null });
    const rows = await platformKeyRows(server);
    expect(rows).toHaveLength(1);
    expect(rows[0].keyHash).toBe(sha256(key));
  });

  test("a restart on the same database ignores a new RBAC_BOOTSTRAP_API_KEY: nothing created, the new value is UNAUTHENTICATED, the first key still works", async () => {
    const database = await freshDatabase();
    const first = operatorKey();
    const firstRun = await start(database, { RBAC_BOOTSTRAP_API_KEY: first });
    expect(firstRun.app.bootstrap.created).toBe(true);
    await firstRun.stop(false);

    const second = operatorKey();
    const secondRun = await start(database, { RBAC_BOOTSTRAP_API_KEY: second });
    expect(secondRun.app.bootstrap).toEqual({ created: false });
    const refused = await secondRun.gql(ME, {}, second);
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]).toMatchObject({ message: "Invalid or revoked API key", extensions: { code: "UNAUTHENTICATED" } });
    expect((await secondRun.gql(ME, {}, first)).data?.me?.kind).toBe("PLATFORM");

    const rows = await platformKeyRows(secondRun);
    expect(rows.map((r) => r.keyHash)).toEqual([sha256(first)]);
  });

  test("a bootstrap key shaped like a service-account key (rbac_sk_…) is never registered unusable: refused by the config, or a working platform key", async () => {
    const key = `rbac_sk_${operatorKey()}`;
    const database = await freshDatabase();
    const problem = thrownBy(() => loadConfig({ DATABASE_URL: database.url, RBAC_BOOTSTRAP_API_KEY: key }));
    if (problem !== undefined) {
      // Refusing it at start is fine, as long as the operator is told which setting is wrong.
      expect(problem).toBeInstanceOf(ConfigError);
      expect((problem as ConfigError).problems.join("\n")).toMatch(/^RBAC_BOOTSTRAP_API_KEY: /m);
      return;
    }
    // Accepted ("any value of 32 or more characters is accepted"): then it must open the door.
    const server = await start(database, { RBAC_BOOTSTRAP_API_KEY: key });
    expect(server.app.bootstrap).toMatchObject({ created: true, fromEnvironment: true });
    const me = await server.gql(ME, {}, key);
    expect(me.errors ?? []).toEqual([]);
    expect(me.data?.me?.kind).toBe("PLATFORM");
  });

  test("without RBAC_BOOTSTRAP_API_KEY a random rbac_pk_ key is issued once; it works and a restart issues no other", async () => {
    const database = await freshDatabase();
    // An empty value is dropped by loadConfig, so startServer's default key is not injected.
    const firstRun = await start(database, { RBAC_BOOTSTRAP_API_KEY: "" });
    const outcome = firstRun.app.bootstrap;
    expect(outcome).toMatchObject({ created: true, fromEnvironment: false });
    const generated = (outcome as { apiKey: string }).apiKey;
    expect(generated).toMatch(/^rbac_pk_[A-Za-z0-9_-]{43}$/);
    expect((await firstRun.gql(ME, {}, generated)).data?.me?.kind).toBe("PLATFORM");
    expect((await platformKeyRows(firstRun)).map((r) => r.keyHash)).toEqual([sha256(generated)]);
    await firstRun.stop(false);

    const secondRun = await start(database, { RBAC_BOOTSTRAP_API_KEY: "" });
    expect(secondRun.app.bootstrap).toEqual({ created: false });
    expect((await secondRun.gql(ME, {}, generated)).data?.me?.kind).toBe("PLATFORM");
    expect(await platformKeyRows(secondRun)).toHaveLength(1);
  });

  test("`npm start`'s entry prints the generated key once: it is a working platform key, SIGTERM exits 0, a restart prints none", async () => {
    const database = await freshDatabase();

    const first = runMain({ DATABASE_URL: database.url });
    running.push(first);
    const url = await listeningUrl(first);
    const printed = PRINTED_KEY.exec(first.stdout())?.[1];
    expect(printed).toBeDefined();
    expect(printed).toMatch(/^rbac_pk_[A-Za-z0-9_-]{43}$/);
    expect(await kindOf(url, printed!)).toEqual({ kind: "PLATFORM", code: undefined, message: undefined });
    expect(await stopWithSigterm(first)).toBe(0);
    // The key is on the terminal once, and in no structured log line, not even the request it authenticated (aud-02).
    expect(first.stdout().split(printed!).length - 1).toBe(1);
    expect(logLines(first.stdout()).length).toBeGreaterThan(1);
    expect(logLines(first.stdout()).filter((l) => JSON.stringify(l).includes(printed!))).toEqual([]);
    expect(first.stderr()).not.toContain(printed!);

    const second = runMain({ DATABASE_URL: database.url });
    running.push(second);
    const secondUrl = await listeningUrl(second);
    expect(second.stdout()).not.toMatch(/rbac_pk_/);
    expect(second.stdout()).not.toMatch(/Platform API key/i);
    expect(await kindOf(secondUrl, printed!)).toMatchObject({ kind: "PLATFORM" });
    expect(await stopWithSigterm(second)).toBe(0);
  }, 120_000);

  test("a bootstrap key shorter than 32 characters stops the start: exit 1, stderr lists every problem, nothing is created", async () => {
    const database = await freshDatabase();
    const tooShort = "k".repeat(31);

    const run = runMain({ DATABASE_URL: database.url, RBAC_BOOTSTRAP_API_KEY: tooShort, PORT: "not-a-port" });
    running.push(run);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain("Invalid configuration");
    expect(run.stderr()).toContain("RBAC_BOOTSTRAP_API_KEY: must be at least 32 characters");
    expect(run.stderr()).toMatch(/PORT: /);
    expect(run.stderr()).not.toContain(tooShort);
    expect(run.stdout()).not.toMatch(/listening/);
    expect(await databaseWasTouched(database)).toBe(false);

    // The same rule in-process, at its bound: 31 refused, 32 accepted.
    const base = { DATABASE_URL: database.url };
    const refused = thrownBy(() => loadConfig({ ...base, RBAC_BOOTSTRAP_API_KEY: tooShort }));
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual(["RBAC_BOOTSTRAP_API_KEY: must be at least 32 characters"]);
    expect(loadConfig({ ...base, RBAC_BOOTSTRAP_API_KEY: "k".repeat(32) }).bootstrapApiKey).toBe("k".repeat(32));
  }, 120_000);
});
