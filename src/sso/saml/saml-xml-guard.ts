/**
 * What a SAMLResponse must look like before any signature library sees it. These checks run on
 * the raw bytes and then on a strictly parsed DOM; anything unusual is refused, never repaired.
 *
 * Rules (SECURITY-CASES saml-01, 03, 04, 06, 07, 09, 16):
 * - UTF-8 only; no DOCTYPE, no entity declaration, no processing instruction other than the XML
 *   declaration — checked on the text, before anything is parsed (XXE, entity expansion).
 * - Parser warnings and errors are fatal; exactly one root element, samlp:Response, nothing else
 *   at the top level but whitespace and comments.
 * - Exactly one saml:Assertion in the whole document, a direct child of the Response; no
 *   EncryptedAssertion (not supported), no Assertion inside Advice, Extensions, Signature or Object
 *   (signature wrapping XSW1–XSW8, several assertions, subject inside Advice).
 * - Exactly two ds:Signature elements in the document: one direct child of the Response, one of the
 *   Assertion (both must be signed), each with one SignedInfo, one Reference whose URI is "#" + the
 *   ID of its parent, at most two transforms from {enveloped-signature, exc-c14n, c14n}, RSA with
 *   SHA-256/512 and SHA-256/512 digests only (SHA-1, HMAC, XSLT and XPath transforms are refused),
 *   no ds:Object, and no comment or processing instruction anywhere inside a Signature (a comment in
 *   DigestValue must not be silently dropped).
 * - Every ID / Id / id attribute value in the document is unique.
 */
import { DOMParser } from "@xmldom/xmldom";

export const NS = {
  protocol: "urn:oasis:names:tc:SAML:2.0:protocol",
  assertion: "urn:oasis:names:tc:SAML:2.0:assertion",
  dsig: "http://www.w3.org/2000/09/xmldsig#",
  metadata: "urn:oasis:names:tc:SAML:2.0:metadata",
} as const;

export const MAX_XML_BYTES = 256 * 1024;

