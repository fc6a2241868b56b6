/**
 * SAML login through the real routes of a real server, on every database: the happy path with
 * samlify as an independent IdP, and SECURITY-CASES saml-01 … saml-18 with responses built and
 * signed here with real keys (xml-crypto) and then tampered with. Every refusal is checked for its
 * status and message, exactly one audit entry with the reason, and no session or code.
 */
import { createHash, createVerify, X509Certificate } from "node:crypto";
import { SamlReplayEntity, SamlRequestEntity } from "../../src/sso/saml/saml-connection.entity";
import { UserEntity } from "../../src/users/user.entity";
import type { ResolvedSamlConnection } from "../../src/sso/saml/saml-connection.service";
import { SamlRequestStore } from "../../src/sso/saml/saml-request.store";
import { SamlResponseValidator } from "../../src/sso/saml/saml-response.validator";
import { DATABASES } from "../support/databases";
import { createMapping } from "../support/fixtures";
import {
  b64,
  child,
  createKeyPair,
  descendant,
  newId,
  parse,
  responseXml,
  SAML,
  serialize,
  setNameId,
  sign,
  signBoth,
} from "../support/saml-idp";
import { expectRefused, fieldsFor, FRONTEND, grants, loginAudit, postAcs, setupSaml, startLogin, type SamlSetup } from "../support/saml-harness";
import { samlifyIdp } from "../support/saml-samlify";
import { ok, startServer, type TestServer } from "../support/server";

const ONLY_DATE: Parameters<typeof jest.useFakeTimers>[0] = {
  doNotFake: [
    "hrtime",
    "nextTick",
    "performance",
    "queueMicrotask",
    "requestAnimationFrame",
    "cancelAnimationFrame",
    "requestIdleCallback",
    "cancelIdleCallback",
    "setImmediate",
    "clearImmediate",
    "setInterval",
    "clearInterval",
    "setTimeout",
    "clearTimeout",
  ],
};

