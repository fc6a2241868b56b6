/**
 * Suspicious-activity alerts (issue 4 "Suspicious-activity alerts"; SECURITY-CASES tok-06's alert,
 * acl-01 for alerts, aud-02 for webhook secrets) on every database, over real HTTP and a real
 * WebSocket: each rule fires on the real event that should raise it, settings change what fires,
 * alerts are acknowledged, stay in their organization, reach a real signed-webhook receiver on
 * 127.0.0.1 (with a retry after a 500) and a real graphql-ws client.
 *
 * The server trusts X-Forwarded-For (TRUST_PROXY=true) so tests choose client addresses.
 *
 * Alerts are evaluated off the request path, one audit entry at a time in commit order. To show
 * that something did NOT fire, a test runs a *barrier*: a change that always raises an alert (a
 * mapping to admin in a separate organization); once the barrier's alert exists, every entry
 * committed before it has been evaluated.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { verifySignature } from "../../src/audit/delivery/signed-webhook";
import type { LoginIdentity } from "../../src/sso/login.types";
import { DATABASES } from "../support/databases";
import { createMapping, createOrganization, createOrgWithPrincipals, createServiceAccount } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const REDIRECT = "https://app.example.com/auth/callback";
const ALERT_FIELDS = `id organizationId rule severity title description actorId ipAddress auditEntryId auditSequence eventCount createdAt acknowledgedAt acknowledgedBy`;
const ALERTS = `query($org: ID, $ack: Boolean, $first: Int, $after: String) { alerts(organizationId: $org, acknowledged: $ack, first: $first, after: $after) { edges { cursor node { ${ALERT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`;
const DELETE_MAPPING = `mutation($id: ID!) { deleteRoleMapping(id: $id) }`;
const ACKNOWLEDGE = `mutation($id: ID!) { acknowledgeAlert(id: $id) { ${ALERT_FIELDS} } }`;
const UPDATE_RULE = `mutation($org: ID!, $rule: AlertRule!, $input: UpdateAlertRuleInput!) { updateAlertRule(organizationId: $org, rule: $rule, input: $input) { rule severity enabled threshold windowSeconds customized } }`;
const RULES = `query($org: ID!) { alertRules(organizationId: $org) { rule severity enabled threshold windowSeconds customized } }`;
const ADMIN_ONLY_QUERY = `query($org: ID!) { serviceAccounts(organizationId: $org) { id } }`;
const ALERT_RAISED = `subscription($org: ID) { alertRaised(organizationId: $org) { ${ALERT_FIELDS} } }`;

type Alert = {
  id: string;
  organizationId: string | null;
  rule: string;
  severity: string;
  title: string;
  description: string;
  actorId: string | null;
  ipAddress: string | null;
  auditEntryId: string | null;
  auditSequence: number;
  eventCount: number;
  createdAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
};

const unique = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;
const base = (server: TestServer) => server.url.replace(/\/graphql$/, "");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sql<T = Record<string, any>>(server: TestServer, text: string, params: unknown[] = []): Promise<T[]> {
  let n = 0;
  const query = server.app.db.dialect === "postgres" ? text.replace(/\?/g, () => `$${++n}`) : text;
  return server.app.db.dataSource.query(query, params);
}

/** Polls until `probe` returns a value (bounded: 20 s); no timing is asserted. */
async function eventually<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function alertsOf(server: TestServer, key: string, variables: Record<string, unknown> = {}): Promise<Alert[]> {
  const data = ok(await server.gql<{ alerts: { edges: Array<{ node: Alert }> } }>(ALERTS, { first: 100, ...variables }, key));
  return data.alerts.edges.map((e) => e.node);
}

/** The platform's view of one organization's alerts of one rule. */
async function alertsFor(server: TestServer, organizationId: string | null, rule: string): Promise<Alert[]> {
  const all = await alertsOf(server, server.platformKey, organizationId ? { org: organizationId } : {});
  return all.filter((a) => a.rule === rule && a.organizationId === organizationId);
}

function waitForAlert(server: TestServer, organizationId: string | null, rule: string, match: (a: Alert) => boolean = () => true): Promise<Alert> {
  return eventually(`a ${rule} alert in ${organizationId ?? "the platform stream"}`, async () => (await alertsFor(server, organizationId, rule)).find(match));
}

async function principalId(server: TestServer, key: string): Promise<string> {
  return ok(await server.gql<{ me: { id: string } }>(`{ me { id } }`, {}, key)).me.id;
}

async function auditEntry(server: TestServer, where: string, params: unknown[]): Promise<Record<string, any>> {
  const rows = await sql(server, `SELECT * FROM "audit_entry" WHERE ${where} ORDER BY "id" DESC`, params);
  return rows[0];
}

// ---------------------------------------------------------------------------------------------

