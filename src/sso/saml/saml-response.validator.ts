/**
 * Turns a posted SAMLResponse into a LoginIdentity, or refuses it with a reason a person can act on.
 *
 * Rules (SECURITY-CASES saml-01 … saml-18):
 * - The raw XML passes saml-xml-guard first (DOCTYPE, encoding, structure, one assertion, both
 *   Response and Assertion signed, allowed algorithms and transforms, unique IDs).
 * - @node-saml/node-saml verifies both signatures with the connection's configured certificates
 *   only (KeyInfo is ignored, HMAC is not registered), the time conditions with the connection's
 *   clock skew, the Audience (= our SP entity ID) and that InResponseTo names an open request of
 *   this connection ("always", or "ifPresent" when IdP-initiated login is allowed).
 * - Our own checks, which node-saml lacks: Response Destination and the bearer
 *   SubjectConfirmationData Recipient equal the connection's ACS URL (SSO_CALLBACK_MISMATCH,
 *   "callback URL mismatch: expected X, got Y"); Response and Assertion Issuer equal the configured
 *   IdP entity ID; status Success; Response and SubjectConfirmationData InResponseTo agree (both
 *   absent only for IdP-initiated login, and only when the connection allows it); the subject
 *   confirmation's own NotBefore / NotOnOrAfter against the clock skew.
 * - Identity (NameID, attributes) is read only from the XML node-saml returns as verified — the
 *   canonical form of the signed reference, where comments are gone, so a NameID split by a comment
 *   yields its full text. Markup inside an AttributeValue stays literal text.
 * - Acceptance commits atomically: Response ID and Assertion ID enter the replay cache and the
 *   request ID is consumed in one transaction; any of them already used → refused.
 * - IdP-initiated: RelayState must be an allowed frontend URL of the organization, else refused
 *   (never followed). SP-initiated: RelayState is ignored; the redirect comes from the stored request.
 */
import { SAML, SamlStatusError, ValidateInResponseTo, type Profile } from "@node-saml/node-saml";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import type { Database } from "../../db/database";
import { AppError, SsoError, type ErrorCode } from "../../shared/errors";
import type { LoginCompletion, LoginIdentity, LoginRequestContext } from "../login.types";
import type { ResolvedSamlConnection } from "./saml-connection.service";
import { REQUEST_TTL_MS, type SamlRequestStore } from "./saml-request.store";
import { assertResponseStructure, childElements, decodeSamlMessage, NS, parseStrict, XmlGuardError } from "./saml-xml-guard";

const BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";
const EMAIL_NAME_ID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const MAX_RELAY_STATE = 2048;

