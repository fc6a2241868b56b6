/**
 * Test identity providers for the OIDC suites, run in a CHILD PROCESS (oidc-provider is ESM with
 * ESM dependencies; Jest's CommonJS loader cannot load it).
 *
 *   node test/support/oidc-idp.mjs   → prints one JSON line: {"real": "<issuer>", "forge": "<issuer>"}
 *
 * Two IdPs on 127.0.0.1, each on its own ephemeral port:
 *
 * - real:  oidc-provider 9 — real authorization codes, real RS256-signed ID tokens, UserInfo, PKCE
 *          required, RFC 9207 `iss` in authorization responses. devInteractions are off; the
 *          interaction endpoint below logs in the account chosen through the admin API and grants
 *          the requested scopes (a test-only auto-consent).
 * - forge: a minimal IdP (discovery, JWKS, authorize, token, userinfo) whose token endpoint mints
 *          the ID tokens oidc-provider will not produce (alg none, bad signature, HS256 keyed with
 *          the public key, wrong iss / aud / azp, stale iat, no sub, unknown kid...), signed with
 *          jose. It still checks client authentication, the code (single use), redirect_uri and
 *          PKCE S256 like a real IdP.
 *
 * Admin API (JSON, same port as each IdP, test use only):
 *   real:  POST /__admin/clients {clients}             replace the registered clients
 *          POST /__admin/account {sub, claims}         the account the next interaction logs in
 *          POST /__admin/rotate {keepOld?}             new signing key (new kid) first in the JWKS
 *          GET  /__admin/stats                         request counters (jwks, token, userinfo, authorize)
 *   forge: POST /__admin/clients {clients}
 *          POST /__admin/scenario {...}                see `scenario` below
 *          GET  /__admin/stats
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import * as jose from "jose";
import Provider from "oidc-provider";

const HOST = "127.0.0.1";

// ---------------------------------------------------------------- helpers

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new Error("body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve(`http://${HOST}:${server.address().port}`)));
}

async function rsaKey(kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair("RS256", { extractable: true });
  const privateJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  return { kid, privateKey, publicKey, privateJwk, publicJwk, publicPem: await jose.exportSPKI(publicKey) };
}

const b64url = (input) => Buffer.from(input).toString("base64url");
const counters = () => ({ jwks: 0, token: 0, userinfo: 0, authorize: 0, discovery: 0 });

// ---------------------------------------------------------------- real IdP (oidc-provider)

const real = {
  server: http.createServer(),
  issuer: "",
  provider: null,
  handler: null,
  clients: [],
  keys: [],
  accounts: new Map(),
  nextSub: null,
  stats: counters(),
  cookieKeys: [randomBytes(32).toString("hex")],
};

function buildRealProvider() {
  const provider = new Provider(real.issuer, {
    clients: real.clients,
    jwks: { keys: real.keys.map((k) => k.privateJwk) },
    cookies: { keys: real.cookieKeys },
    features: { devInteractions: { enabled: false } },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "groups"] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      const claims = real.accounts.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ ...claims, sub }) };
    },
    async renderError(ctx, out) {
      ctx.type = "json";
      ctx.body = out;
    },
  });
  real.handler = provider.callback();
  return provider;
}

async function realInteraction(req, res) {
  const details = await real.provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === "login") {
    if (!real.nextSub) return json(res, 400, { error: "no account chosen: POST /__admin/account first" });
    return real.provider.interactionFinished(req, res, { login: { accountId: real.nextSub } }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === "consent") {
    const grant = details.grantId
      ? await real.provider.Grant.find(details.grantId)
      : new real.provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(" "));
    const grantId = await grant.save();
    return real.provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return json(res, 400, { error: `unexpected prompt ${prompt.name}` });
}

real.server.on("request", async (req, res) => {
  const url = new URL(req.url, real.issuer);
  try {
    if (url.pathname.startsWith("/__admin/")) {
      const body = req.method === "POST" ? JSON.parse((await readBody(req)) || "{}") : {};
      switch (url.pathname) {
        case "/__admin/clients":
          real.clients = body.clients;
          real.provider = buildRealProvider();
          return json(res, 200, { ok: true });
        case "/__admin/account":
          real.accounts.set(body.sub, body.claims ?? {});
          real.nextSub = body.sub;
          return json(res, 200, { ok: true });
        case "/__admin/rotate": {
          const key = await rsaKey(`real-${randomUUID()}`);
          real.keys = body.keepOld === false ? [key] : [key, ...real.keys];
          real.provider = buildRealProvider();
          return json(res, 200, { kid: key.kid, kids: real.keys.map((k) => k.kid) });
        }
        case "/__admin/stats":
          return json(res, 200, real.stats);
        default:
          return json(res, 404, { error: "unknown admin endpoint" });
      }
    }
    if (url.pathname === "/jwks") real.stats.jwks += 1;
    if (url.pathname === "/token") real.stats.token += 1;
    if (url.pathname === "/me") real.stats.userinfo += 1;
    if (url.pathname === "/auth") real.stats.authorize += 1;
    if (url.pathname === "/.well-known/openid-configuration") real.stats.discovery += 1;
    if (url.pathname.startsWith("/interaction/")) return await realInteraction(req, res);
    return real.handler(req, res);
  } catch (error) {
    if (!res.headersSent) json(res, 500, { error: "idp_error", message: String(error?.message ?? error) });
  }
});

// ---------------------------------------------------------------- forging IdP

/**
 * scenario (POST /__admin/scenario replaces it; every field optional):
 *   account    { sub, email, email_verified, name, groups }   the person (default forge-user)
 *   claims     ID token claim overrides; null deletes a claim
 *   header     ID token header overrides
 *   sign       "rs256" | "none" | "bad-signature" | "hs256-public-key" | "unknown-key"
 *   issParam   "ok" | "omit" | "wrong"                         RFC 9207 iss in the redirect
 *   metadata   discovery document overrides (null deletes)
 *   userinfo   UserInfo claim overrides (null deletes)
 */
