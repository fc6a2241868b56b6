/**
 * SAML connections as an administrator sees them (GraphQL), our SP metadata, and the login route,
 * on every database: defaults, validation, audit of changes (never a key), tenant isolation,
 * metadata import from a real samlify IdP, the configuration test, and the login start.
 */
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import forge from "node-forge";
import * as samlify from "samlify";
import { SignedXml } from "xml-crypto";
import { AuditEntryEntity } from "../../src/audit/audit-entry.entity";
import { SamlConnectionEntity, SamlRequestEntity } from "../../src/sso/saml/saml-connection.entity";
import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals, type OrgFixture } from "../support/fixtures";
import { CONNECTION_FIELDS, FRONTEND, loginAudit, setupSaml, type SamlSetup } from "../support/saml-harness";
import { child, createKeyPair, descendant, parse, SAML } from "../support/saml-idp";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const CREATE = `mutation($input: CreateSamlConnectionInput!) { createSamlConnection(input: $input) { ${CONNECTION_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateSamlConnectionInput!) { updateSamlConnection(id: $id, input: $input) { ${CONNECTION_FIELDS} } }`;
const LIST = `query($org: ID!) { samlConnections(organizationId: $org) { ${CONNECTION_FIELDS} } }`;
const TEST = `query($id: ID!) { testSamlConnection(id: $id) { ok problems } }`;
const IMPORT = `mutation($org: ID!, $xml: String!) { importSamlMetadata(organizationId: $org, metadataXml: $xml) { ${CONNECTION_FIELDS} } }`;
const DELETE = `mutation($id: ID!) { deleteSamlConnection(id: $id) }`;

type Connection = {
  id: string;
  organizationId: string;
  idpEntityId: string;
  idpSsoUrl: string;
  idpSsoBinding: string;
  spEntityId: string;
  acsUrl: string;
  metadataUrl: string;
  loginUrl: string;
  clockSkewSeconds: number;
  allowIdpInitiated: boolean;
  emailAttribute: string;
  displayNameAttribute: string;
  groupsAttribute: string;
  idpCertificates: Array<{ fingerprintSha256: string; notAfter: string; expired: boolean; pem: string }>;
  spCertificate: { pem: string; fingerprintSha256: string };
};

