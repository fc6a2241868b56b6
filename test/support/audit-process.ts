/**
 * The built service (`node dist/src/server/main.js`, what `npm start` runs) as a real child process,
 * for fault tests that kill it, run several of it on one database, or take its database away; and a
 * direct view of that database to check what was really committed.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import Sqlite from "better-sqlite3";
import { Client } from "pg";

const ROOT = resolve(__dirname, "../..");
const MAIN = join(ROOT, "dist/src/server/main.js");
const REQUEST_TIMEOUT_MS = 30_000;

let built = false;

/** What `npm start` builds before it runs the entry point; once per test file. */
export function buildServiceOnce(): void {
  if (built || process.env.RBAC_DIST_BUILT) return; // built once for the whole run by test/support/global-setup.js
  try {
    execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "pipe" });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString("utf8") ?? "";
    throw new Error(`npx tsc -p tsconfig.build.json failed:\n${output}`);
  }
  built = true;
}

/** What every process of one database shares: the platform key and the key sealing signing keys. */
export interface ServiceSecrets {
  platformKey: string;
  encryptionKey: string;
}

export function newSecrets(): ServiceSecrets {
  return { platformKey: `fault-platform-${randomBytes(24).toString("hex")}`, encryptionKey: randomBytes(32).toString("base64") };
}

export interface ServiceProcess {
  pid: number;
  /** http://127.0.0.1:<port> */
  base: string;
  /** <base>/graphql */
  url: string;
  /** Resolves when the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** How many log lines so far matched the pattern (patterns are registered at start). */
  logMatches(name: string): number;
  /** The last few KB of output, for failure messages. */
  tail(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  databaseUrl: string;
  secrets: ServiceSecrets;
  env?: Record<string, string>;
  /** Named patterns counted over every log line (the output itself is not kept). */
  watch?: Record<string, RegExp>;
}

/** Starts `node dist/src/server/main.js` with PORT=0 and resolves once its "listening" line names the port. */
export async function startService(options: StartOptions): Promise<ServiceProcess> {
  buildServiceOnce();
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      HOST: "127.0.0.1",
      PORT: "0",
      DATABASE_URL: options.databaseUrl,
      DATABASE_POOL_SIZE: "5",
      RBAC_BOOTSTRAP_API_KEY: options.secrets.platformKey,
      RBAC_ENCRYPTION_KEY: options.secrets.encryptionKey,
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once("exit", (code, signal) => done({ code, signal })));
  const counts = new Map<string, number>();
  let tail = "";
  let pending = "";
  let port: number | null = null;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    tail = (tail + text).slice(-6000);
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (port === null && line.includes('"listening"')) {
        try {
          const parsed = JSON.parse(line) as { msg?: string; port?: number };
          if (parsed.msg === "listening" && typeof parsed.port === "number") port = parsed.port;
        } catch {
          // not a log line
        }
      }
      for (const [name, pattern] of Object.entries(options.watch ?? {})) {
        if (pattern.test(line)) counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);

  const deadline = Date.now() + 30_000;
  while (port === null) {
    const outcome = await Promise.race([exited, new Promise<"wait">((r) => setTimeout(() => r("wait"), 25))]);
    if (outcome !== "wait") throw new Error(`the service exited (${outcome.code ?? outcome.signal}) before listening:\n${tail}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the service did not log "listening" within 30 s:\n${tail}`);
    }
  }
  const base = `http://127.0.0.1:${port}`;
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return {
    pid: child.pid!,
    base,
    url: `${base}/graphql`,
    exited,
    logMatches: (name) => counts.get(name) ?? 0,
    tail: () => tail,
    kill: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
  };
}

export interface Reply<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, any> }>;
}

/** One GraphQL request over real HTTP; rejects on a network failure (e.g. the process was killed). */
export async function gql<T = Record<string, any>>(url: string, key: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Reply<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await response.json()) as { data?: T | null; errors?: Reply["errors"] };
  return { status: response.status, data: body.data, errors: body.errors };
}

export async function readyz(base: string): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
}

