/**
 * Logins, one-time codes and sessions (issue 3 "Users and roles" and "Tokens"; SECURITY-CASES
 * acl-07, oidc-09, tok-06..tok-10).
 *
 * The SAML / OIDC validators are not part of this suite: a login is driven through
 * `app.login.complete(identity, request, http)` with the LoginIdentity a validator hands over after
 * checking a signature. Everything after that goes over real HTTP: the browser redirect URL with its
 * code, `POST /auth/token`, `POST /auth/logout` and `/graphql` with `Authorization: Bearer <access
 * token>`. Rows are read and, for lifetimes, moved into the past straight through the DataSource.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import type { HttpMeta, LoginIdentity, LoginRequestContext } from "../../src/sso/login.types";
import { DATABASES } from "../support/databases";
import { createOrganization, createServiceAccount } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const REDIRECT = "https://app.example.com/auth/callback";
const IDP = "https://idp.example.com";

interface Org {
  id: string;
  slug: string;
}

interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

interface TokenAnswer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

let people = 0;

// ---------------------------------------------------------------------------------------------
// SQL through the DataSource (`?` placeholders, turned into $n on PostgreSQL)

async function sql<T = Record<string, any>>(server: TestServer, text: string, params: unknown[] = []): Promise<T[]> {
  let n = 0;
  const query = server.app.db.dialect === "postgres" ? text.replace(/\?/g, () => `$${++n}`) : text;
  return server.app.db.dataSource.query(query, params);
}

async function count(server: TestServer, text: string, params: unknown[]): Promise<number> {
  const [row] = await sql<{ n: unknown }>(server, `SELECT count(*) AS n FROM ${text}`, params);
  return Number(row.n);
}

const past = (seconds = 60) => new Date(Date.now() - seconds * 1000).toISOString();
const sha256hex = (value: string) => createHash("sha256").update(value).digest("hex");
const bool = (value: unknown) => value === true || value === 1;

/** Users (full rows), codes, sessions and refresh tokens of an organization: what a refused login must not change. */
async function loginState(server: TestServer, organizationId: string) {
  return {
    users: await sql(server, `SELECT * FROM "app_user" WHERE "organizationId" = ? ORDER BY "id"`, [organizationId]),
    codes: await count(server, `"authorization_code" WHERE "organizationId" = ?`, [organizationId]),
    sessions: await count(server, `"session" WHERE "organizationId" = ?`, [organizationId]),
    refreshTokens: await count(server, `"refresh_token" r JOIN "session" s ON s."id" = r."sessionId" WHERE s."organizationId" = ?`, [organizationId]),
  };
}

async function auditByRequest(server: TestServer, requestId: string): Promise<Array<Record<string, any>>> {
  const rows = await sql(server, `SELECT * FROM "audit_entry" WHERE "requestId" = ? ORDER BY "id"`, [requestId]);
  return rows.map((r) => ({ ...r, success: bool(r.success) }));
}

async function userRow(server: TestServer, id: string) {
  const [row] = await sql(server, `SELECT * FROM "app_user" WHERE "id" = ?`, [id]);
  return row;
}

// ---------------------------------------------------------------------------------------------
// organizations, people, logins

async function ssoOrg(server: TestServer, overrides: Record<string, unknown> = {}): Promise<Org> {
  return createOrganization(server, { ssoEnabled: true, allowedRedirectUrls: [REDIRECT], ...overrides });
}

async function mapGroup(server: TestServer, organizationId: string, idpGroup: string, roleKey: string, priority = 0): Promise<string> {
  const data = ok(
    await server.gql<{ createRoleMapping: { id: string } }>(
      `mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`,
      { input: { organizationId, idpGroup, roleKey, priority } },
    ),
  );
  return data.createRoleMapping.id;
}

function person(org: Org, overrides: Partial<LoginIdentity> = {}): LoginIdentity {
  people += 1;
  return {
    organizationId: org.id,
    connectionId: null,
    protocol: "oidc",
    issuer: IDP,
    subject: `subject-${people}-${randomBytes(3).toString("hex")}`,
    email: `person${people}@corp.example.com`,
    emailVerified: true,
    displayName: `Person ${people}`,
    groups: [],
    ...overrides,
  };
}

