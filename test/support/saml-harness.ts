/**
 * Drives the service's SAML side over real HTTP: an organization with a SAML connection configured
 * through GraphQL, the login route, the ACS route, and what the database recorded.
 */
import { createHash, randomBytes } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import { AuditEntryEntity } from "../../src/audit/audit-entry.entity";
import { AuthorizationCodeEntity, SessionEntity } from "../../src/tokens/session.entity";
import { createOrganization } from "./fixtures";
import { createKeyPair, type KeyPair, type ResponseFields } from "./saml-idp";
import { ok, type TestServer } from "./server";

export const FRONTEND = "https://app.example.test/callback";

export interface SamlSetup {
  orgId: string;
  orgSlug: string;
  connectionId: string;
  idpEntityId: string;
  idpSsoUrl: string;
  spEntityId: string;
  acsUrl: string;
  idp: KeyPair;
  base: string;
}

export const baseOf = (server: TestServer): string => server.url.replace(/\/graphql$/, "");

const CONNECTION_FIELDS = `id organizationId idpEntityId idpSsoUrl idpSsoBinding spEntityId acsUrl metadataUrl loginUrl clockSkewSeconds allowIdpInitiated
  emailAttribute displayNameAttribute groupsAttribute idpCertificates { fingerprintSha256 notAfter expired pem } spCertificate { pem fingerprintSha256 }`;
export { CONNECTION_FIELDS };

/** An organization with SSO on, a frontend URL, a default role and one SAML connection. */
export async function setupSaml(
  server: TestServer,
  options: { allowIdpInitiated?: boolean; clockSkewSeconds?: number; idp?: KeyPair; org?: Record<string, unknown>; idpEntityId?: string } = {},
): Promise<SamlSetup> {
  const base = baseOf(server);
  const org = await createOrganization(server, { ssoEnabled: true, allowedRedirectUrls: [FRONTEND], defaultRoleKey: "viewer", ...options.org });
  const idp = options.idp ?? createKeyPair("idp.example.test");
  const idpEntityId = options.idpEntityId ?? `https://idp.example.test/${randomBytes(4).toString("hex")}`;
  const idpSsoUrl = "https://idp.example.test/sso";
  const created = ok(
    await server.gql<{ createSamlConnection: { id: string } }>(
      `mutation($input: CreateSamlConnectionInput!) { createSamlConnection(input: $input) { id } }`,
      {
        input: {
          organizationId: org.id,
          idpEntityId,
          idpSsoUrl,
          idpCertificates: [idp.certificatePem],
          allowIdpInitiated: options.allowIdpInitiated ?? false,
          ...(options.clockSkewSeconds !== undefined ? { clockSkewSeconds: options.clockSkewSeconds } : {}),
        },
      },
    ),
  ).createSamlConnection;
  // The public URL of a test server is only known once it listens: point the connection at it.
  const spEntityId = `${base}/auth/saml/${created.id}/metadata`;
  const acsUrl = `${base}/auth/saml/${created.id}/acs`;
  ok(
    await server.gql(`mutation($id: ID!, $input: UpdateSamlConnectionInput!) { updateSamlConnection(id: $id, input: $input) { id } }`, {
      id: created.id,
      input: { spEntityId, acsUrl },
    }),
  );
  return { orgId: org.id, orgSlug: org.slug, connectionId: created.id, idpEntityId, idpSsoUrl, spEntityId, acsUrl, idp, base };
}

/** The fields of a response that is right for this setup. */
export function fieldsFor(setup: SamlSetup, inResponseTo: string | null, overrides: Partial<ResponseFields> = {}): ResponseFields {
  return {
    issuer: setup.idpEntityId,
    destination: setup.acsUrl,
    recipient: setup.acsUrl,
    audience: setup.spEntityId,
    inResponseTo,
    nameId: "alice@corp.example",
    attributes: { email: ["alice@corp.example"], displayName: ["Alice Example"], groups: ["Engineering", "Everyone"] },
    ...overrides,
  };
}

export interface StartedLogin {
  requestId: string;
  location: URL;
  authnRequestXml: string;
  codeVerifier: string;
  state: string;
}

