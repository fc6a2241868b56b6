/**
 * Our access tokens (SECURITY-CASES tok-01..tok-05): what `/graphql` accepts as
 * `Authorization: Bearer <access token>`.
 *
 * A genuine session comes from `app.login.complete(...)` (what a SAML / OIDC validator calls after
 * checking a signature) and the code exchange at `POST /auth/token`. Forged tokens are built here
 * byte by byte — with attacker keys generated in the test, with our public key as an HMAC secret, or
 * signed with the service's real current key (`app.signingKeys.signingKey()`) and a bad claim — and
 * every one is sent over real HTTP. Where several faults answer the same public error, the internal
 * reason is also read from `app.accessTokens.verify` to show each token is refused for the fault it
 * carries, not for another one.
 */
import { createHash, createHmac, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, X509Certificate, type JsonWebKey as NodeJwk, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWK, type JWTPayload } from "jose";
import forge from "node-forge";
import type { LoginIdentity } from "../../src/sso/login.types";
import { DATABASES } from "../support/databases";
import { createOrganization } from "../support/fixtures";
import { errorCode, ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

const REDIRECT = "https://app.example.com/auth/callback";

interface Session {
  accessToken: string;
  refreshToken: string;
  claims: JWTPayload & { sid: string; org: string; role: string; sub: string };
  kid: string;
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");
const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------
// a genuine session

async function ssoOrg(server: TestServer): Promise<{ id: string; slug: string }> {
  return createOrganization(server, { ssoEnabled: true, allowedRedirectUrls: [REDIRECT], defaultRoleKey: "developer" });
}

async function signIn(server: TestServer, organizationId: string): Promise<Session> {
  const identity: LoginIdentity = {
    organizationId,
    connectionId: null,
    protocol: "oidc",
    issuer: "https://idp.example.com",
    subject: `subject-${randomUUID()}`,
    email: null,
    emailVerified: false,
    displayName: "Token Tester",
    groups: ["Engineering"],
  };
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const { redirectUrl } = await server.app.login.complete(
    identity,
    { redirectUri: REDIRECT, codeChallenge: challenge, clientState: null },
    { ip: "127.0.0.1", userAgent: "access-token-suite/1.0", requestId: `tok-${randomUUID()}` },
  );
  const code = new URL(redirectUrl).searchParams.get("code") ?? "";
  const answer = await tokenEndpoint(server, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier });
  if (answer.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(answer.body)}`);
  const accessToken = String(answer.body.access_token);
  return {
    accessToken,
    refreshToken: String(answer.body.refresh_token),
    claims: decodeJwt(accessToken) as Session["claims"],
    kid: String(decodeProtectedHeader(accessToken).kid),
  };
}

const baseUrl = (server: TestServer) => server.url.replace(/\/graphql$/, "");

async function tokenEndpoint(server: TestServer, body: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl(server)}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function jwks(server: TestServer): Promise<JWK[]> {
  const response = await fetch(`${baseUrl(server)}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { keys: JWK[] }).keys;
}

// ---------------------------------------------------------------------------------------------
// asking /graphql

const ME = `{ me { id kind role { key } } }`;

async function meWith(server: TestServer, token: string): Promise<GraphQLResponse<{ me: { id: string; kind: string } }>> {
  return server.gql<{ me: { id: string; kind: string } }>(ME, {}, token);
}

async function expectAccepted(server: TestServer, token: string, session: Session): Promise<void> {
  expect(ok(await meWith(server, token)).me).toMatchObject({ id: session.claims.sub, kind: "USER" });
}

async function expectUnauthenticated(server: TestServer, token: string): Promise<void> {
  const response = await meWith(server, token);
  expect({ code: errorCode(response), data: response.data ?? null }).toEqual({ code: "UNAUTHENTICATED", data: null });
}

/** jose's code for a failed claim check (the detail names no claim: each case changes exactly one). */
const CLAIM_CHECK = /ERR_JWT_CLAIM_VALIDATION_FAILED/;

/** The internal reason the verifier gives (logged, never sent). */
async function refusalDetail(server: TestServer, token: string): Promise<string> {
  const error = await server.app.accessTokens.verify(token).then(
    () => null,
    (e: { code?: string; detail?: string }) => e,
  );
  expect(error?.code).toBe("UNAUTHENTICATED");
  return String(error?.detail);
}

// ---------------------------------------------------------------------------------------------
// forging tokens

