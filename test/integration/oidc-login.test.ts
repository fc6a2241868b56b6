/**
 * The OIDC relying party against real peers: oidc-provider 9 (real codes, real RS256 ID tokens,
 * UserInfo, key rotation) and a forging IdP whose token endpoint serves the ID tokens oidc-provider
 * will not produce (both in test/support/oidc-idp.mjs, a child process). The validator is always
 * the service's own (openid-client + our checks); nothing is stubbed.
 *
 * Every rejected login: exactly one audit entry with the reason, and no code / no session.
 */
import { createHash, randomBytes } from "node:crypto";
import { Browser } from "../support/browser";
import { DATABASES } from "../support/databases";
import { createMapping, createOrganization } from "../support/fixtures";
import { startTestIdps, type TestIdps } from "../support/oidc-idp-process";
import { ok, startServer, type TestServer } from "../support/server";

const FRONTEND = "http://127.0.0.1:9/app/callback";
const isFrontend = (url: URL) => url.href.startsWith("http://127.0.0.1:9/");

let idps: TestIdps;
/** Clients registered at each IdP (the admin API replaces the whole list). */
const registered = new Map<string, Array<Record<string, unknown>>>();

beforeAll(async () => {
  idps = await startTestIdps();
});
afterAll(() => idps?.stop());