/** GET /auth/saml/:id/login as a frontend would send the browser there. */
export async function startLogin(server: TestServer, setup: SamlSetup, params: Record<string, string> = {}): Promise<StartedLogin> {
  const codeVerifier = randomBytes(32).toString("base64url");
  const state = randomBytes(8).toString("hex");
  const query = new URLSearchParams({
    redirect_uri: FRONTEND,
    code_challenge: createHash("sha256").update(codeVerifier).digest("base64url"),
    code_challenge_method: "S256",
    state,
    ...params,
  });
  const response = await fetch(`${setup.base}/auth/saml/${setup.connectionId}/login?${query}`, { redirect: "manual" });
  if (response.status !== 302) throw new Error(`login start answered ${response.status}: ${await response.text()}`);
  const location = new URL(response.headers.get("location")!);
  const authnRequestXml = inflateRawSync(Buffer.from(location.searchParams.get("SAMLRequest")!, "base64")).toString("utf8");
  const requestId = /\sID="([^"]+)"/.exec(authnRequestXml)![1];
  return { requestId, location, authnRequestXml, codeVerifier, state };
}

export interface AcsAnswer {
  status: number;
  location: string | null;
  body: { error?: string; message?: string } | null;
}

/** POST the form to the ACS, like the browser auto-submitting the IdP's page. */
export async function postAcs(server: TestServer | string, connectionId: string, samlResponse: string, relayState?: string): Promise<AcsAnswer> {
  const base = typeof server === "string" ? server : baseOf(server);
  const form = new URLSearchParams({ SAMLResponse: samlResponse, ...(relayState !== undefined ? { RelayState: relayState } : {}) });
  const response = await fetch(`${base}/auth/saml/${connectionId}/acs`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "saml-test-browser" },
    body: form.toString(),
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { status: response.status, location: response.headers.get("location"), body };
}

/** The SAML login audit entries of an organization (oldest first). */
export async function loginAudit(server: TestServer, organizationId: string): Promise<AuditEntryEntity[]> {
  return server.app.db.manager.find(AuditEntryEntity, { where: { organizationId, operation: "Auth.login.saml" }, order: { id: "ASC" } });
}

/** Sessions and one-time codes of an organization: a refused login must create neither. */
export async function grants(server: TestServer, organizationId: string): Promise<number> {
  const sessions = await server.app.db.manager.count(SessionEntity, { where: { organizationId } });
  const codes = await server.app.db.manager.count(AuthorizationCodeEntity, { where: { organizationId } });
  return sessions + codes;
}

/**
 * Posts a response that must be refused and checks the whole contract: the status and code, a
 * message containing `message`, exactly one new audit entry (failure, with the reason) and no session.
 */
export async function expectRefused(
  server: TestServer,
  setup: SamlSetup,
  samlResponse: string,
  expected: { status?: number; error?: string; message: string | RegExp; relayState?: string },
): Promise<AcsAnswer> {
  const auditBefore = (await loginAudit(server, setup.orgId)).length;
  const grantsBefore = await grants(server, setup.orgId);
  const answer = await postAcs(server, setup.connectionId, samlResponse, expected.relayState);
  expect({ status: answer.status, error: answer.body?.error }).toEqual({ status: expected.status ?? 400, error: expected.error ?? "SSO_LOGIN_FAILED" });
  if (typeof expected.message === "string") expect(answer.body?.message).toBe(expected.message);
  else expect(answer.body?.message).toEqual(expect.stringMatching(expected.message));
  expect(answer.location).toBeNull();
  const audit = await loginAudit(server, setup.orgId);
  expect(audit.length - auditBefore).toBe(1);
  const entry = audit[audit.length - 1];
  expect(entry.success).toBe(false);
  expect(entry.reason).toContain(answer.body!.error!);
  expect(entry.reason).toContain(answer.body!.message!.slice(0, 60).replace(/\\/g, "\\\\"));
  expect(await grants(server, setup.orgId)).toBe(grantsBefore);
  return answer;
}
