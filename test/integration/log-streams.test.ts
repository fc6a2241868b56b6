/**
 * SIEM log streams (issue 4 "Reading and exporting": a streaming webhook per organization with
 * HMAC-SHA256-signed batches, retries with backoff, a delivery log, resume after a restart).
 *
 * The SIEM is a real HTTP server on 127.0.0.1 built here with node:http; what it received is
 * compared with the audit rows read straight from the database, field by field, and the hash
 * chain is recomputed from what arrived. "Caught up" is read from the database too (reading it
 * through GraphQL would itself write entries). Retries run with the test backoff (NODE_ENV=test:
 * 50 ms, 100 ms, …).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AuditEntryEntity, AuditStreamEntity } from "../../src/audit/audit-entry.entity";
import { entryHash } from "../../src/audit/audit-log";
import { verifySignature } from "../../src/audit/delivery/signed-webhook";
import { LogStreamDeliveryEntity, LogStreamEntity } from "../../src/audit/streams/log-stream.entity";
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals, type OrgFixture } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

// ─── The SIEM ─────────────────────────────────────────────────────────────────────────────────────

interface Payload {
  organizationId: string;
  stream: string;
  deliveryId: string;
  firstSequence: number;
  lastSequence: number;
  entries: Array<Record<string, any>>;
}

interface Received {
  body: string;
  payload: Payload;
  headers: IncomingHttpHeaders;
  /** The status this receiver answered. */
  status: number;
  sequences: number[];
}