const forge = {
  server: http.createServer(),
  issuer: "",
  key: null,
  clients: [],
  codes: new Map(),
  accessTokens: new Map(),
  scenario: {},
  stats: counters(),
};

const DEFAULT_ACCOUNT = { sub: "forge-user", email: "forge.user@forge.example", email_verified: true, name: "Forge User", groups: ["Engineering"] };

function forgeMetadata() {
  const base = {
    issuer: forge.issuer,
    authorization_endpoint: `${forge.issuer}/authorize`,
    token_endpoint: `${forge.issuer}/token`,
    jwks_uri: `${forge.issuer}/jwks`,
    userinfo_endpoint: `${forge.issuer}/userinfo`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    scopes_supported: ["openid", "email", "profile"],
    authorization_response_iss_parameter_supported: true,
  };
  for (const [name, value] of Object.entries(forge.scenario.metadata ?? {})) {
    if (value === null) delete base[name];
    else base[name] = value;
  }
  return base;
}

function withOverrides(base, overrides) {
  const out = { ...base };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === null) delete out[name];
    else out[name] = value;
  }
  return out;
}

async function mintIdToken(clientId, nonce) {
  const now = Math.floor(Date.now() / 1000);
  const account = { ...DEFAULT_ACCOUNT, ...forge.scenario.account };
  const claims = withOverrides({ iss: forge.issuer, aud: clientId, exp: now + 300, iat: now, auth_time: now, nonce, ...account }, forge.scenario.claims);
  const header = (alg, kid) => withOverrides({ alg, typ: "JWT", ...(kid ? { kid } : {}) }, forge.scenario.header);
  switch (forge.scenario.sign ?? "rs256") {
    case "rs256":
      return new jose.SignJWT(claims).setProtectedHeader(header("RS256", forge.key.kid)).sign(forge.key.privateKey);
    case "none":
      return `${b64url(JSON.stringify(header("none")))}.${b64url(JSON.stringify(claims))}.`;
    case "bad-signature": {
      const token = await new jose.SignJWT(claims).setProtectedHeader(header("RS256", forge.key.kid)).sign(forge.key.privateKey);
      const [h, p, s] = token.split(".");
      const signature = Buffer.from(s, "base64url");
      signature[Math.floor(signature.length / 2)] ^= 0x01;
      return `${h}.${p}.${signature.toString("base64url")}`;
    }
    case "hs256-public-key":
      // The classic key confusion: HMAC keyed with the IdP's own public key (PEM), which anyone has.
      return new jose.SignJWT(claims).setProtectedHeader(header("HS256", forge.key.kid)).sign(new TextEncoder().encode(forge.key.publicPem));
    case "unknown-key": {
      const stranger = await rsaKey(`stranger-${randomUUID()}`);
      return new jose.SignJWT(claims).setProtectedHeader(header("RS256", stranger.kid)).sign(stranger.privateKey);
    }
    default:
      throw new Error(`unknown sign mode ${forge.scenario.sign}`);
  }
}

