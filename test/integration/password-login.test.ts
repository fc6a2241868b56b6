/**
 * Password login (issue 3 "Password login for organizations that do not enforce SSO";
 * SECURITY-CASES acl-08, aud-01, aud-02) over real HTTP on every database: password accounts
 * created by administrators over GraphQL, `POST /auth/password/login`, the code exchange at
 * `POST /auth/token` and `me` with the access token.
 *
 * The server trusts X-Forwarded-For here (TRUST_PROXY=true), so each test speaks from its own
 * client IP and the per-IP limit of one test does not leak into another.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import * as argon2 from "argon2";
import { DATABASES } from "../support/databases";
import { createOrganization, createOrgWithPrincipals, createServiceAccount } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const REDIRECT = "https://app.example.com/auth/callback";

interface Org {
  id: string;
  slug: string;
  domain: string;
}

interface Answer {
  status: number;
  text: string;
  body: Record<string, any>;
  headers: Headers;
  requestId: string;
}

let counter = 0;
const unique = (label: string) => `${label}${++counter}${randomBytes(3).toString("hex")}`;
const strongPassword = () => `Vx7!${randomBytes(9).toString("base64url")}-kq`;
const base = (server: TestServer) => server.url.replace(/\/graphql$/, "");
const bool = (value: unknown) => value === true || value === 1;

async function sql<T = Record<string, any>>(server: TestServer, text: string, params: unknown[] = []): Promise<T[]> {
  let n = 0;
  const query = server.app.db.dialect === "postgres" ? text.replace(/\?/g, () => `$${++n}`) : text;
  return server.app.db.dataSource.query(query, params);
}

async function count(server: TestServer, from: string, params: unknown[]): Promise<number> {
  const [row] = await sql<{ n: unknown }>(server, `SELECT count(*) AS n FROM ${from}`, params);
  return Number(row.n);
}

async function passwordOrg(server: TestServer, overrides: Record<string, unknown> = {}): Promise<Org> {
  const domain = `${unique("corp")}.example.com`;
  const org = await createOrganization(server, { allowedDomains: [domain], allowedRedirectUrls: [REDIRECT], defaultRoleKey: "viewer", ...overrides });
  return { ...org, domain };
}

const CREATE = `mutation($input: CreatePasswordUserInput!) { createPasswordUser(input: $input) { id email displayName issuer subject role { key } } }`;
const SET_PASSWORD = `mutation($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) }`;

function createUser(server: TestServer, input: Record<string, unknown>, key: string | null = server.platformKey) {
  return server.gql<{ createPasswordUser: Record<string, any> }>(CREATE, { input }, key);
}

async function passwordUser(server: TestServer, org: Org, roleKey = "developer", password = strongPassword()) {
  const email = `${unique("person")}@${org.domain}`;
  const data = ok(await createUser(server, { organizationId: org.id, email, displayName: "Pat Example", roleKey, password }));
  return { id: data.createPasswordUser.id as string, email, password };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

async function login(server: TestServer, body: Record<string, unknown>, ip = "203.0.113.1", contentType = "application/json"): Promise<Answer> {
  const requestId = `pw-${randomUUID()}`;
  const response = await fetch(`${base(server)}/auth/password/login`, {
    method: "POST",
    headers: { "content-type": contentType, "x-request-id": requestId, "x-forwarded-for": ip, "user-agent": "password-suite/1.0" },
    body: contentType === "application/json" ? JSON.stringify({ redirect_uri: REDIRECT, ...body }) : new URLSearchParams(body as Record<string, string>).toString(),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Record<string, any>, headers: response.headers, requestId };
}

async function auditOf(server: TestServer, requestId: string): Promise<Array<Record<string, any>>> {
  const rows = await sql(server, `SELECT * FROM "audit_entry" WHERE "requestId" = ? ORDER BY "id"`, [requestId]);
  return rows.map((r) => ({ ...r, success: bool(r.success) }));
}

/** A refused login: exactly one audit entry naming the reason. */
async function expectOneRefusal(server: TestServer, answer: Answer, reason: string) {
  const entries = await auditOf(server, answer.requestId);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ operation: "Auth.login.password", action: "login", success: false });
  expect(entries[0].reason).toContain(reason);
}

