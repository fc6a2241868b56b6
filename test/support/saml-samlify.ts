/**
 * samlify as an independent SAML IdP: it reads our SP metadata, verifies our signed AuthnRequest
 * (HTTP-Redirect query signature) and answers with a response it signs itself.
 */
import * as samlify from "samlify";
import type { KeyPair } from "./saml-idp";
import { escapeXml } from "./saml-idp";

samlify.setSchemaValidator({ validate: () => Promise.resolve("skipped") });

export interface SamlifyIdp {
  /** Parses and verifies our redirect, and returns the base64 SAMLResponse the IdP would post back. */
  answer(location: URL, user: { nameId: string; email: string; displayName: string; groups: string[] }): Promise<{ samlResponse: string; requestId: string }>;
}

export function samlifyIdp(options: { entityId: string; ssoUrl: string; key: KeyPair; spMetadata: string }): SamlifyIdp {
  const sp = samlify.ServiceProvider({ metadata: options.spMetadata, wantMessageSigned: true });
  const idp = samlify.IdentityProvider({
    entityID: options.entityId,
    privateKey: options.key.privateKeyPem,
    signingCert: options.key.certificatePem,
    singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: options.ssoUrl }],
    singleLogoutService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${options.ssoUrl}/logout` }],
    nameIDFormat: [samlify.Constants.namespace.format.emailAddress],
    wantAuthnRequestsSigned: true,
  });

  return {
    async answer(location, user) {
      // The octet string is the query exactly as sent, minus the Signature (saml-bindings §3.4.4.1).
      const octetString = location.search
        .slice(1)
        .split("&")
        .filter((part) => !part.startsWith("Signature="))
        .join("&");
      const parsed = await idp.parseLoginRequest(sp, "redirect", { query: Object.fromEntries(location.searchParams), octetString } as never);
      const requestId = (parsed.extract as { request: { id: string } }).request.id;
      const attributes =
        `<saml:AttributeStatement>` +
        `<saml:Attribute Name="email"><saml:AttributeValue>${escapeXml(user.email)}</saml:AttributeValue></saml:Attribute>` +
        `<saml:Attribute Name="displayName"><saml:AttributeValue>${escapeXml(user.displayName)}</saml:AttributeValue></saml:Attribute>` +
        `<saml:Attribute Name="groups">${user.groups.map((g) => `<saml:AttributeValue>${escapeXml(g)}</saml:AttributeValue>`).join("")}</saml:Attribute>` +
        `</saml:AttributeStatement>`;
      const acs = (sp.entityMeta as unknown as { getAssertionConsumerService(binding: string): string }).getAssertionConsumerService("post");
      const now = new Date();
      const later = new Date(now.getTime() + 5 * 60_000);
      const result = await idp.createLoginResponse(sp, parsed as never, "post", { email: user.nameId }, (template: string) => {
        const id = `_${Math.random().toString(16).slice(2)}${Date.now()}`;
        const context = samlify.SamlLib.replaceTagsByValue(template, {
          ID: id,
          AssertionID: `_a${Math.random().toString(16).slice(2)}${Date.now()}`,
          Destination: acs,
          Audience: (sp.entityMeta as unknown as { getEntityID(): string }).getEntityID(),
          SubjectRecipient: acs,
          Issuer: options.entityId,
          IssueInstant: now.toISOString(),
          StatusCode: samlify.Constants.StatusCode.Success,
          ConditionsNotBefore: now.toISOString(),
          ConditionsNotOnOrAfter: later.toISOString(),
          SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
          NameIDFormat: samlify.Constants.namespace.format.emailAddress,
          NameID: user.nameId,
          InResponseTo: requestId,
          AuthnStatement: "",
          AttributeStatement: "",
        }).replace("</saml:Conditions>", `</saml:Conditions>${attributes}`);
        return { id, context };
      });
      return { samlResponse: (result as { context: string }).context, requestId };
    },
  };
}