function samlifyIdpMetadata(entityId: string, certificatePem: string, binding: "redirect" | "post", ssoUrl: string): string {
  return samlify
    .IdentityProvider({
      entityID: entityId,
      signingCert: certificatePem,
      singleSignOnService: [{ Binding: samlify.Constants.namespace.binding[binding], Location: ssoUrl }],
      singleLogoutService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${ssoUrl}/logout` }],
    })
    .getMetadata();
}

function certificateWith(validity: { notBefore: Date; notAfter: Date }, bits = 2048): string {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = "01";
  cert.validity.notBefore = validity.notBefore;
  cert.validity.notAfter = validity.notAfter;
  cert.setSubject([{ name: "commonName", value: "old-idp" }]);
  cert.setIssuer([{ name: "commonName", value: "old-idp" }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs8", format: "pem" }).toString()), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

describe.each(DATABASES)("SAML connections on $name", (kind) => {
  let server: TestServer;
  let a: OrgFixture;
  let b: OrgFixture;
  const idp = createKeyPair("idp.example.test");

  beforeAll(async () => {
    server = await startServer(kind);
    a = await createOrgWithPrincipals(server);
    b = await createOrgWithPrincipals(server);
  });
  afterAll(() => server?.stop());

  const input = (org: OrgFixture, extra: Record<string, unknown> = {}) => ({
    organizationId: org.id,
    idpEntityId: `https://idp.example.test/${Math.random().toString(36).slice(2)}`,
    idpSsoUrl: "https://idp.example.test/sso",
    idpCertificates: [idp.certificatePem],
    ...extra,
  });

  async function create(org: OrgFixture, extra: Record<string, unknown> = {}): Promise<Connection> {
    return ok(await server.gql<{ createSamlConnection: Connection }>(CREATE, { input: input(org, extra) }, org.keys.admin)).createSamlConnection;
  }

  test("an organization admin creates a connection with the documented defaults; the SP private key is never readable", async () => {
    const c = await create(a);
    const base = `/auth/saml/${c.id}`;
    expect(c).toMatchObject({
      organizationId: a.id,
      idpSsoBinding: "HTTP_REDIRECT",
      clockSkewSeconds: 5,
      allowIdpInitiated: false,
      emailAttribute: "email",
      displayNameAttribute: "displayName",
      groupsAttribute: "groups",
    });
    expect(c.spEntityId.endsWith(`${base}/metadata`)).toBe(true);
    expect(c.acsUrl.endsWith(`${base}/acs`)).toBe(true);
    expect(c.metadataUrl).toBe(c.spEntityId);
    expect(c.loginUrl.endsWith(`${base}/login`)).toBe(true);
    expect(c.idpCertificates).toEqual([
      expect.objectContaining({ fingerprintSha256: new X509Certificate(idp.certificatePem).fingerprint256, expired: false }),
    ]);
    const sp = new X509Certificate(c.spCertificate.pem);
    expect(sp.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(sp.fingerprint256).toBe(c.spCertificate.fingerprintSha256);

    const fields = ok(await server.gql<{ __type: { fields: Array<{ name: string }> } }>(`{ __type(name: "SamlConnection") { fields { name } } }`)).__type.fields.map((f) => f.name);
    expect(fields.filter((f) => /private|secret|sealed|key/i.test(f))).toEqual([]);
    const row = await server.app.db.manager.findOneByOrFail(SamlConnectionEntity, { id: c.id });
    expect(row.spPrivateKeySealed.startsWith("v1.")).toBe(true);
    expect(row.spPrivateKeySealed).not.toContain("PRIVATE KEY");

    const entries = await server.app.db.manager.find(AuditEntryEntity, { where: { organizationId: a.id, operation: "Mutation.createSamlConnection" } });
    expect(entries.map((e) => ({ resource: e.resource, success: e.success }))).toContainEqual({ resource: `samlConnection:${c.id}`, success: true });
  });

  test("inputs are validated with messages that say what to fix", async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ clockSkewSeconds: 301 }, "BAD_USER_INPUT", /clockSkewSeconds/],
      [{ clockSkewSeconds: -1 }, "BAD_USER_INPUT", /clockSkewSeconds/],
      [{ idpCertificates: ["not a certificate"] }, "BAD_USER_INPUT", /idpCertificates\[0\] is not a valid X\.509 certificate/],
      [{ idpCertificates: [certificateWith({ notBefore: new Date(), notAfter: new Date(Date.now() + 1e9) }, 1024)] }, "BAD_USER_INPUT", /at least 2048/],
      [{ idpCertificates: [] }, "BAD_USER_INPUT", /idpCertificates/],
      [{ idpSsoUrl: "ftp://idp.example.test/sso" }, "BAD_USER_INPUT", /idpSsoUrl must use https/],
      [{ acsUrl: "not a url" }, "BAD_USER_INPUT", /acsUrl must be an absolute http\(s\) URL/],
      [{ privateKey: "x" }, "BAD_USER_INPUT", /privateKey/],
    ];
    for (const [extra, code, message] of cases) {
      const response = await server.gql(CREATE, { input: input(a, extra) }, a.keys.admin);
      expect({ extra: Object.keys(extra), code: errorCode(response) }).toEqual({ extra: Object.keys(extra), code });
      expect(response.errors![0].message).toMatch(message);
    }
    const first = await create(a);
    const duplicate = await server.gql(CREATE, { input: { ...input(a), idpEntityId: first.idpEntityId } }, a.keys.admin);
    expect(errorCode(duplicate)).toBe("CONFLICT");
    expect(duplicate.errors![0].message).toBe(`This organization already has a SAML connection for IdP ${first.idpEntityId}`);
  });

  test("an update is audited with the names of the fields that changed, never their values", async () => {
    const c = await create(a);
    const next = createKeyPair("idp-next.example.test");
    const updated = ok(
      await server.gql<{ updateSamlConnection: Connection }>(UPDATE, { id: c.id, input: { clockSkewSeconds: 30, idpCertificates: [idp.certificatePem, next.certificatePem] } }, a.keys.admin),
    ).updateSamlConnection;
    expect(updated.clockSkewSeconds).toBe(30);
    expect(updated.idpCertificates).toHaveLength(2);
    const entry = (await server.app.db.manager.find(AuditEntryEntity, { where: { organizationId: a.id, operation: "Mutation.updateSamlConnection" }, order: { id: "DESC" } }))[0];
    expect(entry).toMatchObject({ success: true, resource: `samlConnection:${c.id} changed: idpCertificates, clockSkewSeconds` });
    const reset = ok(await server.gql<{ updateSamlConnection: Connection }>(UPDATE, { id: c.id, input: { acsUrl: "https://rbac.example.test/acs" } }, a.keys.admin)).updateSamlConnection;
    expect(reset.acsUrl).toBe("https://rbac.example.test/acs");
    const back = ok(await server.gql<{ updateSamlConnection: Connection }>(UPDATE, { id: c.id, input: { acsUrl: null } }, a.keys.admin)).updateSamlConnection;
    expect(back.acsUrl.endsWith(`/auth/saml/${c.id}/acs`)).toBe(true);
    const all = await server.app.db.manager.find(AuditEntryEntity, { where: { organizationId: a.id } });
    for (const e of all) expect(`${e.resource} ${e.reason}`).not.toMatch(/PRIVATE KEY|MII[A-Za-z0-9+/]{20}/);
  });

  test("only admins manage connections, and another organization's connection is NOT_FOUND", async () => {
    const c = await create(a);
    for (const role of ["developer", "viewer", "service"] as const) {
      const list = await server.gql(LIST, { org: a.id }, a.keys[role]);
      expect({ role, code: errorCode(list), message: list.errors?.[0].message }).toEqual({ role, code: "FORBIDDEN", message: "Missing permission: admin" });
      expect(errorCode(await server.gql(CREATE, { input: input(a) }, a.keys[role]))).toBe("FORBIDDEN");
    }
    const del = await server.gql(DELETE, { id: c.id }, a.keys.developer);
    expect(del.errors?.[0].message).toBe("Missing permission: admin, delete");

    expect(errorCode(await server.gql(LIST, { org: a.id }, b.keys.admin))).toBe("NOT_FOUND");
    for (const [query, vars] of [
      [TEST, { id: c.id }],
      [UPDATE, { id: c.id, input: { clockSkewSeconds: 1 } }],
      [DELETE, { id: c.id }],
    ] as const) {
      const response = await server.gql(query, vars, b.keys.admin);
      expect({ code: errorCode(response), message: response.errors?.[0].message }).toEqual({ code: "NOT_FOUND", message: `SAML connection not found: ${c.id}` });
    }
    expect(errorCode(await server.gql(IMPORT, { org: a.id, xml: samlifyIdpMetadata("https://x.example.test", idp.certificatePem, "redirect", "https://x.example.test/sso") }, b.keys.admin))).toBe("NOT_FOUND");
    const mine = ok(await server.gql<{ samlConnections: Connection[] }>(LIST, { org: a.id }, a.keys.admin)).samlConnections;
    expect(mine.map((x) => x.id)).toContain(c.id);
    expect(mine.every((x) => x.organizationId === a.id)).toBe(true);
  });

  test("importSamlMetadata reads a real IdP's metadata, creates the connection, and updates the same one on re-import", async () => {
    const org = await createOrgWithPrincipals(server);
    const entityId = "https://samlify-idp.example.test/metadata";
    const first = ok(
      await server.gql<{ importSamlMetadata: Connection }>(IMPORT, { org: org.id, xml: samlifyIdpMetadata(entityId, idp.certificatePem, "redirect", "https://samlify-idp.example.test/sso") }, org.keys.admin),
    ).importSamlMetadata;
    expect(first).toMatchObject({ organizationId: org.id, idpEntityId: entityId, idpSsoUrl: "https://samlify-idp.example.test/sso", idpSsoBinding: "HTTP_REDIRECT", clockSkewSeconds: 5 });
    expect(first.idpCertificates.map((c) => c.fingerprintSha256)).toEqual([new X509Certificate(idp.certificatePem).fingerprint256]);

    const rotated = createKeyPair("idp-rotated.example.test");
    const second = ok(
      await server.gql<{ importSamlMetadata: Connection }>(IMPORT, { org: org.id, xml: samlifyIdpMetadata(entityId, rotated.certificatePem, "post", "https://samlify-idp.example.test/post") }, org.keys.admin),
    ).importSamlMetadata;
    expect(second).toMatchObject({ id: first.id, idpSsoUrl: "https://samlify-idp.example.test/post", idpSsoBinding: "HTTP_POST" });
    expect(second.idpCertificates.map((c) => c.fingerprintSha256)).toEqual([new X509Certificate(rotated.certificatePem).fingerprint256]);
    expect(ok(await server.gql<{ samlConnections: Connection[] }>(LIST, { org: org.id }, org.keys.admin)).samlConnections).toHaveLength(1);

    const evil = `<!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>${samlifyIdpMetadata(entityId, idp.certificatePem, "redirect", "https://x.example.test/sso")}`;
    const refused = await server.gql(IMPORT, { org: org.id, xml: evil }, org.keys.admin);
    expect({ code: errorCode(refused), message: refused.errors?.[0].message }).toEqual({
      code: "BAD_USER_INPUT",
      message: "The IdP metadata cannot be used: the XML contains a DOCTYPE declaration, which is never accepted",
    });
    const noCert = await server.gql(IMPORT, { org: org.id, xml: `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>` }, org.keys.admin);
    expect(noCert.errors?.[0].message).toMatch(/exactly one identity provider, found 0/);
  });

  test("testSamlConnection reports what must be fixed: expired certificates, SSO switched off", async () => {
    const s = await setupSaml(server);
    expect(ok(await server.gql<{ testSamlConnection: { ok: boolean; problems: string[] } }>(TEST, { id: s.connectionId })).testSamlConnection).toEqual({ ok: true, problems: [] });

    const expired = certificateWith({ notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2021-01-01T00:00:00Z") });
    ok(await server.gql(UPDATE, { id: s.connectionId, input: { idpCertificates: [s.idp.certificatePem, expired] } }));
    ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { ssoEnabled: false }) { id } }`, { id: s.orgId }));
    const result = ok(await server.gql<{ testSamlConnection: { ok: boolean; problems: string[] } }>(TEST, { id: s.connectionId })).testSamlConnection;
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      expect.stringMatching(/^IdP certificate 2 \(.+\) expired on 2021-01-01T00:00:00.000Z; add the IdP's current certificate\.$/),
      "SSO is disabled for this organization (ssoEnabled is false): logins answer SSO_DISABLED until it is turned on.",
    ]);
    const listed = ok(await server.gql<{ samlConnections: Connection[] }>(LIST, { org: s.orgId })).samlConnections[0];
    expect(listed.idpCertificates.map((c) => c.expired)).toEqual([false, true]);
  });

  test("GET /auth/saml/:id/metadata publishes our entity ID, ACS (POST), signing certificate and WantAssertionsSigned", async () => {
    const s = await setupSaml(server);
    const response = await fetch(`${s.base}/auth/saml/${s.connectionId}/metadata`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/samlmetadata\+xml/);
    const xml = await response.text();
    expect(xml).not.toMatch(/PRIVATE/);
    const doc = parse(xml);
    const root = doc.documentElement;
    expect(root.getAttribute("entityID")).toBe(s.spEntityId);
    const sp = child(root, "SPSSODescriptor");
    expect({ want: sp.getAttribute("WantAssertionsSigned"), signed: sp.getAttribute("AuthnRequestsSigned") }).toEqual({ want: "true", signed: "true" });
    const acs = child(sp, "AssertionConsumerService");
    expect({ binding: acs.getAttribute("Binding"), location: acs.getAttribute("Location") }).toEqual({ binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", location: s.acsUrl });
    const listed = ok(await server.gql<{ samlConnections: Connection[] }>(LIST, { org: s.orgId })).samlConnections[0];
    expect(new X509Certificate(Buffer.from(descendant(sp, "X509Certificate").textContent!, "base64")).fingerprint256).toBe(listed.spCertificate.fingerprintSha256);
    // An independent implementation reads it.
    const samlifySp = samlify.ServiceProvider({ metadata: xml });
    expect(samlifySp.entityMeta.getEntityID()).toBe(s.spEntityId);

    const missing = await fetch(`${s.base}/auth/saml/00000000-0000-4000-8000-000000000000/metadata`);
    expect({ status: missing.status, body: await missing.json() }).toEqual({ status: 404, body: { error: "NOT_FOUND", message: "SAML connection not found: 00000000-0000-4000-8000-000000000000" } });
  });

  describe("GET /auth/saml/:id/login", () => {
    let s: SamlSetup;
    beforeAll(async () => {
      s = await setupSaml(server);
    });

    async function refusedStart(setup: SamlSetup, query: string, expected: { status: number; error: string; message: string | RegExp }) {
      const auditBefore = (await loginAudit(server, setup.orgId)).length;
      const requestsBefore = await server.app.db.manager.count(SamlRequestEntity, { where: { connectionId: setup.connectionId } });
      const response = await fetch(`${setup.base}/auth/saml/${setup.connectionId}/login?${query}`, { redirect: "manual" });
      const body = await response.json();
      expect({ status: response.status, error: body.error }).toEqual({ status: expected.status, error: expected.error });
      expect(body.message).toEqual(typeof expected.message === "string" ? expected.message : expect.stringMatching(expected.message));
      const audit = await loginAudit(server, setup.orgId);
      expect(audit.length - auditBefore).toBe(1);
      expect(audit[audit.length - 1]).toMatchObject({ success: false, reason: expect.stringContaining(expected.error) });
      expect(await server.app.db.manager.count(SamlRequestEntity, { where: { connectionId: setup.connectionId } })).toBe(requestsBefore);
    }

    test("a redirect_uri that is not an allowed frontend URL answers SSO_CALLBACK_MISMATCH", async () => {
      await refusedStart(s, `redirect_uri=${encodeURIComponent("https://evil.example.test/cb")}`, {
        status: 400,
        error: "SSO_CALLBACK_MISMATCH",
        message: `callback URL mismatch: expected one of [${FRONTEND}], got https://evil.example.test/cb`,
      });
    });

    test("a missing redirect_uri or a malformed PKCE challenge answers BAD_USER_INPUT", async () => {
      await refusedStart(s, "", { status: 400, error: "BAD_USER_INPUT", message: /redirect_uri is required/ });
      await refusedStart(s, `redirect_uri=${encodeURIComponent(FRONTEND)}&code_challenge=short`, { status: 400, error: "BAD_USER_INPUT", message: /code_challenge must be a PKCE S256 challenge/ });
      await refusedStart(s, `redirect_uri=${encodeURIComponent(FRONTEND)}&code_challenge=${"a".repeat(43)}&code_challenge_method=plain`, { status: 400, error: "BAD_USER_INPUT", message: "code_challenge_method must be S256" });
    });

    test("an organization with SSO off answers SSO_DISABLED", async () => {
      const off = await setupSaml(server);
      ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { ssoEnabled: false }) { id } }`, { id: off.orgId }));
      await refusedStart(off, `redirect_uri=${encodeURIComponent(FRONTEND)}`, { status: 403, error: "SSO_DISABLED", message: `SSO is disabled for organization ${off.orgSlug}; ask an administrator to enable it` });
    });

    test("an unknown connection answers NOT_FOUND", async () => {
      const response = await fetch(`${s.base}/auth/saml/00000000-0000-4000-8000-000000000000/login?redirect_uri=${encodeURIComponent(FRONTEND)}`, { redirect: "manual" });
      expect({ status: response.status, body: await response.json() }).toEqual({ status: 404, body: { error: "NOT_FOUND", message: "SAML connection not found: 00000000-0000-4000-8000-000000000000" } });
    });

    test("the request is stored with the redirect, PKCE challenge and state, and the browser goes to the IdP", async () => {
      const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
      const response = await fetch(`${s.base}/auth/saml/${s.connectionId}/login?redirect_uri=${encodeURIComponent(FRONTEND)}&code_challenge=${challenge}&state=xyz`, { redirect: "manual" });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get("location")!);
      expect(location.origin + location.pathname).toBe(s.idpSsoUrl);
      const xml = inflateRawSync(Buffer.from(location.searchParams.get("SAMLRequest")!, "base64")).toString("utf8");
      const id = /\sID="([^"]+)"/.exec(xml)![1];
      expect(await server.app.db.manager.findOneBy(SamlRequestEntity, { id })).toMatchObject({
        connectionId: s.connectionId,
        redirectUri: FRONTEND,
        codeChallenge: challenge,
        clientState: "xyz",
        consumedAt: null,
      });
      expect(xml).toContain(`<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${s.spEntityId}</saml:Issuer>`);
    });

    test("with the HTTP-POST binding the browser gets an auto-submitting form whose AuthnRequest carries an RSA-SHA256 XML signature", async () => {
      const post = await setupSaml(server);
      ok(await server.gql(UPDATE, { id: post.connectionId, input: { idpSsoBinding: "HTTP_POST" } }));
      const response = await fetch(`${post.base}/auth/saml/${post.connectionId}/login?redirect_uri=${encodeURIComponent(FRONTEND)}`, { redirect: "manual" });
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html).toContain(`<form method="post" action="${post.idpSsoUrl}">`);
      const request = Buffer.from(/name="SAMLRequest" value="([^"]+)"/.exec(html)![1], "base64").toString("utf8");
      const xml = request.startsWith("<") ? request : inflateRawSync(Buffer.from(/name="SAMLRequest" value="([^"]+)"/.exec(html)![1], "base64")).toString("utf8");
      const doc = parse(xml);
      const signature = descendant(doc.documentElement, "Signature");
      expect(descendant(signature, "SignatureMethod").getAttribute("Algorithm")).toBe(SAML.rsaSha256);
      expect(descendant(signature, "DigestMethod").getAttribute("Algorithm")).toBe(SAML.sha256);
      const listed = ok(await server.gql<{ samlConnections: Connection[] }>(LIST, { org: post.orgId })).samlConnections[0];
      const verifier = new SignedXml({ publicCert: listed.spCertificate.pem });
      verifier.loadSignature(signature);
      expect(verifier.checkSignature(xml)).toBe(true);
    });
  });

  test("deleteSamlConnection removes the connection and its routes answer NOT_FOUND", async () => {
    const s = await setupSaml(server);
    expect(ok(await server.gql<{ deleteSamlConnection: boolean }>(DELETE, { id: s.connectionId })).deleteSamlConnection).toBe(true);
    expect(ok(await server.gql<{ samlConnections: Connection[] }>(LIST, { org: s.orgId })).samlConnections).toEqual([]);
    expect((await fetch(`${s.base}/auth/saml/${s.connectionId}/metadata`)).status).toBe(404);
    const acs = await fetch(`${s.base}/auth/saml/${s.connectionId}/acs`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "SAMLResponse=x" });
    expect(acs.status).toBe(404);
  });
});