/** Well-known names tried when a connection keeps the default attribute name. */
export const ATTRIBUTE_DEFAULTS = {
  email: ["email", "mail", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
  displayName: ["displayName", "urn:oid:2.16.840.1.113730.3.1.241", "http://schemas.microsoft.com/identity/claims/displayname", "name", "cn"],
  groups: ["groups", "memberOf", "isMemberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"],
} as const;

type RefusalCode = Extract<ErrorCode, "SSO_LOGIN_FAILED" | "SSO_CALLBACK_MISMATCH">;

/** A refused SAML response: `message` is public, `detail` goes to the log and the audit entry. */
export class SamlRefusal extends SsoError {
  /** The NameID when it was already read, for the audit entry. */
  readonly actor: string | null;

  constructor(code: RefusalCode, message: string, options: { detail?: string; actor?: string | null } = {}) {
    super(code, message, { detail: options.detail });
    this.actor = options.actor ?? null;
  }
}

const refuse = (message: string, detail?: string, actor?: string | null) => new SamlRefusal("SSO_LOGIN_FAILED", `SAML response rejected: ${message}`, { detail, actor });
const mismatch = (expected: string, got: string | null, what: string, actor?: string | null) =>
  new SamlRefusal("SSO_CALLBACK_MISMATCH", `callback URL mismatch: expected ${expected}, got ${got ?? "(none)"}`, { detail: what, actor });

export interface ValidatedLogin {
  identity: LoginIdentity;
  request: LoginRequestContext;
  /** The consumed AuthnRequest ID, or null for IdP-initiated login. */
  requestId: string | null;
}

export class SamlResponseValidator {
  constructor(
    private readonly db: Database,
    private readonly store: SamlRequestStore,
    private readonly login: Pick<LoginCompletion, "assertRedirectAllowed">,
  ) {}

  async validate(connection: ResolvedSamlConnection, samlResponse: string, relayState: string | null): Promise<ValidatedLogin> {
    // 1. Text and structure, before any signature code runs.
    let xml: string;
    let response: Element;
    let unverifiedAssertion: Element;
    try {
      xml = decodeSamlMessage(samlResponse);
      ({ response, assertion: unverifiedAssertion } = assertResponseStructure(parseStrict(xml)));
    } catch (error) {
      if (error instanceof XmlGuardError) throw refuse(error.message);
      throw error;
    }
    // An early, read-only look at the replay cache gives a replay its own message (the atomic
    // check is the insert in step 5).
    for (const [kind, element] of [["response", response], ["assertion", unverifiedAssertion]] as const) {
      const samlId = element.getAttribute("ID") ?? "";
      if (await this.store.seen(connection.idpEntityId, kind, samlId)) throw refuse(`the ${kind === "response" ? "Response" : "Assertion"} ${samlId} was already used (replay)`);
    }

    // 2. node-saml: signatures (configured certificates only), time, audience, InResponseTo lookup.
    const skewMs = connection.clockSkewSeconds * 1000;
    const saml = new SAML({
      callbackUrl: connection.acsUrl,
      issuer: connection.spEntityId,
      audience: connection.spEntityId,
      idpIssuer: connection.idpEntityId,
      idpCert: connection.idpCertificates,
      wantAuthnResponseSigned: true,
      wantAssertionsSigned: true,
      acceptedClockSkewMs: skewMs,
      maxAssertionAgeMs: 0,
      validateInResponseTo: connection.allowIdpInitiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: REQUEST_TTL_MS,
      cacheProvider: this.store.cacheProviderFor(connection.id),
      signatureAlgorithm: "sha256",
      digestAlgorithm: "sha256",
    });
    let profile: Profile;
    try {
      const result = await saml.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml, "utf8").toString("base64") });
      if (!result.profile) throw new Error("Missing SAML assertion");
      profile = result.profile;
    } catch (error) {
      throw this.translate(error, connection);
    }
    const signedAssertionXml = profile.getAssertionXml?.();
    if (!signedAssertionXml) throw refuse("the signed assertion could not be read");
    const assertion = parseSignedAssertion(signedAssertionXml);

    // 3. What node-saml does not check. The Response element is covered by its verified signature.
    const acs = connection.acsUrl;
    const subject = readNameId(assertion);
    const actor = subject.value;
    if (response.getAttribute("Version") !== "2.0") throw refuse("the Response is not SAML 2.0", undefined, actor);
    const destination = response.getAttribute("Destination");
    if (destination !== acs) throw mismatch(acs, destination || null, "Response Destination", actor);
    const responseIssuer = issuerOf(response);
    if (responseIssuer !== connection.idpEntityId) {
      throw refuse(`Response Issuer mismatch: expected ${connection.idpEntityId}, got ${responseIssuer ?? "(none)"}`, undefined, actor);
    }
    const assertionIssuer = issuerOf(assertion);
    if (assertionIssuer !== connection.idpEntityId) {
      throw refuse(`Assertion Issuer mismatch: expected ${connection.idpEntityId}, got ${assertionIssuer ?? "(none)"}`, undefined, actor);
    }
    const status = statusOf(response);
    if (status !== SUCCESS) throw refuse(`the IdP did not report success (${status ?? "no status"})`, undefined, actor);

    const confirmation = bearerConfirmation(assertion, actor);
    const recipient = confirmation.getAttribute("Recipient");
    if (recipient !== acs) throw mismatch(acs, recipient || null, "SubjectConfirmationData Recipient", actor);
    const now = Date.now();
    const confirmationEnd = instant(confirmation, "NotOnOrAfter", actor);
    if (confirmationEnd === null) throw refuse("the bearer SubjectConfirmationData has no NotOnOrAfter", undefined, actor);
    assertTimeWindow(now, skewMs, instant(confirmation, "NotBefore", actor), confirmationEnd, connection.clockSkewSeconds, actor);
    const conditions = childElements(assertion, "Conditions", NS.assertion);
    if (conditions.length !== 1) throw refuse("the Assertion must have exactly one Conditions element", undefined, actor);
    const conditionsEnd = instant(conditions[0], "NotOnOrAfter", actor);
    assertTimeWindow(now, skewMs, instant(conditions[0], "NotBefore", actor), conditionsEnd, connection.clockSkewSeconds, actor);

    const inResponseTo = response.getAttribute("InResponseTo") || null;
    const confirmationInResponseTo = confirmation.getAttribute("InResponseTo") || null;
    if (inResponseTo !== confirmationInResponseTo) {
      throw refuse("InResponseTo of the Response and of the SubjectConfirmationData differ", `${inResponseTo} / ${confirmationInResponseTo}`, actor);
    }
    if (inResponseTo === null && !connection.allowIdpInitiated) {
      throw refuse("it does not answer a login started here (InResponseTo is missing) and IdP-initiated login is off for this connection", undefined, actor);
    }

    // 4. IdP-initiated: the RelayState must be an allowed frontend URL; it is never followed otherwise.
    let request: LoginRequestContext | null = null;
    if (inResponseTo === null) {
      if (!relayState || relayState.length > MAX_RELAY_STATE) {
        throw new SamlRefusal("SSO_CALLBACK_MISMATCH", "IdP-initiated login needs RelayState set to an allowed frontend URL of the organization (configure it as the default RelayState at the IdP)", { actor });
      }
      try {
        await this.login.assertRedirectAllowed(connection.organizationId, relayState);
      } catch (error) {
        if (error instanceof AppError && error.code === "SSO_CALLBACK_MISMATCH") {
          throw new SamlRefusal("SSO_CALLBACK_MISMATCH", `RelayState ${relayState} is not an allowed frontend URL of this organization; it was not followed`, { actor });
        }
        throw error;
      }
      request = { redirectUri: relayState, codeChallenge: null, clientState: null };
    }

    // 5. Accept once: replay cache for both IDs and the single-use request, in one transaction.
    const replayUntil = new Date(Math.max(confirmationEnd, conditionsEnd ?? 0) + skewMs);
    const responseId = response.getAttribute("ID") ?? "";
    const assertionId = assertion.getAttribute("ID") ?? "";
    const at = new Date(now);
    request = await this.db.transaction(async (em) => {
      await this.store.sweep(em, at); // housekeeping rides along: one commit per response, not two
      if (!(await this.store.remember(em, connection.idpEntityId, "response", responseId, replayUntil, at))) {
        throw refuse(`the Response ${responseId} was already used (replay)`, undefined, actor);
      }
      if (!(await this.store.remember(em, connection.idpEntityId, "assertion", assertionId, replayUntil, at))) {
        throw refuse(`the Assertion ${assertionId} was already used (replay)`, undefined, actor);
      }
      if (inResponseTo === null) return request!;
      const stored = await this.store.consume(em, connection.id, inResponseTo, at);
      if (!stored) throw refuse("InResponseTo names a login request that is unknown, expired or already used; start the login again", inResponseTo, actor);
      return stored;
    });

    const attributes = readAttributes(assertion);
    const email = firstValue(attributes, connection.emailAttribute, ATTRIBUTE_DEFAULTS.email) ?? (subject.format === EMAIL_NAME_ID ? subject.value : null);
    return {
      identity: {
        organizationId: connection.organizationId,
        connectionId: connection.id,
        protocol: "saml",
        issuer: connection.idpEntityId,
        subject: subject.value,
        email,
        // Asserted, signed, by the organization's own IdP; the login flow still checks allowed domains.
        emailVerified: email !== null,
        displayName: firstValue(attributes, connection.displayNameAttribute, ATTRIBUTE_DEFAULTS.displayName),
        groups: allValues(attributes, connection.groupsAttribute, ATTRIBUTE_DEFAULTS.groups),
      },
      request,
      requestId: inResponseTo,
    };
  }

  /** node-saml's errors → public reasons. */
  private translate(error: unknown, connection: ResolvedSamlConnection): AppError {
    if (error instanceof AppError) return error;
    if (error instanceof SamlStatusError) return refuse(`the IdP refused the login: ${error.message.replace(/^SAML provider returned /, "")}`);
    const message = error instanceof Error ? error.message : String(error);
    const detail = message.slice(0, 300);
    if (/InResponseTo is missing/.test(message)) {
      return refuse("it does not answer a login started here (InResponseTo is missing) and IdP-initiated login is off for this connection", detail);
    }
    if (/InResponseTo/i.test(message)) {
      return refuse("InResponseTo names a login request that is unknown, expired or already used; start the login again", detail);
    }
    if (/not yet valid|expired|subject confirmation|too old/i.test(message)) {
      return refuse(`the assertion is not valid at this time (NotBefore / NotOnOrAfter outside the allowed clock skew of ${connection.clockSkewSeconds} s)`, detail);
    }
    if (/audience/i.test(message)) {
      const received = /Received: (.*)$/.exec(message)?.[1];
      return refuse(`Audience mismatch: expected ${connection.spEntityId}, got ${received ?? "(none)"}`, detail);
    }
    if (/signature|signed|transforms|reference/i.test(message)) {
      return refuse("the signature is missing or does not verify with the IdP certificates configured for this connection", detail);
    }
    return refuse("the response is not a valid SAML login response", detail);
  }
}

