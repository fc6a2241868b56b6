/**
 * The caches of the decision path (API keys, active sessions) across two instances on one
 * database: a change committed on one instance is enforced on the other within 1 s (PostgreSQL:
 * LISTEN/NOTIFY; SQLite: PRAGMA data_version), on the writing instance at once; a rolled-back
 * change invalidates nothing; while the PostgreSQL listener is down nothing is served from cache,
 * and its reconnect invalidates everything.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { ChangeFeed, NO_CACHE } from "../../src/db/change-feed";
import { createLogger } from "../../src/server/app";
import { VersionedCache } from "../../src/shared/versioned-cache";
import { DATABASES } from "../support/databases";
import { createOrganization, createServiceAccount } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const REDIRECT = "http://localhost:3000/callback";
const STALENESS_BOUND_MS = 1000;
const ME = `{ me { id role { key } permissions } }`;
const silent = createLogger({ logLevel: "silent" });

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe.each(DATABASES)("change feed and caches on $name (two instances, one database)", (kind) => {
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    a = await startServer(kind);
    b = await startServer(kind, { database: a.database, env: { RBAC_BOOTSTRAP_API_KEY: a.platformKey } });
  }, 60_000);

  afterAll(async () => {
    await b?.stop();
    await a?.stop(true);
  });

  /** A person of `org` signed in on `server` (validated identity → code → tokens). */
  async function signIn(server: TestServer, organizationId: string, groups: string[]) {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const identity = {
      organizationId,
      connectionId: null,
      protocol: "oidc" as const,
      issuer: "https://idp.example.com",
      subject: `subject-${randomUUID()}`,
      email: null,
      emailVerified: false,
      displayName: "Cached Person",
      groups,
    };
    const meta = { ip: "127.0.0.1", userAgent: "change-feed-suite", requestId: `cf-${randomUUID()}` };
    const { redirectUrl } = await server.app.login.complete(identity, { redirectUri: REDIRECT, codeChallenge: challenge, clientState: null }, meta);
    const code = new URL(redirectUrl).searchParams.get("code");
    const response = await fetch(server.url.replace(/\/graphql$/, "/auth/token"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }),
    });
    const tokens = (await response.json()) as { access_token: string };
    return { accessToken: tokens.access_token, userId: String(decodeJwt(tokens.access_token).sub) };
  }

  test("a service key cached by B is refused there within 1 s of its revocation on A, and at once on A", async () => {
    const org = await createOrganization(a);
    const account = await createServiceAccount(a, org.id, "developer");
    for (let i = 0; i < 3; i += 1) expect(ok(await b.gql(ME, {}, account.apiKey)).me.id).toBe(account.id); // now cached on B
    expect(ok(await a.gql(ME, {}, account.apiKey)).me.id).toBe(account.id); // and on A
    ok(await a.gql(`mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`, { id: account.id }));
    expect(errorCode(await a.gql(ME, {}, account.apiKey))).toBe("UNAUTHENTICATED");
    const elapsed = await until(async () => errorCode(await b.gql(ME, {}, account.apiKey)) === "UNAUTHENTICATED", "B to refuse the revoked key");
    expect(elapsed).toBeLessThan(STALENESS_BOUND_MS);
  });

  test("a session cached by B ends there within 1 s of a mapping change on A that demotes the person", async () => {
    const org = await createOrganization(a, { ssoEnabled: true, allowedRedirectUrls: [REDIRECT] });
    const mapping = ok(
      await a.gql(`mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`, {
        input: { organizationId: org.id, idpGroup: "Engineering", roleKey: "developer", priority: 0 },
      }),
    ).createRoleMapping.id as string;
    const person = await signIn(a, org.id, ["Engineering"]);
    for (let i = 0; i < 3; i += 1) expect(ok(await b.gql(ME, {}, person.accessToken)).me.role.key).toBe("developer");
    ok(await a.gql(`mutation($id: ID!, $input: UpdateRoleMappingInput!) { updateRoleMapping(id: $id, input: $input) { id } }`, { id: mapping, input: { roleKey: "viewer" } }));
    expect(errorCode(await a.gql(ME, {}, person.accessToken))).toBe("UNAUTHENTICATED");
    const elapsed = await until(async () => errorCode(await b.gql(ME, {}, person.accessToken)) === "UNAUTHENTICATED", "B to end the demoted session");
    expect(elapsed).toBeLessThan(STALENESS_BOUND_MS);
  });

  test("a deactivation on B ends the session cached by A within 1 s", async () => {
    const org = await createOrganization(a, { ssoEnabled: true, defaultRoleKey: "developer", allowedRedirectUrls: [REDIRECT] });
    const person = await signIn(b, org.id, []);
    for (let i = 0; i < 3; i += 1) ok(await a.gql(ME, {}, person.accessToken));
    ok(await b.gql(`mutation($id: ID!) { deactivateUser(id: $id) { id } }`, { id: person.userId }));
    const elapsed = await until(async () => errorCode(await a.gql(ME, {}, person.accessToken)) === "UNAUTHENTICATED", "A to end the deactivated session");
    expect(elapsed).toBeLessThan(STALENESS_BOUND_MS);
  });

  test("a change reaches the other instance only when it commits; here the caches drop when the transaction ends", async () => {
    const url = kind.name === "postgres" ? a.database.url : null;
    const here = new ChangeFeed(a.app.db, url, silent);
    const there = new ChangeFeed(b.app.db, url, silent);
    await Promise.all([here.start(), there.start()]);
    try {
      await until(() => here.listening && there.listening, "the feeds to listen");
      const [beforeHere, beforeThere] = [here.version("credentials"), there.version("credentials")];
      await expect(
        a.app.db.transaction(async (em) => {
          await here.changed(em, "credentials");
          // PostgreSQL: not before the transaction ends (SQLite's one connection already reads the new row: an early drop is harmless)
          if (kind.name === "postgres") expect(here.version("credentials")).toBe(beforeHere);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(here.version("credentials")).toBeGreaterThan(beforeHere); // readers may have seen its rows (SQLite)
      await new Promise((r) => setTimeout(r, 300));
      expect(there.version("credentials")).toBe(beforeThere); // never announced
      const afterRollback = here.version("credentials");
      await a.app.db.transaction((em) => here.changed(em, "credentials"));
      expect(here.version("credentials")).toBeGreaterThan(afterRollback);
      const elapsed = await until(() => there.version("credentials") > beforeThere, "the other instance to hear of the commit");
      expect(elapsed).toBeLessThan(STALENESS_BOUND_MS);
      expect(there.version("sessions")).not.toBe(NO_CACHE);
    } finally {
      await Promise.all([here.stop(), there.stop()]);
    }
  });

  test("a value loaded while a change commits is returned but not kept", async () => {
    const feed = new ChangeFeed(a.app.db, kind.name === "postgres" ? a.database.url : null, silent);
    await feed.start();
    try {
      await until(() => feed.listening, "the feed to listen");
      const cache = new VersionedCache<string, string>(feed, "sessions", { max: 10, maxAgeMs: 60_000 });
      let loads = 0;
      const racing = await cache.get("k", async () => {
        loads += 1;
        await a.app.db.transaction((em) => feed.changed(em, "sessions"));
        return "old";
      });
      expect(racing).toBe("old");
      expect(await cache.get("k", async () => (loads += 1, "new"))).toBe("new");
      expect(await cache.get("k", async () => (loads += 1, "newer"))).toBe("new"); // kept this time
      expect(loads).toBe(2);
    } finally {
      await feed.stop();
    }
  });

  if (kind.name === "postgres") {
    test("a lost listener reconnects and invalidates everything (notifications may have been missed)", async () => {
      const feed = new ChangeFeed(a.app.db, a.database.url, silent);
      await feed.start();
      try {
        await until(() => feed.listening, "the feed to listen");
        const before = feed.version("credentials");
        const [{ killed }] = await a.app.db.manager.query(
          `SELECT count(pg_terminate_backend(pid))::int AS "killed" FROM pg_stat_activity WHERE application_name = 'rbac-change-feed' AND datname = current_database() AND pid <> pg_backend_pid()`,
        );
        expect(killed).toBeGreaterThanOrEqual(1);
        await until(() => feed.listening && feed.version("credentials") !== before, "the feed to reconnect");
        expect(feed.version("credentials")).toBeGreaterThan(before);
      } finally {
        await feed.stop();
      }
    });

    test("after the instances' listeners were cut and came back, a revocation on A is enforced on B within 1 s", async () => {
      const org = await createOrganization(a);
      const account = await createServiceAccount(a, org.id, "viewer");
      await a.app.db.manager.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rbac-change-feed' AND datname = current_database()`);
      // Decisions keep working (from the database) whatever the feed's state.
      expect(ok(await b.gql(ME, {}, account.apiKey)).me.id).toBe(account.id);
      await until(async () => {
        const rows = await a.app.db.manager.query(`SELECT count(*)::int AS "n" FROM pg_stat_activity WHERE application_name = 'rbac-change-feed' AND datname = current_database()`);
        return rows[0].n >= 2;
      }, "both listeners to reconnect");
      for (let i = 0; i < 3; i += 1) ok(await b.gql(ME, {}, account.apiKey)); // cached again on B
      ok(await a.gql(`mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`, { id: account.id }));
      const elapsed = await until(async () => errorCode(await b.gql(ME, {}, account.apiKey)) === "UNAUTHENTICATED", "B to refuse the revoked key");
      expect(elapsed).toBeLessThan(STALENESS_BOUND_MS);
    });
  }
});