const SIGNATURE_ALGORITHMS = new Set([
  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
]);
const DIGEST_ALGORITHMS = new Set(["http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmlenc#sha512"]);
const CANONICALIZATION_ALGORITHMS = new Set(["http://www.w3.org/2001/10/xml-exc-c14n#", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"]);
const TRANSFORMS = new Set([
  "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
  "http://www.w3.org/2001/10/xml-exc-c14n#",
  "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
]);

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;

/** A refusal by the guard: `message` is public and says what was wrong. */
export class XmlGuardError extends Error {}

/** Decodes the SAMLResponse form field into XML text, refusing what is not plain UTF-8 XML. */
export function decodeSamlMessage(base64: string): string {
  const compact = base64.replace(/\s+/g, "");
  if (compact.length === 0) throw new XmlGuardError("SAMLResponse is empty");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new XmlGuardError("SAMLResponse is not base64");
  const bytes = Buffer.from(compact, "base64");
  if (bytes.length > MAX_XML_BYTES) throw new XmlGuardError(`SAMLResponse is larger than ${MAX_XML_BYTES / 1024} KiB`);
  return decodeUtf8Xml(bytes);
}

export function decodeUtf8Xml(bytes: Buffer): string {
  if ((bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0xff && bytes[1] === 0xfe) || bytes.includes(0)) {
    throw new XmlGuardError("the XML is not UTF-8 (UTF-16 and NUL bytes are refused)");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new XmlGuardError("the XML is not valid UTF-8");
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

/**
 * Text-level refusals, before any parser runs: DOCTYPE / ENTITY / any other markup declaration,
 * processing instructions other than a leading UTF-8 XML declaration.
 */
export function assertNoDangerousDeclarations(xml: string): void {
  if (/<!DOCTYPE/i.test(xml)) throw new XmlGuardError("the XML contains a DOCTYPE declaration, which is never accepted");
  if (/<!ENTITY/i.test(xml)) throw new XmlGuardError("the XML contains an ENTITY declaration, which is never accepted");
  // Comments and CDATA are the only other "<!" constructs XML allows outside a DTD.
  if (/<!(?!--|\[CDATA\[)/.test(xml)) throw new XmlGuardError("the XML contains a markup declaration, which is never accepted");
  const declaration = /^\s*<\?xml\s[^?]*\?>/.exec(xml);
  if (declaration && /encoding\s*=\s*["'](?!utf-8["'])/i.test(declaration[0])) {
    throw new XmlGuardError("the XML declares an encoding other than UTF-8");
  }
  const rest = declaration ? xml.slice(declaration.index + declaration[0].length) : xml;
  if (/<\?/.test(rest)) throw new XmlGuardError("the XML contains a processing instruction (XSLT stylesheets and the like are refused)");
}

/** Parses strictly: any parser warning or error refuses the document. */
export function parseStrict(xml: string): Document {
  assertNoDangerousDeclarations(xml);
  const problems: string[] = [];
  const record = (message: string) => problems.push(message.replace(/^\[xmldom \w+\]\s*/, "").split("\n")[0]);
  const doc = new DOMParser({ errorHandler: { warning: record, error: record, fatalError: record } }).parseFromString(xml, "text/xml");
  if (problems.length > 0 || !doc || !doc.documentElement) {
    throw new XmlGuardError(`the XML is not well-formed (${problems[0] ?? "no root element"})`);
  }
  let roots = 0;
  for (const node of children(doc)) {
    if (node.nodeType === ELEMENT_NODE) roots += 1;
    else if ((node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) && (node.nodeValue ?? "").trim() !== "") roots += 2;
    else if (node.nodeType === PROCESSING_INSTRUCTION_NODE && (node as unknown as ProcessingInstruction).target !== "xml") roots += 2;
  }
  if (roots !== 1) throw new XmlGuardError("the XML must have exactly one root element and nothing else at the top level");
  return doc as unknown as Document;
}

/** The structural rules for a SAML Response (see the module comment). Returns the parsed parts. */
export function assertResponseStructure(doc: Document): { response: Element; assertion: Element } {
  const response = doc.documentElement;
  if (response.localName !== "Response" || response.namespaceURI !== NS.protocol) {
    throw new XmlGuardError(`the root element must be samlp:Response, got ${response.nodeName}`);
  }
  assertUniqueIds(doc);

  if (elementsByLocalName(doc, "EncryptedAssertion").length > 0) {
    throw new XmlGuardError("encrypted assertions are not supported: configure the IdP to send a signed, unencrypted assertion");
  }
  const assertions = elementsByLocalName(doc, "Assertion");
  if (assertions.length !== 1) throw new XmlGuardError(`the response must contain exactly one Assertion, found ${assertions.length}`);
  const assertion = assertions[0];
  if (assertion.namespaceURI !== NS.assertion || assertion.parentNode !== response) {
    throw new XmlGuardError("the Assertion must be a direct child of the Response");
  }
  if (elementsByLocalName(doc, "Response").length !== 1) throw new XmlGuardError("the document must contain exactly one Response");

  const signatures = elementsByLocalName(doc, "Signature");
  const responseSignatures = childElements(response).filter(isSignature);
  const assertionSignatures = childElements(assertion).filter(isSignature);
  if (responseSignatures.length !== 1) throw new XmlGuardError("the Response is not signed (exactly one Signature child is required)");
  if (assertionSignatures.length !== 1) throw new XmlGuardError("the Assertion is not signed (exactly one Signature child is required)");
  if (signatures.length !== 2) throw new XmlGuardError(`the document must contain exactly two signatures (Response and Assertion), found ${signatures.length}`);
  for (const signature of signatures) assertSignatureShape(signature);
  return { response, assertion };
}

function assertSignatureShape(signature: Element): void {
  if (signature.namespaceURI !== NS.dsig) throw new XmlGuardError("a Signature element is not in the XML-DSig namespace");
  const parent = signature.parentNode as Element;
  walk(signature, (node) => {
    if (node.nodeType === COMMENT_NODE) throw new XmlGuardError("a Signature contains a comment (for example inside DigestValue), which is refused");
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) throw new XmlGuardError("a Signature contains a processing instruction, which is refused");
  });
  if (elementsByLocalName(signature, "Object").length > 0) throw new XmlGuardError("a Signature contains a ds:Object, which is refused");

  const signedInfos = childElements(signature).filter((e) => e.localName === "SignedInfo");
  if (signedInfos.length !== 1) throw new XmlGuardError("a Signature must have exactly one SignedInfo");
  const signedInfo = signedInfos[0];
  const c14n = single(signedInfo, "CanonicalizationMethod").getAttribute("Algorithm") ?? "";
  if (!CANONICALIZATION_ALGORITHMS.has(c14n)) throw new XmlGuardError(`canonicalization algorithm ${c14n || "(none)"} is not accepted`);
  assertSignatureAlgorithm(single(signedInfo, "SignatureMethod").getAttribute("Algorithm") ?? "");

  const references = childElements(signedInfo).filter((e) => e.localName === "Reference");
  if (references.length !== 1) throw new XmlGuardError(`a Signature must have exactly one Reference, found ${references.length}`);
  const reference = references[0];
  const id = parent.getAttribute("ID") ?? "";
  if (!id || reference.getAttribute("URI") !== `#${id}`) {
    throw new XmlGuardError(`the signature of ${parent.localName} must reference its own element (#${id || "?"})`);
  }
  const transforms = elementsByLocalName(reference, "Transform");
  if (transforms.length > 2) throw new XmlGuardError(`a Reference has ${transforms.length} transforms; at most two are accepted`);
  for (const transform of transforms) {
    const algorithm = transform.getAttribute("Algorithm") ?? "";
    if (/xslt/i.test(algorithm)) throw new XmlGuardError("XSLT transforms are refused");
    if (!TRANSFORMS.has(algorithm)) throw new XmlGuardError(`transform ${algorithm || "(none)"} is not accepted`);
  }
  assertDigestAlgorithm(single(reference, "DigestMethod").getAttribute("Algorithm") ?? "");
  const digest = single(reference, "DigestValue").textContent ?? "";
  const value = single(signature, "SignatureValue").textContent ?? "";
  if (!/^[A-Za-z0-9+/=\s]+$/.test(digest) || !/^[A-Za-z0-9+/=\s]+$/.test(value)) {
    throw new XmlGuardError("DigestValue and SignatureValue must be plain base64");
  }
}

function assertSignatureAlgorithm(algorithm: string): void {
  if (SIGNATURE_ALGORITHMS.has(algorithm)) return;
  if (/sha1$/i.test(algorithm) && /rsa|dsa/i.test(algorithm)) {
    throw new XmlGuardError(`SHA-1 signatures (${algorithm}) are refused: configure the IdP to sign with RSA-SHA256`);
  }
  if (/hmac/i.test(algorithm)) throw new XmlGuardError(`HMAC signatures (${algorithm}) are refused: only the IdP's RSA certificate may sign`);
  throw new XmlGuardError(`signature algorithm ${algorithm || "(none)"} is not accepted (use RSA-SHA256 or RSA-SHA512)`);
}

function assertDigestAlgorithm(algorithm: string): void {
  if (DIGEST_ALGORITHMS.has(algorithm)) return;
  if (/sha1$/i.test(algorithm)) throw new XmlGuardError(`SHA-1 digests (${algorithm}) are refused: configure the IdP to use SHA-256`);
  throw new XmlGuardError(`digest algorithm ${algorithm || "(none)"} is not accepted (use SHA-256 or SHA-512)`);
}

function assertUniqueIds(doc: Document): void {
  const seen = new Set<string>();
  walk(doc.documentElement, (node) => {
    if (node.nodeType !== ELEMENT_NODE) return;
    const attributes = (node as Element).attributes;
    for (let i = 0; i < attributes.length; i++) {
      const attribute = attributes.item(i)!;
      if (!["ID", "Id", "id"].includes(attribute.localName ?? attribute.name)) continue;
      if (seen.has(attribute.value)) throw new XmlGuardError(`the ID "${attribute.value.slice(0, 80)}" appears more than once`);
      seen.add(attribute.value);
    }
  });
}

// --- DOM helpers (xmldom has no querySelector) --------------------------------------------------

export function children(node: Node): Node[] {
  const out: Node[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) out.push(child);
  return out;
}

export function childElements(node: Node, localName?: string, namespace?: string): Element[] {
  return children(node).filter(
    (n): n is Element =>
      n.nodeType === ELEMENT_NODE && (localName === undefined || (n as Element).localName === localName) && (namespace === undefined || (n as Element).namespaceURI === namespace),
  );
}

/** Every element with this local name, in any namespace (stricter than by namespace). */
export function elementsByLocalName(root: Node, localName: string): Element[] {
  const out: Element[] = [];
  walk(root, (node) => {
    if (node.nodeType === ELEMENT_NODE && (node as Element).localName === localName) out.push(node as Element);
  });
  return out;
}

export function walk(root: Node, visit: (node: Node) => void): void {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    visit(node);
    for (let child = node.lastChild; child; child = child.previousSibling) stack.push(child);
  }
}

function single(parent: Element, localName: string): Element {
  const found = elementsByLocalName(parent, localName).filter((e) => e !== parent);
  if (found.length !== 1) throw new XmlGuardError(`a Signature must have exactly one ${localName}, found ${found.length}`);
  return found[0];
}

function isSignature(element: Element): boolean {
  return element.localName === "Signature";
}
