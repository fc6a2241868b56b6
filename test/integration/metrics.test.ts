/**
 * GET /metrics (Prometheus): protected on the main port, open on its own listener, and counting what
 * the audit trail counts.
 */
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals } from "../support/fixtures";
import { ok, startServer, type TestServer } from "../support/server";

describe.each(DATABASES)("metrics on $name", (kind) => {
  describe("on the main port", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(kind);
    });
    afterAll(() => server.stop());

    const scrape = (key?: string) => fetch(server.url.replace("/graphql", "/metrics"), { headers: key ? { authorization: `Bearer ${key}` } : {} });

    test("platform principals only: 401 without a credential, 403 for an organization admin", async () => {
      const org = await createOrgWithPrincipals(server);
      expect((await scrape()).status).toBe(401);
      const forbidden = await scrape(org.keys.admin);
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toEqual({ error: "FORBIDDEN", message: "Missing permission: platform" });
    });

    test("decisions, root-field latency, audit flushes and (PostgreSQL) pool use are exported", async () => {
      const org = await createOrgWithPrincipals(server);
      ok(await server.gql(`{ a: can(action: WRITE) { allowed } b: can(action: DELETE) { allowed } }`, {}, org.keys.developer));
      const response = await scrape(server.platformKey);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(Number(/rbac_decisions_total\{action="write",allowed="true"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
      expect(Number(/rbac_decisions_total\{action="delete",allowed="false"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
      expect(Number(/rbac_graphql_root_field_seconds_count\{operation="Query.can",outcome="ok"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
      expect(Number(/rbac_audit_flush_seconds_count (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/rbac_audit_queue_depth \d+/);
      if (kind.name === "postgres") expect(text).toMatch(/rbac_db_pool_connections\{state="total"\} \d+/);
      else expect(text).not.toMatch(/rbac_db_pool_connections\{/);
    });
  });

  test("cache lookups of the decision path are counted by result, and the change feed reports it listens", async () => {
    const server = await startServer(kind);
    try {
      const org = await createOrgWithPrincipals(server);
      const counter = async (cache: string, result: string) => {
        const text = await (await fetch(server.url.replace("/graphql", "/metrics"), { headers: { authorization: `Bearer ${server.platformKey}` } })).text();
        expect(text).toMatch(/rbac_change_feed_listening 1/);
        return Number(new RegExp(`rbac_cache_lookups_total\\{cache="${cache}",result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      };
      const [hits, misses] = [await counter("api_keys", "hit"), await counter("api_keys", "miss")];
      for (let i = 0; i < 3; i += 1) ok(await server.gql(`{ me { id } }`, {}, org.keys.viewer));
      // The first use of the viewer key misses (scrapes in between use the platform key, cached too).
      expect(await counter("api_keys", "miss")).toBeGreaterThanOrEqual(misses + 1);
      expect(await counter("api_keys", "hit")).toBeGreaterThanOrEqual(hits + 2);
    } finally {
      await server.stop(true);
    }
  });

  test("with METRICS_PORT the metrics have a listener of their own (no credential) and leave the main port", async () => {
    const server = await startServer(kind, { env: { METRICS_PORT: "0", METRICS_HOST: "127.0.0.1" } });
    try {
      expect(server.app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const response = await fetch(server.app.metricsUrl!);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/rbac_process_/);
      expect((await fetch(server.url.replace("/graphql", "/metrics"), { headers: { authorization: `Bearer ${server.platformKey}` } })).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