describe.each(DATABASES)("suspicious-activity alerts on $name", (kind) => {
  let server: TestServer;
  let barrierOrg: { id: string };
  let ipCounter = 0;
  const freshIp = () => `203.0.113.${++ipCounter}`;

  /** Every entry committed so far has been evaluated once this returns (see the file comment). */
  async function barrier(): Promise<void> {
    const group = unique("barrier");
    await createMapping(server, barrierOrg.id, group, "admin");
    await waitForAlert(server, barrierOrg.id, "ADMIN_ROLE_GRANTED", (a) => a.description.includes(group));
  }

  async function mappingIn(org: { id: string }): Promise<string> {
    return createMapping(server, org.id, unique("group"), "viewer");
  }

  beforeAll(async () => {
    server = await startServer(kind, { env: { TRUST_PROXY: "true" } });
    barrierOrg = await createOrganization(server);
  });
  afterAll(() => server?.stop());

  describe("rules", () => {
    test("failed delete: a viewer's deleteRoleMapping raises one FAILED_DELETE alert naming the audit entry", async () => {
      const org = await createOrgWithPrincipals(server);
      const viewerId = await principalId(server, org.keys.viewer);
      const mapping = await mappingIn(org);

      const denied = await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.viewer);
      expect(errorCode(denied)).toBe("FORBIDDEN");
      const alert = await waitForAlert(server, org.id, "FAILED_DELETE");
      const entry = await auditEntry(server, `"operation" = ? AND "actorId" = ?`, ["Mutation.deleteRoleMapping", viewerId]);
      expect(alert).toMatchObject({
        organizationId: org.id,
        severity: "MEDIUM",
        title: "Failed delete",
        actorId: viewerId,
        ipAddress: "127.0.0.1",
        auditEntryId: String(entry.id),
        auditSequence: Number(entry.sequence),
        eventCount: 1,
        acknowledgedAt: null,
      });
      expect(alert.description).toContain("Mutation.deleteRoleMapping");
      expect(alert.description).toContain("Missing permission: admin, delete");

      // The same actor again within the window: still one open alert (deduplicated).
      expect(errorCode(await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.viewer))).toBe("FORBIDDEN");
      await barrier();
      expect(await alertsFor(server, org.id, "FAILED_DELETE")).toHaveLength(1);
      // `can(action: DELETE)` answered "no" is a question, not a failed delete nor a refusal, however often asked.
      const asker = await createOrgWithPrincipals(server);
      for (let i = 0; i < 12; i++) {
        expect(ok(await server.gql(`{ can(action: DELETE, resource: "conversation:1") { allowed } }`, {}, asker.keys.viewer)).can.allowed).toBe(false);
      }
      await barrier();
      expect(await alertsFor(server, asker.id, "FAILED_DELETE")).toHaveLength(0);
      expect(await alertsFor(server, asker.id, "DENIAL_BURST")).toHaveLength(0);
    });

    test("denial burst: 10 denials by one principal within 60 s raise one DENIAL_BURST alert (9 do not)", async () => {
      const org = await createOrgWithPrincipals(server);
      const developerId = await principalId(server, org.keys.developer);
      for (let i = 0; i < 9; i++) expect(errorCode(await server.gql(ADMIN_ONLY_QUERY, { org: org.id }, org.keys.developer))).toBe("FORBIDDEN");
      await barrier();
      expect(await alertsFor(server, org.id, "DENIAL_BURST")).toHaveLength(0);

      expect(errorCode(await server.gql(ADMIN_ONLY_QUERY, { org: org.id }, org.keys.developer))).toBe("FORBIDDEN");
      const alert = await waitForAlert(server, org.id, "DENIAL_BURST");
      expect(alert).toMatchObject({ severity: "MEDIUM", actorId: developerId, eventCount: 10 });
      expect(alert.description).toContain("had 10 requests refused or failed within 60 s");

      for (let i = 0; i < 5; i++) await server.gql(ADMIN_ONLY_QUERY, { org: org.id }, org.keys.developer);
      await barrier();
      expect(await alertsFor(server, org.id, "DENIAL_BURST")).toHaveLength(1);
    });

    test("tok-06 refresh-token reuse through /auth/token raises a HIGH alert for the user", async () => {
      const org = await createOrganization(server, { ssoEnabled: true, allowedRedirectUrls: [REDIRECT], defaultRoleKey: "viewer" });
      const identity: LoginIdentity = {
        organizationId: org.id,
        connectionId: null,
        protocol: "oidc",
        issuer: "https://idp.example.com",
        subject: unique("subject"),
        email: `${unique("person")}@corp.example.com`,
        emailVerified: true,
        displayName: "Reuse Victim",
        groups: [],
      };
      const verifier = randomBytes(32).toString("base64url");
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      const { redirectUrl } = await server.app.login.complete(identity, { redirectUri: REDIRECT, codeChallenge: challenge, clientState: null }, { ip: "198.18.0.7", userAgent: "alerts-suite", requestId: randomUUID() });
      const token = (body: Record<string, string>) =>
        fetch(`${base(server)}/auth/token`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.18.0.99" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));
      const first = await token({ grant_type: "authorization_code", code: new URL(redirectUrl).searchParams.get("code")!, redirect_uri: REDIRECT, code_verifier: verifier });
      expect(first.status).toBe(200);
      expect((await token({ grant_type: "refresh_token", refresh_token: first.body.refresh_token })).status).toBe(200);

      const reuse = await token({ grant_type: "refresh_token", refresh_token: first.body.refresh_token });
      expect({ status: reuse.status, error: reuse.body.error }).toEqual({ status: 400, error: "invalid_grant" });
      const [{ id: userId }] = await sql(server, `SELECT "id" FROM "app_user" WHERE "organizationId" = ?`, [org.id]);
      const alert = await waitForAlert(server, org.id, "REFRESH_TOKEN_REUSE");
      expect(alert).toMatchObject({ severity: "HIGH", actorId: userId, ipAddress: "198.18.0.99", title: "Refresh token reuse" });
      expect(alert.description).toContain("was revoked");
      expect(alert.description).not.toContain(first.body.refresh_token);
    });

    test("failed password logins: 5 for one account raise FAILED_LOGIN_BURST_ACCOUNT; 20 from one address raise FAILED_LOGIN_BURST_IP", async () => {
      const domain = `${unique("corp")}.example.com`;
      const org = await createOrganization(server, { allowedDomains: [domain], allowedRedirectUrls: [REDIRECT], defaultRoleKey: "viewer" });
      const email = `pat-${randomBytes(3).toString("hex")}@${domain}`;
      ok(await server.gql(`mutation($input: CreatePasswordUserInput!) { createPasswordUser(input: $input) { id } }`, { input: { organizationId: org.id, email, displayName: "Pat", roleKey: "developer", password: `Vx7!${randomBytes(9).toString("base64url")}-kq` } }));
      const attempt = (who: string, ip: string) =>
        fetch(`${base(server)}/auth/password/login`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": ip },
          body: JSON.stringify({ email: who, password: "Not-the-password-123", redirect_uri: REDIRECT }),
        }).then((r) => r.status);

      for (let i = 0; i < 4; i++) expect(await attempt(email, freshIp())).toBe(401);
      await barrier();
      expect(await alertsFor(server, org.id, "FAILED_LOGIN_BURST_ACCOUNT")).toHaveLength(0);
      expect(await attempt(email, freshIp())).toBe(401);
      const account = await waitForAlert(server, org.id, "FAILED_LOGIN_BURST_ACCOUNT");
      expect(account).toMatchObject({ severity: "MEDIUM", actorId: email, eventCount: 5 });
      expect(account.description).toContain("INVALID_CREDENTIALS");
      expect(account.description).not.toContain("Not-the-password-123");

      const ip = freshIp();
      for (let i = 0; i < 20; i++) expect(await attempt(`ghost-${i}-${randomBytes(2).toString("hex")}@${domain}`, ip)).toBe(401);
      const byIp = await waitForAlert(server, org.id, "FAILED_LOGIN_BURST_IP");
      expect(byIp).toMatchObject({ severity: "HIGH", ipAddress: ip, eventCount: 20 });
      expect(byIp.description).toContain(`20 refused logins from ${ip} within 300 s`);
    });

    test("admin grants: a mapping to admin, a mapping changed to admin, admin as default role, admin service account and password user each raise ADMIN_ROLE_GRANTED", async () => {
      const org = await createOrgWithPrincipals(server);
      const adminId = await principalId(server, org.keys.admin);
      const grants = () => alertsFor(server, org.id, "ADMIN_ROLE_GRANTED");
      const before = (await eventually("the fixture's admin service account alert", async () => ((await grants()).length >= 1 ? grants() : null))).length;

      const viewerMapping = await createMapping(server, org.id, unique("Readers"), "viewer", org.keys.admin);
      await barrier();
      expect(await grants()).toHaveLength(before);

      const group = unique("Admins");
      await createMapping(server, org.id, group, "admin", org.keys.admin);
      const created = await waitForAlert(server, org.id, "ADMIN_ROLE_GRANTED", (a) => a.description.includes(group));
      expect(created).toMatchObject({ severity: "HIGH", actorId: adminId });

      ok(await server.gql(`mutation($id: ID!) { updateRoleMapping(id: $id, input: { roleKey: "admin" }) { id } }`, { id: viewerMapping }, org.keys.admin));
      await waitForAlert(server, org.id, "ADMIN_ROLE_GRANTED", (a) => a.description.includes(`roleMapping:${viewerMapping} now maps`));

      ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { defaultRoleKey: "admin" }) { id } }`, { id: org.id }, org.keys.admin));
      await waitForAlert(server, org.id, "ADMIN_ROLE_GRANTED", (a) => a.description.includes("default role") && a.description.includes("now admin"));

      const account = await createServiceAccount(server, org.id, "admin", org.keys.admin);
      await waitForAlert(server, org.id, "ADMIN_ROLE_GRANTED", (a) => a.description.includes(`serviceAccount:${account.id}`));

      const person = ok(
        await server.gql<{ createPasswordUser: { id: string } }>(`mutation($input: CreatePasswordUserInput!) { createPasswordUser(input: $input) { id } }`, {
          input: { organizationId: org.id, email: `${unique("boss")}@boss.example.com`, displayName: "Boss", roleKey: "admin", password: `Bx9!${randomBytes(9).toString("base64url")}-zz` },
        }),
      ).createPasswordUser;
      await waitForAlert(server, org.id, "ADMIN_ROLE_GRANTED", (a) => a.description.includes(`user:${person.id}`));
      expect(await grants()).toHaveLength(before + 5);
    });

    test("a service key used from a new address raises SERVICE_KEY_NEW_IP; its first address and repeated ones do not", async () => {
      const org = await createOrganization(server);
      const { id, apiKey } = await createServiceAccount(server, org.id, "viewer");
      const [first, second] = [freshIp(), freshIp()];
      const me = (ip: string) => server.gql(`{ me { id } }`, {}, apiKey, { "x-forwarded-for": ip });
      ok(await me(first));
      ok(await me(first));
      await barrier();
      expect(await alertsFor(server, org.id, "SERVICE_KEY_NEW_IP")).toHaveLength(0);

      ok(await me(second));
      ok(await me(second));
      const alert = await waitForAlert(server, org.id, "SERVICE_KEY_NEW_IP");
      expect(alert).toMatchObject({ severity: "MEDIUM", actorId: id, ipAddress: second });
      expect(alert.description).toContain(second);
      await barrier();
      expect(await alertsFor(server, org.id, "SERVICE_KEY_NEW_IP")).toHaveLength(1);
      expect(await sql(server, `SELECT "ipAddress" FROM "service_key_ip" WHERE "serviceAccountId" = ? ORDER BY "ipAddress"`, [id])).toEqual(
        [first, second].sort().map((ipAddress) => ({ ipAddress })),
      );
    });

    test("an unauthenticated failed delete is a platform alert, visible to platform principals only", async () => {
      const org = await createOrgWithPrincipals(server);
      const mapping = await mappingIn(org);
      const ip = freshIp();
      expect(errorCode(await server.gql(DELETE_MAPPING, { id: mapping }, null, { "x-forwarded-for": ip }))).toBe("UNAUTHENTICATED");
      const alert = await waitForAlert(server, null, "FAILED_DELETE", (a) => a.ipAddress === ip);
      expect(alert).toMatchObject({ organizationId: null, actorId: "anonymous" });
      expect((await alertsOf(server, org.keys.admin)).map((a) => a.id)).not.toContain(alert.id);
      expect(errorCode(await server.gql(ACKNOWLEDGE, { id: alert.id }, org.keys.admin))).toBe("NOT_FOUND");
    });
  });

  describe("settings", () => {
    test("thresholds and windows are configurable per organization; event rules only switch on and off", async () => {
      const org = await createOrgWithPrincipals(server);
      const defaults = ok(await server.gql<{ alertRules: Array<Record<string, unknown>> }>(RULES, { org: org.id }, org.keys.admin)).alertRules;
      expect(defaults).toEqual([
        { rule: "FAILED_DELETE", severity: "MEDIUM", enabled: true, threshold: 1, windowSeconds: 300, customized: false },
        { rule: "DENIAL_BURST", severity: "MEDIUM", enabled: true, threshold: 10, windowSeconds: 60, customized: false },
        { rule: "REFRESH_TOKEN_REUSE", severity: "HIGH", enabled: true, threshold: null, windowSeconds: null, customized: false },
        { rule: "FAILED_LOGIN_BURST_ACCOUNT", severity: "MEDIUM", enabled: true, threshold: 5, windowSeconds: 300, customized: false },
        { rule: "FAILED_LOGIN_BURST_IP", severity: "HIGH", enabled: true, threshold: 20, windowSeconds: 300, customized: false },
        { rule: "ADMIN_ROLE_GRANTED", severity: "HIGH", enabled: true, threshold: null, windowSeconds: null, customized: false },
        { rule: "SERVICE_KEY_NEW_IP", severity: "MEDIUM", enabled: true, threshold: null, windowSeconds: null, customized: false },
      ]);

      const updated = ok(await server.gql<{ updateAlertRule: Record<string, unknown> }>(UPDATE_RULE, { org: org.id, rule: "DENIAL_BURST", input: { threshold: 3, windowSeconds: 120 } }, org.keys.admin));
      expect(updated.updateAlertRule).toEqual({ rule: "DENIAL_BURST", severity: "MEDIUM", enabled: true, threshold: 3, windowSeconds: 120, customized: true });
      ok(await server.gql(UPDATE_RULE, { org: org.id, rule: "FAILED_DELETE", input: { enabled: false } }, org.keys.admin));
      const change = await auditEntry(server, `"operation" = ? AND "organizationId" = ?`, ["Mutation.updateAlertRule", org.id]);
      expect(change).toMatchObject({ resource: "alertRule:FAILED_DELETE" });
      expect(JSON.parse(change.details)).toEqual({ changed: { enabled: [true, false] } });

      const mapping = await mappingIn(org);
      for (let i = 0; i < 3; i++) expect(errorCode(await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.viewer))).toBe("FORBIDDEN");
      const burst = await waitForAlert(server, org.id, "DENIAL_BURST");
      expect(burst.eventCount).toBe(3);
      expect(burst.description).toContain("within 120 s");
      await barrier();
      expect(await alertsFor(server, org.id, "FAILED_DELETE")).toHaveLength(0);

      // Back to the default with null; event rules have no threshold; viewers may not change rules.
      expect(ok(await server.gql<{ updateAlertRule: Record<string, unknown> }>(UPDATE_RULE, { org: org.id, rule: "DENIAL_BURST", input: { threshold: null } }, org.keys.admin)).updateAlertRule).toMatchObject({ threshold: 10, windowSeconds: 120 });
      const eventRule = await server.gql(UPDATE_RULE, { org: org.id, rule: "REFRESH_TOKEN_REUSE", input: { threshold: 2 } }, org.keys.admin);
      expect(errorCode(eventRule)).toBe("BAD_USER_INPUT");
      expect(eventRule.errors?.[0].message).toContain("REFRESH_TOKEN_REUSE is an event rule");
      expect(errorCode(await server.gql(UPDATE_RULE, { org: org.id, rule: "DENIAL_BURST", input: { threshold: 0 } }, org.keys.admin))).toBe("BAD_USER_INPUT");
      expect(errorCode(await server.gql(UPDATE_RULE, { org: org.id, rule: "DENIAL_BURST", input: { enabled: false } }, org.keys.viewer))).toBe("FORBIDDEN");
      expect(errorCode(await server.gql(RULES, { org: org.id }, org.keys.viewer))).toBe("FORBIDDEN");
    });
  });

  describe("reading and acknowledging", () => {
    test("viewers read their alerts; admins acknowledge (audited, idempotent); open alerts filter; a burst after acknowledgement raises a new alert", async () => {
      const org = await createOrgWithPrincipals(server);
      const adminId = await principalId(server, org.keys.admin);
      const mapping = await mappingIn(org);
      expect(errorCode(await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.developer))).toBe("FORBIDDEN");
      const alert = await waitForAlert(server, org.id, "FAILED_DELETE");

      expect((await alertsOf(server, org.keys.viewer)).map((a) => a.id)).toContain(alert.id);
      expect(errorCode(await server.gql(ACKNOWLEDGE, { id: alert.id }, org.keys.viewer))).toBe("FORBIDDEN");
      const acknowledged = ok(await server.gql<{ acknowledgeAlert: Alert }>(ACKNOWLEDGE, { id: alert.id }, org.keys.admin)).acknowledgeAlert;
      expect(acknowledged).toMatchObject({ id: alert.id, acknowledgedBy: adminId });
      expect(acknowledged.acknowledgedAt).not.toBeNull();
      const again = ok(await server.gql<{ acknowledgeAlert: Alert }>(ACKNOWLEDGE, { id: alert.id }, server.platformKey)).acknowledgeAlert;
      expect(again).toEqual(acknowledged);
      const platformId = await principalId(server, server.platformKey);
      const entries = await sql(server, `SELECT * FROM "audit_entry" WHERE "operation" = ? AND "resource" = ? ORDER BY "id"`, ["Mutation.acknowledgeAlert", `alert:${alert.id}`]);
      expect(entries.map((e) => ({ organizationId: e.organizationId, actorId: e.actorId, success: e.success === true || e.success === 1 }))).toEqual([
        { organizationId: org.id, actorId: adminId, success: true },
        { organizationId: org.id, actorId: platformId, success: true },
      ]);

      const open = await alertsOf(server, org.keys.viewer, { ack: false });
      expect(open.map((a) => a.id)).not.toContain(alert.id);
      expect((await alertsOf(server, org.keys.viewer, { ack: true })).map((a) => a.id)).toEqual([alert.id]);

      expect(errorCode(await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.developer))).toBe("FORBIDDEN");
      await eventually("a second FAILED_DELETE alert", async () => ((await alertsFor(server, org.id, "FAILED_DELETE")).length === 2 ? true : null));
    });

    test("alerts page newest first with opaque cursors", async () => {
      const org = await createOrgWithPrincipals(server);
      for (const group of ["p1", "p2", "p3"]) await createMapping(server, org.id, unique(group), "admin");
      await eventually("4 admin-grant alerts", async () => ((await alertsFor(server, org.id, "ADMIN_ROLE_GRANTED")).length >= 4 ? true : null));
      const all = await alertsOf(server, org.keys.viewer);
      const first = ok(await server.gql<{ alerts: { edges: Array<{ node: Alert }>; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(ALERTS, { first: 2 }, org.keys.viewer)).alerts;
      expect(first.pageInfo.hasNextPage).toBe(true);
      const rest = ok(await server.gql<{ alerts: { edges: Array<{ node: Alert }> } }>(ALERTS, { first: 100, after: first.pageInfo.endCursor }, org.keys.viewer)).alerts;
      expect([...first.edges, ...rest.edges].map((e) => e.node.id)).toEqual(all.map((a) => a.id));
      const times = all.map((a) => a.createdAt);
      expect([...times].sort().reverse()).toEqual(times);
      expect(errorCode(await server.gql(ALERTS, { after: "bm90LWEtY3Vyc29y" }, org.keys.viewer))).toBe("BAD_USER_INPUT");
    });

    test("acl-01 another organization's alert answers NOT_FOUND exactly like a missing one", async () => {
      const a = await createOrgWithPrincipals(server);
      const b = await createOrgWithPrincipals(server);
      const alert = await waitForAlert(server, a.id, "ADMIN_ROLE_GRANTED");
      const missing = randomUUID();

      const foreign = await server.gql(ACKNOWLEDGE, { id: alert.id }, b.keys.admin);
      const absent = await server.gql(ACKNOWLEDGE, { id: missing }, b.keys.admin);
      expect(errorCode(foreign)).toBe("NOT_FOUND");
      expect(foreign.errors?.[0].message).toBe(`Alert not found: ${alert.id}`);
      expect(absent.errors?.[0].message).toBe(`Alert not found: ${missing}`);
      expect(errorCode(await server.gql(ALERTS, { org: a.id }, b.keys.viewer))).toBe("NOT_FOUND");
      expect(errorCode(await server.gql(RULES, { org: a.id }, b.keys.admin))).toBe("NOT_FOUND");
      expect(errorCode(await server.gql(UPDATE_RULE, { org: a.id, rule: "DENIAL_BURST", input: { enabled: false } }, b.keys.admin))).toBe("NOT_FOUND");
      expect((await alertsOf(server, b.keys.viewer)).every((x) => x.organizationId === b.id)).toBe(true);
      expect((await alertsOf(server, server.platformKey, { org: a.id })).map((x) => x.id)).toContain(alert.id);
      const [row] = await sql(server, `SELECT "acknowledgedAt" FROM "alert" WHERE "id" = ?`, [alert.id]);
      expect(row.acknowledgedAt).toBeNull();
    });

    test("the request never waits for, or fails with, alert evaluation", async () => {
      const org = await createOrgWithPrincipals(server);
      const mapping = await mappingIn(org);
      await server.app.db.transaction((em) => em.query(`ALTER TABLE "alert" RENAME TO "alert_moved"`));
      try {
        const denied = await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.viewer);
        expect(errorCode(denied)).toBe("FORBIDDEN");
        expect(ok(await server.gql(`{ me { id } }`, {}, org.keys.viewer)).me.id).toBeTruthy();
      } finally {
        await server.app.db.transaction((em) => em.query(`ALTER TABLE "alert_moved" RENAME TO "alert"`));
      }
      await barrier();
    });
  });

  describe("webhooks", () => {
    interface Received {
      headers: IncomingMessage["headers"];
      body: string;
    }
    let receiver: Server;
    let received: Received[];
    let answers: number[];
    let hookUrl: string;

    beforeAll(async () => {
      received = [];
      answers = [];
      receiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (c: Buffer) => chunks.push(c));
        request.on("end", () => {
          received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
          response.statusCode = answers.shift() ?? 200;
          response.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
      hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    });
    afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

    const CREATE = `mutation($input: CreateAlertWebhookInput!) { createAlertWebhook(input: $input) { secret webhook { id organizationId url createdAt recentDeliveries { id } } } }`;
    const LIST = `query($org: ID!) { alertWebhooks(organizationId: $org) { id url recentDeliveries { id alertId status attempts lastStatusCode lastError deliveredAt } } }`;

    test("aud-02 a signed POST reaches the receiver, is retried after a 500, and the delivery log shows it; the secret is shown once and stored sealed", async () => {
      const org = await createOrgWithPrincipals(server);
      const created = ok(await server.gql<{ createAlertWebhook: { secret: string; webhook: { id: string; url: string } } }>(CREATE, { input: { organizationId: org.id, url: hookUrl } }, org.keys.admin)).createAlertWebhook;
      const { secret, webhook } = created;
      expect(secret).toMatch(/^rbac_whsec_[A-Za-z0-9_-]{43}$/);
      expect(webhook.url).toBe(hookUrl);

      answers.push(500);
      const start = received.length;
      const mapping = await mappingIn(org);
      expect(errorCode(await server.gql(DELETE_MAPPING, { id: mapping }, org.keys.viewer))).toBe("FORBIDDEN");
      const alert = await waitForAlert(server, org.id, "FAILED_DELETE");
      await eventually("two delivery attempts", async () => received.length - start >= 2);

      const [failed, retried] = received.slice(start);
      for (const attempt of [failed, retried]) {
        expect(attempt.headers["content-type"]).toBe("application/json");
        expect(verifySignature(secret, attempt.headers["x-rbac-signature"] as string, attempt.body)).toBe(true);
        expect(verifySignature("not-the-secret", attempt.headers["x-rbac-signature"] as string, attempt.body)).toBe(false);
      }
      expect(retried.headers["x-rbac-delivery"]).toBe(failed.headers["x-rbac-delivery"]);
      const payload = JSON.parse(retried.body);
      expect(payload).toMatchObject({ type: "alert.raised", deliveryId: retried.headers["x-rbac-delivery"], alert: { id: alert.id, organizationId: org.id, rule: "FAILED_DELETE", severity: "MEDIUM" } });

      const listed = await eventually("the delivery marked DELIVERED", async () => {
        const hooks = ok(await server.gql<{ alertWebhooks: Array<Record<string, any>> }>(LIST, { org: org.id }, org.keys.admin)).alertWebhooks;
        return hooks[0]?.recentDeliveries[0]?.status === "DELIVERED" ? hooks : null;
      });
      expect(listed).toHaveLength(1);
      expect(listed[0].recentDeliveries[0]).toMatchObject({ id: retried.headers["x-rbac-delivery"], alertId: alert.id, attempts: 2, lastStatusCode: 200, lastError: null });
      expect(JSON.stringify(listed)).not.toContain(secret);

      // Stored only sealed; never in the audit trail.
      const [row] = await sql(server, `SELECT "secretSealed" FROM "alert_webhook" WHERE "id" = ?`, [webhook.id]);
      expect(row.secretSealed).toMatch(/^v1\./);
      expect(row.secretSealed).not.toContain(secret.slice("rbac_whsec_".length));
      const leaks = await sql(server, `SELECT COUNT(*) AS "n" FROM "audit_entry" WHERE "details" LIKE ? OR "resource" LIKE ? OR "reason" LIKE ?`, [`%${secret}%`, `%${secret}%`, `%${secret}%`]);
      expect(Number(leaks[0].n)).toBe(0);
      const createdEntry = await auditEntry(server, `"operation" = ? AND "organizationId" = ?`, ["Mutation.createAlertWebhook", org.id]);
      expect(JSON.parse(createdEntry.details)).toEqual({ created: { host: new URL(hookUrl).host } });
    });

    test("webhook management: admin only, delete needs delete, URLs checked, other organizations' webhooks are NOT_FOUND", async () => {
      const org = await createOrgWithPrincipals(server);
      const other = await createOrgWithPrincipals(server);
      expect(errorCode(await server.gql(CREATE, { input: { organizationId: org.id, url: hookUrl } }, org.keys.developer))).toBe("FORBIDDEN");
      expect(errorCode(await server.gql(CREATE, { input: { organizationId: org.id, url: "ftp://127.0.0.1/x" } }, org.keys.admin))).toBe("BAD_USER_INPUT");
      expect(errorCode(await server.gql(CREATE, { input: { organizationId: org.id, url: "http://alerts.example.com/hook" } }, org.keys.admin))).toBe("BAD_USER_INPUT");
      expect(errorCode(await server.gql(CREATE, { input: { organizationId: org.id, url: "https://user:pw@alerts.example.com/hook" } }, org.keys.admin))).toBe("BAD_USER_INPUT");
      expect(errorCode(await server.gql(CREATE, { input: { organizationId: other.id, url: hookUrl } }, org.keys.admin))).toBe("NOT_FOUND");
      const id = ok(await server.gql<{ createAlertWebhook: { webhook: { id: string } } }>(CREATE, { input: { organizationId: org.id, url: "https://alerts.example.com/hook" } }, org.keys.admin)).createAlertWebhook.webhook.id;

      expect(errorCode(await server.gql(LIST, { org: org.id }, org.keys.viewer))).toBe("FORBIDDEN");
      expect(errorCode(await server.gql(LIST, { org: org.id }, other.keys.admin))).toBe("NOT_FOUND");
      const remove = `mutation($id: ID!) { deleteAlertWebhook(id: $id) }`;
      expect(errorCode(await server.gql(remove, { id }, org.keys.developer))).toBe("FORBIDDEN");
      const foreign = await server.gql(remove, { id }, other.keys.admin);
      expect(foreign.errors?.[0]).toMatchObject({ message: `Alert webhook not found: ${id}`, extensions: { code: "NOT_FOUND" } });
      expect(ok(await server.gql<{ deleteAlertWebhook: boolean }>(remove, { id }, org.keys.admin)).deleteAlertWebhook).toBe(true);
      expect(ok(await server.gql<{ alertWebhooks: unknown[] }>(LIST, { org: org.id }, org.keys.admin)).alertWebhooks).toEqual([]);
    });
  });

  describe("live: alertRaised over graphql-ws", () => {
    interface Subscriber {
      client: Client;
      events: Alert[];
      errors: unknown[];
      close(): Promise<void>;
    }

    const wsUrl = () => `${server.url.replace(/^http/, "ws")}`;

    function subscribe(key: string | null, variables: Record<string, unknown> = {}, authorization = key ? `Bearer ${key}` : undefined): Subscriber {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        connectionParams: authorization ? { authorization } : undefined,
        lazy: true,
        retryAttempts: 0,
      });
      const events: Alert[] = [];
      const errors: unknown[] = [];
      const dispose = client.subscribe<{ alertRaised: Alert }>(
        { query: ALERT_RAISED, variables },
        {
          next: (result) => {
            if (result.errors) errors.push(result.errors);
            if (result.data) events.push(result.data.alertRaised);
          },
          error: (error) => errors.push(error),
          complete: () => undefined,
        },
      );
      return {
        client,
        events,
        errors,
        close: async () => {
          dispose();
          await client.dispose();
        },
      };
    }

    /** The subscription's own audit entry is written before it starts: wait for it. */
    async function started(actorId: string, before: number): Promise<void> {
      await eventually("the subscription to start", async () => {
        const [row] = await sql(server, `SELECT COUNT(*) AS "n" FROM "audit_entry" WHERE "operation" = ? AND "actorId" = ? AND "success" = ?`, ["Subscription.alertRaised", actorId, true]);
        return Number(row.n) > before;
      });
      await sleep(50);
    }

    const subscriptionsOf = async (actorId: string) =>
      Number((await sql(server, `SELECT COUNT(*) AS "n" FROM "audit_entry" WHERE "operation" = ? AND "actorId" = ? AND "success" = ?`, ["Subscription.alertRaised", actorId, true]))[0].n);

    test("each subscriber receives its own organization's alerts only; the platform may follow one organization", async () => {
      const a = await createOrgWithPrincipals(server);
      const b = await createOrgWithPrincipals(server);
      const [aViewer, bAdmin] = [await principalId(server, a.keys.viewer), await principalId(server, b.keys.admin)];
      const platformId = await principalId(server, server.platformKey);
      const counts = [await subscriptionsOf(aViewer), await subscriptionsOf(bAdmin), await subscriptionsOf(platformId)];
      const subA = subscribe(a.keys.viewer);
      const subB = subscribe(b.keys.admin);
      const platformOnA = subscribe(server.platformKey, { org: a.id });
      try {
        await started(aViewer, counts[0]);
        await started(bAdmin, counts[1]);
        await started(platformId, counts[2]);

        const [mappingA, mappingB] = [await mappingIn(a), await mappingIn(b)];
        expect(errorCode(await server.gql(DELETE_MAPPING, { id: mappingA }, a.keys.developer))).toBe("FORBIDDEN");
        const alertA = await waitForAlert(server, a.id, "FAILED_DELETE");
        expect(errorCode(await server.gql(DELETE_MAPPING, { id: mappingB }, b.keys.developer))).toBe("FORBIDDEN");
        const alertB = await waitForAlert(server, b.id, "FAILED_DELETE");
        const group = unique("last");
        await createMapping(server, a.id, group, "admin");
        const lastA = await waitForAlert(server, a.id, "ADMIN_ROLE_GRANTED", (x) => x.description.includes(group));

        await eventually("A's subscriber to get both of A's alerts", async () => subA.events.some((e) => e.id === lastA.id));
        await eventually("B's subscriber to get B's alert", async () => subB.events.some((e) => e.id === alertB.id));
        await eventually("the platform to get A's last alert", async () => platformOnA.events.some((e) => e.id === lastA.id));
        expect(subA.events.map((e) => e.id)).toEqual(expect.arrayContaining([alertA.id, lastA.id]));
        expect(subA.events.find((e) => e.id === alertA.id)).toEqual(alertA);
        expect(subA.events.every((e) => e.organizationId === a.id)).toBe(true);
        expect(subB.events.every((e) => e.organizationId === b.id)).toBe(true);
        expect(platformOnA.events.every((e) => e.organizationId === a.id)).toBe(true);
        expect([...subA.errors, ...subB.errors, ...platformOnA.errors]).toEqual([]);
      } finally {
        await Promise.all([subA.close(), subB.close(), platformOnA.close()]);
      }
    });

    test("a missing or invalid credential is refused at connection (4403); another organization answers NOT_FOUND; each refusal is audited", async () => {
      const a = await createOrgWithPrincipals(server);
      const b = await createOrgWithPrincipals(server);
      const refusedBefore = Number((await sql(server, `SELECT COUNT(*) AS "n" FROM "audit_entry" WHERE "operation" = ? AND "success" = ?`, ["Subscription.connect", false]))[0].n);

      for (const sub of [subscribe(null), subscribe(null, {}, `Bearer rbac_sk_${randomBytes(32).toString("base64url")}`), subscribe(null, {}, "Basic dXNlcjpwdw==")]) {
        try {
          const error = await eventually("the refusal", async () => sub.errors[0] as { code?: number } | undefined);
          expect(error.code).toBe(4403);
          expect(sub.events).toEqual([]);
        } finally {
          await sub.close();
        }
      }
      const refusedAfter = Number((await sql(server, `SELECT COUNT(*) AS "n" FROM "audit_entry" WHERE "operation" = ? AND "success" = ?`, ["Subscription.connect", false]))[0].n);
      expect(refusedAfter - refusedBefore).toBe(3);

      const foreign = subscribe(a.keys.viewer, { org: b.id });
      try {
        const errors = await eventually("the NOT_FOUND", async () => foreign.errors[0] as Array<{ message: string; extensions: { code: string } }> | undefined);
        expect(errors).toEqual([expect.objectContaining({ message: `Organization not found: ${b.id}`, extensions: { code: "NOT_FOUND" } })]);
      } finally {
        await foreign.close();
      }
      const viewerId = await principalId(server, a.keys.viewer);
      const entry = await auditEntry(server, `"operation" = ? AND "actorId" = ?`, ["Subscription.alertRaised", viewerId]);
      expect(entry).toMatchObject({ organizationId: a.id, resource: `organization:${b.id}`, reason: `NOT_FOUND: Organization not found: ${b.id}` });
      expect([false, 0]).toContain(entry.success);
    });

    test("tok-10 a revoked key ends its subscription at the next event (credentials are re-checked at most every 5 s)", async () => {
      const org = await createOrganization(server);
      const { id, apiKey } = await createServiceAccount(server, org.id, "viewer");
      const before = await subscriptionsOf(id);
      const sub = subscribe(apiKey);
      try {
        await started(id, before);
        ok(await server.gql(`mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`, { id }));
        await sleep(5_300); // past the re-check interval, so the next event checks the key again
        await createMapping(server, org.id, unique("after-revocation"), "admin");
        const errors = await eventually("the subscription to end", async () => sub.errors[0] as Array<{ extensions: { code: string } }> | undefined);
        expect(errors).toEqual([expect.objectContaining({ extensions: { code: "UNAUTHENTICATED" } })]);
        expect(sub.events).toEqual([]);
      } finally {
        await sub.close();
      }
    });

    test("the subscription's permission matrix: READ in the organization (every role), any valid credential of it, nothing for anonymous callers", async () => {
      const org = await createOrgWithPrincipals(server);
      const keys: Record<string, string> = { platform: server.platformKey, ...org.keys };
      for (const [name, key] of Object.entries(keys)) {
        const id = await principalId(server, key);
        const before = await subscriptionsOf(id);
        const sub = subscribe(key, name === "platform" ? {} : { org: org.id });
        try {
          await started(id, before);
          expect({ name, errors: sub.errors }).toEqual({ name, errors: [] });
        } finally {
          await sub.close();
        }
      }
    });

    test("only subscriptions go over WebSocket, and a subscription sent over HTTP is refused", async () => {
      const org = await createOrgWithPrincipals(server);
      const client = createClient({ url: wsUrl(), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${org.keys.admin}` }, lazy: true, retryAttempts: 0 });
      try {
        const errors: unknown[] = [];
        await new Promise<void>((resolve) => client.subscribe({ query: `{ me { id } }` }, { next: () => undefined, error: (e) => (errors.push(e), resolve()), complete: resolve }));
        expect(errors).toEqual([[expect.objectContaining({ extensions: { code: "BAD_USER_INPUT", field: "operation" } })]]);
      } finally {
        await client.dispose();
      }
      const overHttp = await server.gql(ALERT_RAISED, {}, org.keys.admin);
      expect(overHttp.status).toBe(400);
      expect(errorCode(overHttp)).toBe("BAD_USER_INPUT");
      expect(overHttp.errors?.[0].message).toContain("WebSocket");
    });
  });
});