// --- reading the verified assertion ------------------------------------------------------------

function parseSignedAssertion(xml: string): Element {
  const problems: string[] = [];
  const record = (m: string) => problems.push(m);
  const doc = new DOMParser({ errorHandler: { warning: record, error: record, fatalError: record } }).parseFromString(xml, "text/xml");
  const root = doc?.documentElement;
  if (problems.length > 0 || !root || root.localName !== "Assertion" || root.namespaceURI !== NS.assertion) {
    throw refuse("the signed assertion could not be read");
  }
  return root as unknown as Element;
}

function issuerOf(element: Element): string | null {
  const issuers = childElements(element, "Issuer", NS.assertion);
  return issuers.length === 1 ? (issuers[0].textContent ?? "") : null;
}

function statusOf(response: Element): string | null {
  const status = childElements(response, "Status", NS.protocol)[0];
  const code = status && childElements(status, "StatusCode", NS.protocol)[0];
  return code?.getAttribute("Value") ?? null;
}

function readNameId(assertion: Element): { value: string; format: string | null } {
  const subjects = childElements(assertion, "Subject", NS.assertion);
  if (subjects.length !== 1) throw refuse("the Assertion must have exactly one Subject");
  const nameIds = childElements(subjects[0], "NameID", NS.assertion);
  if (nameIds.length !== 1) throw refuse("the Subject must have exactly one NameID (encrypted or base identifiers are not supported)");
  if (childElements(nameIds[0]).length > 0) throw refuse("the NameID contains markup");
  const value = nameIds[0].textContent ?? "";
  if (value.trim() === "") throw refuse("the NameID is empty");
  return { value, format: nameIds[0].getAttribute("Format") || null };
}

