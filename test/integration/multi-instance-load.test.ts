/**
 * Issue #5: a load spread over three instances (separate processes of `node dist/src/server/main.js`)
 * on one database, one of them killed (SIGKILL) in the middle of it.
 *
 * - Clients send audited mutations (createRoleMapping, updateOrganization renames) and audited
 *   decisions (`can`) round-robin over the instances, for several organizations at once, so that
 *   several processes append to the same organization's audit stream concurrently. Every request
 *   carries its own `x-request-id`, which the service records in the audit entry.
 * - One instance is killed mid-load; requests cut off by the kill (and any sent to it before the
 *   clients notice it is down) get a connection error, are not acknowledged, and the clients move
 *   on to the survivors. The killed instance is restarted afterwards and serves again.
 * - Then: every acknowledged request (HTTP 200 with data and no errors) has exactly one audit entry
 *   with its request id, in its organization's stream, and its effect in the database; no change
 *   exists without its entry, nor an entry of a change without the change; the last rename in
 *   stream order is the name the organization has; every stream is 1..n without gap or duplicate;
 *   `verifyAuditChain` reports every organization's chain and the platform chain valid.
 *
 * The load is bounded by count; nothing asserts a time. Counts are printed (console.info).
 */
import { randomBytes } from "node:crypto";
import {
  CREATE_MAPPING,
  VERIFY_CHAIN,
  gapless,
  gql,
  newSecrets,
  openDatabase,
  startService,
  streamShapes,
  type ServiceProcess,
  setUpOrganization,
  type ProcessOrganization,
  type ServiceSecrets,
} from "../support/audit-process";
import { DATABASES, type DatabaseKind, type TestDatabase } from "../support/databases";

jest.setTimeout(180_000);

const ORGS = 5; // coprime with 3 and 2: op i goes to org i % 5 and instance i % alive, so every org's stream is written by every instance at once
const CLIENTS = 18;
const OPS = 630;
const KILL_AT = 240; // dispatched ops when the kill is ordered
const VICTIM = 1;

const CAN = `query($r: String) { can(action: READ, resource: $r) { allowed } }`;
const RENAME = `mutation($id: ID!, $i: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $i) { id name } }`;

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Org = ProcessOrganization;

type OpKind = "mapping" | "rename" | "decision" | "platform";
interface Op {
  index: number;
  kind: OpKind;
  org: Org;
  requestId: string;
  /** The group (mapping), new name (rename) or resource (decision: the org's viewer asks; platform: the platform key asks). */
  value: string;
}

const OPERATION: Record<OpKind, string> = { mapping: "Mutation.createRoleMapping", rename: "Mutation.updateOrganization", decision: "Query.can", platform: "Query.can" };
const PLATFORM_STREAM = "platform";

interface Sent {
  op: Op;
  instance: number;
  outcome: "acknowledged" | "refused" | "lost";
  /** The mapping id of an acknowledged createRoleMapping. */
  mappingId?: string;
  detail?: string;
  /** Sent after the kill was ordered. */
  afterKill: boolean;
  /** Answered (or failed) after the kill was ordered. */
  endedAfterKill: boolean;
}

