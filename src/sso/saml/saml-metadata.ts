/**
 * SAML metadata: reading an IdP's EntityDescriptor (import) and writing ours (SP metadata).
 *
 * Rules:
 * - IdP metadata is parsed with the same guard as responses (no DOCTYPE / entities / PIs, strict
 *   parser). Its signature is not checked: it is trusted because an administrator pasted it.
 * - Exactly one IdP entity; its SSO URL is taken from the HTTP-Redirect binding, else HTTP-POST;
 *   certificates from KeyDescriptors whose use is "signing" or unspecified.
 * - Our metadata names the entity ID, the ACS (HTTP-POST), our signing certificate,
 *   AuthnRequestsSigned and WantAssertionsSigned; it never contains a private key.
 */
import { certificateBody } from "./saml-certificates";
import { childElements, elementsByLocalName, NS, parseStrict, XmlGuardError } from "./saml-xml-guard";

export const BINDINGS = {
  redirect: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
  post: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
} as const;

const MAX_METADATA_CHARS = 512 * 1024;

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  binding: "redirect" | "post";
  certificates: string[];
}

/** Throws XmlGuardError with a message naming what is missing or wrong. */
export function parseIdpMetadata(xml: string): IdpMetadata {
  if (xml.length > MAX_METADATA_CHARS) throw new XmlGuardError(`the metadata is larger than ${MAX_METADATA_CHARS / 1024} KiB`);
  const doc = parseStrict(xml.replace(/^\uFEFF/, ""));
  const root = doc.documentElement;
  if (root.namespaceURI !== NS.metadata || !["EntityDescriptor", "EntitiesDescriptor"].includes(root.localName)) {
    throw new XmlGuardError(`the metadata must be an md:EntityDescriptor, got ${root.nodeName}`);
  }
  const idps = elementsByLocalName(root, "EntityDescriptor").filter(
    (e) => e.namespaceURI === NS.metadata && childElements(e, "IDPSSODescriptor", NS.metadata).length > 0,
  );
  if (idps.length !== 1) throw new XmlGuardError(`the metadata must describe exactly one identity provider, found ${idps.length}`);
  const entity = idps[0];
  const entityId = (entity.getAttribute("entityID") ?? "").trim();
  if (!entityId) throw new XmlGuardError("the EntityDescriptor has no entityID");
  const descriptor = childElements(entity, "IDPSSODescriptor", NS.metadata).find((d) =>
    (d.getAttribute("protocolSupportEnumeration") ?? "").split(/\s+/).includes(NS.protocol),
  );
  if (!descriptor) throw new XmlGuardError("the IDPSSODescriptor does not support SAML 2.0 (protocolSupportEnumeration)");

  const services = childElements(descriptor, "SingleSignOnService", NS.metadata);
  const redirect = services.find((s) => s.getAttribute("Binding") === BINDINGS.redirect);
  const post = services.find((s) => s.getAttribute("Binding") === BINDINGS.post);
  const chosen = redirect ?? post;
  const ssoUrl = (chosen?.getAttribute("Location") ?? "").trim();
  if (!chosen || !ssoUrl) throw new XmlGuardError("the IDPSSODescriptor has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding");

  const certificates: string[] = [];
  for (const key of childElements(descriptor, "KeyDescriptor", NS.metadata)) {
    const use = key.getAttribute("use");
    if (use && use !== "signing") continue;
    for (const cert of elementsByLocalName(key, "X509Certificate").filter((c) => c.namespaceURI === NS.dsig)) {
      const body = (cert.textContent ?? "").replace(/\s+/g, "");
      if (body && !certificates.includes(body)) certificates.push(body);
    }
  }
  if (certificates.length === 0) throw new XmlGuardError("the IDPSSODescriptor has no signing certificate (KeyDescriptor use=\"signing\")");
  return { entityId, ssoUrl, binding: chosen === redirect ? "redirect" : "post", certificates };
}

export function buildSpMetadata(params: { entityId: string; acsUrl: string; certificatePem: string }): string {
  const cert = certificateBody(params.certificatePem);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${escapeXml(params.entityId)}">`,
    `  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="${NS.protocol}">`,
    `    <md:KeyDescriptor use="signing">`,
    `      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`,
    `    </md:KeyDescriptor>`,
    `    <md:AssertionConsumerService Binding="${BINDINGS.post}" Location="${escapeXml(params.acsUrl)}" index="0" isDefault="true"/>`,
    `  </md:SPSSODescriptor>`,
    `</md:EntityDescriptor>`,
    ``,
  ].join("\n");
}

function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}