function bearerConfirmation(assertion: Element, actor: string): Element {
  const subject = childElements(assertion, "Subject", NS.assertion)[0];
  const bearers = childElements(subject, "SubjectConfirmation", NS.assertion).filter((c) => c.getAttribute("Method") === BEARER);
  if (bearers.length !== 1) throw refuse(`the Subject must have exactly one bearer SubjectConfirmation, found ${bearers.length}`, undefined, actor);
  const data = childElements(bearers[0], "SubjectConfirmationData", NS.assertion);
  if (data.length !== 1) throw refuse("the bearer SubjectConfirmation must have exactly one SubjectConfirmationData", undefined, actor);
  return data[0];
}

function instant(element: Element, attribute: string, actor: string): number | null {
  const text = element.getAttribute(attribute);
  if (!text) return null;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw refuse(`${element.localName} ${attribute} is not a valid instant: ${text.slice(0, 40)}`, undefined, actor);
  return ms;
}

function assertTimeWindow(now: number, skewMs: number, notBefore: number | null, notOnOrAfter: number | null, skewSeconds: number, actor: string): void {
  if ((notBefore !== null && now + skewMs < notBefore) || (notOnOrAfter !== null && now - skewMs >= notOnOrAfter)) {
    throw refuse(`the assertion is not valid at this time (NotBefore / NotOnOrAfter outside the allowed clock skew of ${skewSeconds} s)`, undefined, actor);
  }
}

/** Attribute name (and FriendlyName) → values, in document order. */
function readAttributes(assertion: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const serializer = new XMLSerializer();
  for (const statement of childElements(assertion, "AttributeStatement", NS.assertion)) {
    for (const attribute of childElements(statement, "Attribute", NS.assertion)) {
      const values = childElements(attribute, "AttributeValue", NS.assertion)
        .filter((v) => v.getAttributeNS("http://www.w3.org/2001/XMLSchema-instance", "nil") !== "true")
        .map((v) => literalText(v, serializer));
      for (const name of new Set([attribute.getAttribute("Name"), attribute.getAttribute("FriendlyName")])) {
        if (name) out.set(name, [...(out.get(name) ?? []), ...values]);
      }
    }
  }
  return out;
}

/** The value exactly as text: character data as is, child elements serialized (never interpreted). */
function literalText(value: Element, serializer: InstanceType<typeof XMLSerializer>): string {
  let text = "";
  for (let node = value.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 3 || node.nodeType === 4) text += node.nodeValue ?? "";
    else if (node.nodeType === 1) text += serializer.serializeToString(node as never);
  }
  return text;
}

function candidates(configured: string, defaults: readonly string[]): string[] {
  return configured === defaults[0] ? [...defaults] : [configured];
}

function firstValue(attributes: Map<string, string[]>, configured: string, defaults: readonly string[]): string | null {
  for (const name of candidates(configured, defaults)) {
    const value = attributes.get(name)?.map((v) => v.trim()).find((v) => v !== "");
    if (value) return value;
  }
  return null;
}

function allValues(attributes: Map<string, string[]>, configured: string, defaults: readonly string[]): string[] {
  for (const name of candidates(configured, defaults)) {
    const values = attributes.get(name)?.filter((v) => v.trim() !== "");
    if (values && values.length > 0) return [...new Set(values)];
  }
  return [];
}