/** Sends one op; a network failure is "lost" (not acknowledged), an answer with errors "refused". */
async function send(service: ServiceProcess, secrets: ServiceSecrets, op: Op): Promise<Pick<Sent, "outcome" | "mappingId" | "detail">> {
  const headers = { "x-request-id": op.requestId };
  try {
    if (op.kind === "mapping") {
      const reply = await gql<{ createRoleMapping: { id: string } }>(service.url, op.org.adminKey, CREATE_MAPPING, { i: { organizationId: op.org.id, idpGroup: op.value, roleKey: "viewer" } }, headers);
      if (reply.status === 200 && !reply.errors && reply.data?.createRoleMapping?.id) return { outcome: "acknowledged", mappingId: reply.data.createRoleMapping.id };
      return { outcome: "refused", detail: `${reply.status} ${JSON.stringify(reply.errors)}` };
    }
    if (op.kind === "rename") {
      const reply = await gql<{ updateOrganization: { name: string } }>(service.url, op.org.adminKey, RENAME, { id: op.org.id, i: { name: op.value } }, headers);
      if (reply.status === 200 && !reply.errors && reply.data?.updateOrganization?.name === op.value) return { outcome: "acknowledged" };
      return { outcome: "refused", detail: `${reply.status} ${JSON.stringify(reply.errors)}` };
    }
    const reply = await gql<{ can: { allowed: boolean } }>(service.url, op.kind === "platform" ? secrets.platformKey : op.org.viewerKey, CAN, { r: op.value }, headers);
    if (reply.status === 200 && !reply.errors && reply.data?.can?.allowed === true) return { outcome: "acknowledged" };
    return { outcome: "refused", detail: `${reply.status} ${JSON.stringify(reply.errors)}` };
  } catch (error) {
    return { outcome: "lost", detail: String((error as Error).cause ?? error) };
  }
}

interface EntryRow {
  stream: string;
  sequence: number;
  operation: string;
  resource: string;
  success: boolean;
  requestId: string;
  details: string | null;
}

