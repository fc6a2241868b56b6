'use strict';
// A SAML identity provider for the login benchmark, with real keys: an RSA 2048 key with a
// self-signed sha256 certificate (node-forge), responses written as XML and signed with
// xml-crypto — the Assertion first, then the Response, RSA-SHA256 / SHA-256 / exclusive c14n,
// like real IdPs and like test/support/saml-idp.ts (which the bench cannot require: it is
// TypeScript and not part of dist/).

const { generateKeyPairSync, randomBytes } = require('node:crypto');
const forge = require('node-forge');
const { SignedXml } = require('xml-crypto');

const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  bearer: 'urn:oasis:names:tc:SAML:2.0:cm:bearer',
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  emailFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
};

/** RSA 2048 (node:crypto) + a self-signed sha256WithRSAEncryption certificate (node-forge). */
function createKeyPair(commonName) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return { privateKeyPem, certificatePem: forge.pki.certificateToPem(cert) };
}

const newId = () => `_${randomBytes(16).toString('hex')}`;
const escapeXml = (value) => String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * An unsigned Response with one Assertion answering `inResponseTo`, shaped like the ones IdPs send.
 * f: { issuer, destination, audience, inResponseTo, nameId, attributes: { name: [values] }, validForMs }
 */
function responseXml(f) {
  const now = new Date();
  const iso = (d) => d.toISOString();
  const notBefore = new Date(now.getTime() - 30_000);
  const notOnOrAfter = new Date(now.getTime() + f.validForMs);
  const attributes = Object.entries(f.attributes)
    .map(([name, values]) => `<saml:Attribute Name="${escapeXml(name)}">${values.map((v) => `<saml:AttributeValue>${escapeXml(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
    .join('');
  const inResponseTo = ` InResponseTo="${escapeXml(f.inResponseTo)}"`;
  return (
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${iso(now)}"` +
    ` Destination="${escapeXml(f.destination)}"${inResponseTo}>` +
    `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${NS.success}"/></samlp:Status>` +
    `<saml:Assertion ID="${newId()}" Version="2.0" IssueInstant="${iso(now)}">` +
    `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${NS.emailFormat}">${escapeXml(f.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="${NS.bearer}"><saml:SubjectConfirmationData NotOnOrAfter="${iso(notOnOrAfter)}"` +
    ` Recipient="${escapeXml(f.destination)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${escapeXml(f.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` +
    `</saml:Assertion></samlp:Response>`
  );
}

const ASSERTION_XPATH = "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
const RESPONSE_XPATH = "/*[local-name(.)='Response']";

/** Signs one element in place (enveloped signature right after its Issuer). */
function sign(xml, xpath, key) {
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: NS.rsaSha256,
    canonicalizationAlgorithm: NS.excC14n,
  });
  sig.addReference({ xpath, digestAlgorithm: NS.sha256, transforms: [NS.enveloped, NS.excC14n] });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

/** Assertion signed, then Response signed: what the service requires. */
function signBoth(xml, key) {
  return sign(sign(xml, ASSERTION_XPATH, key), RESPONSE_XPATH, key);
}

module.exports = { createKeyPair, responseXml, signBoth, newId };
