'use strict';
// Benchmark scenarios. Each scenario is
//   { name, server: 'baseline' | 'service', setup(ctx) -> workload }
// ctx: { url, platformKey, gql(query, variables, headers), bearer(key) }
// workload: { body, headers }                 one fixed request, checked once with fetch before the load
//        or { requests, headers, verify(), unit, requestsPerUnit }
//                                             an autocannon request list; verify() must prove it works
//        plus optionally { amount, warmupAmount } a fixed number of requests instead of a duration,
//             { expectStatus }                 the status that counts as success (default: any 2xx),
//             { problems(), cleanup() }        extra error counts; teardown of the scenario's own peers
// setup(ctx, config) may read the harness config (connections, warmupS, ...).

const { samlLoginWorkload, oidcLoginWorkload } = require('./lib/logins');

const { seedAuditEntries } = require('./lib/audit-seed');
const { exportWorkload } = require('./lib/export');

const TYPENAME = { query: '{ __typename }' };

// Role given to the IdP groups mapped by the benchmark (a built-in role that
// may be assigned to people). Service accounts get the service's default role.
const MAPPING_ROLE_KEY = 'developer';

// Input objects are written inline (not as variables) so the harness does not
// depend on the names of the schema's input types. JSON strings are valid
// GraphQL string literals.
const str = (value) => JSON.stringify(String(value));

let orgCounter = 0;
const runTag = Math.random().toString(36).slice(2, 8);

async function createOrganization(ctx) {
  const n = ++orgCounter;
  const input = `{ slug: ${str(`bench-${runTag}-${n}`)}, name: ${str(`Bench org ${n}`)} }`;
  const data = await ctx.gql(`mutation { createOrganization(input: ${input}) { id slug } }`, null, ctx.bearer(ctx.platformKey));
  return data.createOrganization;
}

async function createServiceAccountKey(ctx) {
  const org = await createOrganization(ctx);
  const input = `{ organizationId: ${str(org.id)}, name: "bench" }`;
  const data = await ctx.gql(
    `mutation { createServiceAccount(input: ${input}) { serviceAccount { id } apiKey } }`,
    null,
    ctx.bearer(ctx.platformKey),
  );
  return data.createServiceAccount.apiKey;
}

// A person with a password account logs in the way a frontend does (password → one-time code →
// POST /auth/token) and the scenario uses their access token (an ES256 JWT checked against the
// session on every request).
async function passwordUser(ctx) {
  const n = ++orgCounter;
  const domain = `bench-${runTag}-${n}.example.com`;
  const redirect = 'http://localhost:3000/callback';
  const input = `{ slug: ${str(`bench-${runTag}-${n}`)}, name: ${str(`Bench org ${n}`)}, allowedDomains: [${str(domain)}], allowedRedirectUrls: [${str(redirect)}] }`;
  const org = (await ctx.gql(`mutation { createOrganization(input: ${input}) { id } }`, null, ctx.bearer(ctx.platformKey))).createOrganization;
  const email = `person@${domain}`;
  const password = `Bench-${runTag}-correct-horse-battery`;
  await ctx.gql(
    `mutation { createPasswordUser(input: { organizationId: ${str(org.id)}, email: ${str(email)}, displayName: "Bench", roleKey: "developer", password: ${str(password)} }) { id } }`,
    null,
    ctx.bearer(ctx.platformKey),
  );
  return { email, password, redirect };
}

/** Logs the person in the way a frontend does and returns { access_token, refresh_token }. */
async function signIn(ctx, person) {
  const { post } = require('./lib/graphql');
  const base = ctx.url.replace(/\/graphql$/, '');
  const login = await post(`${base}/auth/password/login`, { email: person.email, password: person.password, redirect_uri: person.redirect });
  if (login.status !== 200) throw new Error(`password login: HTTP ${login.status} ${login.text.slice(0, 200)}`);
  const code = new URL(login.json.redirect_url).searchParams.get('code');
  const tokens = await post(`${base}/auth/token`, { grant_type: 'authorization_code', code, redirect_uri: person.redirect });
  if (tokens.status !== 200) throw new Error(`token exchange: HTTP ${tokens.status} ${tokens.text.slice(0, 200)}`);
  return tokens.json;
}