function clientAuth(req, form) {
  const basic = req.headers.authorization;
  let id;
  let secret;
  if (basic?.startsWith("Basic ")) {
    const [rawId, rawSecret] = Buffer.from(basic.slice(6), "base64").toString("utf8").split(":");
    id = decodeURIComponent(rawId);
    secret = decodeURIComponent(rawSecret ?? "");
  } else {
    id = form.get("client_id");
    secret = form.get("client_secret");
  }
  const client = forge.clients.find((c) => c.client_id === id);
  return client && client.client_secret === secret ? client : null;
}

forge.server.on("request", async (req, res) => {
  const url = new URL(req.url, forge.issuer);
  try {
    switch (url.pathname) {
      case "/__admin/clients":
        forge.clients = JSON.parse(await readBody(req)).clients;
        return json(res, 200, { ok: true });
      case "/__admin/scenario":
        forge.scenario = JSON.parse((await readBody(req)) || "{}");
        return json(res, 200, { ok: true });
      case "/__admin/stats":
        return json(res, 200, forge.stats);
      case "/.well-known/openid-configuration":
        forge.stats.discovery += 1;
        return json(res, 200, forgeMetadata());
      case "/jwks":
        forge.stats.jwks += 1;
        return json(res, 200, { keys: [forge.key.publicJwk] });
      case "/authorize": {
        forge.stats.authorize += 1;
        const q = url.searchParams;
        const client = forge.clients.find((c) => c.client_id === q.get("client_id"));
        if (!client || !client.redirect_uris.includes(q.get("redirect_uri"))) return json(res, 400, { error: "invalid_request", error_description: "unknown client or redirect_uri" });
        const back = new URL(q.get("redirect_uri"));
        const reply = (params) => {
          for (const [k, v] of Object.entries(params)) back.searchParams.set(k, v);
          const iss = forge.scenario.issParam ?? "ok";
          if (iss === "ok") back.searchParams.set("iss", forge.issuer);
          if (iss === "wrong") back.searchParams.set("iss", "https://attacker.example");
          res.writeHead(302, { location: back.href });
          res.end();
        };
        if (q.get("response_type") !== "code" || q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
          return reply({ error: "invalid_request", error_description: "response_type=code with PKCE S256 required", state: q.get("state") ?? "" });
        }
        const code = randomBytes(24).toString("base64url");
        forge.codes.set(code, { clientId: client.client_id, redirectUri: q.get("redirect_uri"), nonce: q.get("nonce"), challenge: q.get("code_challenge"), used: false });
        return reply({ code, state: q.get("state") ?? "" });
      }
      case "/token": {
        forge.stats.token += 1;
        const form = new URLSearchParams(await readBody(req));
        const client = clientAuth(req, form);
        if (!client) return json(res, 401, { error: "invalid_client" });
        const grant = forge.codes.get(form.get("code"));
        if (!grant || grant.used || grant.clientId !== client.client_id) return json(res, 400, { error: "invalid_grant", error_description: "unknown or used code" });
        grant.used = true;
        if (grant.redirectUri !== form.get("redirect_uri")) return json(res, 400, { error: "invalid_grant", error_description: "redirect_uri mismatch" });
        const verifier = form.get("code_verifier") ?? "";
        if (createHash("sha256").update(verifier).digest("base64url") !== grant.challenge) return json(res, 400, { error: "invalid_grant", error_description: "PKCE verification failed" });
        const accessToken = randomBytes(24).toString("base64url");
        forge.accessTokens.set(accessToken, true);
        return json(res, 200, { access_token: accessToken, token_type: "Bearer", expires_in: 300, scope: "openid email profile", id_token: await mintIdToken(client.client_id, grant.nonce) });
      }
      case "/userinfo": {
        forge.stats.userinfo += 1;
        const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
        if (!forge.accessTokens.has(token)) return json(res, 401, { error: "invalid_token" }, { "www-authenticate": 'Bearer error="invalid_token"' });
        const account = { ...DEFAULT_ACCOUNT, ...forge.scenario.account };
        return json(res, 200, withOverrides(account, forge.scenario.userinfo));
      }
      default:
        return json(res, 404, { error: "not_found" });
    }
  } catch (error) {
    if (!res.headersSent) json(res, 500, { error: "idp_error", message: String(error?.message ?? error) });
  }
});

// ---------------------------------------------------------------- start

real.issuer = await listen(real.server);
forge.issuer = await listen(forge.server);
real.keys = [await rsaKey(`real-${randomUUID()}`)];
real.provider = buildRealProvider();
forge.key = await rsaKey("forge-key-1");

process.stdout.write(`${JSON.stringify({ real: real.issuer, forge: forge.issuer })}\n`);

const stop = () => {
  real.server.close();
  forge.server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// The parent's end of stdin closing (Jest worker gone) also ends this process: no orphans.
process.stdin.on("end", stop);
process.stdin.resume();
