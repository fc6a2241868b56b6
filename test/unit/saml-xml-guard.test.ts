/**
 * The text- and structure-level guard that runs before any SAML library sees a document, the IdP
 * metadata reader and our certificate generation (checked against OpenSSL-compatible parsing by
 * Node's X509Certificate and against node-forge).
 */
import { X509Certificate } from "node:crypto";
import forge from "node-forge";
import { generateSpKeyPair, keyMatchesCertificate, normalizeCertificate, parseCertificate } from "../../src/sso/saml/saml-certificates";
import { buildSpMetadata, parseIdpMetadata } from "../../src/sso/saml/saml-metadata";
import { assertResponseStructure, decodeSamlMessage, parseStrict, XmlGuardError } from "../../src/sso/saml/saml-xml-guard";
import { b64, createKeyPair, responseXml, signBoth } from "../support/saml-idp";

const key = createKeyPair("idp.example.test");
const fields = {
  issuer: "https://idp.example.test",
  destination: "https://sp.example.test/acs",
  recipient: "https://sp.example.test/acs",
  audience: "https://sp.example.test",
  inResponseTo: "_r1",
  nameId: "alice@corp.example",
};
const signed = signBoth(responseXml(fields), key);

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof XmlGuardError) return error.message;
    throw error;
  }
  throw new Error("not refused");
}

describe("saml-09 text-level refusals happen before parsing", () => {
  test.each([
    ["DOCTYPE", `<!DOCTYPE r><r/>`, /DOCTYPE/],
    ["lower-case doctype", `<!doctype r><r/>`, /DOCTYPE/],
    ["ENTITY without DOCTYPE", `<r><!ENTITY x "y"></r>`, /ENTITY/],
    ["other markup declaration", `<r><!ELEMENT r ANY></r>`, /markup declaration/],
    ["stylesheet PI", `<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><r/>`, /processing instruction/],
    ["PI inside", `<r><?php x ?></r>`, /processing instruction/],
    ["non UTF-8 declaration", `<?xml version="1.0" encoding="ISO-8859-1"?><r/>`, /encoding other than UTF-8/],
  ])("saml-09 %s is refused", (_name, xml, message) => {
    expect(refusal(() => parseStrict(xml))).toMatch(message);
  });

  test("saml-09 UTF-16 and invalid UTF-8 are refused at decoding", () => {
    expect(refusal(() => decodeSamlMessage(Buffer.from(`\ufeff<r/>`, "utf16le").toString("base64")))).toMatch(/not UTF-8/);
    expect(refusal(() => decodeSamlMessage(Buffer.from([0x3c, 0x72, 0xc3, 0x28, 0x2f, 0x3e]).toString("base64")))).toMatch(/not valid UTF-8/);
    expect(refusal(() => decodeSamlMessage("not base64!"))).toMatch(/not base64/);
  });

  test("a UTF-8 XML declaration and comments are accepted", () => {
    expect(parseStrict(`<?xml version="1.0" encoding="UTF-8"?><!-- hi --><r/>`).documentElement.localName).toBe("r");
  });
});

describe("structure", () => {
  test("a well-formed, doubly signed response passes", () => {
    const { response, assertion } = assertResponseStructure(parseStrict(decodeSamlMessage(b64(signed))));
    expect(response.localName).toBe("Response");
    expect(assertion.localName).toBe("Assertion");
  });

  test("saml-04 parser errors and several roots are refused", () => {
    expect(refusal(() => parseStrict(`<r a="1" a="2"/>`))).toMatch(/not well-formed/);
    expect(refusal(() => parseStrict(`<r/><s/>`))).toMatch(/not well-formed|exactly one root/);
    expect(refusal(() => parseStrict(`<r/>text`))).toMatch(/exactly one root/);
  });

  test("saml-04 a root other than samlp:Response is refused", () => {
    expect(refusal(() => assertResponseStructure(parseStrict(`<Response xmlns="urn:other"/>`)))).toMatch(/root element must be samlp:Response/);
  });

  test("encrypted assertions are refused with a hint", () => {
    const xml = signed.replace(/<saml:Assertion /, `<saml:EncryptedAssertion/><saml:Assertion `);
    expect(refusal(() => assertResponseStructure(parseStrict(xml)))).toMatch(/encrypted assertions are not supported/);
  });
});

describe("IdP metadata", () => {
  const body = key.certificatePem.replace(/-----[^-]+-----|\s/g, "");
  const md = (sso: string, extra = "") =>
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.test">` +
    `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n${body}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `${sso}${extra}</md:IDPSSODescriptor></md:EntityDescriptor>`;

  test("prefers HTTP-Redirect, keeps signing (or unspecified) certificates only", () => {
    const parsed = parseIdpMetadata(
      md(
        `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.test/post"/>` +
          `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/redirect"/>`,
      ),
    );
    expect(parsed).toEqual({ entityId: "https://idp.example.test", ssoUrl: "https://idp.example.test/redirect", binding: "redirect", certificates: [body] });
  });

  test("refuses metadata without a usable SSO service", () => {
    expect(refusal(() => parseIdpMetadata(md(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="x"/>`)))).toMatch(/HTTP-Redirect or HTTP-POST/);
  });

  test("our SP metadata escapes what it embeds", () => {
    const xml = buildSpMetadata({ entityId: `https://sp.example.test/?a=1&b="2"`, acsUrl: "https://sp.example.test/acs", certificatePem: key.certificatePem });
    expect(parseStrict(xml).documentElement.getAttribute("entityID")).toBe(`https://sp.example.test/?a=1&b="2"`);
  });
});

describe("certificates", () => {
  test("our self-signed SP certificate is valid X.509, sha256WithRSA, verifiable by node-forge, and matches its key", async () => {
    const pair = await generateSpKeyPair("https://sp.example.test/metadata");
    const cert = new X509Certificate(pair.certificatePem);
    expect(cert.subject).toBe("CN=https://sp.example.test/metadata");
    expect(cert.verify(cert.publicKey)).toBe(true);
    const forged = forge.pki.certificateFromPem(pair.certificatePem);
    expect(forge.pki.oids[forged.siginfo.algorithmOid]).toBe("sha256WithRSAEncryption");
    expect(forged.verify(forged)).toBe(true);
    expect(keyMatchesCertificate(pair.privateKeyPem, pair.certificatePem)).toBe(true);
    expect(keyMatchesCertificate(createKeyPair("other").privateKeyPem, pair.certificatePem)).toBe(false);
  });

  test("bare base64 and sloppy PEM are normalized; garbage is refused with a hint", () => {
    const body = key.certificatePem.replace(/-----[^-]+-----|\s/g, "");
    expect(parseCertificate(body).pem).toBe(normalizeCertificate(key.certificatePem));
    expect(parseCertificate(`  ${key.certificatePem.replace(/\n/g, "\r\n")}  `).fingerprintSha256).toBe(new X509Certificate(key.certificatePem).fingerprint256);
    expect(() => parseCertificate("hello")).toThrow(/not a valid X\.509 certificate/);
  });
});