/** A compact JWS built by hand, so nothing normalises or refuses the header on our side. */
function compact(header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: Buffer) => Buffer): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(signer(Buffer.from(input)))}`;
}

const es256 = (key: KeyObject) => (input: Buffer) => sign("sha256", input, { key, dsaEncoding: "ieee-p1363" });
const hs256 = (secret: Buffer | string) => (input: Buffer) => createHmac("sha256", secret).update(input).digest();

/** Attacker key pairs for the algorithms we never accept. */
const ATTACKER_ALGS: Array<[string, () => (input: Buffer) => Buffer]> = [
  ["RS256", () => { const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 }); return (i) => sign("sha256", i, privateKey); }],
  ["PS256", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return (i) => sign("sha256", i, { key: privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 });
  }],
  ["ES384", () => { const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-384" }); return (i) => sign("sha384", i, { key: privateKey, dsaEncoding: "ieee-p1363" }); }],
  ["ES512", () => { const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-521" }); return (i) => sign("sha512", i, { key: privateKey, dsaEncoding: "ieee-p1363" }); }],
  ["EdDSA", () => { const { privateKey } = generateKeyPairSync("ed25519"); return (i) => sign(null, i, privateKey); }],
];

/** Claims exactly like a genuine token's, with a fresh jti. */
function genuineClaims(session: Session, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...session.claims, jti: randomUUID(), ...overrides };
}

/** Signed with the service's REAL current key: only the claims or typ are wrong. */
async function signedWithOurKey(server: TestServer, payload: Record<string, unknown>, header: { typ?: string } = {}): Promise<string> {
  const { kid, key } = await server.app.signingKeys.signingKey();
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt", ...header }).sign(key);
}

/** A self-signed X.509 certificate (ecdsa-with-SHA256) for an attacker key, base64 DER, for x5c. */
function selfSignedCertificate(publicKey: KeyObject, privateKey: KeyObject): string {
  const { asn1 } = forge;
  const U = asn1.Class.UNIVERSAL;
  const oid = (o: string) => asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(o).getBytes());
  const ecdsaWithSha256 = asn1.create(U, asn1.Type.SEQUENCE, true, [oid("1.2.840.10045.4.3.2")]);
  const name = asn1.create(U, asn1.Type.SEQUENCE, true, [
    asn1.create(U, asn1.Type.SET, true, [asn1.create(U, asn1.Type.SEQUENCE, true, [oid("2.5.4.3"), asn1.create(U, asn1.Type.UTF8, false, "attacker")])]),
  ]);
  const time = (offsetDays: number) => asn1.create(U, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(new Date(Date.now() + offsetDays * 86_400_000)));
  const spki = asn1.fromDer(forge.util.createBuffer(publicKey.export({ type: "spki", format: "der" }).toString("binary")));
  const tbs = asn1.create(U, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, asn1.Type.INTEGER, false, "\x02")]),
    asn1.create(U, asn1.Type.INTEGER, false, "\x01"),
    ecdsaWithSha256,
    name,
    asn1.create(U, asn1.Type.SEQUENCE, true, [time(-1), time(1)]),
    name,
    spki,
  ]);
  const signature = sign("sha256", Buffer.from(asn1.toDer(tbs).getBytes(), "binary"), privateKey);
  const certificate = asn1.create(U, asn1.Type.SEQUENCE, true, [tbs, ecdsaWithSha256, asn1.create(U, asn1.Type.BITSTRING, false, `\x00${signature.toString("binary")}`)]);
  return Buffer.from(asn1.toDer(certificate).getBytes(), "binary").toString("base64");
}

// =============================================================================================

describe.each(DATABASES)("access tokens on $name", (kind) => {
  let server: TestServer;
  let org: { id: string; slug: string };
  let session: Session;

  beforeAll(async () => {
    server = await startServer(kind);
    org = await ssoOrg(server);
    session = await signIn(server, org.id);
  });
  afterAll(() => server.stop());

  test("a genuine access token is accepted (ES256, typ at+jwt, our kid) and a copy signed with our key is too", async () => {
    await expectAccepted(server, session.accessToken, session);
    expect(decodeProtectedHeader(session.accessToken)).toEqual({ alg: "ES256", typ: "at+jwt", kid: session.kid });
    expect(session.claims).toMatchObject({ org: org.id, role: "developer", aud: "intercom-enterprise-rbac" });
    // The forging helpers below only change what each case names: unchanged, they make a valid token.
    await expectAccepted(server, await signedWithOurKey(server, genuineClaims(session)), session);
  });

  describe("tok-01 only ES256", () => {
    test.each([["none"], ["None"], ["NONE"]])("tok-01 alg %s (unsigned) → UNAUTHENTICATED", async (alg) => {
      const header = { alg, typ: "at+jwt", kid: session.kid };
      const token = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(genuineClaims(session)))}.`;
      await expectUnauthenticated(server, token);
      expect(await refusalDetail(server, token)).toMatch(/algorithm/);
    });

    test("tok-01 HS256 keyed with our public key (JWK JSON, JWKS JSON, PEM, DER, coordinates) → UNAUTHENTICATED", async () => {
      const published = (await jwks(server)).find((k) => k.kid === session.kid)!;
      const publicKey = createPublicKey({ key: published as NodeJwk, format: "jwk" });
      const secrets: Array<Buffer | string> = [
        JSON.stringify(published),
        JSON.stringify({ keys: [published] }),
        JSON.stringify({ kty: published.kty, crv: published.crv, x: published.x, y: published.y }),
        publicKey.export({ type: "spki", format: "pem" }) as string,
        publicKey.export({ type: "spki", format: "der" }),
        Buffer.concat([Buffer.from(published.x!, "base64url"), Buffer.from(published.y!, "base64url")]),
      ];
      for (const secret of secrets) {
        const token = compact({ alg: "HS256", typ: "at+jwt", kid: session.kid }, genuineClaims(session), hs256(secret));
        await expectUnauthenticated(server, token);
        expect(await refusalDetail(server, token)).toMatch(/algorithm HS256/);
      }
    });

    test.each(ATTACKER_ALGS)("tok-01 %s signed by an attacker key under our kid → UNAUTHENTICATED", async (alg, signer) => {
      const token = compact({ alg, typ: "at+jwt", kid: session.kid }, genuineClaims(session), signer());
      await expectUnauthenticated(server, token);
      expect(await refusalDetail(server, token)).toMatch(new RegExp(`algorithm ${alg}`));
    });
  });

  describe("tok-02 keys come only from our key set; nothing is fetched", () => {
    let attacker: { publicKey: KeyObject; privateKey: KeyObject; jwk: JWK; kid: string };
    let host: Server;
    let hostUrl: string;
    const hits: string[] = [];

    beforeAll(async () => {
      const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = pair.publicKey.export({ format: "jwk" }) as JWK;
      attacker = { ...pair, jwk, kid: "attacker-key-1" };
      host = createServer((req, res) => {
        hits.push(`${req.method} ${req.url}`);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: [{ ...jwk, kid: attacker.kid, alg: "ES256", use: "sig" }] }));
      });
      await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
      hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => host.close(() => resolve())));

    test("the attacker's certificate is a real self-signed certificate of the attacker key", () => {
      const cert = new X509Certificate(Buffer.from(selfSignedCertificate(attacker.publicKey, attacker.privateKey), "base64"));
      expect(cert.verify(attacker.publicKey)).toBe(true);
      expect(cert.publicKey.export({ format: "jwk" })).toEqual(attacker.jwk);
    });

    const cases: Array<[string, () => Record<string, unknown>, RegExp]> = [
      ["an unknown kid", () => ({ kid: "no-such-kid" }), /unknown or retired/],
      ["no kid", () => ({}), /no key id/],
      ["our kid over an attacker signature", () => ({ kid: session.kid }), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED|signature/],
      ["an embedded jwk (no kid)", () => ({ jwk: attacker.jwk }), /jwk/],
      ["an embedded jwk under our kid", () => ({ kid: session.kid, jwk: attacker.jwk }), /jwk/],
      ["a jku to the attacker's JWKS", () => ({ kid: attacker.kid, jku: `${hostUrl}/jwks.json` }), /jku/],
      ["a jku under our kid", () => ({ kid: session.kid, jku: `${hostUrl}/jwks-ours.json` }), /jku/],
      ["an x5u to the attacker's certificate", () => ({ kid: attacker.kid, x5u: `${hostUrl}/cert.pem` }), /x5u/],
      ["an x5c self-signed certificate", () => ({ x5c: [selfSignedCertificate(attacker.publicKey, attacker.privateKey)] }), /x5c/],
      ["an x5c under our kid", () => ({ kid: session.kid, x5c: [selfSignedCertificate(attacker.publicKey, attacker.privateKey)] }), /x5c/],
    ];

    test.each(cases)("tok-02 %s → UNAUTHENTICATED", async (_label, header, reason) => {
      const token = compact({ alg: "ES256", typ: "at+jwt", ...header() }, genuineClaims(session), es256(attacker.privateKey));
      await expectUnauthenticated(server, token);
      expect(await refusalDetail(server, token)).toMatch(reason);
    });

    test("tok-02 after every forged header above, the attacker's host received zero requests", async () => {
      // Once more here, so this test holds on its own too.
      for (const header of [{ jku: `${hostUrl}/jwks.json` }, { x5u: `${hostUrl}/cert.pem` }, { kid: attacker.kid, jku: `${hostUrl}/k` }]) {
        await expectUnauthenticated(server, compact({ alg: "ES256", typ: "at+jwt", ...header }, genuineClaims(session), es256(attacker.privateKey)));
      }
      expect(hits).toEqual([]);
    });
  });

  describe("tok-03 lifetimes", () => {
    const input = () => ({ userId: session.claims.sub, sessionId: session.claims.sid, organizationId: session.claims.org, roleKey: session.claims.role });

    test("tok-03 an expired but otherwise valid token → TOKEN_EXPIRED, telling the client to refresh", async () => {
      const { token } = await server.app.accessTokens.issue(input(), new Date(Date.now() - 60 * 60 * 1000));
      const response = await meWith(server, token);
      expect(errorCode(response)).toBe("TOKEN_EXPIRED");
      expect(response.data ?? null).toBeNull();
      expect(response.errors?.[0].message).toMatch(/refresh/i);
      expect(response.errors?.[0].message).toContain("/auth/token");
    });

    test("tok-03 exp inside the clock tolerance is still accepted, just past it is TOKEN_EXPIRED", async () => {
      const ttl = Number(session.claims.exp) - Number(session.claims.iat);
      const inside = await server.app.accessTokens.issue(input(), new Date(Date.now() - (ttl + 1) * 1000));
      await expectAccepted(server, inside.token, session);
      const outside = await server.app.accessTokens.issue(input(), new Date(Date.now() - (ttl + 30) * 1000));
      expect(errorCode(await meWith(server, outside.token))).toBe("TOKEN_EXPIRED");
    });

    test.each([
      ["iat in the future", () => ({ iat: nowSeconds() + 3600, exp: nowSeconds() + 4500 }), /future|iat/],
      ["nbf in the future", () => ({ nbf: nowSeconds() + 3600 }), CLAIM_CHECK],
      ["exp missing", () => ({ exp: undefined }), CLAIM_CHECK],
      ["iat missing", () => ({ iat: undefined }), CLAIM_CHECK],
      ["exp not a number", () => ({ exp: "tomorrow" }), CLAIM_CHECK],
    ])("tok-03 %s (signed with our real key) → UNAUTHENTICATED", async (_label, change, reason) => {
      const token = await signedWithOurKey(server, genuineClaims(session, change()));
      await expectUnauthenticated(server, token);
      expect(await refusalDetail(server, token)).toMatch(reason);
    });
  });

  describe("tok-04 issuer, audience and type", () => {
    test.each([
      ["a wrong iss", { iss: "https://idp.example.com" }, {}, CLAIM_CHECK],
      ["no iss", { iss: undefined }, {}, CLAIM_CHECK],
      ["a wrong aud", { aud: "another-service" }, {}, CLAIM_CHECK],
      ["no aud", { aud: undefined }, {}, CLAIM_CHECK],
      ["typ JWT", {}, { typ: "JWT" }, /not an access token/],
      ["no typ", {}, { typ: undefined }, /not an access token/],
      ["an ID-token shape (typ JWT, aud = a client id, no sid)", { aud: "frontend-client", sid: undefined, nonce: "n-0S6_WzA2Mj" }, { typ: "JWT" }, /not an access token/],
    ] as Array<[string, Record<string, unknown>, { typ?: string }, RegExp]>)("tok-04 %s (signed with our real key) → UNAUTHENTICATED", async (_label, claims, header, reason) => {
      const token = await signedWithOurKey(server, genuineClaims(session, claims), header);
      await expectUnauthenticated(server, token);
      expect(await refusalDetail(server, token)).toMatch(reason);
    });

    test("tok-04 a claim org / role / sid that differs from the session → UNAUTHENTICATED", async () => {
      for (const change of [{ role: "admin" }, { org: randomUUID() }, { sid: randomUUID() }, { sub: randomUUID() }]) {
        await expectUnauthenticated(server, await signedWithOurKey(server, genuineClaims(session, change)));
      }
    });

    test("tok-04 an IdP's ID token (its own key, typ JWT) → UNAUTHENTICATED", async () => {
      const idp = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const idToken = compact(
        { alg: "ES256", typ: "JWT", kid: "idp-key" },
        { iss: "https://idp.example.com", aud: "frontend-client", sub: session.claims.sub, iat: nowSeconds(), exp: nowSeconds() + 300, nonce: "abc" },
        es256(idp.privateKey),
      );
      await expectUnauthenticated(server, idToken);
    });

    test("tok-04 a refresh token presented as an access token → UNAUTHENTICATED", async () => {
      const response = await meWith(server, session.refreshToken);
      expect({ code: errorCode(response), data: response.data ?? null }).toEqual({ code: "UNAUTHENTICATED", data: null });
      // ... and it still refreshes: presenting it did not count as a use.
      expect((await tokenEndpoint(server, { grant_type: "refresh_token", refresh_token: session.refreshToken })).status).toBe(200);
    });
  });

  describe("tok-05 signing-key rotation (own server: rotation changes the key set)", () => {
    let rotating: TestServer;
    beforeAll(async () => {
      rotating = await startServer(kind);
    });
    afterAll(() => rotating.stop());

    test("tok-05 after rotate() the old token still works and JWKS lists both keys; after retire(old) it is UNAUTHENTICATED", async () => {
      const rotatingOrg = await ssoOrg(rotating);
      const before = await signIn(rotating, rotatingOrg.id);
      expect((await jwks(rotating)).map((k) => k.kid)).toEqual([before.kid]);

      const newKid = await rotating.app.signingKeys.rotate();
      expect(newKid).not.toBe(before.kid);
      expect((await jwks(rotating)).map((k) => k.kid).sort()).toEqual([before.kid, newKid].sort());
      await expectAccepted(rotating, before.accessToken, before);

      const after = await signIn(rotating, rotatingOrg.id);
      expect(after.kid).toBe(newKid);
      await expectAccepted(rotating, after.accessToken, after);

      await rotating.app.signingKeys.retire(before.kid);
      await expectUnauthenticated(rotating, before.accessToken);
      expect(await refusalDetail(rotating, before.accessToken)).toMatch(/retired/);
      await expectAccepted(rotating, after.accessToken, after);
      expect((await jwks(rotating)).map((k) => k.kid)).toEqual([newKid]);
      for (const key of await jwks(rotating)) {
        expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
      }
    });

    test("tok-05 a key rotated and retired on one instance is refused by every instance on the same database", async () => {
      const second = await startServer(kind, { database: rotating.database, env: { RBAC_BOOTSTRAP_API_KEY: rotating.platformKey } });
      try {
        const rotatingOrg = await ssoOrg(rotating);
        const before = await signIn(rotating, rotatingOrg.id);
        await expectAccepted(second, before.accessToken, before);

        const newKid = await rotating.app.signingKeys.rotate();
        await rotating.app.signingKeys.retire(before.kid);
        await expectUnauthenticated(rotating, before.accessToken);
        await expectUnauthenticated(second, before.accessToken);
        // ... and the other instance signs with the key that is current now, which every instance accepts.
        const fromSecond = await signIn(second, rotatingOrg.id);
        expect(fromSecond.kid).toBe(newKid);
        await expectAccepted(rotating, fromSecond.accessToken, fromSecond);
      } finally {
        await second.stop(false);
      }
    });

    test("tok-05 retiring the key that currently signs never leaves the service signing with a retired key", async () => {
      const rotatingOrg = await ssoOrg(rotating);
      const { kid } = await rotating.app.signingKeys.signingKey();
      // Either retire refuses to retire the active key, or a fresh key takes over: both are fine.
      await rotating.app.signingKeys.retire(kid).catch(() => undefined);
      const fresh = await signIn(rotating, rotatingOrg.id);
      await expectAccepted(rotating, fresh.accessToken, fresh);
      expect((await jwks(rotating)).map((k) => k.kid)).toContain(fresh.kid);
    });
  });
});