class Receiver {
  readonly requests: Received[] = [];
  /** Decides the answer to the n-th request (0-based). */
  answer: (n: number) => number = () => 200;
  /** Milliseconds before answering (a slow SIEM). */
  delayMs = 0;
  private server: Server | null = null;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const payload = JSON.parse(body) as Payload;
        const status = this.answer(this.requests.length);
        this.requests.push({ body, payload, headers: req.headers, status, sequences: payload.entries.map((e) => e.sequence as number) });
        setTimeout(() => res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "try again"), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/siem/intake`;
    return this;
  }

  accepted(): Received[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────────────

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Polls until `check` returns a value (bounded); never asserts a duration. */
async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const CREATE = `mutation($input: CreateLogStreamInput!) { createLogStream(input: $input) { secret logStream { id url enabled batchSize lastAcknowledgedSequence pending } } }`;
const STREAM_FIELDS = `id organizationId url enabled batchSize lastAcknowledgedSequence lastDeliveryAt lastError failedAttempts nextAttemptAt pending createdAt updatedAt`;
const DELIVERIES = `query($id: ID!, $first: Int) { logStreamDeliveries(streamId: $id, first: $first) { edges { node { id deliveryId attempt ok status firstSequence lastSequence entryCount error durationMs createdAt } } pageInfo { hasNextPage } } }`;

async function createStream(server: TestServer, org: OrgFixture, url: string, batchSize?: number): Promise<{ id: string; secret: string }> {
  const data = ok(await server.gql<{ createLogStream: { secret: string; logStream: { id: string } } }>(CREATE, { input: { organizationId: org.id, url, batchSize } }, org.keys.admin));
  return { id: data.createLogStream.logStream.id, secret: data.createLogStream.secret };
}

/** Each call writes one entry to the organization's stream. */
async function makeEntries(server: TestServer, org: OrgFixture, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    ok(await server.gql(`query($r: String!) { can(action: READ, resource: $r) { allowed } }`, { r: `conversation:${i}` }, org.keys.viewer));
  }
}

const streamRow = (server: TestServer, id: string) => server.app.db.manager.findOneByOrFail(LogStreamEntity, { id });
const headOf = async (server: TestServer, organizationId: string) =>
  (await server.app.db.manager.findOneBy(AuditStreamEntity, { stream: organizationId }))?.lastSequence ?? 0;

/** Waits until the stream acknowledged everything the organization has; returns that sequence. */
function caughtUp(server: TestServer, streamId: string, organizationId: string): Promise<number> {
  return waitFor(`log stream ${streamId} to catch up`, async () => {
    const head = await headOf(server, organizationId);
    const row = await streamRow(server, streamId);
    return row.lastAcknowledgedSequence === head && head > 0 ? head : null;
  });
}

/** The audit rows of the organization as a receiver must see them: every AuditEntry field plus the chain. */
async function expectedEntries(server: TestServer, organizationId: string, upTo: number): Promise<Array<Record<string, unknown>>> {
  const rows = await server.app.db.manager.find(AuditEntryEntity, { where: { stream: organizationId }, order: { sequence: "ASC" } });
  return rows
    .filter((r) => r.sequence <= upTo)
    .map((r) => ({
      id: String(r.id),
      sequence: r.sequence,
      timestamp: r.timestamp.toISOString(),
      organizationId: r.organizationId,
      actorId: r.actorId,
      actorKind: r.actorKind,
      role: r.role,
      action: r.action,
      operation: r.operation,
      resource: r.resource,
      success: r.success,
      reason: r.reason,
      ipAddress: r.ipAddress,
      userAgent: r.userAgent,
      requestId: r.requestId,
      details: r.details,
      previousHash: r.previousHash,
      hash: r.hash,
    }));
}

/** What a receiver does to check the chain: hash = SHA-256(previousHash ‖ "\n" ‖ canonical entry), linked. */
function verifyReceivedChain(organizationId: string, entries: Array<Record<string, any>>): void {
  let previousHash = "";
  for (const e of entries) {
    expect(e.previousHash).toBe(previousHash);
    const entity = Object.assign(new AuditEntryEntity(), { ...e, id: Number(e.id), stream: organizationId, timestamp: new Date(e.timestamp) });
    expect(entryHash(e.previousHash, entity)).toBe(e.hash);
    previousHash = e.hash;
  }
}

describe.each(DATABASES)("log streams on $name", (kind) => {
  let server: TestServer;
  const receivers: Receiver[] = [];
  const receiver = async () => {
    const r = await new Receiver().start();
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
    for (const r of receivers) await r.stop();
  });

  test("entries arrive in order, complete, signed and batched; the chain verifies at the receiver", async () => {
    const siem = await receiver();
    const org = await createOrgWithPrincipals(server);
    await makeEntries(server, org, 12);
    const { id, secret } = await createStream(server, org, siem.url, 5);

    const head = await caughtUp(server, id, org.id);
    const requests = [...siem.requests];
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      expect(r.status).toBe(200);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(verifySignature(secret, r.headers["x-rbac-signature"] as string, r.body)).toBe(true);
      expect(verifySignature(`${secret}x`, r.headers["x-rbac-signature"] as string, r.body)).toBe(false);
      expect(r.payload.organizationId).toBe(org.id);
      expect(r.payload.stream).toBe("audit");
      // Batched: at most batchSize entries, consecutive sequences, named by the delivery id.
      expect(r.sequences.length).toBeGreaterThan(0);
      expect(r.sequences.length).toBeLessThanOrEqual(5);
      expect(r.sequences).toEqual(range(r.sequences[0], r.sequences[r.sequences.length - 1]));
      expect([r.payload.firstSequence, r.payload.lastSequence]).toEqual([r.sequences[0], r.sequences[r.sequences.length - 1]]);
      expect(r.payload.deliveryId).toBe(`${id}:${r.payload.firstSequence}-${r.payload.lastSequence}`);
      expect(r.headers["x-rbac-delivery"]).toBe(r.payload.deliveryId);
    }
    expect(requests.some((r) => r.sequences.length === 5)).toBe(true);
    // In order, complete, each exactly once (no failure happened, so no retry either).
    const received = requests.flatMap((r) => r.payload.entries);
    expect(received.map((e) => e.sequence)).toEqual(range(1, head));
    expect(received).toEqual(await expectedEntries(server, org.id, head));
    verifyReceivedChain(org.id, received);

    // What the API shows: acknowledged up to the head, nothing pending, every attempt ok.
    const shown = ok(await server.gql<{ logStreams: any[] }>(`query($o: ID!) { logStreams(organizationId: $o) { ${STREAM_FIELDS} } }`, { o: org.id }, org.keys.admin));
    expect(shown.logStreams).toEqual([
      expect.objectContaining({ id, organizationId: org.id, url: siem.url, enabled: true, batchSize: 5, lastAcknowledgedSequence: head, pending: 0, lastError: null, failedAttempts: 0, nextAttemptAt: null }),
    ]);
    const log = ok(await server.gql<{ logStreamDeliveries: { edges: Array<{ node: any }> } }>(DELIVERIES, { id, first: 100 }, org.keys.admin));
    // Our own queries above are audited too and stream on at once: compare the deliveries up to the head.
    const attempts = log.logStreamDeliveries.edges.map((e) => e.node).reverse().filter((a) => a.lastSequence <= head);
    expect(attempts.map((a) => [a.deliveryId, a.attempt, a.ok, a.status, a.entryCount])).toEqual(
      requests.filter((r) => r.payload.lastSequence <= head).map((r) => [r.payload.deliveryId, 1, true, 200, r.sequences.length]),
    );
  });

  test("the receiver answering 500 then 200: retried with backoff, nothing lost or reordered, the delivery log shows the failures; other streams go on", async () => {
    const failing = await receiver();
    let healthy = false;
    failing.answer = () => (healthy ? 200 : 500);
    const org = await createOrgWithPrincipals(server);
    await makeEntries(server, org, 6);
    const { id } = await createStream(server, org, failing.url, 4);

    // It keeps failing: the stream records the error and backs off.
    const failed = await waitFor("two failed attempts", async () => {
      const row = await streamRow(server, id);
      return row.failedAttempts >= 2 ? row : null;
    });
    expect(failed.lastAcknowledgedSequence).toBe(0);
    expect(failed.lastError).toBe("HTTP 500: the endpoint did not acknowledge the batch");
    const lastAttempt = await server.app.db.manager.findOneOrFail(LogStreamDeliveryEntity, { where: { streamId: id }, order: { id: "DESC" } });
    expect(failed.nextAttemptAt!.getTime()).toBeGreaterThan(lastAttempt.createdAt.getTime());

    // Meanwhile another organization's stream is delivered.
    const other = await createOrgWithPrincipals(server);
    const otherSiem = await receiver();
    const otherStream = await createStream(server, other, otherSiem.url);
    await caughtUp(server, otherStream.id, other.id);
    expect((await streamRow(server, id)).lastAcknowledgedSequence).toBe(0);

    const shown = ok(await server.gql<{ logStreams: any[] }>(`query($o: ID!) { logStreams(organizationId: $o) { ${STREAM_FIELDS} } }`, { o: org.id }, org.keys.admin));
    expect(shown.logStreams[0]).toEqual(expect.objectContaining({ lastAcknowledgedSequence: 0, lastError: "HTTP 500: the endpoint did not acknowledge the batch" }));
    expect(shown.logStreams[0].failedAttempts).toBeGreaterThanOrEqual(2);
    expect(shown.logStreams[0].pending).toBeGreaterThan(0);

    healthy = true;
    await makeEntries(server, org, 3);
    const head = await caughtUp(server, id, org.id);

    // Every retry sent the very batch that failed (same range, same delivery id).
    const failures = failing.requests.filter((r) => r.status === 500);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const f of failures) expect(f.payload.deliveryId).toBe(`${id}:1-4`);
    expect(failing.requests.findIndex((r) => r.status === 200)).toBe(failures.length);
    // Nothing lost or reordered: what was acknowledged is 1..head, once each, in order.
    const accepted = failing.accepted().flatMap((r) => r.payload.entries);
    expect(accepted.map((e) => e.sequence)).toEqual(range(1, head));
    expect(accepted).toEqual(await expectedEntries(server, org.id, head));

    const log = ok(await server.gql<{ logStreamDeliveries: { edges: Array<{ node: any }> } }>(DELIVERIES, { id, first: 100 }, org.keys.admin));
    const attempts = log.logStreamDeliveries.edges.map((e) => e.node).reverse();
    expect(attempts.slice(0, failures.length + 1).map((a) => [a.deliveryId, a.attempt, a.ok, a.status, a.firstSequence, a.lastSequence])).toEqual([
      ...failures.map((_, i) => [`${id}:1-4`, i + 1, false, 500, 1, 4]),
      [`${id}:1-4`, failures.length + 1, true, 200, 1, 4],
    ]);
    expect(attempts[0].error).toBe("HTTP 500: the endpoint did not acknowledge the batch");
    expect(attempts[failures.length].error).toBeNull();
    expect(attempts.slice(failures.length + 1).every((a) => a.ok && a.attempt === 1)).toBe(true);
    expect((await streamRow(server, id))).toEqual(expect.objectContaining({ failedAttempts: 0, lastError: null, nextAttemptAt: null, retryUpToSequence: null }));
  });

  test("an unreachable endpoint is recorded as such and retried", async () => {
    const org = await createOrgWithPrincipals(server);
    const gone = await receiver();
    const url = gone.url;
    await gone.stop(); // nothing listens there any more
    const { id } = await createStream(server, org, url);
    const row = await waitFor("a failed attempt", async () => {
      const r = await streamRow(server, id);
      return r.failedAttempts >= 1 ? r : null;
    });
    expect(row.lastError).toMatch(/^could not reach the endpoint/);
    const attempt = await server.app.db.manager.findOneOrFail(LogStreamDeliveryEntity, { where: { streamId: id }, order: { id: "ASC" } });
    expect(attempt).toEqual(expect.objectContaining({ ok: false, status: null, attempt: 1, firstSequence: 1 }));
  });

  test("a disabled stream sends nothing; enabled again, it resumes after the last acknowledged sequence", async () => {
    const org = await createOrgWithPrincipals(server);
    const paused = await receiver();
    const witness = await receiver();
    const pausedStream = await createStream(server, org, paused.url, 3);
    const acknowledged = await caughtUp(server, pausedStream.id, org.id);
    const sent = paused.requests.length;

    const disabled = ok(await server.gql<{ updateLogStream: any }>(`mutation($id: ID!) { updateLogStream(id: $id, input: { enabled: false }) { enabled } }`, { id: pausedStream.id }, org.keys.admin));
    expect(disabled.updateLogStream.enabled).toBe(false);
    await makeEntries(server, org, 5);
    // A second, enabled stream of the same organization proves the worker has seen those entries.
    const witnessStream = await createStream(server, org, witness.url);
    const head = await caughtUp(server, witnessStream.id, org.id);
    expect(paused.requests.length).toBe(sent);
    expect((await streamRow(server, pausedStream.id)).lastAcknowledgedSequence).toBe(acknowledged);

    ok(await server.gql(`mutation($id: ID!) { updateLogStream(id: $id, input: { enabled: true }) { id } }`, { id: pausedStream.id }, org.keys.admin));
    await waitFor("the paused stream to pass the witness's head", async () => (await streamRow(server, pausedStream.id)).lastAcknowledgedSequence >= head);
    const resumed = paused.requests.slice(sent);
    expect(resumed[0].sequences[0]).toBe(acknowledged + 1);
    expect(paused.requests.flatMap((r) => r.sequences).slice(0, head)).toEqual(range(1, head));
  });

  test("the secret is in the create / rotate answer once, sealed at rest, never in a query, an audit entry or a log", async () => {
    const siem = await receiver();
    const org = await createOrgWithPrincipals(server);
    const { id, secret } = await createStream(server, org, siem.url);
    expect(secret).toMatch(/^rbac_ls_[A-Za-z0-9_-]{43}$/);
    await caughtUp(server, id, org.id);

    const row = await streamRow(server, id);
    expect(row.secretSealed).toMatch(/^v1\./);
    expect(row.secretSealed).not.toContain(secret);
    const everything = JSON.stringify(
      ok(await server.gql(`query($o: ID!, $id: ID!) { logStreams(organizationId: $o) { ${STREAM_FIELDS} } logStreamDeliveries(streamId: $id) { edges { node { id deliveryId error } } } }`, { o: org.id, id }, org.keys.admin)),
    );
    expect(everything).not.toContain(secret);
    const typeFields = ok(await server.gql<{ __type: { fields: Array<{ name: string }> } }>(`{ __type(name: "LogStream") { fields { name } } }`)).__type.fields.map((f) => f.name);
    expect(typeFields.filter((f) => /secret|seal|lease/i.test(f))).toEqual([]);

    // Rotation: a new secret, once; the next batches are signed with it, not with the old one.
    const rotated = ok(await server.gql<{ rotateLogStreamSecret: { secret: string; logStream: { id: string } } }>(`mutation($id: ID!) { rotateLogStreamSecret(id: $id) { secret logStream { id } } }`, { id }, org.keys.admin));
    const newSecret = rotated.rotateLogStreamSecret.secret;
    expect(newSecret).not.toBe(secret);
    const before = siem.requests.length;
    await makeEntries(server, org, 2);
    await caughtUp(server, id, org.id);
    const after = siem.requests.slice(before);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) {
      expect(verifySignature(newSecret, r.headers["x-rbac-signature"] as string, r.body)).toBe(true);
      expect(verifySignature(secret, r.headers["x-rbac-signature"] as string, r.body)).toBe(false);
    }

    const audit = await server.app.db.dataSource.query(`SELECT * FROM "audit_entry" ORDER BY "id"`);
    const dump = JSON.stringify(audit);
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(newSecret);
    const changes = (audit as Array<Record<string, any>>).filter((e) => String(e.resource) === `logStream:${id}`).map((e) => e.operation);
    expect(changes).toEqual(["Mutation.createLogStream", "Mutation.rotateLogStreamSecret"]);
  });

  test("another organization's stream id answers NOT_FOUND, exactly like a missing one, and nothing changes", async () => {
    const siem = await receiver();
    const a = await createOrgWithPrincipals(server);
    const b = await createOrgWithPrincipals(server);
    const { id } = await createStream(server, b, siem.url);
    const before = await streamRow(server, id);
    const missing = randomUUID();
    const calls = [
      [`query($id: ID!) { logStreamDeliveries(streamId: $id) { edges { node { id } } } }`, {}],
      [`mutation($id: ID!) { updateLogStream(id: $id, input: { enabled: false, url: "http://127.0.0.1:1/x" }) { id } }`, {}],
      [`mutation($id: ID!) { rotateLogStreamSecret(id: $id) { secret } }`, {}],
      [`mutation($id: ID!) { deleteLogStream(id: $id) }`, {}],
    ] as const;
    for (const [query] of calls) {
      const foreign = await server.gql(query, { id }, a.keys.admin);
      const absent = await server.gql(query, { id: missing }, a.keys.admin);
      expect(errorCode(foreign)).toBe("NOT_FOUND");
      expect(foreign.errors![0].message).toBe(`Log stream not found: ${id}`);
      expect(absent.errors![0].message).toBe(`Log stream not found: ${missing}`);
    }
    const list = await server.gql(`query($o: ID!) { logStreams(organizationId: $o) { id } }`, { o: b.id }, a.keys.admin);
    expect(errorCode(list)).toBe("NOT_FOUND");
    const after = await streamRow(server, id);
    expect({ ...after, lastAcknowledgedSequence: 0, lastDeliveryAt: null, leaseOwner: null, leaseUntil: null }).toEqual({
      ...before,
      lastAcknowledgedSequence: 0,
      lastDeliveryAt: null,
      leaseOwner: null,
      leaseUntil: null,
    });
  });

  test("url and batch size validation: https, or http to loopback outside production; no credentials; 1–1000", async () => {
    const org = await createOrgWithPrincipals(server);
    const refused = async (input: Record<string, unknown>) => {
      const response = await server.gql(CREATE, { input: { organizationId: org.id, ...input } }, org.keys.admin);
      expect(errorCode(response)).toBe("BAD_USER_INPUT");
      return response.errors![0];
    };
    expect((await refused({ url: "http://siem.example.com/intake" })).message).toBe("url must use https (http only to localhost outside production)");
    expect((await refused({ url: "ftp://127.0.0.1/x" })).extensions?.field).toBe("url");
    expect((await refused({ url: "not a url" })).message).toBe("url must be an absolute URL");
    expect((await refused({ url: "https://user:pw@siem.example.com/x" })).message).toMatch(/must not contain a user name or password/);
    await refused({ url: "https://siem.example.com/x", batchSize: 0 });
    await refused({ url: "https://siem.example.com/x", batchSize: 1001 });
    expect(await server.app.db.manager.countBy(LogStreamEntity, { organizationId: org.id })).toBe(0);

    const created = ok(await server.gql<{ createLogStream: { logStream: any } }>(CREATE, { input: { organizationId: org.id, url: "https://siem.example.com/intake?source=rbac" } }, org.keys.admin));
    expect(created.createLogStream.logStream).toEqual(expect.objectContaining({ url: "https://siem.example.com/intake?source=rbac", enabled: true, batchSize: 100, lastAcknowledgedSequence: 0 }));
    ok(await server.gql(CREATE, { input: { organizationId: org.id, url: "http://localhost:9/x", batchSize: 1000 } }, org.keys.admin));
    const update = await server.gql(`mutation($id: ID!) { updateLogStream(id: $id, input: { url: "http://10.0.0.1/x" }) { id } }`, { id: created.createLogStream.logStream.id }, org.keys.admin);
    expect(errorCode(update)).toBe("BAD_USER_INPUT");
    expect((await streamRow(server, created.createLogStream.logStream.id)).url).toBe("https://siem.example.com/intake?source=rbac");
  });

  test("with NODE_ENV=production, http to loopback is refused too", async () => {
    const production = await startServer(kind, { env: { NODE_ENV: "production", RBAC_ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
    try {
      const org = await createOrgWithPrincipals(production);
      const response = await production.gql(CREATE, { input: { organizationId: org.id, url: "http://127.0.0.1:8080/siem" } }, org.keys.admin);
      expect(errorCode(response)).toBe("BAD_USER_INPUT");
      expect(response.errors![0].message).toBe("url must use https (http only to localhost outside production)");
    } finally {
      await production.stop();
    }
  });

  test("two instances on one database: a stream is delivered by one at a time — every batch once, in order", async () => {
    const siem = await receiver();
    siem.delayMs = 15; // requests overlap the other instance's polls
    const one = await startServer(kind);
    const two = await startServer(kind, { database: one.database, env: { RBAC_BOOTSTRAP_API_KEY: one.platformKey } });
    try {
      const org = await createOrgWithPrincipals(one);
      const { id } = await createStream(one, org, siem.url, 2);
      // Entries committed on one instance wake its worker at once; the other one finds them when it
      // polls. Entries on the first instance, then on the second until it has delivered too, then on
      // both at once.
      const deliverers = async () => new Set((await one.app.db.manager.findBy(LogStreamDeliveryEntity, { streamId: id })).map((d) => d.instanceId));
      await makeEntries(one, org, 6);
      await caughtUp(one, id, org.id);
      for (let round = 0; round < 200 && (await deliverers()).size < 2; round += 1) {
        await makeEntries(two, org, 2);
        await sleep(20);
      }
      expect((await deliverers()).size).toBe(2);
      await Promise.all([makeEntries(one, org, 10), makeEntries(two, org, 10)]);
      const head = await caughtUp(two, id, org.id);
      expect(siem.requests.every((r) => r.status === 200)).toBe(true);
      expect(siem.requests.flatMap((r) => r.sequences)).toEqual(range(1, head));
    } finally {
      await two.stop(false);
      await one.stop();
    }
  });

  test("a stream leased by another instance is left alone until the lease expires, then resumes after the acknowledged sequence", async () => {
    const siem = await receiver();
    const witness = await receiver();
    const org = await createOrgWithPrincipals(server);
    const { id } = await createStream(server, org, siem.url, 2);
    const witnessStream = await createStream(server, org, witness.url);
    const acknowledged = await caughtUp(server, id, org.id);
    const sent = siem.requests.length;
    // Another instance claims the stream (and, say, stalls).
    await server.app.db.transaction((em) => em.update(LogStreamEntity, { id }, { leaseOwner: randomUUID(), leaseUntil: new Date(Date.now() + 3_600_000) }));
    await makeEntries(server, org, 3);
    const head = await caughtUp(server, witnessStream.id, org.id);
    expect(siem.requests.length).toBe(sent);
    expect((await streamRow(server, id)).lastAcknowledgedSequence).toBe(acknowledged);
    // Its lease runs out: this instance takes over where the acknowledgement stands.
    await server.app.db.transaction((em) => em.update(LogStreamEntity, { id }, { leaseUntil: new Date(Date.now() - 1000) }));
    await waitFor("the stream to be taken over", async () => (await streamRow(server, id)).lastAcknowledgedSequence >= head);
    expect(siem.requests[sent].sequences[0]).toBe(acknowledged + 1);
    expect(siem.requests.flatMap((r) => r.sequences).slice(0, head)).toEqual(range(1, head));
  });

  test("more streams than deliveries in flight per instance (8): every one is delivered; an 11th stream is refused", async () => {
    const org = await createOrgWithPrincipals(server);
    const sinks = await Promise.all(range(1, 10).map(() => receiver()));
    for (const sink of sinks) sink.delayMs = 30;
    const streams = [];
    for (const sink of sinks) streams.push(await createStream(server, org, sink.url, 2));
    await makeEntries(server, org, 4);
    for (const s of streams) await caughtUp(server, s.id, org.id);
    for (const sink of sinks) {
      const sequences = sink.requests.flatMap((r) => r.sequences);
      expect(sequences).toEqual(range(1, sequences.length));
    }
    const eleventh = await server.gql(CREATE, { input: { organizationId: org.id, url: sinks[0].url } }, org.keys.admin);
    expect(errorCode(eleventh)).toBe("CONFLICT");
    expect(eleventh.errors![0].message).toBe("An organization has at most 10 log streams; delete one first");
  });

  test("a secret that cannot be opened any more is reported, and the batch waits", async () => {
    const siem = await receiver();
    const org = await createOrgWithPrincipals(server);
    const { id } = await createStream(server, org, siem.url);
    const other = await createStream(server, org, siem.url);
    const acknowledged = await caughtUp(server, id, org.id);
    await server.app.db.transaction((em) => em.update(LogStreamEntity, { id }, { secretSealed: "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }));
    await makeEntries(server, org, 1);
    const row = await waitFor("the failure to be recorded", async () => {
      const r = await streamRow(server, id);
      return r.failedAttempts >= 1 ? r : null;
    });
    expect(row.lastError).toBe("the signing secret cannot be opened (was RBAC_ENCRYPTION_KEY changed?); rotate the secret");
    expect(row.lastAcknowledgedSequence).toBe(acknowledged);
    // Rotating gives it a readable secret again, and it catches up.
    ok(await server.gql(`mutation($id: ID!) { rotateLogStreamSecret(id: $id) { secret } }`, { id }, org.keys.admin));
    await caughtUp(server, id, org.id);
    await caughtUp(server, other.id, org.id);
  });

  test("entries purged before they were delivered are skipped: the stream moves past the gap instead of stalling", async () => {
    const siem = await receiver();
    siem.answer = () => 503;
    const org = await createOrgWithPrincipals(server);
    const { id } = await createStream(server, org, siem.url, 3);
    await waitFor("a refused attempt", async () => (await streamRow(server, id)).retryUpToSequence === 3);
    await purgeEntries(server, org.id, 4); // the failed batch 1-3 and entry 4 are gone
    siem.answer = () => 200;
    let head = await caughtUp(server, id, org.id);
    expect(siem.accepted().flatMap((r) => r.sequences)).toEqual(range(5, head));

    // Everything after the acknowledged sequence purged while the stream was off: it moves to the head, sends nothing.
    ok(await server.gql(`mutation($id: ID!) { updateLogStream(id: $id, input: { enabled: false }) { id } }`, { id }, org.keys.admin));
    await makeEntries(server, org, 3);
    head = await headOf(server, org.id);
    await purgeEntries(server, org.id, head);
    const sent = siem.requests.length;
    ok(await server.gql(`mutation($id: ID!) { updateLogStream(id: $id, input: { enabled: true }) { id } }`, { id }, org.keys.admin));
    await waitFor("the stream to move past the purged entries", async () => (await streamRow(server, id)).lastAcknowledgedSequence >= head);
    expect(siem.requests.slice(sent).flatMap((r) => r.sequences).every((s) => s > head)).toBe(true);
  });

  /** What the retention purge does to the rows (the append-only triggers are bypassed for this test only). */
  async function purgeEntries(target: TestServer, organizationId: string, upToSequence: number): Promise<void> {
    const ds = target.app.db.dataSource;
    if (target.app.db.dialect === "postgres") {
      await ds.transaction(async (em) => {
        await em.query(`SET LOCAL session_replication_role = replica`);
        await em.query(`DELETE FROM "audit_entry" WHERE "stream" = $1 AND "sequence" <= $2`, [organizationId, upToSequence]);
      });
      return;
    }
    await target.app.db.transaction(async (em) => {
      const triggers: Array<{ name: string; sql: string }> = await em.query(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entry'`);
      for (const t of triggers) await em.query(`DROP TRIGGER "${t.name}"`);
      await em.query(`DELETE FROM "audit_entry" WHERE "stream" = ? AND "sequence" <= ?`, [organizationId, upToSequence]);
      for (const t of triggers) await em.query(t.sql);
    });
  }

  test("a restart resumes from the last acknowledged sequence: nothing acknowledged is sent again, nothing is lost", async () => {
    const siem = await receiver();
    const first = await startServer(kind);
    let second: TestServer | null = null;
    try {
      const org = await createOrgWithPrincipals(first);
      const { id, secret } = await createStream(first, org, siem.url, 3);
      await makeEntries(first, org, 4);
      await caughtUp(first, id, org.id);

      // The SIEM goes down; more entries wait, and are tried at least once.
      siem.answer = () => 503;
      const refusedBefore = siem.requests.length;
      await makeEntries(first, org, 4);
      await waitFor("a refused attempt", async () => siem.requests.length > refusedBefore);
      const acknowledged = (await streamRow(first, id)).lastAcknowledgedSequence; // nothing is acknowledged while the SIEM refuses
      expect(acknowledged).toBe(siem.accepted().at(-1)!.payload.lastSequence);
      await first.stop(false);
      const receivedBeforeRestart = siem.requests.length;

      siem.answer = () => 200;
      second = await startServer(kind, { database: first.database, env: { RBAC_BOOTSTRAP_API_KEY: first.platformKey } });
      const head = await caughtUp(second, id, org.id);
      const afterRestart = siem.requests.slice(receivedBeforeRestart);
      expect(afterRestart.length).toBeGreaterThan(0);
      // Nothing at or below the acknowledged sequence is sent again; the first batch starts right after it.
      expect(afterRestart.every((r) => r.sequences[0] > acknowledged)).toBe(true);
      expect(afterRestart[0].sequences[0]).toBe(acknowledged + 1);
      // Every sequence reached the SIEM and was acknowledged exactly once, in order, signed with the same secret.
      expect(siem.accepted().flatMap((r) => r.sequences)).toEqual(range(1, head));
      for (const r of afterRestart) expect(verifySignature(secret, r.headers["x-rbac-signature"] as string, r.body)).toBe(true);
      expect(siem.accepted().flatMap((r) => r.payload.entries)).toEqual(await expectedEntries(second, org.id, head));
    } finally {
      await second?.stop(false);
      await first.stop().catch(() => undefined);
      await first.database.drop();
    }
  });
});
