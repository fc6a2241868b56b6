/**
 * A SAML identity provider for tests, with real keys: responses are written as XML, signed with
 * xml-crypto (Assertion first, then Response, like real IdPs) and can then be tampered with.
 * Certificates are made with node-forge, independently of the service's own certificate code.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import forge from "node-forge";
import { SignedXml } from "xml-crypto";

export const SAML = {
  protocol: "urn:oasis:names:tc:SAML:2.0:protocol",
  assertion: "urn:oasis:names:tc:SAML:2.0:assertion",
  dsig: "http://www.w3.org/2000/09/xmldsig#",
  rsaSha256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  rsaSha1: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
  hmacSha1: "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  sha1: "http://www.w3.org/2000/09/xmldsig#sha1",
  enveloped: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
  excC14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
  c14n: "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
  xslt: "http://www.w3.org/TR/1999/REC-xslt-19991116",
  bearer: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
  success: "urn:oasis:names:tc:SAML:2.0:status:Success",
  emailFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
} as const;

export interface KeyPair {
  privateKeyPem: string;
  certificatePem: string;
}

/** RSA 2048 (Node crypto, fast) + a self-signed sha256 certificate (node-forge). */
export function createKeyPair(commonName: string, validity: { notBefore?: Date; notAfter?: Date } = {}): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = `01${randomBytes(8).toString("hex")}`;
  cert.validity.notBefore = validity.notBefore ?? new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = validity.notAfter ?? new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const attrs = [{ name: "commonName", value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return { privateKeyPem, certificatePem: forge.pki.certificateToPem(cert) };
}

export interface ResponseFields {
  issuer: string;
  /** Response Issuer when it should differ from `issuer`; null drops it. */
  responseIssuer?: string | null;
  destination: string | null;
  recipient: string | null;
  audience: string;
  inResponseTo: string | null;
  nameId: string;
  nameIdFormat?: string;
  /** Attribute name → values (escaped as text). */
  attributes?: Record<string, string[]>;
  /** Raw XML appended inside the AttributeStatement (for markup tests). */
  rawAttributes?: string;
  /** Raw XML inserted in the Assertion after Conditions (e.g. an Advice). */
  rawAfterConditions?: string;
  now?: Date;
  notBefore?: Date;
  notOnOrAfter?: Date;
  subjectNotOnOrAfter?: Date;
  responseId?: string;
  assertionId?: string;
  status?: string;
}

export const newId = (): string => `_${randomBytes(16).toString("hex")}`;

export function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** An unsigned Response with one Assertion, shaped like the ones IdPs send. */
export function responseXml(f: ResponseFields): string {
  const now = f.now ?? new Date();
  const iso = (d: Date) => d.toISOString();
  const notBefore = f.notBefore ?? new Date(now.getTime() - 30_000);
  const notOnOrAfter = f.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
  const subjectEnd = f.subjectNotOnOrAfter ?? notOnOrAfter;
  const attr = (attrs: Record<string, string[]>) =>
    Object.entries(attrs)
      .map(([name, values]) => `<saml:Attribute Name="${escapeXml(name)}">${values.map((v) => `<saml:AttributeValue>${escapeXml(v)}</saml:AttributeValue>`).join("")}</saml:Attribute>`)
      .join("");
  const responseIssuer = f.responseIssuer === undefined ? f.issuer : f.responseIssuer;
  const inResponseTo = f.inResponseTo ? ` InResponseTo="${escapeXml(f.inResponseTo)}"` : "";
  return (
    `<samlp:Response xmlns:samlp="${SAML.protocol}" xmlns:saml="${SAML.assertion}" ID="${f.responseId ?? newId()}" Version="2.0" IssueInstant="${iso(now)}"` +
    `${f.destination !== null ? ` Destination="${escapeXml(f.destination)}"` : ""}${inResponseTo}>` +
    `${responseIssuer !== null ? `<saml:Issuer>${escapeXml(responseIssuer)}</saml:Issuer>` : ""}` +
    `<samlp:Status><samlp:StatusCode Value="${f.status ?? SAML.success}"/></samlp:Status>` +
    `<saml:Assertion ID="${f.assertionId ?? newId()}" Version="2.0" IssueInstant="${iso(now)}">` +
    `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${f.nameIdFormat ?? SAML.emailFormat}">${escapeXml(f.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="${SAML.bearer}"><saml:SubjectConfirmationData NotOnOrAfter="${iso(subjectEnd)}"` +
    `${f.recipient !== null ? ` Recipient="${escapeXml(f.recipient)}"` : ""}${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${escapeXml(f.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `${f.rawAfterConditions ?? ""}` +
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attr(f.attributes ?? {})}${f.rawAttributes ?? ""}</saml:AttributeStatement>` +
    `</saml:Assertion></samlp:Response>`
  );
}

export interface SignOptions {
  key: KeyPair;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
  transforms?: string[];
  /** A second reference (extra Reference in SignedInfo). */
  extraReferenceXpath?: string;
  hmacKey?: string;
}

const ASSERTION_XPATH = "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
const RESPONSE_XPATH = "/*[local-name(.)='Response']";

/** Signs one element (the Assertion or the Response) in place, signature after its Issuer. */
export function sign(xml: string, target: "assertion" | "response", options: SignOptions): string {
  const xpath = target === "assertion" ? ASSERTION_XPATH : RESPONSE_XPATH;
  const sig = new SignedXml({
    privateKey: options.hmacKey ?? options.key.privateKeyPem,
    publicCert: options.key.certificatePem,
    signatureAlgorithm: (options.signatureAlgorithm ?? SAML.rsaSha256) as never,
    canonicalizationAlgorithm: SAML.excC14n,
  });
  if (options.hmacKey) sig.enableHMAC();
  sig.addReference({
    xpath,
    digestAlgorithm: (options.digestAlgorithm ?? SAML.sha256) as never,
    transforms: (options.transforms ?? [SAML.enveloped, SAML.excC14n]) as never,
  });
  if (options.extraReferenceXpath) {
    sig.addReference({ xpath: options.extraReferenceXpath, digestAlgorithm: SAML.sha256 as never, transforms: [SAML.enveloped, SAML.excC14n] as never });
  }
  sig.computeSignature(xml, { prefix: "ds", location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: "after" } });
  return sig.getSignedXml();
}

/** Assertion signed, then Response signed: what the service requires. */
export function signBoth(xml: string, key: KeyPair, options: Omit<SignOptions, "key"> = {}): string {
  return sign(sign(xml, "assertion", { key, ...options }), "response", { key, ...options });
}

export const b64 = (xml: string): string => Buffer.from(xml, "utf8").toString("base64");

export function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, "text/xml") as unknown as Document;
}

export function serialize(node: Node): string {
  return new XMLSerializer().serializeToString(node as never);
}

export function child(parent: Element | Document, localName: string): Element {
  for (let n = parent.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && (n as Element).localName === localName) return n as Element;
  throw new Error(`no ${localName} under ${(parent as Element).localName}`);
}

export function descendant(root: Element | Document, localName: string): Element {
  const all = (root as Element).getElementsByTagNameNS("*", localName);
  if (all.length === 0) throw new Error(`no ${localName}`);
  return all[0] as Element;
}

/** Replaces the NameID text of every assertion under `root`. */
export function setNameId(root: Element, value: string): void {
  const all = root.getElementsByTagNameNS(SAML.assertion, "NameID");
  for (let i = 0; i < all.length; i++) all[i].textContent = value;
}