async function exchange(server: TestServer, params: Record<string, string>) {
  const response = await fetch(`${base(server)}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ grant_type: "authorization_code", ...params }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function sessionsOf(server: TestServer, userId: string): Promise<number> {
  return count(server, `"session" WHERE "userId" = ?`, [userId]);
}

async function allTables(server: TestServer): Promise<string[]> {
  const rows =
    server.app.db.dialect === "postgres"
      ? await sql<{ name: string }>(server, `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`)
      : await sql<{ name: string }>(server, `SELECT name FROM sqlite_master WHERE type = 'table'`);
  return rows.map((r) => r.name);
}

describe.each(DATABASES)("password login on $name", (kind) => {
  let server: TestServer;
  let ipCounter = 0;
  /** A fresh client IP per call site: per-IP counts stay out of unrelated tests. */
  const freshIp = () => `198.51.100.${++ipCounter}`;

  beforeAll(async () => {
    server = await startServer(kind, { env: { TRUST_PROXY: "true" } });
  });
  afterAll(() => server?.stop());

  test("happy path: password → one-time code → /auth/token → me is a USER with the role the admin set", async () => {
    const org = await passwordOrg(server); // default role viewer: the admin-set role must win
    const user = await passwordUser(server, org, "developer");
    const { verifier, challenge } = pkce();

    const answer = await login(server, { email: user.email.toUpperCase(), password: user.password, code_challenge: challenge, code_challenge_method: "S256", state: "st-42" }, freshIp());
    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(answer.body)).toEqual(["redirect_url"]);
    const url = new URL(answer.body.redirect_url);
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
    expect(url.searchParams.get("state")).toBe("st-42");
    const code = url.searchParams.get("code") ?? "";
    expect(code).not.toBe("");
    expect(answer.text).not.toContain("access_token");

    const tokens = await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    const me = ok(await server.gql<{ me: Record<string, any> }>(`{ me { id kind role { key } } }`, {}, tokens.body.access_token)).me;
    expect(me).toEqual({ id: user.id, kind: "USER", role: { key: "developer" } });

    const [success] = await auditOf(server, answer.requestId);
    expect(success).toMatchObject({ operation: "Auth.login.password", success: true, actorId: user.id, role: "developer", organizationId: org.id });
    expect(success.reason).toContain("set by an administrator");
    // The code is single-use.
    expect((await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier })).status).toBe(400);
  });

  test("a mapping or default-role change leaves a password account's role and session alone", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org, "developer");
    const answer = await login(server, { email: user.email, password: user.password }, freshIp());
    const tokens = await exchange(server, { code: new URL(answer.body.redirect_url).searchParams.get("code") ?? "", redirect_uri: REDIRECT });
    ok(await server.gql(`mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`, { input: { organizationId: org.id, idpGroup: "Everyone", roleKey: "admin" } }));
    ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { defaultRoleKey: "admin" }) { id } }`, { id: org.id }));
    expect(ok(await server.gql(`{ me { role { key } } }`, {}, tokens.body.access_token)).me).toEqual({ role: { key: "developer" } });
    const again = await login(server, { email: user.email, password: user.password }, freshIp());
    const next = await exchange(server, { code: new URL(again.body.redirect_url).searchParams.get("code") ?? "", redirect_uri: REDIRECT });
    expect(ok(await server.gql(`{ me { role { key } roleMapping { id } } }`, {}, next.body.access_token)).me).toEqual({ role: { key: "developer" }, roleMapping: null });
  });

  test("wrong password, unknown email and unknown domain get byte-identical answers; each is audited once, no session", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const wrong = await login(server, { email: user.email, password: "Not-the-password-123" }, freshIp());
    const unknown = await login(server, { email: `nobody-${randomBytes(3).toString("hex")}@${org.domain}`, password: "Not-the-password-123" }, freshIp());
    const noOrg = await login(server, { email: `someone@${unique("nowhere")}.example.org`, password: "Not-the-password-123" }, freshIp());

    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: "INVALID_CREDENTIALS", message: "Wrong email or password" });
    for (const other of [unknown, noOrg]) {
      expect(other.status).toBe(wrong.status);
      expect(other.text).toBe(wrong.text);
      expect(other.headers.get("content-type")).toBe(wrong.headers.get("content-type"));
      expect(other.headers.get("retry-after")).toBe(wrong.headers.get("retry-after"));
    }
    await expectOneRefusal(server, wrong, "wrong password");
    await expectOneRefusal(server, unknown, "unknown account");
    await expectOneRefusal(server, noOrg, "no organization");
    expect(await sessionsOf(server, user.id)).toBe(0);
    expect(await count(server, `"authorization_code" WHERE "userId" = ?`, [user.id])).toBe(0);
  });

  test("lockout: 5 failures lock the account for 15 minutes, even for the right password; unknown accounts lock the same way; setUserPassword unlocks", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const ghost = `ghost-${randomBytes(3).toString("hex")}@${org.domain}`;
    for (let i = 0; i < 5; i++) {
      expect((await login(server, { email: user.email, password: `Wrong-password-${i}-xyz` }, freshIp())).status).toBe(401);
      expect((await login(server, { email: ghost, password: `Wrong-password-${i}-xyz` }, freshIp())).status).toBe(401);
    }
    const locked = await login(server, { email: user.email, password: user.password }, freshIp());
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe("RATE_LIMITED");
    expect(locked.body.message).toMatch(/Too many failed logins for this account; try again in 15 minute/);
    const retryAfter = Number(locked.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(14 * 60);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    await expectOneRefusal(server, locked, "account locked");
    expect(await sessionsOf(server, user.id)).toBe(0);

    const ghostLocked = await login(server, { email: ghost, password: "Whatever-password-1" }, freshIp());
    expect(ghostLocked.status).toBe(429);
    expect(ghostLocked.body.message).toBe(locked.body.message);

    // An administrator sets a new password: the lock is lifted and the new password works.
    const next = strongPassword();
    expect(ok(await server.gql(SET_PASSWORD, { id: user.id, password: next })).setUserPassword).toBe(true);
    expect((await login(server, { email: user.email, password: user.password }, freshIp())).status).toBe(401);
    expect((await login(server, { email: user.email, password: next }, freshIp())).status).toBe(200);
  });

  test("lockout holds under parallel guesses: at most 5 passwords are checked", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => login(server, { email: user.email, password: `Parallel-guess-${i}-abc` }, freshIp())));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(5);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(5);
  });

  test("per-IP limit: 50 failures from one address lock that address, not others", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const ip = "192.0.2.77";
    for (let i = 0; i < 50; i++) {
      const answer = await login(server, { email: `spray-${i}@${org.domain}`, password: "Spring-2025-spray!" }, ip);
      expect(answer.status).toBe(401);
    }
    const blocked = await login(server, { email: user.email, password: user.password }, ip);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ error: "RATE_LIMITED" });
    expect(blocked.body.message).toMatch(/from your network address/);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(14 * 60);
    await expectOneRefusal(server, blocked, "too many failed logins from 192.0.2.77");
    expect((await login(server, { email: user.email, password: user.password }, "192.0.2.78")).status).toBe(200);
  });

  test("enforceSso: SSO_REQUIRED (403) with the organization's SSO login URL, no password checked, audited once", async () => {
    const org = await passwordOrg(server, { ssoEnabled: true });
    const user = await passwordUser(server, org);
    ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { enforceSso: true }) { id } }`, { id: org.id }));

    const bare = await login(server, { email: user.email, password: user.password }, freshIp());
    expect(bare.status).toBe(403);
    expect(bare.body).toEqual({
      error: "SSO_REQUIRED",
      message: expect.stringContaining("use your organization's SSO login"),
      sso_login_urls: [],
    });
    await expectOneRefusal(server, bare, "SSO_REQUIRED");
    expect(await sessionsOf(server, user.id)).toBe(0);

    const connectionId = randomUUID();
    const now = new Date().toISOString();
    await sql(
      server,
      `INSERT INTO "oidc_connection" ("id", "organizationId", "issuer", "clientId", "clientAuthMethod", "scopes", "groupsClaim", "maxIdTokenAgeSeconds", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [connectionId, org.id, "https://idp.example.com", "client", "client_secret_basic", "openid email", "groups", 300, now, now],
    );
    const withUrl = await login(server, { email: `anyone@${org.domain}`, password: "Whatever-password-1" }, freshIp());
    expect(withUrl.status).toBe(403);
    expect(withUrl.body.sso_login_urls).toHaveLength(1);
    expect(withUrl.body.sso_login_urls[0]).toMatch(new RegExp(`/auth/oidc/${connectionId}/login$`));
    expect(withUrl.body.message).toContain(withUrl.body.sso_login_urls[0]);

    // And no new password account in an organization that enforces SSO.
    const refused = await createUser(server, { organizationId: org.id, email: `new@${org.domain}`, displayName: "New", roleKey: "viewer", password: strongPassword() });
    expect(errorCode(refused)).toBe("BAD_USER_INPUT");
    expect(refused.errors?.[0].message).toMatch(/enforces SSO/);
    expect(refused.errors?.[0].extensions?.field).toBe("organizationId");
  });

  test("policy violations answer BAD_USER_INPUT on the field password, never echo it, and store nothing", async () => {
    const org = await passwordOrg(server);
    const email = `jane.doe@${org.domain}`;
    const cases: Array<[string, RegExp]> = [
      ["Short-pw-1!", /at least 12/],
      [`Aa1!${"x".repeat(253)}`, /at most 256/],
      ["my-JANE.DOE-password-1", /user name of the email/],
      ["Password1234", /most commonly used/],
      ["zzzzzzzzzzzzzzzz", /one character repeated/],
    ];
    for (const [password, message] of cases) {
      const response = await createUser(server, { organizationId: org.id, email, displayName: "Jane", roleKey: "viewer", password });
      expect(errorCode(response)).toBe("BAD_USER_INPUT");
      expect(response.errors?.[0].extensions?.field).toBe("password");
      expect(response.errors?.[0].message).toMatch(message);
      expect(response.errors?.[0].message).not.toContain(password);
    }
    expect(await count(server, `"app_user" WHERE "organizationId" = ?`, [org.id])).toBe(0);

    const user = await passwordUser(server, org);
    const weak = await server.gql(SET_PASSWORD, { id: user.id, password: "qwerty123456" });
    expect(errorCode(weak)).toBe("BAD_USER_INPUT");
    expect(weak.errors?.[0].extensions?.field).toBe("password");
    expect((await login(server, { email: user.email, password: user.password }, freshIp())).status).toBe(200);
  });

  test("aud-02 the hash is argon2id and the clear password appears in no table and no audit row", async () => {
    const org = await passwordOrg(server);
    const canary = `Canary-${randomBytes(8).toString("hex")}-pw`;
    const user = await passwordUser(server, org, "viewer", canary);
    const wrongCanary = `Wrong-canary-${randomBytes(8).toString("hex")}`;
    const hashOf = async () => (await sql(server, `SELECT "passwordHash" FROM "password_credential" WHERE "userId" = ?`, [user.id]))[0].passwordHash as string;
    const created = await hashOf();
    expect(created).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    await login(server, { email: user.email, password: wrongCanary }, freshIp());
    expect((await login(server, { email: user.email, password: canary }, freshIp())).status).toBe(200);
    expect(await hashOf()).toBe(created); // current parameters: no rehash at login
    const next = `Next-canary-${randomBytes(8).toString("hex")}`;
    ok(await server.gql(SET_PASSWORD, { id: user.id, password: next }));

    expect(await hashOf()).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hashOf()).not.toBe(created);
    const tables = await allTables(server);
    expect(tables).toEqual(expect.arrayContaining(["password_credential", "password_login_limit", "audit_entry"]));
    for (const table of tables) {
      const dump = JSON.stringify(await sql(server, `SELECT * FROM "${table}"`));
      for (const secret of [canary, wrongCanary, next]) expect({ table, leaked: dump.includes(secret) }).toEqual({ table, leaked: false });
    }
    // The User type has no way to read it back.
    const users = ok(await server.gql(`query($id: ID!) { users(organizationId: $id) { id email issuer subject } }`, { id: org.id })).users;
    expect(JSON.stringify(users)).not.toMatch(/argon2|Canary|canary/);
  });

  test("a hash made with older argon2 parameters is upgraded at the next successful login", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const weak = await argon2.hash(user.password, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await sql(server, `UPDATE "password_credential" SET "passwordHash" = ? WHERE "userId" = ?`, [weak, user.id]);
    expect((await login(server, { email: user.email, password: user.password }, freshIp())).status).toBe(200);
    const [row] = await sql(server, `SELECT "passwordHash" FROM "password_credential" WHERE "userId" = ?`, [user.id]);
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect((await login(server, { email: user.email, password: user.password }, freshIp())).status).toBe(200);
  });

  test("acl-08 createPasswordUser: a developer key cannot create an admin; `service` is refused; domain, duplicate and tenant rules hold", async () => {
    const fixture = await createOrgWithPrincipals(server);
    const domain = `${unique("acl")}.example.com`;
    ok(await server.gql(`mutation($id: ID!, $d: [String!]) { updateOrganization(id: $id, input: { allowedDomains: $d }) { id } }`, { id: fixture.id, d: [domain] }));
    const input = { organizationId: fixture.id, email: `boss@${domain}`, displayName: "Boss", roleKey: "admin", password: strongPassword() };

    const developer = await createUser(server, input, fixture.keys.developer);
    expect(errorCode(developer)).toBe("FORBIDDEN");
    expect(developer.errors?.[0].message).toBe("Missing permission: admin");
    const service = await createUser(server, { ...input, roleKey: "service" }, fixture.keys.admin);
    expect(errorCode(service)).toBe("BAD_USER_INPUT");
    expect(service.errors?.[0].extensions?.field).toBe("roleKey");
    const outside = await createUser(server, { ...input, email: "boss@elsewhere.example.net" }, fixture.keys.admin);
    expect(errorCode(outside)).toBe("DOMAIN_NOT_ALLOWED");
    const other = await passwordOrg(server);
    const foreign = await createUser(server, { ...input, organizationId: other.id }, fixture.keys.admin);
    expect(errorCode(foreign)).toBe("NOT_FOUND");
    expect(await count(server, `"app_user" WHERE "organizationId" IN (?, ?)`, [fixture.id, other.id])).toBe(0);

    const created = ok(await createUser(server, input, fixture.keys.admin)).createPasswordUser;
    expect(created).toMatchObject({ email: `boss@${domain}`, issuer: "password", subject: `boss@${domain}`, role: { key: "admin" } });
    expect(errorCode(await createUser(server, { ...input, email: `BOSS@${domain}` }, fixture.keys.admin))).toBe("CONFLICT");
    // Another organization's admin cannot set this account's password.
    const otherAdmin = (await createServiceAccount(server, other.id, "admin")).apiKey;
    expect(errorCode(await server.gql(SET_PASSWORD, { id: created.id, password: strongPassword() }, otherAdmin))).toBe("NOT_FOUND");
  });

  test("redirect_uri outside the organization's allowed URLs → SSO_CALLBACK_MISMATCH, audited, no code", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const answer = await login(server, { email: user.email, password: user.password, redirect_uri: "https://evil.example.net/cb" }, freshIp());
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe("SSO_CALLBACK_MISMATCH");
    await expectOneRefusal(server, answer, "SSO_CALLBACK_MISMATCH");
    expect(await count(server, `"authorization_code" WHERE "userId" = ?`, [user.id])).toBe(0);
  });

  test("a deactivated account is refused even with the right password; setUserPassword ends sessions; SSO accounts have no password", async () => {
    const org = await passwordOrg(server);
    const user = await passwordUser(server, org);
    const first = await login(server, { email: user.email, password: user.password }, freshIp());
    const code = new URL(first.body.redirect_url).searchParams.get("code") ?? "";
    const tokens = await exchange(server, { code, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);

    ok(await server.gql(SET_PASSWORD, { id: user.id, password: strongPassword() }));
    expect(errorCode(await server.gql(`{ me { id } }`, {}, tokens.body.access_token))).toBe("UNAUTHENTICATED");

    ok(await server.gql(`mutation($id: ID!) { deactivateUser(id: $id) { id } }`, { id: user.id }));
    const before = await sessionsOf(server, user.id);
    const next = strongPassword();
    ok(await server.gql(SET_PASSWORD, { id: user.id, password: next }));
    const refused = await login(server, { email: user.email, password: next }, freshIp());
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("SSO_LOGIN_FAILED");
    await expectOneRefusal(server, refused, "deactivated");
    expect(await sessionsOf(server, user.id)).toBe(before);

    const ssoUser = randomUUID();
    const now = new Date().toISOString();
    await sql(server, `INSERT INTO "app_user" ("id", "organizationId", "issuer", "subject", "groups", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, '[]', ?, ?)`, [
      ssoUser, org.id, "https://idp.example.com", "sso-subject", now, now,
    ]);
    const notPassword = await server.gql(SET_PASSWORD, { id: ssoUser, password: strongPassword() });
    expect(errorCode(notPassword)).toBe("BAD_USER_INPUT");
    expect(notPassword.errors?.[0].extensions?.field).toBe("id");
  });

  test("an organization without allowed domains is found through its password account", async () => {
    const org = await createOrganization(server, { allowedRedirectUrls: [REDIRECT] });
    const email = `${unique("free")}@gmail-like.example`;
    const password = strongPassword();
    ok(await createUser(server, { organizationId: org.id, email, displayName: "Free", roleKey: "viewer", password }));
    expect((await login(server, { email, password }, freshIp())).status).toBe(200);
  });

  test("malformed requests: not JSON → 415; missing fields → BAD_USER_INPUT naming the field, audited", async () => {
    const form = await login(server, { email: "a@b.example", password: "x" }, freshIp(), "application/x-www-form-urlencoded");
    expect(form.status).toBe(415);
    await expectOneRefusal(server, form, "UNSUPPORTED_MEDIA_TYPE");
    const brokenId = `pw-${randomUUID()}`;
    const broken = await fetch(`${base(server)}/auth/password/login`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": brokenId }, body: '{"email": "a@b.example", "password": ' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as Record<string, unknown>).error).toBe("BAD_REQUEST");
    expect(await auditOf(server, brokenId)).toHaveLength(1);
    const missing = await login(server, { email: "a@b.example" }, freshIp());
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: "BAD_USER_INPUT", field: "password" });
    await expectOneRefusal(server, missing, "BAD_USER_INPUT");
    const badChallenge = await login(server, { email: "a@b.example", password: "Something-long-1", code_challenge: "short" }, freshIp());
    expect(badChallenge.body).toMatchObject({ error: "BAD_USER_INPUT", field: "code_challenge" });
  });
});