describe.each(DATABASES)("OIDC relying party on $name", (kind) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startServer(kind);
    base = server.url.replace(/\/graphql$/, "");
  });
  afterAll(() => server.stop());
  beforeEach(async () => {
    await idps.admin(idps.forge, "/__admin/scenario", {});
  });

  // ------------------------------------------------------------ helpers

  async function setupOrg(): Promise<string> {
    const org = await createOrganization(server, { ssoEnabled: true, allowedRedirectUrls: [FRONTEND] });
    await createMapping(server, org.id, "Engineering", "developer");
    return org.id;
  }

  async function addConnection(organizationId: string, issuer: string, input: Record<string, unknown> = {}): Promise<{ id: string; clientId: string; secret: string; callback: string }> {
    const clientId = `rp-${randomBytes(6).toString("hex")}`;
    const secret = `secret-${randomBytes(16).toString("hex")}`;
    const created = ok(
      await server.gql<{ createOidcConnection: { id: string } }>(`mutation($i: CreateOidcConnectionInput!) { createOidcConnection(input: $i) { id } }`, {
        i: { organizationId, issuer, clientId, clientSecret: secret, ...input },
      }),
    );
    const id = created.createOidcConnection.id;
    const callback = `${base}/auth/oidc/${id}/callback`;
    ok(await server.gql(`mutation($id: ID!, $i: UpdateOidcConnectionInput!) { updateOidcConnection(id: $id, input: $i) { id } }`, { id, i: { redirectUri: callback } }));
    const clients = registered.get(issuer) ?? [];
    clients.push({ client_id: clientId, client_secret: secret, redirect_uris: [callback], grant_types: ["authorization_code"], response_types: ["code"] });
    registered.set(issuer, clients);
    await idps.admin(issuer, "/__admin/clients", { clients });
    return { id, clientId, secret, callback };
  }

  function loginUrl(connectionId: string, params: Record<string, string> = {}): string {
    return `${base}/auth/oidc/${connectionId}/login?${new URLSearchParams({ redirect_uri: FRONTEND, ...params })}`;
  }

  const isCallback = (connectionId: string) => (url: URL) => url.href.startsWith(`${base}/auth/oidc/${connectionId}/callback`);

  async function asPerson(sub: string, claims: Record<string, unknown> = {}): Promise<void> {
    await idps.admin(idps.real, "/__admin/account", { sub, claims: { email: `${sub}@acme.test`, email_verified: true, name: sub, groups: ["Engineering"], ...claims } });
  }

  async function forgeScenario(scenario: Record<string, unknown>): Promise<void> {
    await idps.admin(idps.forge, "/__admin/scenario", scenario);
  }

  /** A whole login in a fresh browser; the frontend URL with our one-time code, or the refusal. */
  async function login(connectionId: string, browser = new Browser(), params: Record<string, string> = {}) {
    const end = await browser.follow(loginUrl(connectionId, params), isFrontend);
    if (!end.response) return { frontendUrl: new URL(end.url), status: 302, body: null as null | { error: string; message: string } };
    return { frontendUrl: null, status: end.response.status, body: (await end.response.json()) as { error: string; message: string } };
  }

  /** Runs the login up to the IdP's redirect back to us; returns the callback URL (not yet fetched). */
  async function untilCallback(connectionId: string, browser: Browser): Promise<URL> {
    const end = await browser.follow(loginUrl(connectionId), isCallback(connectionId));
    if (end.response) throw new Error(`login stopped early: ${end.response.status} ${await end.response.text()}`);
    return new URL(end.url);
  }

  async function callback(browser: Browser, url: URL | string) {
    const response = await browser.get(String(url));
    const location = response.headers.get("location");
    if (response.status === 302 && location) return { status: 302, location, body: null };
    return { status: response.status, location: null, body: (await response.json()) as { error: string; message: string } };
  }

  async function count(table: string, organizationId: string): Promise<number> {
    const row = await server.app.db.manager.createQueryBuilder().select("COUNT(*)", "n").from(table, "t").where(`t."organizationId" = :organizationId`, { organizationId }).getRawOne();
    return Number(row.n);
  }

  async function loginAudits(organizationId: string): Promise<Array<{ success: boolean; reason: string | null; operation: string }>> {
    const rows = await server.app.db.manager
      .createQueryBuilder()
      .select(["t.success AS success", "t.reason AS reason", "t.operation AS operation"])
      .from("audit_entry", "t")
      .where(`t."organizationId" = :organizationId AND t.operation LIKE 'Auth.login.%'`, { organizationId })
      .orderBy("t.id", "ASC")
      .getRawMany();
    return rows.map((r) => ({ ...r, success: r.success === true || r.success === 1 }));
  }

  /**
   * Runs `attempt`, which must be refused: exactly one new login audit entry, a failure naming
   * `reason`, and no authorization code, session or user created.
   */
  async function expectRefused<T>(organizationId: string, reason: RegExp, attempt: () => Promise<T>): Promise<T> {
    const before = { audits: (await loginAudits(organizationId)).length, codes: await count("authorization_code", organizationId), sessions: await count("session", organizationId), users: await count("app_user", organizationId) };
    const result = await attempt();
    await server.app.db.ping();
    const audits = await loginAudits(organizationId);
    expect(audits.length - before.audits).toBe(1);
    const entry = audits[audits.length - 1];
    expect(entry.success).toBe(false);
    expect(entry.operation).toBe("Auth.login.oidc");
    expect(entry.reason).toMatch(reason);
    expect(await count("authorization_code", organizationId)).toBe(before.codes);
    expect(await count("session", organizationId)).toBe(before.sessions);
    expect(await count("app_user", organizationId)).toBe(before.users);
    return result;
  }

  async function exchange(frontendUrl: URL, verifier?: string): Promise<{ access_token: string }> {
    const response = await fetch(`${base}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: frontendUrl.searchParams.get("code")!, redirect_uri: FRONTEND, ...(verifier ? { code_verifier: verifier } : {}) }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { access_token: string };
  }

  const refusedWith = (result: { status: number; body: { error: string; message: string } | null }, status: number, code: string, message: RegExp) => {
    expect(result.status).toBe(status);
    expect(result.body?.error).toBe(code);
    expect(result.body?.message).toMatch(message);
  };

  // ------------------------------------------------------------ happy paths

  test("a person logs in through oidc-provider: one-time code, tokens, role from IdP groups", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("alice", { groups: ["Engineering", "Other"] });
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const before = await idps.stats(idps.real);

    const result = await login(connection.id, new Browser(), { code_challenge: challenge, code_challenge_method: "S256", state: "frontend-state" });

    expect(result.status).toBe(302);
    expect(result.frontendUrl!.searchParams.get("state")).toBe("frontend-state");
    expect(result.frontendUrl!.searchParams.get("code")).toBeTruthy();
    const after = await idps.stats(idps.real);
    expect(after.token - before.token).toBe(1);
    expect(after.userinfo - before.userinfo).toBe(1); // oidc-provider keeps scope claims in UserInfo
    const tokens = await exchange(result.frontendUrl!, verifier);
    const me = ok(await server.gql<{ me: { kind: string; role: { key: string }; groups: string[] } }>(`{ me { kind role { key } groups } }`, {}, tokens.access_token));
    expect(me.me).toEqual({ kind: "USER", role: { key: "developer" }, groups: ["Engineering", "Other"] });
    const audits = await loginAudits(orgId);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ success: true, operation: "Auth.login.oidc" });
  });

  test("connections: the secret is write-only and never in the audit trail; testOidcConnection runs discovery", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real, { scopes: "openid email profile", groupsClaim: "groups" });
    const listed = ok(await server.gql<{ oidcConnections: Array<Record<string, unknown>> }>(`query($o: ID!) { oidcConnections(organizationId: $o) { id issuer clientId hasClientSecret clientAuthMethod redirectUri loginUrl scopes groupsClaim maxIdTokenAgeSeconds maxAuthAgeSeconds } }`, { o: orgId }));
    expect(listed.oidcConnections).toEqual([
      {
        id: connection.id,
        issuer: idps.real,
        clientId: connection.clientId,
        hasClientSecret: true,
        clientAuthMethod: "CLIENT_SECRET_BASIC",
        redirectUri: connection.callback,
        loginUrl: expect.stringMatching(new RegExp(`/auth/oidc/${connection.id}/login$`)),
        scopes: "openid email profile",
        groupsClaim: "groups",
        maxIdTokenAgeSeconds: 300,
        maxAuthAgeSeconds: null,
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain(connection.secret);
    const test = ok(await server.gql<{ testOidcConnection: { ok: boolean; problems: string[] } }>(`query($id: ID!) { testOidcConnection(id: $id) { ok problems } }`, { id: connection.id }));
    expect(test.testOidcConnection).toEqual({ ok: true, problems: [] });

    // absent secret = unchanged; the audit entry names what changed, never the value
    const newSecret = `rotated-${randomBytes(12).toString("hex")}`;
    ok(await server.gql(`mutation($id: ID!) { updateOidcConnection(id: $id, input: { scopes: "openid email" }) { id } }`, { id: connection.id }));
    ok(await server.gql(`mutation($id: ID!, $s: String!) { updateOidcConnection(id: $id, input: { clientSecret: $s }) { hasClientSecret } }`, { id: connection.id, s: newSecret }));
    const stored = await server.app.db.manager.query(`SELECT "clientSecretSealed" FROM "oidc_connection"`);
    expect(JSON.stringify(stored)).not.toContain(newSecret);
    expect(JSON.stringify(stored)).not.toContain(connection.secret);
    const audit = await server.app.db.manager.query(`SELECT "resource", "reason" FROM "audit_entry" WHERE "operation" LIKE '%OidcConnection'`);
    expect(JSON.stringify(audit)).not.toContain(newSecret);
    expect(JSON.stringify(audit)).not.toContain(connection.secret);
    expect(audit.map((a: { resource: string }) => a.resource)).toEqual(
      expect.arrayContaining([`oidcConnection:${connection.id} changed: scopes`, `oidcConnection:${connection.id} changed: clientSecret`]),
    );
  });

  test("ssoEnabled false → SSO_DISABLED at login start, audited once", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { ssoEnabled: false }) { id } }`, { id: orgId }));
    const result = await expectRefused(orgId, /SSO_DISABLED/, () => login(connection.id));
    refusedWith(result, 403, "SSO_DISABLED", /SSO is disabled/);
  });

  test("a frontend redirect_uri that is not allowed → SSO_CALLBACK_MISMATCH naming both URLs", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    const result = await expectRefused(orgId, /SSO_CALLBACK_MISMATCH/, async () => {
      const response = await new Browser().get(`${base}/auth/oidc/${connection.id}/login?redirect_uri=${encodeURIComponent("https://evil.example/steal")}`);
      return { status: response.status, body: (await response.json()) as { error: string; message: string } };
    });
    refusedWith(result, 400, "SSO_CALLBACK_MISMATCH", /expected one of \[http:\/\/127\.0\.0\.1:9\/app\/callback\], got https:\/\/evil\.example\/steal/);
  });

  // ------------------------------------------------------------ oidc-01 state

  test("oidc-01 a callback without state is rejected before the token call", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("bob");
    const browser = new Browser();
    const url = await untilCallback(connection.id, browser);
    url.searchParams.delete("state");
    const before = await idps.stats(idps.real);
    const result = await expectRefused(orgId, /no state parameter/, () => callback(browser, url));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", /no state parameter/);
    expect((await idps.stats(idps.real)).token).toBe(before.token);
  });

  test("oidc-01 a wrong state is rejected before the token call", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("carol");
    const browser = new Browser();
    const url = await untilCallback(connection.id, browser);
    url.searchParams.set("state", randomBytes(32).toString("base64url"));
    const before = await idps.stats(idps.real);
    const result = await expectRefused(orgId, /unknown state/, () => callback(browser, url));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", /unknown state/);
    expect((await idps.stats(idps.real)).token).toBe(before.token);
  });

  test("oidc-01 the state is bound to the browser that started the login", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("dave");
    const victim = new Browser();
    const url = await untilCallback(connection.id, victim);
    const before = await idps.stats(idps.real);

    // Another browser (no binding cookie, then a forged one) presenting the victim's callback URL.
    const attacker = new Browser();
    const first = await expectRefused(orgId, /another browser/, () => callback(attacker, url));
    refusedWith(first, 400, "SSO_LOGIN_FAILED", /issued to another browser/);
    attacker.setCookie("127.0.0.1", "rbac_oidc_browser", randomBytes(32).toString("base64url"), "/auth/oidc");
    await expectRefused(orgId, /another browser/, () => callback(attacker, url));
    expect((await idps.stats(idps.real)).token).toBe(before.token);

    // The attempts did not consume the login: the right browser still completes it.
    const result = await callback(victim, url);
    expect(result.status).toBe(302);
    expect(result.location).toMatch(/^http:\/\/127\.0\.0\.1:9\/app\/callback\?code=/);
  });

  test("oidc-01 the binding cookie is HttpOnly, SameSite=Lax and limited to /auth/oidc", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    const response = await new Browser().get(loginUrl(connection.id));
    expect(response.status).toBe(302);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith("rbac_oidc_browser="))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/auth\/oidc/);
    expect(cookie).toMatch(/Max-Age=600/);
    // only its hash is stored
    const value = cookie.split(";")[0].split("=")[1];
    const rows = await server.app.db.manager.query(`SELECT "browserHash" FROM "oidc_transaction"`);
    expect(JSON.stringify(rows)).not.toContain(value);
    expect(rows.map((r: { browserHash: string }) => r.browserHash)).toContain(createHash("sha256").update(value).digest("hex"));
  });

  // ------------------------------------------------------------ oidc-02 nonce

  test.each([
    ["wrong", { nonce: "not-the-nonce-we-sent" }],
    ["missing", { nonce: null }],
  ])("oidc-02 an ID token with a %s nonce is rejected", async (_label, claims) => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    await forgeScenario({ claims });
    const result = await expectRefused(orgId, /nonce/, () => login(connection.id));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", /nonce/);
  });

  // ------------------------------------------------------------ oidc-03 PKCE, replay

  test("oidc-03 every authorization request carries PKCE S256 (and the IdP verifies it)", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    const challenges = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const response = await new Browser().get(loginUrl(connection.id));
      const authorize = new URL(response.headers.get("location")!);
      expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
      expect(authorize.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(authorize.searchParams.get("nonce")).toBeTruthy();
      challenges.add(authorize.searchParams.get("code_challenge")!);
    }
    expect(challenges.size).toBe(2);
    // The forging IdP checks code_verifier against code_challenge at its token endpoint.
    expect((await login(connection.id)).status).toBe(302);
    // The verifier is stored sealed only.
    const rows = await server.app.db.manager.query(`SELECT "codeVerifierSealed" FROM "oidc_transaction"`);
    for (const row of rows as Array<{ codeVerifierSealed: string }>) expect(row.codeVerifierSealed).toMatch(/^v1\./);
  });

  test("oidc-03 a replayed callback is rejected: the transaction is consumed", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("erin");
    const browser = new Browser();
    const url = await untilCallback(connection.id, browser);
    const first = await callback(browser, url);
    expect(first.status).toBe(302);
    const before = await idps.stats(idps.real);
    const replay = await expectRefused(orgId, /already used/, () => callback(browser, url));
    refusedWith(replay, 400, "SSO_LOGIN_FAILED", /already used \(replayed callback\)/);
    expect((await idps.stats(idps.real)).token).toBe(before.token);
  });

  test("oidc-03 two concurrent callbacks with one state: exactly one proceeds", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("frank");
    const browser = new Browser();
    const url = await untilCallback(connection.id, browser);
    const results = await Promise.all([callback(browser, url), callback(browser, url), callback(browser, url)]);
    expect(results.filter((r) => r.status === 302)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 302);
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(r.body?.message).toMatch(/already used/);
    const audits = await loginAudits(orgId);
    expect(audits.filter((a) => a.success)).toHaveLength(1);
    expect(audits.filter((a) => !a.success)).toHaveLength(2);
  });

  // ------------------------------------------------------------ oidc-04 mix-up

  test.each([
    ["wrong", "wrong", /issuer mismatch in the callback \(RFC 9207\): expected http:\/\/127\.0\.0\.1:\d+, got https:\/\/attacker\.example/],
    ["missing", "omit", /no iss parameter although .* advertises it/],
  ])("oidc-04 a %s RFC 9207 iss parameter is rejected before the token call", async (_label, issParam, message) => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    await forgeScenario({ issParam });
    const before = await idps.stats(idps.forge);
    const result = await expectRefused(orgId, message, () => login(connection.id));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", message);
    expect((await idps.stats(idps.forge)).token).toBe(before.token);
  });

  test("oidc-04 organization A's callback with organization B's state is rejected", async () => {
    const orgA = await setupOrg();
    const orgB = await setupOrg();
    const connectionA = await addConnection(orgA, idps.forge);
    const connectionB = await addConnection(orgB, idps.forge);
    const browser = new Browser();
    const urlB = await untilCallback(connectionB.id, browser);
    const onA = new URL(`${base}/auth/oidc/${connectionA.id}/callback${urlB.search}`);
    const before = await idps.stats(idps.forge);
    const result = await expectRefused(orgA, /another connection/, () => callback(browser, onA));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", /belongs to a login started with another connection/);
    expect((await idps.stats(idps.forge)).token).toBe(before.token);
    // and the stolen transaction is spent: B's own callback cannot use it any more
    await expectRefused(orgB, /already used/, () => callback(browser, urlB));
  });

  test("oidc-04 a discovery document naming another issuer is rejected", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    await forgeScenario({ metadata: { issuer: "https://impostor.example" } });
    const result = await expectRefused(orgId, /discovery/, () => login(connection.id));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", /discovery of http:\/\/127\.0\.0\.1:\d+ failed/);
    const test = ok(await server.gql<{ testOidcConnection: { ok: boolean; problems: string[] } }>(`query($id: ID!) { testOidcConnection(id: $id) { ok problems } }`, { id: connection.id }));
    expect(test.testOidcConnection.ok).toBe(false);
    expect(test.testOidcConnection.problems.join("\n")).toMatch(/discovery of .* failed/);
  });

  // ------------------------------------------------------------ oidc-05 ID token claims

  const now = () => Math.floor(Date.now() / 1000);
  const claimCases: Array<[string, (clientId: string) => Record<string, unknown>, RegExp]> = [
    ["wrong iss", () => ({ iss: "https://attacker.example" }), /iss/],
    ["wrong aud", () => ({ aud: "someone-else" }), /aud/],
    ["an extra untrusted aud (with azp = client)", (clientId) => ({ aud: [clientId, "someone-else"], azp: clientId }), /untrusted extra audiences/],
    ["azp ≠ client with several aud", (clientId) => ({ aud: [clientId, "someone-else"], azp: "someone-else" }), /azp/],
    ["azp ≠ client with a single aud", () => ({ azp: "someone-else" }), /azp \(authorized party\) "someone-else" is not our client_id/],
    ["an expired exp", () => ({ exp: now() - 120, iat: now() - 200 }), /exp|timestamp/],
    ["a stale iat", () => ({ iat: now() - 3600 }), /too old: issued \d+ s ago, at most 300 s allowed/],
    ["an iat in the future", () => ({ iat: now() + 600 }), /future/],
    ["no sub", () => ({ sub: null }), /sub/],
  ];
  test.each(claimCases)("oidc-05 an ID token with %s is rejected", async (_label, claims, reason) => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    await forgeScenario({ claims: claims(connection.clientId) });
    const result = await expectRefused(orgId, reason, () => login(connection.id));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", reason);
  });

  test("oidc-05 a stale auth_time is rejected when the connection bounds it (max_age sent)", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge, { maxAuthAgeSeconds: 600 });
    const response = await new Browser().get(loginUrl(connection.id));
    expect(new URL(response.headers.get("location")!).searchParams.get("max_age")).toBe("600");
    await forgeScenario({ claims: { auth_time: now() - 3600 } });
    const result = await expectRefused(orgId, /auth_time|authenticat/, () => login(connection.id));
    expect(result.status).toBe(400);
  });

  // ------------------------------------------------------------ oidc-06 signatures

  const signatureCases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["alg none (even when the IdP advertises it)", { sign: "none", metadata: { id_token_signing_alg_values_supported: ["RS256", "none"] } }, /none|alg|unsupported/i],
    ["a bad RS256 signature", { sign: "bad-signature" }, /signature/i],
    ["HS256 keyed with the IdP's public key (even when advertised)", { sign: "hs256-public-key", metadata: { id_token_signing_alg_values_supported: ["RS256", "HS256"] } }, /HS256|alg|unsupported/i],
  ];
  test.each(signatureCases)("oidc-06 an ID token with %s is rejected", async (_label, scenario, reason) => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    await forgeScenario(scenario);
    const result = await expectRefused(orgId, reason, () => login(connection.id));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", reason);
  });

  // ------------------------------------------------------------ oidc-07 key rotation

  test("oidc-07 the IdP rotates its signing key: the very next login still works", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.real);
    await asPerson("grace");
    expect((await login(connection.id)).status).toBe(302); // JWKS fetched and cached (openid-client would keep it 60 s)
    const before = await idps.stats(idps.real);
    const rotated = await idps.admin<{ kid: string; kids: string[] }>(idps.real, "/__admin/rotate", { keepOld: false });
    expect(rotated.kids).toEqual([rotated.kid]); // the old key is gone from the JWKS

    const result = await login(connection.id);

    expect(result.status).toBe(302);
    expect((await idps.stats(idps.real)).jwks - before.jwks).toBe(1); // refetched exactly once
  });

  test("oidc-07 a flood of unknown kids does not refetch the JWKS faster than the cooldown", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    expect((await login(connection.id)).status).toBe(302); // JWKS cached
    const before = await idps.stats(idps.forge);
    await forgeScenario({ sign: "unknown-key" });
    for (let i = 0; i < 5; i++) {
      const result = await expectRefused(orgId, /key/i, () => login(connection.id));
      expect(result.status).toBe(400);
    }
    expect((await idps.stats(idps.forge)).jwks - before.jwks).toBeLessThanOrEqual(1);
    // the known key keeps working meanwhile
    await forgeScenario({});
    expect((await login(connection.id)).status).toBe(302);
  });

  // ------------------------------------------------------------ oidc-08 UserInfo

  test("oidc-08 a UserInfo sub different from the ID token sub is rejected", async () => {
    const orgId = await setupOrg();
    const connection = await addConnection(orgId, idps.forge);
    // the ID token lacks the groups, so UserInfo is asked — and answers for someone else
    await forgeScenario({ claims: { groups: null, email: null }, userinfo: { sub: "someone-else" } });
    const before = await idps.stats(idps.forge);
    const result = await expectRefused(orgId, /UserInfo/, () => login(connection.id));
    refusedWith(result, 400, "SSO_LOGIN_FAILED", /UserInfo rejected: its sub does not match the ID token sub/);
    expect((await idps.stats(idps.forge)).userinfo - before.userinfo).toBe(1);
  });

  // ------------------------------------------------------------ oidc-09 account keys

  test("oidc-09 accounts are keyed on (issuer, sub); an email links only when verified, within the organization", async () => {
    const orgId = await setupOrg();
    const realConnection = await addConnection(orgId, idps.real);
    const forgeConnection = await addConnection(orgId, idps.forge);
    const users = async (org: string) =>
      (await server.app.db.manager.query(
        server.app.db.dialect === "postgres" ? `SELECT "id", "issuer", "subject" FROM "app_user" WHERE "organizationId" = $1` : `SELECT "id", "issuer", "subject" FROM "app_user" WHERE "organizationId" = ?`,
        [org],
      )) as Array<{ id: string; issuer: string; subject: string }>;

    await asPerson("heidi", { email: "heidi@acme.test", email_verified: true });
    expect((await login(realConnection.id)).status).toBe(302);
    expect((await login(realConnection.id)).status).toBe(302); // same (issuer, sub) → same account
    expect(await users(orgId)).toEqual([{ id: expect.any(String), issuer: idps.real, subject: "heidi" }]);
    const [heidi] = await users(orgId);

    // same sub at another issuer, same email but unverified → a different account
    await forgeScenario({ account: { sub: "heidi", email: "heidi@acme.test", email_verified: false, groups: ["Engineering"] } });
    expect((await login(forgeConnection.id)).status).toBe(302);
    expect(await users(orgId)).toHaveLength(2);

    // a verified email links to the existing verified account of the same organization
    await forgeScenario({ account: { sub: "heidi-elsewhere", email: "heidi@acme.test", email_verified: true, groups: ["Engineering"] } });
    expect((await login(forgeConnection.id)).status).toBe(302);
    expect(await users(orgId)).toHaveLength(2);
    expect((await users(orgId)).map((u) => u.id)).toContain(heidi.id);

    // never across organizations
    const otherOrg = await setupOrg();
    const otherConnection = await addConnection(otherOrg, idps.real);
    await asPerson("heidi", { email: "heidi@acme.test", email_verified: true });
    expect((await login(otherConnection.id)).status).toBe(302);
    expect(await users(otherOrg)).toEqual([{ id: expect.not.stringMatching(heidi.id), issuer: idps.real, subject: "heidi" }]);
  });
});