function httpMeta(): HttpMeta {
  return { ip: "127.0.0.1", userAgent: "sessions-suite/1.0", requestId: `sess-${randomUUID()}` };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function request(overrides: Partial<LoginRequestContext> = {}): LoginRequestContext {
  return { redirectUri: REDIRECT, codeChallenge: null, clientState: null, ...overrides };
}

/** A validated identity → the browser redirect URL and the code on it. */
async function login(server: TestServer, identity: LoginIdentity, req: Partial<LoginRequestContext> = {}, meta = httpMeta()) {
  const { redirectUrl } = await server.app.login.complete(identity, request(req), meta);
  const url = new URL(redirectUrl);
  return { url, code: url.searchParams.get("code") ?? "", meta };
}

/** A refused login: the error, exactly one audit entry with the reason, and nothing else changed. */
async function expectLoginRefused(server: TestServer, identity: LoginIdentity, code: string, req: Partial<LoginRequestContext> = {}) {
  const before = await loginState(server, identity.organizationId);
  const meta = httpMeta();
  const error = await server.app.login.complete(identity, request(req), meta).then(
    () => null,
    (e: unknown) => e as { code?: string; message: string; extensions?: Record<string, unknown> },
  );
  expect(error).not.toBeNull();
  expect(error?.code).toBe(code);
  expect(error?.extensions?.code).toBe(code);
  expect(await loginState(server, identity.organizationId)).toEqual(before);
  const entries = await auditByRequest(server, meta.requestId);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ operation: `Auth.login.${identity.protocol}`, action: "login", success: false, actorKind: "USER" });
  expect(entries[0].reason).toContain(code);
  return { error: error!, entry: entries[0] };
}

// ---------------------------------------------------------------------------------------------
// the token endpoint

const baseUrl = (server: TestServer) => server.url.replace(/\/graphql$/, "");

