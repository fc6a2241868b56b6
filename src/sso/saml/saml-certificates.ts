/**
 * X.509 certificates of SAML connections: the IdP's signing certificates (pasted or imported) and
 * our own SP signing key pair, generated per connection.
 *
 * Rules:
 * - An IdP certificate is accepted only if it parses as X.509 and carries an RSA key of at least
 *   2048 bits (xml-crypto verifies RSA signatures only); PEM or bare base64 DER are both accepted
 *   and stored as normalized PEM.
 * - The SP key is RSA 2048 with a self-signed sha256WithRSAEncryption certificate built here with
 *   Node's crypto (a minimal DER encoder), so no certificate library is needed at run time.
 */
import { createHash, createPublicKey, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { promisify } from "node:util";

const generateKeyPairAsync = promisify(generateKeyPair);

export const MAX_IDP_CERTIFICATES = 5;
const MIN_RSA_BITS = 2048;
const SP_CERTIFICATE_YEARS = 10;

export interface CertificateInfo {
  pem: string;
  fingerprintSha256: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
}

/** Parses a PEM or bare base64 certificate; throws an Error with a message an admin can act on. */
export function parseCertificate(text: string): CertificateInfo {
  const pem = normalizeCertificate(text);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new Error("is not a valid X.509 certificate (paste the PEM, -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)");
  }
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== "rsa") {
    throw new Error(`has a ${key.asymmetricKeyType ?? "unknown"} key; SAML signatures are verified with RSA keys only`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw new Error(`has an RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are required`);
  return describe(cert, pem);
}

export function describeCertificate(pem: string): CertificateInfo {
  return describe(new X509Certificate(pem), pem);
}

function describe(cert: X509Certificate, pem: string): CertificateInfo {
  return {
    pem,
    fingerprintSha256: cert.fingerprint256,
    subject: cert.subject.replace(/\n/g, ", "),
    issuer: cert.issuer.replace(/\n/g, ", "),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
  };
}

/** PEM with 64-character lines, whatever whitespace or headers the admin pasted. */
export function normalizeCertificate(text: string): string {
  const body = text
    .replace(/-----BEGIN CERTIFICATE-----/, "")
    .replace(/-----END CERTIFICATE-----/, "")
    .replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return text.trim();
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;
}

export function certificateBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
}

export interface SpKeyPair {
  privateKeyPem: string;
  certificatePem: string;
}

/** A fresh RSA 2048 key and a self-signed certificate naming the SP entity ID. */
export async function generateSpKeyPair(commonName: string, now = new Date()): Promise<SpKeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + SP_CERTIFICATE_YEARS);
  const der = selfSignedCertificate(privateKey, publicKey, commonName.slice(0, 64), now, notAfter);
  const body = der.toString("base64").match(/.{1,64}/g)!.join("\n");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    certificatePem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
  };
}

/** True when the private key belongs to the certificate (checked by `testSamlConnection`). */
export function keyMatchesCertificate(privateKeyPem: string, certificatePem: string): boolean {
  const fromKey = createPublicKey(privateKeyPem).export({ type: "spki", format: "der" });
  const fromCert = new X509Certificate(certificatePem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(fromKey).digest("hex") === createHash("sha256").update(fromCert).digest("hex");
}

// --- a minimal DER encoder, just enough for one self-signed certificate ---------------------------

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const der = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
const sequence = (...items: Buffer[]): Buffer => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => der(0x31, Buffer.concat(items));
const utf8String = (value: string): Buffer => der(0x0c, Buffer.from(value, "utf8"));
const NULL = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const value of rest) {
    const chunk: number[] = [value & 0x7f];
    for (let n = value >> 7; n > 0; n >>= 7) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

/** DER INTEGER: minimal (no leading zero bytes) and positive (a zero byte before a high bit). */
function positiveInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const minimal = bytes.subarray(start);
  return der(0x02, minimal[0] & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`, "ascii")) : der(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, commonName: string, notBefore: Date, notAfter: Date): Buffer {
  const sha256WithRsa = sequence(oid("1.2.840.113549.1.1.11"), NULL);
  const name = sequence(set(sequence(oid("2.5.4.3"), utf8String(commonName))));
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // version v3
    positiveInteger(serial),
    sha256WithRsa,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: "spki", format: "der" }),
  );
  const signature = sign("sha256", tbs, privateKey);
  return sequence(tbs, sha256WithRsa, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
}
