'use strict';
// Login scenarios: SAML ACS posts and OIDC callbacks, each one a complete, valid, single-use login.
//
// A login can be used once (replay cache for Response / Assertion IDs, one-time InResponseTo,
// one-time OIDC state, single-use authorization codes), so every login the run sends is prepared
// before the load that sends it: the login is started at the service (AuthnRequest ID / state +
// browser cookie) and completed at the IdP (signed SAML response / authorization code). The load
// sends a fixed number of them, one per request, from a pool (prepared in batches where the IdP
// cannot hold them all, see OIDC below); a request finding the pool empty is reported as an error
// (`pool exhausted`), never replayed.
//
// Success is the service's redirect to the frontend with a one-time code: HTTP 302 with a
// Location on the frontend URL carrying `code=`. Anything else is an error of the row.

const { randomBytes } = require('node:crypto');
const { inflateRawSync } = require('node:zlib');
const { Browser } = require('./browser');
const { startTestIdps } = require('./oidc-idp');
const { createKeyPair, responseXml, signBoth } = require('./saml-idp');

const FRONTEND = 'http://localhost:3000/callback';
const GROUP = 'Engineering';
const ROLE = 'developer';
const str = (value) => JSON.stringify(String(value));
const runTag = randomBytes(3).toString('hex');
let orgCounter = 0;

function count(name, fallback) {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** How many logins the run sends: the measured amount and the warm-up (a tenth, at most maxWarmup). */
function sizes(config, measuredDefault, envName, maxWarmup = Infinity) {
  const amount = count(envName, measuredDefault);
  const warmupAmount = config.warmupS > 0 ? Math.max(config.connections, Math.min(maxWarmup, Math.round(amount / 10))) : 0;
  return { amount, warmupAmount };
}

/** Runs `worker(i, slot)` for i in [0, n), `parallel` at a time; slot says which of them runs it. */
async function pool(n, parallel, worker) {
  let next = 0;
  const run = async (slot) => {
    while (next < n) await worker(next++, slot);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, (_, slot) => run(slot)));
}

/** An organization with SSO on, the bench frontend allowed, and GROUP mapped to ROLE. */
async function ssoOrganization(ctx) {
  const n = ++orgCounter;
  const input = `{ slug: ${str(`bench-login-${runTag}-${n}`)}, name: ${str(`Bench login org ${n}`)}, ssoEnabled: true, allowedRedirectUrls: [${str(FRONTEND)}] }`;
  const org = (await ctx.gql(`mutation { createOrganization(input: ${input}) { id } }`, null, ctx.bearer(ctx.platformKey))).createOrganization;
  await ctx.gql(
    `mutation { createRoleMapping(input: { organizationId: ${str(org.id)}, idpGroup: ${str(GROUP)}, roleKey: ${str(ROLE)}, priority: 1 }) { id } }`,
    null,
    ctx.bearer(ctx.platformKey),
  );
  return org;
}

const header = (headers, name) => {
  for (const [key, value] of Object.entries(headers || {})) if (key.toLowerCase() === name) return value;
  return undefined;
};

/** True when the answer is the login's success: 302 to the frontend with a one-time code. */
function isLoginRedirect(status, location) {
  if (status !== 302 || typeof location !== 'string' || !location.startsWith(`${FRONTEND}?`)) return false;
  return Boolean(new URL(location).searchParams.get('code'));
}

/**
 * The autocannon side of a pool of logins: one request per login, counted problems, prepare(n)
 * (called by the load runner before the warm-up and each batch) and a verify() that does one
 * whole login per person through fetch (so every account exists before the load) and redeems the
 * last code at /auth/token.
 * prepareOne(slot) → a login (what build / send take); parallel: how many are prepared at once.
 */