async function post(server: TestServer, path: string, params: Record<string, string | undefined>, form = false): Promise<TokenAnswer> {
  const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const response = await fetch(`${baseUrl(server)}${path}`, {
    method: "POST",
    headers: { "content-type": form ? "application/x-www-form-urlencoded" : "application/json" },
    body: form ? new URLSearchParams(defined).toString() : JSON.stringify(defined),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
}

const exchange = (server: TestServer, params: { code?: string; redirect_uri?: string; code_verifier?: string }, form = false) =>
  post(server, "/auth/token", { grant_type: "authorization_code", ...params }, form);

const refresh = (server: TestServer, refreshToken: string, form = false) => post(server, "/auth/token", { grant_type: "refresh_token", refresh_token: refreshToken }, form);

const logout = (server: TestServer, refreshToken: string, form = false) => post(server, "/auth/logout", { refresh_token: refreshToken }, form);

function tokensOf(answer: TokenAnswer): Tokens {
  if (answer.status !== 200) throw new Error(`token endpoint answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as Tokens;
}

function expectInvalidGrant(answer: TokenAnswer): void {
  expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 400, error: "invalid_grant" });
  expect(answer.body.access_token).toBeUndefined();
  expect(answer.body.refresh_token).toBeUndefined();
}

/** Login with PKCE, then the code exchange: a fresh session. */
async function signIn(server: TestServer, identity: LoginIdentity): Promise<Tokens & { userId: string; sessionId: string }> {
  const { verifier, challenge } = pkce();
  const { code } = await login(server, identity, { codeChallenge: challenge });
  const tokens = tokensOf(await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier }));
  const claims = decodeJwt(tokens.access_token);
  return { ...tokens, userId: String(claims.sub), sessionId: String(claims.sid) };
}

const ME = `{ me { id kind displayName organization { id slug } role { key } permissions groups roleMapping { idpGroup role { key } } } }`;

async function me(server: TestServer, accessToken: string) {
  return ok(await server.gql<{ me: Record<string, any> }>(ME, {}, accessToken)).me;
}

async function expectRefusedToken(server: TestServer, accessToken: string): Promise<void> {
  const response = await server.gql(`{ me { id } }`, {}, accessToken);
  expect(errorCode(response)).toBe("UNAUTHENTICATED");
  expect(response.data ?? null).toBeNull();
}

async function adminKey(server: TestServer, org: Org): Promise<string> {
  return (await createServiceAccount(server, org.id, "admin")).apiKey;
}

// =============================================================================================

describe.each(DATABASES)("sessions on $name", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());

  describe("login rules", () => {
    test("the role comes from the highest-priority matching mapping, and the login is audited once with its source", async () => {
      const org = await ssoOrg(server, { defaultRoleKey: "viewer" });
      await mapGroup(server, org.id, "Engineering", "developer", 0);
      await mapGroup(server, org.id, "Auditors", "viewer", 10);
      const identity = person(org, { groups: ["Engineering", "Auditors"] });
      const { meta } = await login(server, identity);

      const [user] = await sql(server, `SELECT * FROM "app_user" WHERE "organizationId" = ?`, [org.id]);
      expect(user).toMatchObject({ roleKey: "viewer", subject: identity.subject, issuer: IDP });
      expect(JSON.parse(user.groups)).toEqual(["Engineering", "Auditors"]);
      const entries = await auditByRequest(server, meta.requestId);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ operation: "Auth.login.oidc", success: true, actorId: user.id, role: "viewer", organizationId: org.id });
      expect(entries[0].reason).toContain("Auditors");
    });

    test("on equal priority the mapping whose role grants more permissions wins", async () => {
      const org = await ssoOrg(server);
      await mapGroup(server, org.id, "Staff", "viewer", 5);
      const engineering = await mapGroup(server, org.id, "Engineering", "developer", 5);
      const tokens = await signIn(server, person(org, { groups: ["Staff", "Engineering"] }));
      const principal = await me(server, tokens.access_token);
      expect(principal.role).toEqual({ key: "developer" });
      expect(principal.roleMapping).toEqual({ idpGroup: "Engineering", role: { key: "developer" } });
      expect((await userRow(server, tokens.userId)).roleMappingId).toBe(engineering);
    });

    test("no matching mapping → the organization's default role (no mapping recorded)", async () => {
      const org = await ssoOrg(server, { defaultRoleKey: "viewer" });
      await mapGroup(server, org.id, "Engineering", "developer");
      const tokens = await signIn(server, person(org, { groups: ["Marketing"] }));
      const principal = await me(server, tokens.access_token);
      expect(principal).toMatchObject({ role: { key: "viewer" }, roleMapping: null, groups: ["Marketing"] });
    });

    test("no mapping and no default role → NO_ROLE_MAPPING naming the groups and the organization; one audit entry, nothing created", async () => {
      const org = await ssoOrg(server);
      await mapGroup(server, org.id, "Engineering", "developer");
      const { error, entry } = await expectLoginRefused(server, person(org, { groups: ["a", "b"] }), "NO_ROLE_MAPPING");
      expect(error.message).toBe(`no role mapping for groups [a, b] in organization ${org.slug}; ask an administrator to map one of them`);
      expect(entry.organizationId).toBe(org.id);
      expect(entry.reason).toContain(error.message);
    });

    test.each([["saml"], ["oidc"]] as const)("ssoEnabled false → SSO_DISABLED for a %s login", async (protocol) => {
      const org = await createOrganization(server, { ssoEnabled: false, allowedRedirectUrls: [REDIRECT], defaultRoleKey: "viewer" });
      const { error, entry } = await expectLoginRefused(server, person(org, { protocol, groups: ["Engineering"] }), "SSO_DISABLED");
      expect(error.message).toBe(`SSO is disabled for organization ${org.slug}; ask an administrator to enable it`);
      expect(entry.organizationId).toBe(org.id);
    });

    describe("allowed domains", () => {
      let org: Org;
      let domain: string;
      beforeAll(async () => {
        domain = `corp-${randomBytes(4).toString("hex")}.example.com`;
        org = await ssoOrg(server, { defaultRoleKey: "viewer", allowedDomains: [domain.toUpperCase()] });
      });

      test.each([
        ["an exact domain", (d: string) => `alice@${d}`],
        ["the domain in upper case", (d: string) => `Alice@${d.toUpperCase()}`],
        ["the domain in mixed case", (d: string) => `bob@${d.replace(/^c/, "C")}`],
      ])("%s is accepted (case-insensitive)", async (_label, email) => {
        const tokens = await signIn(server, person(org, { email: email(domain) }));
        expect((await userRow(server, tokens.userId)).email).toBe(email(domain).toLowerCase());
      });

      test.each([
        ["another domain", () => "mallory@evil.example.com"],
        ["a subdomain of the allowed one", (d: string) => `mallory@sub.${d}`],
        ["the allowed domain as a prefix of another", (d: string) => `mallory@${d}.evil.com`],
        ["the allowed domain before a second @", (d: string) => `${d}@evil.com`],
        ["no email at all", () => null],
      ])("DOMAIN_NOT_ALLOWED: %s", async (_label, email) => {
        const { error } = await expectLoginRefused(server, person(org, { email: email(domain) }), "DOMAIN_NOT_ALLOWED");
        expect(error.message).toContain(`organization ${org.slug}`);
        expect(error.message).toContain(domain);
      });
    });

    describe("SSO_CALLBACK_MISMATCH (assertRedirectAllowed)", () => {
      test.each([
        ["another host", "https://evil.example.com/auth/callback"],
        ["another path", "https://app.example.com/auth/other"],
        ["a path prefix", "https://app.example.com/auth/callback/../../evil"],
        ["http instead of https", "http://app.example.com/auth/callback"],
        ["another port", "https://app.example.com:8443/auth/callback"],
        ["credentials in the URL", "https://user:pw@app.example.com/auth/callback"],
        ["a look-alike host", "https://app.example.com.evil.com/auth/callback"],
        ["not a URL", "javascript:alert(1)"],
      ])("%s → SSO_CALLBACK_MISMATCH naming expected and received", async (_label, received) => {
        const org = await ssoOrg(server);
        const error = await server.app.login.assertRedirectAllowed(org.id, received).then(
          () => null,
          (e: { code?: string; message: string; extensions?: Record<string, unknown> }) => e,
        );
        expect(error?.code).toBe("SSO_CALLBACK_MISMATCH");
        expect(error?.message).toBe(`callback URL mismatch: expected one of [${REDIRECT}], got ${received}`);
        expect(error?.extensions).toMatchObject({ code: "SSO_CALLBACK_MISMATCH", expected: [REDIRECT], received });
      });

      test("the exact allowed URL (also with a query) is accepted; another organization's URL is not", async () => {
        const org = await ssoOrg(server);
        const other = await ssoOrg(server, { allowedRedirectUrls: ["https://other.example.com/cb"] });
        await expect(server.app.login.assertRedirectAllowed(org.id, REDIRECT)).resolves.toBeUndefined();
        await expect(server.app.login.assertRedirectAllowed(org.id, `${REDIRECT}?tab=2`)).resolves.toBeUndefined();
        await expect(server.app.login.assertRedirectAllowed(org.id, "https://other.example.com/cb")).rejects.toMatchObject({ code: "SSO_CALLBACK_MISMATCH" });
        await expect(server.app.login.assertRedirectAllowed(other.id, REDIRECT)).rejects.toMatchObject({ code: "SSO_CALLBACK_MISMATCH" });
      });

      test("the login itself never sends a code to a URL outside allowedRedirectUrls", async () => {
        const org = await ssoOrg(server, { defaultRoleKey: "viewer" });
        const { error } = await expectLoginRefused(server, person(org), "SSO_CALLBACK_MISMATCH", { redirectUri: "https://evil.example.com/steal" });
        expect(error.message).toBe(`callback URL mismatch: expected one of [${REDIRECT}], got https://evil.example.com/steal`);
      });
    });

    describe("the service role is never given to a person", () => {
      test("the API refuses to map a group to service or make it the default role", async () => {
        const org = await ssoOrg(server);
        const mapping = await server.gql(`mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`, {
          input: { organizationId: org.id, idpGroup: "Bots", roleKey: "service" },
        });
        expect(errorCode(mapping)).toBe("BAD_USER_INPUT");
        const defaults = await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { defaultRoleKey: "service" }) { id } }`, { id: org.id });
        expect(errorCode(defaults)).toBe("BAD_USER_INPUT");
      });

      test.each([
        ["a mapping to service written into the database", "mapping"],
        ["a default role service written into the database", "default"],
      ])("%s → the login is refused, no user holds service", async (_label, how) => {
        const org = await ssoOrg(server);
        if (how === "mapping") {
          const now = new Date().toISOString();
          await sql(server, `INSERT INTO "role_mapping" ("id", "organizationId", "idpGroup", "roleKey", "priority", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?, ?)`, [
            randomUUID(), org.id, "Bots", "service", 100, now, now,
          ]);
        } else {
          await sql(server, `UPDATE "organization" SET "defaultRoleKey" = 'service' WHERE "id" = ?`, [org.id]);
        }
        await expectLoginRefused(server, person(org, { groups: ["Bots"] }), "NO_ROLE_MAPPING");
        expect(await count(server, `"app_user" WHERE "roleKey" = 'service'`, [])).toBe(0);
      });
    });

    test("users are keyed on (organization, issuer, subject)", async () => {
      const org = await ssoOrg(server, { defaultRoleKey: "viewer" });
      const otherOrg = await ssoOrg(server, { defaultRoleKey: "viewer" });
      const first = person(org, { emailVerified: false, groups: ["One"] });
      const a = await signIn(server, first);
      const again = await signIn(server, { ...first, email: "renamed@corp.example.com", displayName: "Renamed", groups: ["Two"] });
      expect(again.userId).toBe(a.userId);
      expect(await userRow(server, a.userId)).toMatchObject({ email: "renamed@corp.example.com", displayName: "Renamed", groups: '["Two"]' });

      const otherIssuer = await signIn(server, { ...first, issuer: "https://other-idp.example.com" });
      const otherOrganization = await signIn(server, { ...first, organizationId: otherOrg.id });
      expect(new Set([a.userId, otherIssuer.userId, otherOrganization.userId]).size).toBe(3);
      expect(await count(server, `"app_user" WHERE "organizationId" = ?`, [org.id])).toBe(2);
      expect((await userRow(server, otherOrganization.userId)).organizationId).toBe(otherOrg.id);
    });

    test("oidc-09 an email links an account only when verified, on both sides, in the same organization", async () => {
      const org = await ssoOrg(server, { defaultRoleKey: "viewer" });
      const otherOrg = await ssoOrg(server, { defaultRoleKey: "viewer" });
      const email = `linked-${randomBytes(3).toString("hex")}@corp.example.com`;
      const original = await signIn(server, person(org, { email, emailVerified: true }));

      const verifiedElsewhere = await signIn(server, person(org, { issuer: "https://second-idp.example.com", email: email.toUpperCase(), emailVerified: true }));
      expect(verifiedElsewhere.userId).toBe(original.userId);

      const unverified = await signIn(server, person(org, { issuer: "https://third-idp.example.com", email, emailVerified: false }));
      expect(unverified.userId).not.toBe(original.userId);

      const otherOrganization = await signIn(server, person(otherOrg, { issuer: "https://second-idp.example.com", email, emailVerified: true }));
      expect(otherOrganization.userId).not.toBe(original.userId);
      expect((await userRow(server, otherOrganization.userId)).organizationId).toBe(otherOrg.id);

      // An existing account whose email was never verified is not taken over by a verified one.
      const unverifiedEmail = `unverified-${randomBytes(3).toString("hex")}@corp.example.com`;
      const weak = await signIn(server, person(org, { email: unverifiedEmail, emailVerified: false }));
      const strong = await signIn(server, person(org, { issuer: "https://second-idp.example.com", email: unverifiedEmail, emailVerified: true }));
      expect(strong.userId).not.toBe(weak.userId);
    });

    test("a deactivated user cannot log in (one audit entry, no code, no session, no user change)", async () => {
      const org = await ssoOrg(server, { defaultRoleKey: "viewer" });
      const identity = person(org);
      const { userId } = await signIn(server, identity);
      ok(await server.gql(`mutation($id: ID!) { deactivateUser(id: $id) { id } }`, { id: userId }, await adminKey(server, org)));
      const { error, entry } = await expectLoginRefused(server, identity, "SSO_LOGIN_FAILED");
      expect(error.message).toMatch(/deactivated/);
      expect(entry.organizationId).toBe(org.id);
    });

    test("a login for an unknown organization is refused and audited once", async () => {
      const ghost = { id: randomUUID(), slug: "ghost" };
      const { entry } = await expectLoginRefused(server, person(ghost), "SSO_LOGIN_FAILED");
      expect(entry.organizationId).toBeNull();
    });
  });

  describe("acl-07 groups are re-read at every login", () => {
    test("acl-07 a group removed at the IdP → its role is gone at the next login (and the old session ends)", async () => {
      const org = await ssoOrg(server);
      await mapGroup(server, org.id, "Engineering", "developer");
      await mapGroup(server, org.id, "Admins", "admin");
      const identity = person(org, { groups: ["Engineering", "Admins"] });
      const first = await signIn(server, identity);
      expect((await me(server, first.access_token)).role).toEqual({ key: "admin" });

      const second = await signIn(server, { ...identity, groups: ["Engineering"] });
      expect(second.userId).toBe(first.userId);
      expect(await me(server, second.access_token)).toMatchObject({ role: { key: "developer" }, groups: ["Engineering"], roleMapping: { idpGroup: "Engineering" } });
      await expectRefusedToken(server, first.access_token);
      expectInvalidGrant(await refresh(server, first.refresh_token));
    });

    test("acl-07 a person whose groups no longer give any role is refused, and their open session ends at once", async () => {
      const org = await ssoOrg(server);
      await mapGroup(server, org.id, "Engineering", "developer");
      const identity = person(org, { groups: ["Engineering"] });
      const first = await signIn(server, identity);
      expect((await me(server, first.access_token)).role).toEqual({ key: "developer" });

      const refused = await server.app.login.complete({ ...identity, groups: ["Contractors"] }, request(), httpMeta()).then(
        () => null,
        (e: { code?: string }) => e,
      );
      expect(refused?.code).toBe("NO_ROLE_MAPPING");
      await expectRefusedToken(server, first.access_token);
      expectInvalidGrant(await refresh(server, first.refresh_token));
    });

    test("acl-07 an unknown group gives no role: NO_ROLE_MAPPING without a default role, the default role with one", async () => {
      const strict = await ssoOrg(server);
      await mapGroup(server, strict.id, "Engineering", "developer");
      const { error } = await expectLoginRefused(server, person(strict, { groups: ["engineering", "Contractors"] }), "NO_ROLE_MAPPING");
      expect(error.message).toBe(`no role mapping for groups [engineering, Contractors] in organization ${strict.slug}; ask an administrator to map one of them`);

      const lenient = await ssoOrg(server, { defaultRoleKey: "viewer" });
      await mapGroup(server, lenient.id, "Engineering", "developer");
      const tokens = await signIn(server, person(lenient, { groups: ["Contractors"] }));
      expect(await me(server, tokens.access_token)).toMatchObject({ role: { key: "viewer" }, roleMapping: null });
    });
  });

  describe("the one-time code", () => {
    let org: Org;
    beforeAll(async () => {
      org = await ssoOrg(server, { defaultRoleKey: "viewer", allowedRedirectUrls: [REDIRECT, "https://app.example.com/other-callback"] });
    });

    test("the browser redirect carries only the code and the frontend state — never a token", async () => {
      const { challenge, verifier } = pkce();
      const { url, code } = await login(server, person(org), { codeChallenge: challenge, clientState: "xyz-state" });
      expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
      expect([...url.searchParams.keys()].sort()).toEqual(["code", "state"]);
      expect(url.searchParams.get("state")).toBe("xyz-state");
      expect(url.hash).toBe("");
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

      const answer = await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier });
      const tokens = tokensOf(answer);
      expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 900 });
      expect(tokens.refresh_token).toMatch(/^rbac_rt_/);
      expect(answer.headers.get("cache-control")).toBe("no-store");
      expect(url.toString()).not.toContain(tokens.access_token);
      expect(url.toString()).not.toContain(tokens.refresh_token);
    });

    test("without frontend state the redirect carries the code alone; a query of the allowed URL is kept", async () => {
      const { url } = await login(server, person(org), { redirectUri: `${REDIRECT}?tab=2` });
      expect([...url.searchParams.keys()].sort()).toEqual(["code", "tab"]);
    });

    test("a code is single use: the second exchange is invalid_grant and creates no second session", async () => {
      const { challenge, verifier } = pkce();
      const { code } = await login(server, person(org), { codeChallenge: challenge });
      tokensOf(await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier }));
      const sessions = await count(server, `"session" WHERE "organizationId" = ?`, [org.id]);
      expectInvalidGrant(await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier }));
      expect(await count(server, `"session" WHERE "organizationId" = ?`, [org.id])).toBe(sessions);
    });

    test.each([
      ["another allowed URL", "https://app.example.com/other-callback"],
      ["a foreign URL", "https://evil.example.com/auth/callback"],
      ["the URL with a trailing slash", `${REDIRECT}/`],
    ])("redirect_uri must be the one of the login: %s → invalid_grant", async (_label, redirectUri) => {
      const { challenge, verifier } = pkce();
      const identity = person(org);
      const { code } = await login(server, identity, { codeChallenge: challenge });
      expectInvalidGrant(await exchange(server, { code, redirect_uri: redirectUri, code_verifier: verifier }));
      expect(await count(server, `"session" WHERE "userId" IN (SELECT "id" FROM "app_user" WHERE "subject" = ?)`, [identity.subject])).toBe(0);
    });

    test("a missing redirect_uri or code → invalid_request; an unknown grant type → unsupported_grant_type", async () => {
      const { code } = await login(server, person(org));
      expect(await exchange(server, { code })).toMatchObject({ status: 400, body: { error: "invalid_request" } });
      expect(await exchange(server, { redirect_uri: REDIRECT })).toMatchObject({ status: 400, body: { error: "invalid_request" } });
      expect(await post(server, "/auth/token", { grant_type: "password", username: "a", password: "b" })).toMatchObject({
        status: 400,
        body: { error: "unsupported_grant_type" },
      });
    });

    test.each([
      ["a wrong verifier", () => pkce().verifier],
      ["no verifier", () => undefined],
      ["the challenge sent as verifier", (c: string) => c],
      ["a too short verifier", () => "short"],
    ])("PKCE S256: %s → invalid_grant, no session", async (_label, verifierFor) => {
      const { challenge } = pkce();
      const identity = person(org);
      const { code } = await login(server, identity, { codeChallenge: challenge });
      expectInvalidGrant(await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifierFor(challenge) }));
      expect(await count(server, `"session" WHERE "userId" IN (SELECT "id" FROM "app_user" WHERE "subject" = ?)`, [identity.subject])).toBe(0);
    });

    test("the right verifier (form body) → tokens; a login without a challenge needs none", async () => {
      const { challenge, verifier } = pkce();
      const withPkce = await login(server, person(org), { codeChallenge: challenge });
      tokensOf(await exchange(server, { code: withPkce.code, redirect_uri: REDIRECT, code_verifier: verifier }, true));
      const withoutPkce = await login(server, person(org));
      tokensOf(await exchange(server, { code: withoutPkce.code, redirect_uri: REDIRECT }));
    });

    test("an expired code → invalid_grant", async () => {
      const identity = person(org);
      const { code } = await login(server, identity);
      await sql(server, `UPDATE "authorization_code" SET "expiresAt" = ? WHERE "codeHash" = ?`, [past(1), sha256hex(code)]);
      expect(await count(server, `"authorization_code" WHERE "codeHash" = ?`, [sha256hex(code)])).toBe(1);
      expectInvalidGrant(await exchange(server, { code, redirect_uri: REDIRECT }));
    });

    test("a code whose user was deactivated before the exchange → invalid_grant", async () => {
      const identity = person(org);
      const { code } = await login(server, identity);
      const [user] = await sql(server, `SELECT "id" FROM "app_user" WHERE "subject" = ?`, [identity.subject]);
      ok(await server.gql(`mutation($id: ID!) { deactivateUser(id: $id) { id } }`, { id: user.id }, await adminKey(server, org)));
      expectInvalidGrant(await exchange(server, { code, redirect_uri: REDIRECT }));
    });
  });

  describe("refresh tokens", () => {
    let org: Org;
    let admin: string;
    beforeAll(async () => {
      org = await ssoOrg(server, { defaultRoleKey: "viewer" });
      admin = await adminKey(server, org);
    });

    test("tok-06 refresh rotation RT1 → (AT2, RT2); reusing RT1 revokes the whole family and raises a high-severity audit entry", async () => {
      const first = await signIn(server, person(org));
      const rotated = tokensOf(await refresh(server, first.refresh_token, true));
      expect(rotated.refresh_token).not.toBe(first.refresh_token);
      expect(decodeJwt(rotated.access_token).sid).toBe(first.sessionId);
      expect((await me(server, rotated.access_token)).id).toBe(first.userId);

      const reuse = await refresh(server, first.refresh_token);
      expectInvalidGrant(reuse);
      expectInvalidGrant(await refresh(server, rotated.refresh_token));
      await expectRefusedToken(server, rotated.access_token);
      await expectRefusedToken(server, first.access_token);

      const [session] = await sql(server, `SELECT * FROM "session" WHERE "id" = ?`, [first.sessionId]);
      expect(session.revokedAt).not.toBeNull();
      const alerts = await sql(server, `SELECT * FROM "audit_entry" WHERE "operation" = 'Auth.refresh_token_reuse' AND "resource" = ?`, [`session:${first.sessionId}`]);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ organizationId: org.id, actorId: first.userId, actorKind: "USER" });
      expect(bool(alerts[0].success)).toBe(false);
      expect(alerts[0].reason).toMatch(/^HIGH/);
    });

    test.each([2, 5])("tok-07 %i parallel refreshes with RT1 → exactly one rotation", async (parallel) => {
      const { refresh_token: rt1, sessionId } = await signIn(server, person(org));
      const answers = await Promise.all(Array.from({ length: parallel }, () => refresh(server, rt1)));
      const winners = answers.filter((a) => a.status === 200);
      expect(winners).toHaveLength(1);
      for (const loser of answers.filter((a) => a.status !== 200)) expectInvalidGrant(loser);
      expect(await count(server, `"refresh_token" WHERE "sessionId" = ?`, [sessionId])).toBe(2);
      expect(await count(server, `"refresh_token" WHERE "sessionId" = ? AND "usedAt" IS NOT NULL`, [sessionId])).toBe(1);
    });

    test("tok-08 a refresh token past its idle lifetime → invalid_grant", async () => {
      const tokens = await signIn(server, person(org));
      await sql(server, `UPDATE "refresh_token" SET "expiresAt" = ? WHERE "sessionId" = ?`, [past(), tokens.sessionId]);
      expectInvalidGrant(await refresh(server, tokens.refresh_token));
    });

    test("tok-08 a session past its absolute lifetime → refresh invalid_grant and the access token stops", async () => {
      const tokens = await signIn(server, person(org));
      await sql(server, `UPDATE "session" SET "expiresAt" = ? WHERE "id" = ?`, [past(), tokens.sessionId]);
      expectInvalidGrant(await refresh(server, tokens.refresh_token));
      await expectRefusedToken(server, tokens.access_token);
    });

    test.each([["JSON", false], ["form", true]])("tok-08 after logout (%s body) → refresh invalid_grant and the access token stops", async (_label, form) => {
      const tokens = await signIn(server, person(org));
      const answer = await logout(server, tokens.refresh_token, form);
      expect(answer.status).toBe(200);
      expectInvalidGrant(await refresh(server, tokens.refresh_token));
      await expectRefusedToken(server, tokens.access_token);
      const [session] = await sql(server, `SELECT * FROM "session" WHERE "id" = ?`, [tokens.sessionId]);
      expect(session.revokedReason).toBe("logout");
    });

    test("an access token is not a refresh token", async () => {
      const tokens = await signIn(server, person(org));
      expectInvalidGrant(await refresh(server, tokens.access_token));
      tokensOf(await refresh(server, tokens.refresh_token));
    });

    test("tok-09 deactivateUser → the access token is UNAUTHENTICATED at the very next request and refresh fails", async () => {
      const tokens = await signIn(server, person(org));
      expect((await me(server, tokens.access_token)).kind).toBe("USER");
      ok(await server.gql(`mutation($id: ID!) { deactivateUser(id: $id) { id disabledAt } }`, { id: tokens.userId }, admin));
      await expectRefusedToken(server, tokens.access_token);
      expectInvalidGrant(await refresh(server, tokens.refresh_token));
    });

    describe("tok-09 demotion by a mapping change", () => {
      async function developerSession() {
        const demoted = await ssoOrg(server);
        const orgAdmin = await adminKey(server, demoted);
        const mappingId = await mapGroup(server, demoted.id, "Engineering", "developer");
        const tokens = await signIn(server, person(demoted, { groups: ["Engineering"] }));
        expect((await me(server, tokens.access_token)).role).toEqual({ key: "developer" });
        return { demoted, orgAdmin, mappingId, tokens };
      }
      const UPDATE = `mutation($id: ID!, $input: UpdateRoleMappingInput!) { updateRoleMapping(id: $id, input: $input) { id } }`;

      test("tok-09 updateRoleMapping to viewer → the access token stops at the next request, refresh fails", async () => {
        const { orgAdmin, mappingId, tokens } = await developerSession();
        ok(await server.gql(UPDATE, { id: mappingId, input: { roleKey: "viewer" } }, orgAdmin));
        await expectRefusedToken(server, tokens.access_token);
        expectInvalidGrant(await refresh(server, tokens.refresh_token));
      });

      test("tok-09 deleteRoleMapping → the access token stops at the next request, refresh fails", async () => {
        const { orgAdmin, mappingId, tokens } = await developerSession();
        ok(await server.gql(`mutation($id: ID!) { deleteRoleMapping(id: $id) }`, { id: mappingId }, orgAdmin));
        await expectRefusedToken(server, tokens.access_token);
        expectInvalidGrant(await refresh(server, tokens.refresh_token));
      });

      test("tok-09 a demotion ends the session for good: restoring the mapping does not revive its tokens", async () => {
        const { orgAdmin, mappingId, tokens } = await developerSession();
        ok(await server.gql(UPDATE, { id: mappingId, input: { roleKey: "viewer" } }, orgAdmin));
        await expectRefusedToken(server, tokens.access_token);
        expectInvalidGrant(await refresh(server, tokens.refresh_token));
        ok(await server.gql(UPDATE, { id: mappingId, input: { roleKey: "developer" } }, orgAdmin));
        await expectRefusedToken(server, tokens.access_token);
        expectInvalidGrant(await refresh(server, tokens.refresh_token));
      });
    });

    test("tok-10 refresh tokens and codes are stored only as hashes: the clear values appear in no table", async () => {
      const { challenge, verifier } = pkce();
      const { code } = await login(server, person(org), { codeChallenge: challenge });
      const first = tokensOf(await exchange(server, { code, redirect_uri: REDIRECT, code_verifier: verifier }));
      const second = tokensOf(await refresh(server, first.refresh_token));
      await logout(server, second.refresh_token);

      const [stored] = await sql(server, `SELECT * FROM "refresh_token" WHERE "tokenHash" = ?`, [sha256hex(first.refresh_token)]);
      expect(stored).toBeDefined();
      const tables = await sql<{ name: string }>(
        server,
        server.app.db.dialect === "postgres"
          ? `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
          : `SELECT name FROM sqlite_master WHERE type = 'table'`,
      );
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["refresh_token", "authorization_code", "session", "audit_entry"]));
      const secrets = [first.refresh_token, second.refresh_token, code, first.access_token, second.access_token, verifier];
      for (const secret of [...secrets, ...[first.refresh_token, second.refresh_token].map((t) => t.slice("rbac_rt_".length))]) {
        for (const { name } of tables) {
          const dump = JSON.stringify(await sql(server, `SELECT * FROM "${name}"`));
          expect({ table: name, leaked: dump.includes(secret) }).toEqual({ table: name, leaked: false });
        }
      }
    });
  });

  describe("me and can for a USER", () => {
    test("me returns kind USER with organization, role, groups and the mapping; can answers by the role", async () => {
      const org = await ssoOrg(server);
      await mapGroup(server, org.id, "Engineering", "developer");
      const identity = person(org, { groups: ["Engineering", "Everyone"], displayName: "Dana Developer" });
      const tokens = await signIn(server, identity);
      expect(await me(server, tokens.access_token)).toEqual({
        id: tokens.userId,
        kind: "USER",
        displayName: "Dana Developer",
        organization: { id: org.id, slug: org.slug },
        role: { key: "developer" },
        permissions: ["READ", "WRITE"],
        groups: ["Engineering", "Everyone"],
        roleMapping: { idpGroup: "Engineering", role: { key: "developer" } },
      });

      const decisions = ok(
        await server.gql<{ write: Record<string, unknown>; remove: Record<string, unknown> }>(
          `{ write: can(action: WRITE, resource: "conversation:1") { allowed reason role { key } } remove: can(action: DELETE) { allowed reason } }`,
          {},
          tokens.access_token,
        ),
      );
      expect(decisions.write).toEqual({ allowed: true, reason: "Role developer grants write", role: { key: "developer" } });
      expect(decisions.remove).toEqual({ allowed: false, reason: "Missing permission: delete (role developer does not grant it)" });

      const denied = await server.gql(`mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`, {
        input: { organizationId: org.id, idpGroup: "Everyone", roleKey: "viewer" },
      }, tokens.access_token);
      expect(errorCode(denied)).toBe("FORBIDDEN");
      expect(denied.errors?.[0].message).toBe("Missing permission: admin");
    });
  });
});