/** Reads the service's database directly (a second connection, as an auditor with database access would). */
export interface DatabaseView {
  rows<T = Record<string, any>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

export async function openDatabase(databaseUrl: string): Promise<DatabaseView> {
  if (databaseUrl.startsWith("sqlite:")) {
    const db = new Sqlite(databaseUrl.slice("sqlite:".length), { fileMustExist: true, timeout: 5000 });
    return {
      rows: async <T>(sql: string) => {
        const statement = db.prepare(sql);
        if (statement.reader) return statement.all() as T[];
        statement.run();
        return [];
      },
      close: async () => void db.close(),
    };
  }
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    rows: async <T>(sql: string) => (await client.query(sql)).rows as T[],
    close: () => client.end(),
  };
}

export interface StreamShape {
  stream: string;
  entries: number;
  lowest: number;
  highest: number;
  distinct: number;
  head: number;
}

/** Every audit stream's entry count, sequence range and head, to check "1..n without gaps". */
export async function streamShapes(view: DatabaseView): Promise<StreamShape[]> {
  const rows = await view.rows<Record<string, string | number>>(
    `SELECT e."stream" AS stream, COUNT(*) AS entries, MIN(e."sequence") AS lowest, MAX(e."sequence") AS highest,
            COUNT(DISTINCT e."sequence") AS distinct_sequences, MAX(s."lastSequence") AS head
       FROM "audit_entry" e LEFT JOIN "audit_stream" s ON s."stream" = e."stream"
      GROUP BY e."stream" ORDER BY e."stream"`,
  );
  const heads = await view.rows<{ stream: string; lastSequence: string | number }>(`SELECT "stream", "lastSequence" FROM "audit_stream"`);
  const shapes = rows.map((r) => ({
    stream: String(r.stream),
    entries: Number(r.entries),
    lowest: Number(r.lowest),
    highest: Number(r.highest),
    distinct: Number(r.distinct_sequences),
    head: Number(r.head),
  }));
  // A stream head that advanced without any entry would be a gap too.
  for (const h of heads) {
    if (!shapes.some((s) => s.stream === h.stream)) shapes.push({ stream: h.stream, entries: 0, lowest: 0, highest: 0, distinct: 0, head: Number(h.lastSequence) });
  }
  return shapes;
}

/** The shape a gapless stream has: 1..n, each once, head at n. */
export function gapless(shape: StreamShape): StreamShape {
  return { stream: shape.stream, entries: shape.head, lowest: shape.head > 0 ? 1 : 0, highest: shape.head, distinct: shape.head, head: shape.head };
}

export const VERIFY_CHAIN = `query($id: ID) { verifyAuditChain(organizationId: $id) { ok entriesChecked firstBrokenSequence } }`;
export const CREATE_MAPPING = `mutation($i: CreateRoleMappingInput!) { createRoleMapping(input: $i) { id idpGroup } }`;

/** Runs `work` for items with at most `concurrency` in flight; stops taking new items once `stop()` says so. */
export async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (!stop() && next < items.length) {
      const item = items[next];
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** An organization with an admin and a viewer service key, made through the platform key of a running process. */
export interface ProcessOrganization {
  id: string;
  adminKey: string;
  viewerKey: string;
}

export async function setUpOrganization(service: ServiceProcess, secrets: ServiceSecrets, tag: string): Promise<ProcessOrganization> {
  const slug = `${tag}-${randomBytes(4).toString("hex")}`;
  const created = await gql<{ createOrganization: { id: string } }>(service.url, secrets.platformKey, `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`, {
    i: { slug, name: slug },
  });
  if (created.errors) throw new Error(`createOrganization: ${JSON.stringify(created.errors)}`);
  const id = created.data!.createOrganization.id;
  const account = async (roleKey: string) => {
    const reply = await gql<{ createServiceAccount: { apiKey: string } }>(
      service.url,
      secrets.platformKey,
      `mutation($i: CreateServiceAccountInput!) { createServiceAccount(input: $i) { apiKey } }`,
      { i: { organizationId: id, name: `${roleKey}-${tag}`, roleKey } },
    );
    if (reply.errors) throw new Error(`createServiceAccount: ${JSON.stringify(reply.errors)}`);
    return reply.data!.createServiceAccount.apiKey;
  };
  return { id, adminKey: await account("admin"), viewerKey: await account("viewer") };
}