describe.each(DATABASES)("SAML login on $name", (kind) => {
  let server: TestServer;
  let setup: SamlSetup;

  beforeAll(async () => {
    server = await startServer(kind);
    setup = await setupSaml(server);
  });
  afterAll(() => server?.stop());
  afterEach(() => jest.useRealTimers());

  /** A fresh SP-initiated login and a correctly signed response to it, as XML (to tamper with). */
  async function signedFor(s: SamlSetup = setup, overrides: Parameters<typeof fieldsFor>[2] = {}): Promise<{ xml: string; requestId: string }> {
    const { requestId } = await startLogin(server, s);
    return { xml: signBoth(responseXml(fieldsFor(s, requestId, overrides)), s.idp), requestId };
  }

  async function userBySubject(orgId: string, subject: string): Promise<UserEntity | null> {
    return server.app.db.manager.findOne(UserEntity, { where: { organizationId: orgId, subject } });
  }

  async function requestRow(requestId: string): Promise<SamlRequestEntity | null> {
    return server.app.db.manager.findOne(SamlRequestEntity, { where: { id: requestId } });
  }

  describe("happy path", () => {
    test("samlify as the IdP: signed AuthnRequest in, signed response back, 302 to the frontend with a one-time code that exchanges for tokens", async () => {
      await createMapping(server, setup.orgId, "Engineering", "developer");
      const metadata = await (await fetch(`${setup.base}/auth/saml/${setup.connectionId}/metadata`)).text();
      const idp = samlifyIdp({ entityId: setup.idpEntityId, ssoUrl: setup.idpSsoUrl, key: setup.idp, spMetadata: metadata });
      const login = await startLogin(server, setup);
      expect(login.location.origin + login.location.pathname).toBe(setup.idpSsoUrl);

      const { samlResponse, requestId } = await idp.answer(login.location, { nameId: "carol@corp.example", email: "carol@corp.example", displayName: "Carol", groups: ["Engineering", "Everyone"] });
      expect(requestId).toBe(login.requestId);
      const answer = await postAcs(server, setup.connectionId, samlResponse);
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 302, body: null });
      const target = new URL(answer.location!);
      expect(target.origin + target.pathname).toBe(FRONTEND);
      expect(target.searchParams.get("state")).toBe(login.state);
      const code = target.searchParams.get("code");
      expect(code).toEqual(expect.any(String));

      const user = await userBySubject(setup.orgId, "carol@corp.example");
      expect(user).toMatchObject({ issuer: setup.idpEntityId, email: "carol@corp.example", emailVerified: true, displayName: "Carol", roleKey: "developer" });
      expect(JSON.parse(user!.groups)).toEqual(["Engineering", "Everyone"]);
      const audit = await loginAudit(server, setup.orgId);
      expect(audit[audit.length - 1]).toMatchObject({ success: true, actorId: user!.id, role: "developer", resource: `connection:${setup.connectionId}` });

      const token = await fetch(`${setup.base}/auth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code: code!, redirect_uri: FRONTEND, code_verifier: login.codeVerifier }).toString(),
      });
      expect(token.status).toBe(200);
      expect(await token.json()).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String) });
      expect(await requestRow(login.requestId)).toMatchObject({ consumedAt: expect.any(Date) });
    });

    test("a response built and signed with xml-crypto is accepted and the identity comes from the signed assertion", async () => {
      const { xml } = await signedFor(setup, { nameId: "dave@corp.example", attributes: { email: ["dave@corp.example"], displayName: ["Dave"], groups: ["Support"] } });
      const answer = await postAcs(server, setup.connectionId, b64(xml));
      expect(answer.status).toBe(302);
      expect(await userBySubject(setup.orgId, "dave@corp.example")).toMatchObject({ displayName: "Dave", groups: JSON.stringify(["Support"]), roleKey: "viewer" });
    });

    test("the validator hands the login flow exactly this LoginIdentity and request context", async () => {
      const validator = new SamlResponseValidator(server.app.db, new SamlRequestStore(server.app.db), server.app.login);
      const connection: ResolvedSamlConnection = {
        id: setup.connectionId,
        organizationId: setup.orgId,
        idpEntityId: setup.idpEntityId,
        idpSsoUrl: setup.idpSsoUrl,
        idpSsoBinding: "redirect",
        idpCertificates: [setup.idp.certificatePem],
        spEntityId: setup.spEntityId,
        acsUrl: setup.acsUrl,
        metadataUrl: setup.spEntityId,
        loginUrl: `${setup.base}/auth/saml/${setup.connectionId}/login`,
        spCertificate: "",
        emailAttribute: "email",
        displayNameAttribute: "displayName",
        groupsAttribute: "groups",
        clockSkewSeconds: 5,
        allowIdpInitiated: false,
      };
      const login = await startLogin(server, setup);
      const xml = signBoth(
        responseXml(
          fieldsFor(setup, login.requestId, {
            nameId: "f1e2d3c4-persistent",
            nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            attributes: { mail: ["frank@corp.example"], "urn:oid:2.16.840.1.113730.3.1.241": ["Frank"], memberOf: ["A", "B", "A"] },
          }),
        ),
        setup.idp,
      );
      const validated = await validator.validate(connection, b64(xml), "ignored-for-sp-initiated");
      expect(validated).toEqual({
        identity: {
          organizationId: setup.orgId,
          connectionId: setup.connectionId,
          protocol: "saml",
          issuer: setup.idpEntityId,
          subject: "f1e2d3c4-persistent",
          email: "frank@corp.example",
          emailVerified: true,
          displayName: "Frank",
          groups: ["A", "B"],
        },
        request: { redirectUri: FRONTEND, codeChallenge: createHash("sha256").update(login.codeVerifier).digest("base64url"), clientState: login.state },
        requestId: login.requestId,
      });
      await expect(validator.validate(connection, b64(xml), null)).rejects.toThrow(/already used \(replay\)/);
    });

    test("IdP certificate rotation: old and new both verify until the old one is removed", async () => {
      const s = await setupSaml(server);
      const next = createKeyPair("idp-next.example.test");
      ok(await server.gql(`mutation($id: ID!, $c: [String!]!) { updateSamlConnection(id: $id, input: { idpCertificates: $c }) { id } }`, { id: s.connectionId, c: [s.idp.certificatePem, next.certificatePem] }));
      for (const key of [s.idp, next]) {
        const { requestId } = await startLogin(server, s);
        expect((await postAcs(server, s.connectionId, b64(signBoth(responseXml(fieldsFor(s, requestId)), key)))).status).toBe(302);
      }
      ok(await server.gql(`mutation($id: ID!, $c: [String!]!) { updateSamlConnection(id: $id, input: { idpCertificates: $c }) { id } }`, { id: s.connectionId, c: [next.certificatePem] }));
      const { requestId } = await startLogin(server, s);
      await expectRefused(server, s, b64(signBoth(responseXml(fieldsFor(s, requestId)), s.idp)), { message: /signature .* does not verify/ });
    });
  });

  describe("saml-01 unsigned", () => {
    test("saml-01 an unsigned Response with an unsigned Assertion is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      await expectRefused(server, setup, b64(responseXml(fieldsFor(setup, requestId))), { message: /the Response is not signed/ });
    });

    test("saml-01 a signed Assertion inside an unsigned Response is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const xml = sign(responseXml(fieldsFor(setup, requestId)), "assertion", { key: setup.idp });
      await expectRefused(server, setup, b64(xml), { message: /the Response is not signed/ });
    });

    test("saml-01 a signed Response around an unsigned Assertion is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const xml = sign(responseXml(fieldsFor(setup, requestId)), "response", { key: setup.idp });
      await expectRefused(server, setup, b64(xml), { message: /the Assertion is not signed/ });
    });
  });

  describe("saml-02 tampering", () => {
    test("saml-02 a removed Assertion signature is rejected", async () => {
      const { xml } = await signedFor();
      const doc = parse(xml);
      const assertion = child(doc.documentElement, "Assertion");
      assertion.removeChild(child(assertion, "Signature"));
      await expectRefused(server, setup, b64(serialize(doc)), { message: /the Assertion is not signed/ });
    });

    test("saml-02 a removed Response signature is rejected", async () => {
      const { xml } = await signedFor();
      const doc = parse(xml);
      doc.documentElement.removeChild(child(doc.documentElement, "Signature"));
      await expectRefused(server, setup, b64(serialize(doc)), { message: /the Response is not signed/ });
    });

    test("saml-02 a NameID edited after signing is rejected", async () => {
      const { xml } = await signedFor();
      const tampered = xml.replace(">alice@corp.example</saml:NameID>", ">admin@corp.example</saml:NameID>");
      expect(tampered).not.toBe(xml);
      await expectRefused(server, setup, b64(tampered), { message: /signature .* does not verify/ });
      expect(await userBySubject(setup.orgId, "admin@corp.example")).toBeNull();
    });

    test("saml-02 an attribute edited after signing is rejected", async () => {
      const { xml } = await signedFor();
      const tampered = xml.replace("<saml:AttributeValue>Engineering</saml:AttributeValue>", "<saml:AttributeValue>Admins</saml:AttributeValue>");
      expect(tampered).not.toBe(xml);
      await expectRefused(server, setup, b64(tampered), { message: /signature .* does not verify/ });
    });
  });

  describe("saml-03 XML signature wrapping", () => {
    /** The signed original and an evil copy of its assertion claiming admin. */
    async function parts() {
      const { xml } = await signedFor();
      const doc = parse(xml);
      const response = doc.documentElement;
      const assertion = child(response, "Assertion");
      const evil = assertion.cloneNode(true) as Element;
      evil.setAttribute("ID", newId());
      setNameId(evil, "admin@corp.example");
      return { doc, response, assertion, evil };
    }

    async function expectWrappingRefused(doc: Document, message: RegExp) {
      await expectRefused(server, setup, b64(serialize(doc)), { message });
      expect(await userBySubject(setup.orgId, "admin@corp.example")).toBeNull();
    }

    test("saml-03 XSW1 is rejected (evil Response as root, the signed Response inside its Signature position)", async () => {
      const { doc, response } = await parts();
      const evilResponse = response.cloneNode(true) as Element;
      evilResponse.setAttribute("ID", newId());
      const evilAssertion = child(evilResponse, "Assertion");
      evilAssertion.setAttribute("ID", newId());
      setNameId(evilAssertion, "admin@corp.example");
      evilResponse.removeChild(child(evilResponse, "Signature"));
      const signature = child(response, "Signature");
      response.removeChild(signature);
      evilResponse.insertBefore(signature, child(evilResponse, "Status"));
      signature.appendChild(response);
      doc.replaceChild(evilResponse, doc.documentElement);
      await expectWrappingRefused(doc, /exactly one (Assertion|Response)|exactly two signatures/);
    });

    test("saml-03 XSW2 is rejected (evil Response as root, the signed Response beside the detached Signature)", async () => {
      const { doc, response } = await parts();
      const evilResponse = response.cloneNode(true) as Element;
      evilResponse.setAttribute("ID", newId());
      const evilAssertion = child(evilResponse, "Assertion");
      evilAssertion.setAttribute("ID", newId());
      setNameId(evilAssertion, "admin@corp.example");
      evilResponse.removeChild(child(evilResponse, "Signature"));
      const signature = child(response, "Signature");
      response.removeChild(signature);
      evilResponse.insertBefore(signature, child(evilResponse, "Status"));
      evilResponse.insertBefore(response, signature);
      doc.replaceChild(evilResponse, doc.documentElement);
      await expectWrappingRefused(doc, /exactly one (Assertion|Response)|exactly two signatures/);
    });

    test("saml-03 XSW3 is rejected (evil Assertion before the signed one)", async () => {
      const { doc, response, assertion, evil } = await parts();
      evil.removeChild(child(evil, "Signature"));
      response.insertBefore(evil, assertion);
      await expectWrappingRefused(doc, /exactly one Assertion, found 2/);
    });

    test("saml-03 XSW4 is rejected (evil Assertion wrapping the signed one)", async () => {
      const { doc, response, assertion, evil } = await parts();
      evil.removeChild(child(evil, "Signature"));
      response.replaceChild(evil, assertion);
      evil.appendChild(assertion);
      await expectWrappingRefused(doc, /exactly one Assertion, found 2/);
    });

    test("saml-03 XSW5 is rejected (signed Assertion edited, an untouched unsigned copy appended)", async () => {
      const { doc, response, assertion } = await parts();
      const copy = assertion.cloneNode(true) as Element;
      copy.removeChild(child(copy, "Signature"));
      setNameId(assertion, "admin@corp.example");
      response.appendChild(copy);
      await expectWrappingRefused(doc, /appears more than once|exactly one Assertion/);
    });

    test("saml-03 XSW6 is rejected (edited Assertion, the untouched copy inside its Signature)", async () => {
      const { doc, assertion } = await parts();
      const copy = assertion.cloneNode(true) as Element;
      copy.removeChild(child(copy, "Signature"));
      setNameId(assertion, "admin@corp.example");
      child(assertion, "Signature").appendChild(copy);
      await expectWrappingRefused(doc, /appears more than once|exactly one Assertion/);
    });

    test("saml-03 XSW7 is rejected (signed Assertion inside Extensions, an evil one beside)", async () => {
      const { doc, response, assertion, evil } = await parts();
      evil.removeChild(child(evil, "Signature"));
      const extensions = doc.createElementNS(SAML.protocol, "samlp:Extensions");
      response.insertBefore(extensions, child(response, "Status"));
      response.removeChild(assertion);
      extensions.appendChild(assertion);
      response.appendChild(evil);
      await expectWrappingRefused(doc, /exactly one Assertion, found 2/);
    });

    test("saml-03 XSW8 is rejected (edited Assertion, the original inside a ds:Object of its Signature)", async () => {
      const { doc, assertion } = await parts();
      const copy = assertion.cloneNode(true) as Element;
      copy.removeChild(child(copy, "Signature"));
      setNameId(assertion, "admin@corp.example");
      const object = doc.createElementNS(SAML.dsig, "ds:Object");
      object.appendChild(copy);
      child(assertion, "Signature").appendChild(object);
      await expectWrappingRefused(doc, /appears more than once|exactly one Assertion|ds:Object/);
    });
  });

  describe("saml-04 ambiguous documents", () => {
    test("saml-04 two signed Assertions in one signed Response are rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const one = responseXml(fieldsFor(setup, requestId));
      const second = sign(responseXml(fieldsFor(setup, requestId, { nameId: "admin@corp.example" })), "assertion", { key: setup.idp });
      const secondAssertion = serialize(child(parse(second).documentElement, "Assertion"));
      const doubled = sign(sign(one, "assertion", { key: setup.idp }).replace("</samlp:Response>", `${secondAssertion}</samlp:Response>`), "response", { key: setup.idp });
      await expectRefused(server, setup, b64(doubled), { message: /exactly one Assertion, found 2/ });
    });

    test("saml-04 several root elements are rejected", async () => {
      const { xml } = await signedFor();
      await expectRefused(server, setup, b64(`${xml}${xml}`), { message: /not well-formed|exactly one root/ });
    });

    test("saml-04 a different subject inside Advice is rejected even when the IdP signed it", async () => {
      const { requestId } = await startLogin(server, setup);
      const advised = responseXml(fieldsFor(setup, "placeholder", { nameId: "admin@corp.example" }))
        .replace(/^[\s\S]*?(<saml:Assertion )/, "$1")
        .replace("</samlp:Response>", "")
        .replace(/ ID="[^"]+"/, ` ID="${newId()}"`);
      const xml = signBoth(responseXml(fieldsFor(setup, requestId, { rawAfterConditions: `<saml:Advice>${advised}</saml:Advice>` })), setup.idp);
      await expectRefused(server, setup, b64(xml), { message: /exactly one Assertion, found 2/ });
    });
  });

  describe("saml-05 comment injection", () => {
    test("saml-05 a comment inside NameID and a group value yields the full text, never the truncated value", async () => {
      const s = await setupSaml(server);
      await createMapping(server, s.orgId, "Admins", "admin");
      const { requestId } = await startLogin(server, s);
      const signed = signBoth(
        responseXml(fieldsFor(s, requestId, { nameId: "admin@corp.example.evil.test", attributes: { email: ["admin@corp.example.evil.test"], groups: ["Admins.evil"] } })),
        s.idp,
      );
      const injected = signed
        .replace(">admin@corp.example.evil.test</saml:NameID>", ">admin@corp.example<!---->.evil.test</saml:NameID>")
        .replace(">Admins.evil</saml:AttributeValue>", ">Admins<!-- x -->.evil</saml:AttributeValue>");
      expect(injected).not.toBe(signed);
      const answer = await postAcs(server, s.connectionId, b64(injected));
      expect(answer.status).toBe(302);
      expect(await userBySubject(s.orgId, "admin@corp.example")).toBeNull();
      const user = await userBySubject(s.orgId, "admin@corp.example.evil.test");
      expect(user).toMatchObject({ email: "admin@corp.example.evil.test", roleKey: "viewer" });
      expect(JSON.parse(user!.groups)).toEqual(["Admins.evil"]);
    });
  });

  describe("saml-06 signature internals", () => {
    test("saml-06 a comment inside DigestValue is rejected", async () => {
      const { xml } = await signedFor();
      const tampered = xml.replace(/(<ds:DigestValue>[A-Za-z0-9+/]{6})/, "$1<!---->");
      expect(tampered).not.toBe(xml);
      await expectRefused(server, setup, b64(tampered), { message: /comment/ });
    });

    test("saml-06 an extra Reference in SignedInfo is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const xml = responseXml(fieldsFor(setup, requestId));
      const twoRefs = sign(sign(xml, "assertion", { key: setup.idp, extraReferenceXpath: "//*[local-name(.)='Subject']" }), "response", { key: setup.idp });
      expect(twoRefs.match(/<ds:Reference /g)).toHaveLength(3);
      await expectRefused(server, setup, b64(twoRefs), { message: /exactly one Reference, found 2/ });
    });
  });

  describe("saml-07 only the configured certificates verify", () => {
    test("saml-07 a response re-signed with an attacker key whose certificate sits in KeyInfo is rejected", async () => {
      const attacker = createKeyPair("idp.example.test");
      const { requestId } = await startLogin(server, setup);
      const xml = signBoth(responseXml(fieldsFor(setup, requestId, { nameId: "admin@corp.example" })), attacker);
      expect(xml).toContain(attacker.certificatePem.split(/\r?\n/)[1].trim());
      await expectRefused(server, setup, b64(xml), { message: /signature .* does not verify/ });
    });

    test("saml-07 an HMAC signature keyed with the IdP certificate is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const xml = responseXml(fieldsFor(setup, requestId, { nameId: "admin@corp.example" }));
      const hmac = { key: setup.idp, signatureAlgorithm: SAML.hmacSha1, hmacKey: setup.idp.certificatePem };
      const signed = sign(sign(xml, "assertion", hmac), "response", hmac);
      await expectRefused(server, setup, b64(signed), { message: /HMAC signatures .* are refused/ });
    });
  });

  describe("saml-08 per-organization trust", () => {
    test("saml-08 a valid signature from another organization's IdP is rejected", async () => {
      const other = await setupSaml(server);
      // Organization B's IdP mints a response addressed to organization A in every field.
      const { requestId } = await startLogin(server, setup);
      const forged = signBoth(responseXml(fieldsFor(setup, requestId, { nameId: "admin@corp.example" })), other.idp);
      await expectRefused(server, setup, b64(forged), { message: /signature .* does not verify/ });
      // And B's genuine response, posted to A's ACS.
      const genuine = await startLogin(server, other);
      const bResponse = signBoth(responseXml(fieldsFor(other, genuine.requestId)), other.idp);
      await expectRefused(server, setup, b64(bResponse), { message: /signature .* does not verify|mismatch|InResponseTo names a login request that is unknown/ });
      expect(await requestRow(genuine.requestId)).toMatchObject({ consumedAt: null });
    });
  });

  describe("saml-09 DTDs and transforms", () => {
    test("saml-09 a DOCTYPE with an external entity (XXE) is rejected before anything is parsed", async () => {
      const { xml, requestId } = await signedFor();
      const xxe = `<?xml version="1.0"?><!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${xml.replace(">alice@corp.example<", ">&xxe;<")}`;
      await expectRefused(server, setup, b64(xxe), { message: /DOCTYPE/ });
      expect(await requestRow(requestId)).toMatchObject({ consumedAt: null });
      // The untouched response to the same request still works: nothing was consumed.
      expect((await postAcs(server, setup.connectionId, b64(xml))).status).toBe(302);
    });

    test("saml-09 entity expansion (billion laughs) is rejected", async () => {
      const { xml } = await signedFor();
      const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join("");
      const bomb = `<!DOCTYPE r [<!ENTITY lol0 "lol">${lol}]>${xml.replace(">alice@corp.example<", ">&lol9;<")}`;
      await expectRefused(server, setup, b64(bomb), { message: /DOCTYPE/ });
    });

    test("saml-09 an XSLT transform is rejected", async () => {
      const { xml } = await signedFor();
      const xslt = xml.replace(`<ds:Transform Algorithm="${SAML.excC14n}"/>`, `<ds:Transform Algorithm="${SAML.xslt}"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"/></ds:Transform>`);
      expect(xslt).not.toBe(xml);
      await expectRefused(server, setup, b64(xslt), { message: /XSLT transforms are refused/ });
    });

    test("saml-09 more than two transforms are rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const three = signBoth(responseXml(fieldsFor(setup, requestId)), setup.idp, { transforms: [SAML.enveloped, SAML.excC14n, SAML.c14n] });
      await expectRefused(server, setup, b64(three), { message: /3 transforms; at most two/ });
    });
  });

  describe("saml-10 … saml-12 addressing", () => {
    test("saml-10 an Audience other than our SP entity ID is rejected", async () => {
      const { xml } = await signedFor(setup, { audience: "https://other-sp.example.test/metadata" });
      await expectRefused(server, setup, b64(xml), { message: `SAML response rejected: Audience mismatch: expected ${setup.spEntityId}, got https://other-sp.example.test/metadata` });
    });

    test("saml-11 a Recipient other than the ACS URL is rejected with the callback URL mismatch", async () => {
      const { xml } = await signedFor(setup, { recipient: "https://evil.example.test/acs" });
      await expectRefused(server, setup, b64(xml), {
        error: "SSO_CALLBACK_MISMATCH",
        message: `callback URL mismatch: expected ${setup.acsUrl}, got https://evil.example.test/acs`,
      });
    });

    test("saml-11 a Destination other than the ACS URL is rejected with the callback URL mismatch", async () => {
      const { xml } = await signedFor(setup, { destination: "https://evil.example.test/acs" });
      await expectRefused(server, setup, b64(xml), {
        error: "SSO_CALLBACK_MISMATCH",
        message: `callback URL mismatch: expected ${setup.acsUrl}, got https://evil.example.test/acs`,
      });
    });

    test("saml-11 a missing Destination is rejected with the callback URL mismatch", async () => {
      const { xml } = await signedFor(setup, { destination: null });
      await expectRefused(server, setup, b64(xml), { error: "SSO_CALLBACK_MISMATCH", message: `callback URL mismatch: expected ${setup.acsUrl}, got (none)` });
    });

    test("saml-12 an Assertion Issuer other than the configured IdP entity ID is rejected", async () => {
      const { xml } = await signedFor(setup, { issuer: "https://evil-idp.example.test", responseIssuer: setup.idpEntityId });
      await expectRefused(server, setup, b64(xml), { message: `SAML response rejected: Assertion Issuer mismatch: expected ${setup.idpEntityId}, got https://evil-idp.example.test` });
    });

    test("saml-12 a Response Issuer other than the configured IdP entity ID is rejected", async () => {
      const { xml } = await signedFor(setup, { responseIssuer: "https://evil-idp.example.test" });
      await expectRefused(server, setup, b64(xml), { message: `SAML response rejected: Response Issuer mismatch: expected ${setup.idpEntityId}, got https://evil-idp.example.test` });
    });
  });

  describe("saml-13 clock skew (fake timers, connection skew 30 s)", () => {
    let skewed: SamlSetup;
    const T0 = new Date("2031-05-01T12:00:00.000Z");
    const T1 = new Date(T0.getTime() + 60_000);

    beforeAll(async () => {
      skewed = await setupSaml(server, { clockSkewSeconds: 30 });
    });

    async function at(now: Date): Promise<string> {
      jest.useFakeTimers({ ...ONLY_DATE, now: new Date(T0.getTime() - 120_000) });
      const { requestId } = await startLogin(server, skewed);
      const xml = signBoth(responseXml(fieldsFor(skewed, requestId, { now: T0, notBefore: T0, notOnOrAfter: T1, subjectNotOnOrAfter: T1 })), skewed.idp);
      jest.setSystemTime(now);
      return b64(xml);
    }

    test("saml-13 NotOnOrAfter + skew - 1 s is accepted", async () => {
      const response = await at(new Date(T1.getTime() + 29_000));
      expect((await postAcs(server, skewed.connectionId, response)).status).toBe(302);
    });

    test("saml-13 NotOnOrAfter + skew + 1 s is rejected", async () => {
      const response = await at(new Date(T1.getTime() + 31_000));
      await expectRefused(server, skewed, response, { message: /not valid at this time .* clock skew of 30 s/ });
    });

    test("saml-13 NotBefore - skew + 1 s is accepted", async () => {
      const response = await at(new Date(T0.getTime() - 29_000));
      expect((await postAcs(server, skewed.connectionId, response)).status).toBe(302);
    });

    test("saml-13 NotBefore - skew - 1 s is rejected", async () => {
      const response = await at(new Date(T0.getTime() - 31_000));
      await expectRefused(server, skewed, response, { message: /not valid at this time .* clock skew of 30 s/ });
    });
  });

  describe("saml-14 InResponseTo and the request store", () => {
    test("saml-14 an unknown InResponseTo is rejected", async () => {
      const xml = signBoth(responseXml(fieldsFor(setup, newId())), setup.idp);
      await expectRefused(server, setup, b64(xml), { message: /InResponseTo names a login request that is unknown, expired or already used/ });
    });

    test("saml-14 a missing InResponseTo (SP-initiated only) is rejected", async () => {
      const xml = signBoth(responseXml(fieldsFor(setup, null)), setup.idp);
      await expectRefused(server, setup, b64(xml), { message: /InResponseTo is missing\) and IdP-initiated login is off/ });
    });

    test("saml-14 a reused InResponseTo is rejected (a second response to the same request)", async () => {
      const { requestId } = await startLogin(server, setup);
      expect((await postAcs(server, setup.connectionId, b64(signBoth(responseXml(fieldsFor(setup, requestId)), setup.idp)))).status).toBe(302);
      const second = signBoth(responseXml(fieldsFor(setup, requestId)), setup.idp);
      await expectRefused(server, setup, b64(second), { message: /InResponseTo names a login request that is unknown, expired or already used/ });
    });

    test("saml-14 a request of another connection is rejected", async () => {
      const other = await setupSaml(server, { idp: setup.idp, idpEntityId: setup.idpEntityId });
      const { requestId } = await startLogin(server, other);
      const xml = signBoth(responseXml(fieldsFor(setup, requestId)), setup.idp);
      await expectRefused(server, setup, b64(xml), { message: /InResponseTo names a login request that is unknown/ });
      expect(await requestRow(requestId)).toMatchObject({ consumedAt: null });
    });

    test("saml-14 two instances share the request store: started on one, accepted on the other, and concurrent answers have one winner", async () => {
      const second = await startServer(kind, { database: server.database });
      try {
        const started = await startLogin(second, setup);
        expect((await postAcs(server, setup.connectionId, b64(signBoth(responseXml(fieldsFor(setup, started.requestId)), setup.idp)))).status).toBe(302);
        const replayOnSecond = await postAcs(second, setup.connectionId, b64(signBoth(responseXml(fieldsFor(setup, started.requestId)), setup.idp)));
        expect(replayOnSecond).toMatchObject({ status: 400, body: { error: "SSO_LOGIN_FAILED", message: expect.stringMatching(/already used/) } });

        const raced = await startLogin(server, setup);
        const before = await grants(server, setup.orgId);
        const answers = await Promise.all(
          [server, second, server, second].map((instance) => postAcs(instance, setup.connectionId, b64(signBoth(responseXml(fieldsFor(setup, raced.requestId)), setup.idp)))),
        );
        expect(answers.map((a) => a.status).sort()).toEqual([302, 400, 400, 400]);
        expect((await grants(server, setup.orgId)) - before).toBe(1);
      } finally {
        await second.stop(false);
      }
    });
  });

  describe("saml-15 replay cache", () => {
    test("saml-15 replaying an accepted Response is rejected until its NotOnOrAfter", async () => {
      const notOnOrAfter = new Date(Date.now() + 4 * 60_000);
      const { xml } = await signedFor(setup, { notOnOrAfter, subjectNotOnOrAfter: notOnOrAfter });
      expect((await postAcs(server, setup.connectionId, b64(xml))).status).toBe(302);
      await expectRefused(server, setup, b64(xml), { message: /the Response .* was already used \(replay\)/ });
      const responseId = /<samlp:Response [^>]*ID="([^"]+)"/.exec(xml)![1];
      const key = createHash("sha256").update(`${setup.idpEntityId}\nresponse\n${responseId}`).digest("hex");
      const row = await server.app.db.manager.findOne(SamlReplayEntity, { where: { key } });
      expect(row?.expiresAt.toISOString()).toBe(new Date(notOnOrAfter.getTime() + 5000).toISOString()); // NotOnOrAfter + clock skew
    });

    test("saml-15 replaying an IdP-initiated Response or its Assertion is rejected", async () => {
      const s = await setupSaml(server, { allowIdpInitiated: true });
      const assertionId = newId();
      const xml = signBoth(responseXml(fieldsFor(s, null, { assertionId })), s.idp);
      expect((await postAcs(server, s.connectionId, b64(xml), FRONTEND)).status).toBe(302);
      await expectRefused(server, s, b64(xml), { message: /was already used \(replay\)/, relayState: FRONTEND });
      const sameAssertion = signBoth(responseXml(fieldsFor(s, null, { assertionId })), s.idp);
      await expectRefused(server, s, b64(sameAssertion), { message: new RegExp(`the Assertion ${assertionId} was already used \\(replay\\)`), relayState: FRONTEND });
    });
  });

  test("expired request and replay rows are swept, open ones are kept", async () => {
    const em = server.app.db.manager;
    const long = new Date(Date.now() - 3 * 3600_000);
    await server.app.db.transaction(async (tx) => {
      await tx.insert(SamlRequestEntity, { id: "_stale-request", connectionId: setup.connectionId, redirectUri: FRONTEND, codeChallenge: null, clientState: null, createdAt: long, expiresAt: long, consumedAt: null });
      await tx.insert(SamlReplayEntity, { key: "f".repeat(64), expiresAt: long });
    });
    const { xml, requestId } = await signedFor();
    expect((await postAcs(server, setup.connectionId, b64(xml))).status).toBe(302);
    expect(await em.findOneBy(SamlRequestEntity, { id: "_stale-request" })).toBeNull();
    expect(await em.findOneBy(SamlReplayEntity, { key: "f".repeat(64) })).toBeNull();
    expect(await em.findOneBy(SamlRequestEntity, { id: requestId })).toMatchObject({ consumedAt: expect.any(Date) });
    expect(await em.count(SamlReplayEntity)).toBeGreaterThanOrEqual(2);
  });

  describe("saml-16 SHA-1", () => {
    test("saml-16 an rsa-sha1 signature is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const xml = signBoth(responseXml(fieldsFor(setup, requestId)), setup.idp, { signatureAlgorithm: SAML.rsaSha1 });
      await expectRefused(server, setup, b64(xml), { message: /SHA-1 signatures .* are refused/ });
    });

    test("saml-16 a sha1 digest is rejected", async () => {
      const { requestId } = await startLogin(server, setup);
      const xml = signBoth(responseXml(fieldsFor(setup, requestId)), setup.idp, { digestAlgorithm: SAML.sha1 });
      await expectRefused(server, setup, b64(xml), { message: /SHA-1 digests .* are refused/ });
    });

    test("saml-16 our AuthnRequest is signed with RSA-SHA256 by the SP certificate of our metadata", async () => {
      const login = await startLogin(server, setup);
      expect(login.location.searchParams.get("SigAlg")).toBe(SAML.rsaSha256);
      const metadata = await (await fetch(`${setup.base}/auth/saml/${setup.connectionId}/metadata`)).text();
      const certBody = /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(metadata)![1];
      const cert = new X509Certificate(Buffer.from(certBody, "base64"));
      const signed = login.location.search.slice(1).split("&").filter((p) => !p.startsWith("Signature=")).join("&");
      const verifier = createVerify("RSA-SHA256").update(signed);
      expect(verifier.verify(cert.publicKey, login.location.searchParams.get("Signature")!, "base64")).toBe(true);
      expect(login.authnRequestXml).toContain(`AssertionConsumerServiceURL="${setup.acsUrl}"`);
    });
  });

  describe("saml-17 RelayState", () => {
    test("saml-17 SP-initiated: a RelayState pointing elsewhere is not followed", async () => {
      const { xml } = await signedFor();
      const answer = await postAcs(server, setup.connectionId, b64(xml), "https://evil.example.test/steal");
      expect(answer.status).toBe(302);
      expect(new URL(answer.location!).origin + new URL(answer.location!).pathname).toBe(FRONTEND);
    });

    test("saml-17 IdP-initiated: a RelayState host not on the allow list is refused, never followed", async () => {
      const s = await setupSaml(server, { allowIdpInitiated: true });
      const xml = signBoth(responseXml(fieldsFor(s, null)), s.idp);
      await expectRefused(server, s, b64(xml), {
        error: "SSO_CALLBACK_MISMATCH",
        message: "RelayState https://evil.example.test/steal is not an allowed frontend URL of this organization; it was not followed",
        relayState: "https://evil.example.test/steal",
      });
      const allowed = await postAcs(server, s.connectionId, b64(signBoth(responseXml(fieldsFor(s, null)), s.idp)), FRONTEND);
      expect(allowed.status).toBe(302);
      expect(allowed.location!.startsWith(`${FRONTEND}?code=`)).toBe(true);
    });
  });

  describe("saml-18 markup in attribute values", () => {
    test("saml-18 escaped markup and child elements inside an AttributeValue are kept as text", async () => {
      const s = await setupSaml(server);
      await createMapping(server, s.orgId, "Admins", "admin");
      const { requestId } = await startLogin(server, s);
      const xml = signBoth(
        responseXml(
          fieldsFor(s, requestId, {
            nameId: "erin@corp.example",
            attributes: { email: ["erin@corp.example"], displayName: [`<img src=x onerror="alert(1)">Erin`] },
            rawAttributes: `<saml:Attribute Name="groups"><saml:AttributeValue>Admin<b xmlns="">s</b></saml:AttributeValue><saml:AttributeValue>Support &amp; Ops</saml:AttributeValue></saml:Attribute>`,
          }),
        ),
        s.idp,
      );
      expect((await postAcs(server, s.connectionId, b64(xml))).status).toBe(302);
      const user = await userBySubject(s.orgId, "erin@corp.example");
      expect(user?.displayName).toBe(`<img src=x onerror="alert(1)">Erin`);
      expect(JSON.parse(user!.groups)).toEqual(["Admin<b>s</b>", "Support & Ops"]);
      expect(user?.roleKey).toBe("viewer");
    });
  });

  describe("organization switches", () => {
    test("SSO turned off: the ACS answers SSO_DISABLED with one audit entry", async () => {
      const s = await setupSaml(server);
      const { requestId } = await startLogin(server, s);
      ok(await server.gql(`mutation($id: ID!) { updateOrganization(id: $id, input: { ssoEnabled: false }) { id } }`, { id: s.orgId }));
      const xml = signBoth(responseXml(fieldsFor(s, requestId)), s.idp);
      await expectRefused(server, s, b64(xml), { status: 403, error: "SSO_DISABLED", message: `SSO is disabled for organization ${s.orgSlug}; ask an administrator to enable it` });
    });
  });
});