async function userAccessToken(ctx) {
  return (await signIn(ctx, await passwordUser(ctx))).access_token;
}

// Refresh-token families circulate through a shared pool: a request takes one token, its answer
// puts the successor back (autocannon resets per-connection context after every request of a
// one-request list, so the pool is the state).
async function refreshRotationWorkload(ctx) {
  const { post } = require('./lib/graphql');
  const person = await passwordUser(ctx);
  const pool = [];
  let refused = 0;
  for (let i = 0; i < 40; i++) pool.push((await signIn(ctx, person)).refresh_token);
  const path = '/auth/token';
  return {
    requests: [
      {
        path,
        setupRequest(req) {
          const token = pool.shift();
          if (!token) return null;
          req.body = JSON.stringify({ grant_type: 'refresh_token', refresh_token: token });
          return req;
        },
        onResponse(status, body) {
          try {
            const next = JSON.parse(body).refresh_token;
            if (next) pool.push(next);
          } catch {
            // a failed rotation takes its family out of the pool (and counts as an error)
          }
          if (status !== 200 && refused++ < 3) console.error(`refresh refused: HTTP ${status} ${String(body).slice(0, 200)}`);
        },
      },
    ],
    unit: 'rotations',
    verify: async () => {
      const answer = await post(ctx.url.replace(/\/graphql$/, path), { grant_type: 'refresh_token', refresh_token: pool.shift() });
      if (answer.status !== 200 || !answer.json?.refresh_token) throw new Error(`refresh: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
      pool.push(answer.json.refresh_token);
    },
  };
}

const ACTIONS = ['READ', 'WRITE', 'DELETE', 'ADMIN'];
const TEN_CHECKS = Array.from({ length: 10 }, (_, i) => `{ action: ${ACTIONS[i % 4]}, resource: "r${i}" }`).join(', ');

const createMappingQuery = (organizationId, idpGroup) =>
  `mutation { createRoleMapping(input: { organizationId: ${str(organizationId)}, idpGroup: ${str(idpGroup)}, ` +
  `roleKey: ${str(MAPPING_ROLE_KEY)}, priority: 1 }) { id } }`;
const deleteMappingQuery = (id) => `mutation { deleteRoleMapping(id: ${str(id)}) }`;

// Two requests per pair: create a mapping with a unique IdP group, then delete
// it by the id the first response returned. Autocannon keeps one context per
// connection and calls onResponse before building the next request.
function roleMappingPairRequests(organizationId) {
  let seq = 0;
  const createBody = () => JSON.stringify({ query: createMappingQuery(organizationId, `bench-group-${runTag}-${++seq}`) });
  return [
    {
      setupRequest(req, context) {
        context.mappingId = null;
        req.body = createBody();
        return req;
      },
      onResponse(status, body, context) {
        try {
          context.mappingId = JSON.parse(body).data.createRoleMapping.id;
        } catch {
          context.mappingId = null; // counted as an error body / non-2xx by the load runner
        }
      },
    },
    {
      // Returning null when the create failed makes autocannon restart the pair.
      setupRequest(req, context) {
        if (!context.mappingId) return null;
        req.body = JSON.stringify({ query: deleteMappingQuery(context.mappingId) });
        return req;
      },
    },
  ];
}

module.exports = [
  {
    name: 'baseline {__typename}',
    server: 'baseline',
    setup: async () => ({ body: TYPENAME }),
  },
  {
    name: 'service {__typename}',
    server: 'service',
    setup: async () => ({ body: TYPENAME }),
  },
  {
    name: 'me (platform API key)',
    server: 'service',
    setup: async (ctx) => ({
      body: { query: '{ me { id kind permissions } }' },
      headers: ctx.bearer(ctx.platformKey),
    }),
  },
  {
    name: 'can (service-account key)',
    server: 'service',
    setup: async (ctx) => ({
      body: { query: 'query { can(action: WRITE, resource: "conversation:1") { allowed reason } }' },
      headers: ctx.bearer(await createServiceAccountKey(ctx)),
    }),
  },
  {
    name: 'can (service-account key, AUDIT_READS=denials)',
    server: 'service',
    env: { AUDIT_READS: 'denials' },
    setup: async (ctx) => ({
      body: { query: 'query { can(action: WRITE, resource: "conversation:1") { allowed reason } }' },
      headers: ctx.bearer(await createServiceAccountKey(ctx)),
    }),
  },
  {
    name: 'can (user access token)',
    server: 'service',
    setup: async (ctx) => ({
      body: { query: 'query { can(action: WRITE, resource: "conversation:1") { allowed reason } }' },
      headers: ctx.bearer(await userAccessToken(ctx)),
    }),
  },
  {
    name: 'refresh-token rotation (POST /auth/token)',
    server: 'service',
    setup: refreshRotationWorkload,
  },
  {
    name: 'checkPermissions x10',
    server: 'service',
    setup: async (ctx) => ({
      body: { query: `query { checkPermissions(checks: [${TEN_CHECKS}]) { allowed } }` },
      headers: ctx.bearer(await createServiceAccountKey(ctx)),
    }),
  },
  {
    name: 'auditEntries page (1,000,000 entries, filtered)',
    server: 'service',
    setup: async (ctx) => {
      const org = await createOrganization(ctx);
      const count = Number(process.env.BENCH_AUDIT_ENTRIES || 1_000_000);
      await seedAuditEntries(ctx, org.id, count);
      return {
        body: { query: `{ auditEntries(filter: { organizationId: ${str(org.id)}, action: "delete", success: false }, first: 50) { edges { node { id sequence action resource } } pageInfo { hasNextPage endCursor } } }` },
        headers: ctx.bearer(ctx.platformKey),
        serverMetric: 'Query.auditEntries', // also report the service's own p95 / p99 (GET /metrics)
      };
    },
  },
  {
    // One streamed download of the whole export, not an autocannon load: rows/s and the service's
    // resident memory while it streams (bench/lib/export.js).
    name: 'audit export (1,000,000 entries)',
    server: 'service',
    setup: async (ctx) => {
      const org = await createOrganization(ctx);
      const count = Number(process.env.BENCH_AUDIT_ENTRIES || 1_000_000);
      await seedAuditEntries(ctx, org.id, count);
      return exportWorkload(ctx, {
        path: `/audit/export?format=jsonl&organizationId=${encodeURIComponent(org.id)}`,
        headers: ctx.bearer(ctx.platformKey),
        expectRows: count,
      });
    },
  },
  {
    name: 'organizations first page',
    server: 'service',
    setup: async (ctx) => {
      for (let i = 0; i < 50; i++) await createOrganization(ctx);
      return {
        body: { query: '{ organizations(first: 20) { edges { node { id slug } } pageInfo { hasNextPage endCursor } } }' },
        headers: ctx.bearer(ctx.platformKey),
      };
    },
  },
  {
    name: 'createRoleMapping + deleteRoleMapping pair',
    server: 'service',
    setup: async (ctx) => {
      const org = await createOrganization(ctx);
      const headers = ctx.bearer(ctx.platformKey);
      return {
        requests: roleMappingPairRequests(org.id),
        headers,
        unit: 'pairs',
        requestsPerUnit: 2,
        // One real pair through fetch proves both mutations work before the load.
        verify: async () => {
          const created = await ctx.gql(createMappingQuery(org.id, `bench-verify-${runTag}`), null, headers);
          const deleted = await ctx.gql(deleteMappingQuery(created.createRoleMapping.id), null, headers);
          if (deleted.deleteRoleMapping !== true) throw new Error(`deleteRoleMapping returned ${deleted.deleteRoleMapping}`);
        },
      };
    },
  },
  {
    name: 'SAML ACS logins (signed responses)',
    server: 'service',
    setup: samlLoginWorkload,
  },
  {
    name: 'OIDC callback logins (oidc-provider)',
    server: 'service',
    setup: oidcLoginWorkload,
  },
];