function loginWorkload(ctx, { people, parallel, prepareOne, sizes: s, batchSize, build, send }) {
  const problems = { 'pool exhausted': 0, 'bad redirects': 0 };
  let shown = 0;
  const queue = [];
  const base = ctx.url.replace(/\/graphql$/, '');
  // A reconnecting autocannon client builds one request more than it sends: keep a few spare.
  const SPARE = 2;
  const prepare = async (n) => {
    const missing = n + SPARE - queue.length;
    if (missing > 0) await pool(missing, parallel, async (i, slot) => queue.push(await prepareOne(slot)));
  };
  return {
    requests: [
      {
        setupRequest(req) {
          const login = queue.shift();
          if (!login) {
            // Never a replay: an unknown path, answered 404 and counted as an error.
            problems['pool exhausted']++;
            return { ...req, method: 'GET', path: '/__bench_pool_exhausted', body: undefined };
          }
          return build(req, login);
        },
        onResponse(status, body, context, headers) {
          if (status === 302 && !isLoginRedirect(status, header(headers, 'location'))) problems['bad redirects']++;
          // The first few refusals go to stderr: a row with errors must say what they were.
          if (status !== 302 && shown < 3) {
            shown++;
            console.error(`  login answered HTTP ${status}: ${String(body).slice(0, 300)}`);
          }
        },
      },
    ],
    amount: s.amount,
    warmupAmount: s.warmupAmount,
    batchSize,
    prepare,
    expectStatus: 302,
    unit: 'logins',
    problems: () => ({ ...problems }),
    verify: async () => {
      let location = null;
      for (let slot = 0; slot < people; slot++) {
        const answer = await send(await prepareOne(slot));
        if (!isLoginRedirect(answer.status, answer.location)) {
          throw new Error(`login answered HTTP ${answer.status} ${answer.location ? `→ ${answer.location}` : answer.text.slice(0, 300)}`);
        }
        location = answer.location;
      }
      const code = new URL(location).searchParams.get('code');
      const tokens = await fetch(`${base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'authorization_code', code, redirect_uri: FRONTEND }),
        signal: AbortSignal.timeout(10_000),
      });
      const json = await tokens.json().catch(() => null);
      if (tokens.status !== 200 || !json?.access_token) throw new Error(`code exchange after the login: HTTP ${tokens.status} ${JSON.stringify(json).slice(0, 200)}`);
    },
  };
}

// ------------------------------------------------------------------------------------------ SAML

const SAML_PEOPLE = 50;
const SAML_VALID_MS = 10 * 60_000; // the service keeps an AuthnRequest open for 10 minutes too

async function samlLoginWorkload(ctx, config) {
  const s = sizes(config, 3000, 'BENCH_SAML_LOGINS');
  const base = ctx.url.replace(/\/graphql$/, '');
  const org = await ssoOrganization(ctx);
  const idp = createKeyPair('idp.bench.example');
  const idpEntityId = `https://idp.bench.example/${runTag}`;
  const admin = ctx.bearer(ctx.platformKey);
  const created = await ctx.gql(
    `mutation { createSamlConnection(input: { organizationId: ${str(org.id)}, idpEntityId: ${str(idpEntityId)}, idpSsoUrl: "https://idp.bench.example/sso", idpCertificates: [${str(idp.certificatePem)}] }) { id } }`,
    null,
    admin,
  );
  const connectionId = created.createSamlConnection.id;
  // PUBLIC_URL is not known before the service listens (PORT=0): point the connection at it.
  const spEntityId = `${base}/auth/saml/${connectionId}/metadata`;
  const acsUrl = `${base}/auth/saml/${connectionId}/acs`;
  await ctx.gql(`mutation { updateSamlConnection(id: ${str(connectionId)}, input: { spEntityId: ${str(spEntityId)}, acsUrl: ${str(acsUrl)} }) { id } }`, null, admin);

  // A login is started at the service (its AuthnRequest ID is stored, single use) and answered
  // the way the IdP would: a fresh Response and Assertion, both signed.
  const loginUrl = `${base}/auth/saml/${connectionId}/login?${new URLSearchParams({ redirect_uri: FRONTEND })}`;
  let seq = 0;
  const prepareOne = async () => {
    const who = seq++ % SAML_PEOPLE;
    const started = await fetch(loginUrl, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    const location = started.headers.get('location');
    await started.arrayBuffer();
    if (started.status !== 302 || !location) throw new Error(`SAML login start answered HTTP ${started.status}`);
    const authnRequest = inflateRawSync(Buffer.from(new URL(location).searchParams.get('SAMLRequest'), 'base64')).toString('utf8');
    const requestId = /\sID="([^"]+)"/.exec(authnRequest)[1];
    const person = `person-${who}@corp.example`;
    const xml = signBoth(
      responseXml({
        issuer: idpEntityId,
        destination: acsUrl,
        audience: spEntityId,
        inResponseTo: requestId,
        nameId: person,
        attributes: { email: [person], displayName: [`Person ${who}`], groups: [GROUP, 'Everyone'] },
        validForMs: SAML_VALID_MS,
      }),
      idp,
    );
    return `SAMLResponse=${encodeURIComponent(Buffer.from(xml, 'utf8').toString('base64'))}`;
  };

  const acsPath = `/auth/saml/${connectionId}/acs`;
  return loginWorkload(ctx, {
    people: SAML_PEOPLE,
    parallel: 4, // the service starts logins while this process signs
    prepareOne,
    sizes: s,
    build: (req, body) => ({ ...req, method: 'POST', path: acsPath, headers: { ...req.headers, 'content-type': 'application/x-www-form-urlencoded' }, body }),
    send: async (body) => {
      const res = await fetch(`${base}${acsPath}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, location: res.headers.get('location'), text: await res.text() };
    },
  });
}

// ------------------------------------------------------------------------------------------ OIDC

const OIDC_PEOPLE = 10; // one IdP browser session per person, preparing logins in parallel
const OIDC_BATCH = count('BENCH_OIDC_BATCH', 250);
const BROWSER_COOKIE = 'rbac_oidc_browser';

async function oidcLoginWorkload(ctx, config) {
  const s = sizes(config, 1000, 'BENCH_OIDC_LOGINS', OIDC_BATCH); // the warm-up is one batch
  const idps = await startTestIdps();
  try {
    return await oidcLogins(ctx, s, idps);
  } catch (err) {
    await idps.stop();
    throw err;
  }
}

async function oidcLogins(ctx, s, idps) {
  const base = ctx.url.replace(/\/graphql$/, '');
  const org = await ssoOrganization(ctx);
  const admin = ctx.bearer(ctx.platformKey);
  const clientId = `bench-rp-${runTag}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const created = await ctx.gql(
    `mutation { createOidcConnection(input: { organizationId: ${str(org.id)}, issuer: ${str(idps.real)}, clientId: ${str(clientId)}, clientSecret: ${str(clientSecret)} }) { id } }`,
    null,
    admin,
  );
  const connectionId = created.createOidcConnection.id;
  const callback = `${base}/auth/oidc/${connectionId}/callback`;
  await ctx.gql(`mutation { updateOidcConnection(id: ${str(connectionId)}, input: { redirectUri: ${str(callback)} }) { id } }`, null, admin);
  await idps.admin(idps.real, '/__admin/clients', {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [callback], grant_types: ['authorization_code'], response_types: ['code'] }],
  });

  const loginUrl = `${base}/auth/oidc/${connectionId}/login?${new URLSearchParams({ redirect_uri: FRONTEND })}`;
  const isCallback = (url) => url.href.startsWith(`${callback}?`);
  /** One login up to the IdP's redirect back to the service: the callback, not yet fetched. */
  const prepare = async (browser) => {
    const end = await browser.follow(loginUrl, isCallback);
    if (end.response) throw new Error(`OIDC login stopped before the callback: HTTP ${end.response.status} ${(await end.response.text()).slice(0, 300)}`);
    const url = new URL(end.url);
    const binding = browser.cookieHeader(url).split('; ').find((c) => c.startsWith(`${BROWSER_COOKIE}=`));
    if (!binding) throw new Error('the service set no browser-binding cookie at login start');
    return { path: `${url.pathname}${url.search}`, cookie: binding };
  };

  // Each person signs in at the IdP once (interaction + consent; the admin API picks the account,
  // so one at a time); later logins in that browser get a code straight from the IdP's session.
  // Each browser prepares its person's logins (slot = person).
  const browsers = [];
  const first = [];
  for (let p = 0; p < OIDC_PEOPLE; p++) {
    const sub = `bench-person-${p}`;
    await idps.admin(idps.real, '/__admin/account', { sub, claims: { email: `${sub}@corp.example`, email_verified: true, name: `Person ${p}`, groups: [GROUP, 'Everyone'] } });
    browsers.push(new Browser());
    first.push(await prepare(browsers[p]));
  }
  const prepareOne = async (slot) => {
    if (first[slot]) return first.splice(slot, 1, null)[0];
    return prepare(browsers[slot]);
  };

  const workload = loginWorkload(ctx, {
    people: OIDC_PEOPLE,
    parallel: OIDC_PEOPLE,
    prepareOne,
    sizes: s,
    // oidc-provider's in-memory store keeps 1,000 entries (codes, consumed codes, access tokens,
    // sessions, grants) and a code lives 60 s: prepare and send them in batches small enough for
    // both, never more than it can hold at once.
    batchSize: OIDC_BATCH,
    build: (req, login) => ({ ...req, method: 'GET', path: login.path, headers: { ...req.headers, cookie: login.cookie }, body: undefined }),
    send: async (login) => {
      const res = await fetch(`${base}${login.path}`, { redirect: 'manual', headers: { cookie: login.cookie }, signal: AbortSignal.timeout(10_000) });
      return { status: res.status, location: res.headers.get('location'), text: await res.text() };
    },
  });
  workload.cleanup = () => idps.stop();
  return workload;
}

module.exports = { samlLoginWorkload, oidcLoginWorkload };