describe.each(DATABASES)("load over three instances on one $name database, one killed mid-load", (kind: DatabaseKind) => {
  let database: TestDatabase;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    database = await kind.create();
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.kill()));
    await database?.drop();
  });

  test("every acknowledged request has its audit entry (by request id) and its effect; streams are 1..n; every chain verifies", async () => {
    const secrets = newSecrets();
    const instances = await Promise.all([0, 1, 2].map(() => startService({ databaseUrl: database.url, secrets })));
    running.push(...instances);
    const orgs: Org[] = [];
    for (let n = 0; n < ORGS; n += 1) orgs.push(await setUpOrganization(instances[n % 3], secrets, `load-${n}`));

    const run = randomBytes(4).toString("hex");
    const kinds: OpKind[] = ["mapping", "decision", "rename", "platform", "mapping", "decision", "mapping"];
    const ops: Op[] = Array.from({ length: OPS }, (_, index) => {
      const opKind = kinds[Math.floor(index / ORGS) % kinds.length];
      const value = opKind === "mapping" ? `group-${run}-${index}` : opKind === "rename" ? `Name ${run} ${index}` : `resource-${run}-${index}`;
      return { index, kind: opKind, org: orgs[index % ORGS], requestId: `load-${run}-${index}`, value };
    });

    // Client-side balancing: round-robin over the instances not known to be down; an instance is
    // marked down by the first connection error it gives.
    const down = new Set<number>();
    const sent: Sent[] = [];
    let next = 0;
    let killOrdered = false;
    let kill: Promise<void> | null = null;
    const client = async () => {
      while (next < ops.length) {
        const op = ops[next];
        next += 1;
        if (op.index === KILL_AT) {
          killOrdered = true;
          // A moment after this request left, with the other clients' requests in flight.
          kill = delay(Math.floor(Math.random() * 10)).then(() => instances[VICTIM].kill());
        }
        const alive = [0, 1, 2].filter((i) => !down.has(i));
        const instance = alive[op.index % alive.length];
        const afterKill = killOrdered;
        const result = await send(instances[instance], secrets, op);
        if (result.outcome === "lost" && instance === VICTIM) down.add(instance);
        sent.push({ op, instance, afterKill, endedAfterKill: killOrdered, ...result });
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    expect(kill).not.toBeNull();
    await kill;
    running.splice(running.indexOf(instances[VICTIM]), 1);

    // The killed instance comes back on the same database and serves.
    const restarted = await startService({ databaseUrl: database.url, secrets });
    running.push(restarted);
    const afterRestart: Op = { index: OPS, kind: "mapping", org: orgs[0], requestId: `load-${run}-restart`, value: `group-${run}-restart` };
    const restartAnswer = await send(restarted, secrets, afterRestart);
    expect(restartAnswer.outcome).toBe("acknowledged");
    sent.push({ op: afterRestart, instance: 3, afterKill: true, endedAfterKill: true, ...restartAnswer });
    const decisionAfterRestart: Op = { ...afterRestart, kind: "decision", requestId: `load-${run}-restart-d`, value: `resource-${run}-restart` };
    const decisionAnswer = await send(restarted, secrets, decisionAfterRestart);
    expect(decisionAnswer.outcome).toBe("acknowledged");
    sent.push({ op: decisionAfterRestart, instance: 3, afterKill: true, endedAfterKill: true, ...decisionAnswer });

    // Nothing was refused; only requests to the killed instance, once the kill was ordered, went unanswered.
    expect(sent.filter((s) => s.outcome === "refused").map((s) => `${s.op.requestId}: ${s.detail}`)).toEqual([]);
    expect(sent.filter((s) => s.outcome === "lost" && (s.instance !== VICTIM || !s.endedAfterKill)).map((s) => `${s.op.requestId} on ${s.instance}: ${s.detail}`)).toEqual([]);
    const acknowledged = sent.filter((s) => s.outcome === "acknowledged");
    const lost = sent.filter((s) => s.outcome === "lost");
    // The kill really happened mid-load: the victim had acknowledged requests, the survivors went on after it.
    expect(acknowledged.filter((s) => s.instance === VICTIM).length).toBeGreaterThan(0);
    expect(acknowledged.filter((s) => s.afterKill && s.instance !== VICTIM && s.instance !== 3).length).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(OPS / 2);

    const view = await openDatabase(database.url);
    try {
      const entries = (
        await view.rows<Record<string, unknown>>(
          `SELECT "stream", "sequence", "operation", "resource", "success", "requestId", "details" FROM "audit_entry" WHERE "requestId" LIKE 'load-${run}-%'`,
        )
      ).map((r) => ({ ...r, sequence: Number(r.sequence), success: Boolean(r.success) }) as EntryRow);
      const byRequest = new Map<string, EntryRow[]>();
      for (const e of entries) byRequest.set(e.requestId, [...(byRequest.get(e.requestId) ?? []), e]);
      const orgIds = orgs.map((o) => `'${o.id}'`).join(", ");
      const mappings = await view.rows<{ id: string; organizationId: string; idpGroup: string }>(`SELECT "id", "organizationId", "idpGroup" FROM "role_mapping" WHERE "organizationId" IN (${orgIds})`);
      const mappingByGroup = new Map(mappings.map((m) => [m.idpGroup, m]));
      const names = new Map(
        (await view.rows<{ id: string; name: string }>(`SELECT "id", "name" FROM "organization" WHERE "id" IN (${orgIds})`)).map((o) => [o.id, o.name]),
      );

      // Every acknowledged request: exactly one entry with its request id, a success, in its organization's stream, naming what it did.
      for (const s of acknowledged) {
        const { op } = s;
        const found = byRequest.get(op.requestId) ?? [];
        const resource = op.kind === "mapping" ? `roleMapping:${s.mappingId}` : op.kind === "rename" ? `organization:${op.org.id}` : op.value;
        expect([op.requestId, found.map((e) => ({ stream: e.stream, operation: e.operation, resource: e.resource, success: e.success }))]).toEqual([
          op.requestId,
          [{ stream: op.kind === "platform" ? PLATFORM_STREAM : op.org.id, operation: OPERATION[op.kind], resource, success: true }],
        ]);
        // ...and its effect.
        if (op.kind === "mapping") expect([op.value, mappingByGroup.get(op.value)]).toEqual([op.value, { id: s.mappingId, organizationId: op.org.id, idpGroup: op.value }]);
        if (op.kind === "rename") expect([op.requestId, JSON.parse(found[0].details ?? "{}").changed?.name?.[1]]).toEqual([op.requestId, op.value]);
      }
      // Requests cut off by the kill: committed entirely (change + entry) or not at all.
      let inDoubt = 0;
      for (const s of lost) {
        const found = byRequest.get(s.op.requestId) ?? [];
        expect(found.length).toBeLessThanOrEqual(1);
        if (found.length === 1) inDoubt += 1;
        if (s.op.kind === "mapping") expect([s.op.value, mappingByGroup.has(s.op.value)]).toEqual([s.op.value, found.length === 1]);
      }
      // No change without its entry: every mapping of the load has exactly one creation entry with its request id.
      const creations = entries.filter((e) => e.operation === "Mutation.createRoleMapping");
      for (const m of mappings) expect([m.idpGroup, creations.filter((e) => e.resource === `roleMapping:${m.id}`).map((e) => e.stream)]).toEqual([m.idpGroup, [m.organizationId]]);
      expect(creations).toHaveLength(mappings.length);
      // Entries only of requests that were sent, once each.
      const sentIds = new Set(sent.map((s) => s.op.requestId));
      expect(entries.filter((e) => !sentIds.has(e.requestId))).toEqual([]);
      expect(entries.every((e) => e.success)).toBe(true);
      // The renames were applied in stream order: the organization has the name of its last rename entry.
      for (const org of orgs) {
        const renames = entries.filter((e) => e.stream === org.id && e.operation === "Mutation.updateOrganization").sort((a, b) => a.sequence - b.sequence);
        expect(renames.length).toBeGreaterThan(0);
        expect(names.get(org.id)).toBe(JSON.parse(renames[renames.length - 1].details!).changed.name[1]);
      }

      // Every stream (the five organizations', the platform's) is 1..n, once each; each was written.
      const shapes = await streamShapes(view);
      for (const shape of shapes) expect(shape).toEqual(gapless(shape));
      for (const stream of [...orgs.map((o) => o.id), PLATFORM_STREAM]) expect([stream, shapes.some((s) => s.stream === stream && s.entries > 0)]).toEqual([stream, true]);

      // Every chain verifies, asked of a survivor and of the restarted instance.
      let checked = 0;
      for (const [n, org] of orgs.entries()) {
        const verifier = n % 2 === 0 ? instances[0] : restarted;
        const reply = await gql<{ verifyAuditChain: { ok: boolean; entriesChecked: number; firstBrokenSequence: number | null } }>(verifier.url, secrets.platformKey, VERIFY_CHAIN, { id: org.id });
        expect(reply.errors).toBeUndefined();
        expect(reply.data!.verifyAuditChain).toMatchObject({ ok: true, firstBrokenSequence: null });
        expect(reply.data!.verifyAuditChain.entriesChecked).toBe(shapes.find((s) => s.stream === org.id)!.head);
        checked += reply.data!.verifyAuditChain.entriesChecked;
      }
      const platformChain = await gql<{ verifyAuditChain: { ok: boolean; entriesChecked: number } }>(instances[2].url, secrets.platformKey, VERIFY_CHAIN, { id: null });
      expect(platformChain.errors).toBeUndefined();
      expect(platformChain.data!.verifyAuditChain.ok).toBe(true);
      // (The verifications are audited too, on the platform stream: it is still 1..n.)
      for (const shape of await streamShapes(view)) expect(shape).toEqual(gapless(shape));

      const perInstance = [0, 1, 2, 3].map((i) => acknowledged.filter((s) => s.instance === i).length);
      console.info(
        `[${kind.name}] multi-instance load: ${sent.length} requests by ${CLIENTS} clients over 3 instances and ${ORGS} organizations; instance ${VICTIM} killed after ${KILL_AT} dispatched; ` +
          `${acknowledged.length} acknowledged (per instance ${perInstance.slice(0, 3).join("/")}, ${perInstance[3]} on the restarted one), ${lost.length} cut off by the kill ` +
          `(${inDoubt} of them committed without the answer reaching the client); ${shapes.length} streams gapless; ${checked} organization entries + ${platformChain.data!.verifyAuditChain.entriesChecked} platform entries verified`,
      );
    } finally {
      await view.close();
    }
  });
});
