/**
 * The permission matrix: every root field of Query and Mutation × every kind of caller → "ok" or
 * the error the caller must get.
 *
 * EXPECTED below is the specification, written by hand from the GraphQL contract comments
 * (createOrganization / deleteOrganization: PLATFORM; update/create*: ADMIN; deleteRoleMapping:
 * ADMIN + DELETE) and the role table (admin: read/write/delete/admin; developer: read/write;
 * viewer: read; service: read/write). It is deliberately NOT derived from src/authz/operations.ts.
 * Decisions where the issue is silent:
 * - me / can / checkPermissions / roles answer any valid credential.
 * - operationPermissions is public (frontends read it to hide buttons), so even an anonymous caller
 *   or one with a refused credential gets it.
 * - reading organizations, mappings and the audit trail needs READ (auditors are viewers);
 *   listing service accounts (credentials) and people needs ADMIN; deactivating a person needs
 *   ADMIN + DELETE.
 * - SIEM log streams (an endpoint and its signing secret) and their delivery log: ADMIN; deleting
 *   a stream ADMIN + DELETE.
 *
 * Every call is valid and targets the caller's own organization, so the only reason to refuse it is
 * the caller's permissions. Mutations get fresh resources per call, and each mutation's effect is
 * checked in the database: it happened exactly when the expected outcome is "ok".
 */
import { randomBytes, randomUUID } from "node:crypto";
import { isObjectType } from "graphql";
import { BUILT_IN_ROLES } from "../../src/authz/role-permissions";
import { AuditLog } from "../../src/audit/audit-log";
import { AuditCheckpointEntity } from "../../src/audit/retention/audit-checkpoint.entity";
import { RoleMappingEntity } from "../../src/mappings/role-mapping.entity";
import { OrganizationEntity } from "../../src/organizations/organization.entity";
import { ServiceAccountEntity } from "../../src/service-accounts/service-account.entity";
import { OidcConnectionEntity } from "../../src/sso/oidc/oidc-connection.entity";
import { SamlConnectionEntity } from "../../src/sso/saml/saml-connection.entity";
import { LogStreamEntity } from "../../src/audit/streams/log-stream.entity";
import { AlertEntity, AlertRuleSettingEntity } from "../../src/audit/alerts/alert.entity";
import { AlertWebhookEntity } from "../../src/audit/alerts/alert-webhook.entity";
import { createKeyPair } from "../support/saml-idp";
import { buildTypeSchema } from "../../src/server/schema";
import { UserEntity } from "../../src/users/user.entity";
import { DATABASES } from "../support/databases";
import { createMapping, createOrganization, createOrgWithPrincipals, createServiceAccount, type OrgFixture } from "../support/fixtures";
import { startServer, type GraphQLResponse, type TestServer } from "../support/server";

// ─── The specification ────────────────────────────────────────────────────────────────────────────

const PRINCIPALS = ["anonymous", "bad credential", "platform", "admin", "developer", "viewer", "service"] as const;
type PrincipalName = (typeof PRINCIPALS)[number];
type OrgRole = "admin" | "developer" | "viewer" | "service";

const ok = "ok";
const UNAUTH = "UNAUTHENTICATED";
const NO_PLATFORM = "FORBIDDEN: Missing permission: platform";
const NO_ADMIN = "FORBIDDEN: Missing permission: admin";
const NO_ADMIN_DELETE = "FORBIDDEN: Missing permission: admin, delete";
type Outcome = typeof ok | typeof UNAUTH | typeof NO_PLATFORM | typeof NO_ADMIN | typeof NO_ADMIN_DELETE;
type Row = readonly [Outcome, Outcome, Outcome, Outcome, Outcome, Outcome, Outcome];

// prettier-ignore
const EXPECTED: Record<string, Row> = {
  //                                anonymous  bad credential  platform  admin         developer        viewer           service
  "Query.me":                      [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.can":                     [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.checkPermissions":        [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.roles":                   [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.operationPermissions":    [ok,        ok,             ok,       ok,           ok,              ok,              ok],
  "Query.organizations":           [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.organization":            [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.roleMappings":            [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.serviceAccounts":         [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.auditEntries":            [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Query.users":                   [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.verifyAuditChain":        [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.auditCheckpoints":        [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.purgeAuditEntries":    [UNAUTH,    UNAUTH,         ok,       NO_PLATFORM,  NO_PLATFORM,     NO_PLATFORM,     NO_PLATFORM],
  "Query.loginOptions":            [ok,        ok,             ok,       ok,           ok,              ok,              ok],
  "Query.signingKeys":             [UNAUTH,    UNAUTH,         ok,       NO_PLATFORM,  NO_PLATFORM,     NO_PLATFORM,     NO_PLATFORM],
  "Mutation.rotateSigningKey":     [UNAUTH,    UNAUTH,         ok,       NO_PLATFORM,  NO_PLATFORM,     NO_PLATFORM,     NO_PLATFORM],
  "Mutation.retireSigningKey":     [UNAUTH,    UNAUTH,         ok,       NO_PLATFORM,  NO_PLATFORM,     NO_PLATFORM,     NO_PLATFORM],

  "Mutation.createOrganization":   [UNAUTH,    UNAUTH,         ok,       NO_PLATFORM,  NO_PLATFORM,     NO_PLATFORM,     NO_PLATFORM],
  "Mutation.updateOrganization":   [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deleteOrganization":   [UNAUTH,    UNAUTH,         ok,       NO_PLATFORM,  NO_PLATFORM,     NO_PLATFORM,     NO_PLATFORM],
  "Mutation.createRoleMapping":    [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.updateRoleMapping":    [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deleteRoleMapping":    [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN_DELETE, NO_ADMIN_DELETE, NO_ADMIN_DELETE],
  "Mutation.createServiceAccount": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.revokeServiceAccount": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deactivateUser":       [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN_DELETE, NO_ADMIN_DELETE, NO_ADMIN_DELETE],
  "Query.oidcConnections":         [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.testOidcConnection":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.createOidcConnection": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.updateOidcConnection": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deleteOidcConnection": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN_DELETE, NO_ADMIN_DELETE, NO_ADMIN_DELETE],
  "Mutation.createPasswordUser":   [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.setUserPassword":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.logStreams":              [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.logStreamDeliveries":     [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.createLogStream":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.updateLogStream":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.rotateLogStreamSecret":[UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deleteLogStream":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN_DELETE, NO_ADMIN_DELETE, NO_ADMIN_DELETE],
  "Query.samlConnections":         [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.testSamlConnection":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.createSamlConnection": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.updateSamlConnection": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.importSamlMetadata":   [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deleteSamlConnection": [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN_DELETE, NO_ADMIN_DELETE, NO_ADMIN_DELETE],
  // Alerts: auditors (viewers) read them; admins acknowledge and configure; deleting a webhook also needs delete.
  "Query.alerts":                  [UNAUTH,    UNAUTH,         ok,       ok,           ok,              ok,              ok],
  "Mutation.acknowledgeAlert":     [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.alertRules":              [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.updateAlertRule":      [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Query.alertWebhooks":           [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.createAlertWebhook":   [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN,        NO_ADMIN,        NO_ADMIN],
  "Mutation.deleteAlertWebhook":   [UNAUTH,    UNAUTH,         ok,       ok,           NO_ADMIN_DELETE, NO_ADMIN_DELETE, NO_ADMIN_DELETE],
};

// ─── How to make a valid call of each operation ───────────────────────────────────────────────────

interface CallContext {
  server: TestServer;
  org: OrgFixture;
  principal: PrincipalName;
  /** The caller's credential (null: none sent). */
  key: string | null;
}

interface Call {
  query: string;
  variables?: Record<string, unknown>;
  /** Overrides the caller's key (deleteOrganization: a key of the fresh organization, same role). */
  key?: string | null;
  /** Did the mutation's effect reach the database? */
  happened?: () => Promise<boolean>;
}

const unique = (label: string) => `${label}-${randomBytes(5).toString("hex")}`;
const repo = <T extends object>(server: TestServer, entity: new () => T) => server.app.db.dataSource.getRepository(entity);
/** An OIDC connection of the organization, created by the platform key (issuer unreachable on purpose). */
async function createOidcConnection(server: TestServer, organizationId: string): Promise<string> {
  const response = await server.gql<{ createOidcConnection: { id: string } }>(
    `mutation($input: CreateOidcConnectionInput!) { createOidcConnection(input: $input) { id } }`,
    { input: { organizationId, issuer: "https://127.0.0.1:9", clientId: unique("matrix-client"), clientSecret: "matrix-secret" } },
  );
  return response.data!.createOidcConnection.id;
}
/** A SAML connection of the organization, created by the platform key with a real IdP certificate. */
const samlIdp = createKeyPair("matrix-idp.example.test");
const samlInput = (organizationId: string) => ({
  organizationId,
  idpEntityId: `https://${unique("matrix-idp")}.example.test`,
  idpSsoUrl: "https://matrix-idp.example.test/sso",
  idpCertificates: [samlIdp.certificatePem],
});
async function createSamlConnection(server: TestServer, organizationId: string): Promise<string> {
  const response = await server.gql<{ createSamlConnection: { id: string } }>(
    `mutation($input: CreateSamlConnectionInput!) { createSamlConnection(input: $input) { id } }`,
    { input: samlInput(organizationId) },
  );
  return response.data!.createSamlConnection.id;
}
const idpMetadata = (entityId: string) =>
  `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${samlIdp.certificatePem.replace(/-----[^-]+-----|\s/g, "")}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://matrix-idp.example.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
/** A log stream of the organization, created by the platform key (nothing listens on port 9: deliveries just fail). */
async function createLogStream(server: TestServer, organizationId: string): Promise<string> {
  const response = await server.gql<{ createLogStream: { logStream: { id: string } } }>(
    `mutation($input: CreateLogStreamInput!) { createLogStream(input: $input) { logStream { id } secret } }`,
    { input: { organizationId, url: `http://127.0.0.1:9/${unique("matrix-siem")}` } },
  );
  return response.data!.createLogStream.logStream.id;
}
let matrixBatchSize = 200;
/** One stream per organization for the calls that leave it in place (organizations hold a bounded number). */
const sharedLogStreams = new Map<string, Promise<string>>();
function sharedLogStream(server: TestServer, organizationId: string): Promise<string> {
  if (!sharedLogStreams.has(organizationId)) sharedLogStreams.set(organizationId, createLogStream(server, organizationId));
  return sharedLogStreams.get(organizationId)!;
}
const isOrgRole = (p: PrincipalName): p is OrgRole => ["admin", "developer", "viewer", "service"].includes(p);

const CALLS: Record<string, (c: CallContext) => Promise<Call>> = {
  "Query.me": async () => ({ query: `{ me { id kind } }` }),
  "Query.can": async () => ({ query: `{ can(action: READ, resource: "conversation:1") { allowed } }` }),
  "Query.checkPermissions": async () => ({ query: `{ checkPermissions(checks: [{ action: READ }, { action: WRITE }]) { allowed } }` }),
  "Query.roles": async () => ({ query: `{ roles { key } }` }),
  "Query.operationPermissions": async () => ({ query: `{ operationPermissions { operation requires scope } }` }),
  "Query.organizations": async () => ({ query: `{ organizations(first: 10) { edges { node { id } } } }` }),
  "Query.organization": async ({ org }) => ({ query: `query($id: ID!) { organization(id: $id) { id } }`, variables: { id: org.id } }),
  "Query.roleMappings": async ({ org }) => ({ query: `query($id: ID!) { roleMappings(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Query.serviceAccounts": async ({ org }) => ({ query: `query($id: ID!) { serviceAccounts(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Query.auditEntries": async () => ({ query: `{ auditEntries(first: 10) { edges { node { id } } } }` }),

  "Mutation.createOrganization": async ({ server }) => {
    const slug = unique("matrix-new");
    return {
      query: `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }`,
      variables: { input: { slug, name: "Created by the matrix" } },
      happened: async () => (await repo(server, OrganizationEntity).countBy({ slug })) === 1,
    };
  },
  "Mutation.updateOrganization": async ({ server, org }) => {
    const name = unique("Renamed");
    return {
      query: `mutation($id: ID!, $input: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $input) { id } }`,
      variables: { id: org.id, input: { name } },
      happened: async () => (await repo(server, OrganizationEntity).findOneByOrFail({ id: org.id })).name === name,
    };
  },
  "Mutation.deleteOrganization": async ({ server, principal, key }) => {
    // A fresh organization; an organization principal calls with a key of that organization, so
    // the call targets its own organization and only the permission can refuse it.
    const victim = await createOrganization(server);
    const callerKey = isOrgRole(principal) ? (await createServiceAccount(server, victim.id, principal)).apiKey : key;
    return {
      query: `mutation($id: ID!) { deleteOrganization(id: $id) }`,
      variables: { id: victim.id },
      key: callerKey,
      happened: async () => (await repo(server, OrganizationEntity).countBy({ id: victim.id })) === 0,
    };
  },
  "Mutation.createRoleMapping": async ({ server, org }) => {
    const idpGroup = unique("matrix-group");
    return {
      query: `mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`,
      variables: { input: { organizationId: org.id, idpGroup, roleKey: "viewer" } },
      happened: async () => (await repo(server, RoleMappingEntity).countBy({ organizationId: org.id, idpGroup })) === 1,
    };
  },
  "Mutation.updateRoleMapping": async ({ server, org }) => {
    const id = await createMapping(server, org.id, unique("matrix-group"), "viewer");
    return {
      query: `mutation($id: ID!, $input: UpdateRoleMappingInput!) { updateRoleMapping(id: $id, input: $input) { id } }`,
      variables: { id, input: { priority: 42 } },
      happened: async () => (await repo(server, RoleMappingEntity).findOneByOrFail({ id })).priority === 42,
    };
  },
  "Mutation.deleteRoleMapping": async ({ server, org }) => {
    const id = await createMapping(server, org.id, unique("matrix-group"), "viewer");
    return {
      query: `mutation($id: ID!) { deleteRoleMapping(id: $id) }`,
      variables: { id },
      happened: async () => (await repo(server, RoleMappingEntity).countBy({ id })) === 0,
    };
  },
  "Mutation.createServiceAccount": async ({ server, org }) => {
    const name = unique("matrix-account");
    return {
      query: `mutation($input: CreateServiceAccountInput!) { createServiceAccount(input: $input) { apiKey serviceAccount { id } } }`,
      variables: { input: { organizationId: org.id, name } },
      happened: async () => (await repo(server, ServiceAccountEntity).countBy({ organizationId: org.id, name })) === 1,
    };
  },
  "Query.signingKeys": async () => ({ query: `{ signingKeys { kid active } }` }),
  "Mutation.rotateSigningKey": async ({ server }) => {
    const before = (await server.app.signingKeys.list()).find((k) => k.active)!.kid;
    return {
      query: `mutation { rotateSigningKey { kid active } }`,
      happened: async () => (await server.app.signingKeys.list()).find((k) => k.active)!.kid !== before,
    };
  },
  "Mutation.retireSigningKey": async ({ server }) => {
    await server.app.signingKeys.rotate();
    const old = (await server.app.signingKeys.list()).find((k) => !k.active && (!k.retiredAt || k.retiredAt > new Date()))!.kid;
    return {
      query: `mutation($kid: String!) { retireSigningKey(kid: $kid) { kid retiredAt } }`,
      variables: { kid: old },
      happened: async () => (await server.app.signingKeys.list()).find((k) => k.kid === old)!.retiredAt! <= new Date(),
    };
  },
  "Query.loginOptions": async () => ({ query: `{ loginOptions(email: "someone@example.com") { passwordAllowed message } }` }),
  "Query.verifyAuditChain": async ({ org }) => ({ query: `query($id: ID) { verifyAuditChain(organizationId: $id) { ok } }`, variables: { id: org.id } }),
  "Query.auditCheckpoints": async ({ org }) => ({ query: `query($id: ID) { auditCheckpoints(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Mutation.purgeAuditEntries": async ({ server }) => {
    // A stream of its own holding one 400-day-old entry: it gets a checkpoint exactly when the purge is allowed.
    const stream = randomUUID();
    await new AuditLog(server.app.db).record([
      { organizationId: stream, actorId: "matrix", actorKind: null, role: null, action: "read", operation: "Matrix.old", resource: "*", success: true, reason: null, ipAddress: null, userAgent: null, requestId: unique("matrix"), timestamp: new Date(Date.now() - 400 * 86_400_000) },
    ]);
    return {
      query: `mutation { purgeAuditEntries(olderThanDays: 365) { id } }`,
      happened: async () => (await repo(server, AuditCheckpointEntity).countBy({ stream })) === 1,
    };
  },
  "Query.users": async ({ org }) => ({ query: `query($id: ID!) { users(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Mutation.deactivateUser": async ({ server, org }) => {
    const id = randomUUID();
    const now = new Date();
    await repo(server, UserEntity).insert({ id, organizationId: org.id, issuer: "https://idp.example", subject: unique("sub"), groups: "[]", createdAt: now, updatedAt: now });
    return {
      query: `mutation($id: ID!) { deactivateUser(id: $id) { id disabledAt } }`,
      variables: { id },
      happened: async () => (await repo(server, UserEntity).findOneByOrFail({ id })).disabledAt !== null,
    };
  },
  "Query.oidcConnections": async ({ org }) => ({ query: `query($id: ID!) { oidcConnections(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Query.testOidcConnection": async ({ server, org }) => ({ query: `query($id: ID!) { testOidcConnection(id: $id) { ok } }`, variables: { id: await createOidcConnection(server, org.id) } }),
  "Mutation.createOidcConnection": async ({ server, org }) => {
    const clientId = unique("matrix-client");
    return {
      query: `mutation($input: CreateOidcConnectionInput!) { createOidcConnection(input: $input) { id } }`,
      variables: { input: { organizationId: org.id, issuer: "https://127.0.0.1:9", clientId, clientSecret: "matrix-secret" } },
      happened: async () => (await repo(server, OidcConnectionEntity).countBy({ organizationId: org.id, clientId })) === 1,
    };
  },
  "Mutation.updateOidcConnection": async ({ server, org }) => {
    const id = await createOidcConnection(server, org.id);
    return {
      query: `mutation($id: ID!, $input: UpdateOidcConnectionInput!) { updateOidcConnection(id: $id, input: $input) { id } }`,
      variables: { id, input: { scopes: "openid email" } },
      happened: async () => (await repo(server, OidcConnectionEntity).findOneByOrFail({ id })).scopes === "openid email",
    };
  },
  "Mutation.deleteOidcConnection": async ({ server, org }) => {
    const id = await createOidcConnection(server, org.id);
    return {
      query: `mutation($id: ID!) { deleteOidcConnection(id: $id) }`,
      variables: { id },
      happened: async () => (await repo(server, OidcConnectionEntity).countBy({ id })) === 0,
    };
  },
  "Query.samlConnections": async ({ org }) => ({ query: `query($id: ID!) { samlConnections(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Query.testSamlConnection": async ({ server, org }) => ({ query: `query($id: ID!) { testSamlConnection(id: $id) { ok } }`, variables: { id: await createSamlConnection(server, org.id) } }),
  "Mutation.createSamlConnection": async ({ server, org }) => {
    const input = samlInput(org.id);
    return {
      query: `mutation($input: CreateSamlConnectionInput!) { createSamlConnection(input: $input) { id } }`,
      variables: { input },
      happened: async () => (await repo(server, SamlConnectionEntity).countBy({ organizationId: org.id, idpEntityId: input.idpEntityId })) === 1,
    };
  },
  "Mutation.updateSamlConnection": async ({ server, org }) => {
    const id = await createSamlConnection(server, org.id);
    return {
      query: `mutation($id: ID!, $input: UpdateSamlConnectionInput!) { updateSamlConnection(id: $id, input: $input) { id } }`,
      variables: { id, input: { clockSkewSeconds: 42 } },
      happened: async () => (await repo(server, SamlConnectionEntity).findOneByOrFail({ id })).clockSkewSeconds === 42,
    };
  },
  "Mutation.importSamlMetadata": async ({ server, org }) => {
    const entityId = `https://${unique("matrix-import")}.example.test`;
    return {
      query: `mutation($org: ID!, $xml: String!) { importSamlMetadata(organizationId: $org, metadataXml: $xml) { id } }`,
      variables: { org: org.id, xml: idpMetadata(entityId) },
      happened: async () => (await repo(server, SamlConnectionEntity).countBy({ organizationId: org.id, idpEntityId: entityId })) === 1,
    };
  },
  "Mutation.deleteSamlConnection": async ({ server, org }) => {
    const id = await createSamlConnection(server, org.id);
    return {
      query: `mutation($id: ID!) { deleteSamlConnection(id: $id) }`,
      variables: { id },
      happened: async () => (await repo(server, SamlConnectionEntity).countBy({ id })) === 0,
    };
  },
  "Mutation.revokeServiceAccount": async ({ server, org }) => {
    const { id } = await createServiceAccount(server, org.id, "viewer");
    return {
      query: `mutation($id: ID!) { revokeServiceAccount(id: $id) { id revokedAt } }`,
      variables: { id },
      happened: async () => (await repo(server, ServiceAccountEntity).findOneByOrFail({ id })).revokedAt !== null,
    };
  },
  "Mutation.createPasswordUser": async ({ server, org }) => {
    const email = `${unique("matrix-person")}@matrix.example.com`;
    return {
      query: `mutation($input: CreatePasswordUserInput!) { createPasswordUser(input: $input) { id } }`,
      variables: { input: { organizationId: org.id, email, displayName: "Matrix Person", roleKey: "viewer", password: `Mx-${randomBytes(12).toString("hex")}` } },
      happened: async () => (await repo(server, UserEntity).countBy({ organizationId: org.id, issuer: "password", subject: email })) === 1,
    };
  },
  "Query.logStreams": async ({ org }) => ({ query: `query($id: ID!) { logStreams(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Query.logStreamDeliveries": async ({ server, org }) => ({
    query: `query($id: ID!) { logStreamDeliveries(streamId: $id) { edges { node { id } } } }`,
    variables: { id: await sharedLogStream(server, org.id) },
  }),
  "Mutation.createLogStream": async ({ server, org }) => {
    const url = `http://127.0.0.1:9/${unique("matrix-siem")}`;
    return {
      query: `mutation($input: CreateLogStreamInput!) { createLogStream(input: $input) { secret } }`,
      variables: { input: { organizationId: org.id, url } },
      happened: async () => (await repo(server, LogStreamEntity).countBy({ organizationId: org.id, url })) === 1,
    };
  },
  "Mutation.updateLogStream": async ({ server, org }) => {
    const id = await sharedLogStream(server, org.id);
    const batchSize = (matrixBatchSize += 1); // a new value every call: "happened" means this call set it
    return {
      query: `mutation($id: ID!, $input: UpdateLogStreamInput!) { updateLogStream(id: $id, input: $input) { id } }`,
      variables: { id, input: { batchSize } },
      happened: async () => (await repo(server, LogStreamEntity).findOneByOrFail({ id })).batchSize === batchSize,
    };
  },
  "Mutation.rotateLogStreamSecret": async ({ server, org }) => {
    const id = await sharedLogStream(server, org.id);
    const before = (await repo(server, LogStreamEntity).findOneByOrFail({ id })).secretSealed;
    return {
      query: `mutation($id: ID!) { rotateLogStreamSecret(id: $id) { secret } }`,
      variables: { id },
      happened: async () => (await repo(server, LogStreamEntity).findOneByOrFail({ id })).secretSealed !== before,
    };
  },
  "Mutation.deleteLogStream": async ({ server, org }) => {
    const id = await createLogStream(server, org.id);
    return {
      query: `mutation($id: ID!) { deleteLogStream(id: $id) }`,
      variables: { id },
      happened: async () => (await repo(server, LogStreamEntity).countBy({ id })) === 0,
    };
  },
  "Mutation.setUserPassword": async ({ server, org }) => {
    const created = await server.gql<{ createPasswordUser: { id: string } }>(
      `mutation($input: CreatePasswordUserInput!) { createPasswordUser(input: $input) { id } }`,
      { input: { organizationId: org.id, email: `${unique("matrix-person")}@matrix.example.com`, displayName: "Matrix Person", roleKey: "viewer", password: `Mx-${randomBytes(12).toString("hex")}` } },
    );
    const id = created.data!.createPasswordUser.id;
    const hash = () =>
      server.app.db.dataSource.createQueryBuilder().select(`c."passwordHash"`, "hash").from("password_credential", "c").where(`c."userId" = :id`, { id }).getRawOne<{ hash: string }>();
    const before = (await hash())?.hash;
    return {
      query: `mutation($id: ID!, $password: String!) { setUserPassword(id: $id, password: $password) }`,
      variables: { id, password: `Mx-${randomBytes(12).toString("hex")}` },
      happened: async () => (await hash())?.hash !== before,
    };
  },
  "Query.alerts": async () => ({ query: `{ alerts(first: 10) { edges { node { id } } } }` }),
  "Mutation.acknowledgeAlert": async ({ server, org }) => {
    const id = randomUUID();
    await repo(server, AlertEntity).insert({
      id, organizationId: org.id, rule: "FAILED_DELETE", severity: "MEDIUM", title: "Failed delete", description: "matrix", subject: unique("matrix"),
      actorId: null, ipAddress: null, auditEntryId: null, auditStream: org.id, auditSequence: 1, eventCount: 1, createdAt: new Date(), acknowledgedAt: null, acknowledgedBy: null,
    });
    return {
      query: `mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }`,
      variables: { id },
      happened: async () => (await repo(server, AlertEntity).findOneByOrFail({ id })).acknowledgedAt !== null,
    };
  },
  "Query.alertRules": async ({ org }) => ({ query: `query($id: ID!) { alertRules(organizationId: $id) { rule } }`, variables: { id: org.id } }),
  "Mutation.updateAlertRule": async ({ server, org }) => {
    const threshold = 2 + Math.floor(Math.random() * 9000);
    return {
      query: `mutation($id: ID!, $t: Int!) { updateAlertRule(organizationId: $id, rule: DENIAL_BURST, input: { threshold: $t }) { rule } }`,
      variables: { id: org.id, t: threshold },
      happened: async () => (await repo(server, AlertRuleSettingEntity).findOneBy({ organizationId: org.id, rule: "DENIAL_BURST" }))?.threshold === threshold,
    };
  },
  "Query.alertWebhooks": async ({ org }) => ({ query: `query($id: ID!) { alertWebhooks(organizationId: $id) { id } }`, variables: { id: org.id } }),
  "Mutation.createAlertWebhook": async ({ server, org }) => {
    const url = `https://alerts.example.com/${unique("matrix")}`;
    return {
      query: `mutation($input: CreateAlertWebhookInput!) { createAlertWebhook(input: $input) { secret webhook { id } } }`,
      variables: { input: { organizationId: org.id, url } },
      happened: async () => (await repo(server, AlertWebhookEntity).countBy({ organizationId: org.id, url })) === 1,
    };
  },
  "Mutation.deleteAlertWebhook": async ({ server, org }) => {
    const created = await server.gql<{ createAlertWebhook: { webhook: { id: string } } }>(
      `mutation($input: CreateAlertWebhookInput!) { createAlertWebhook(input: $input) { webhook { id } } }`,
      { input: { organizationId: org.id, url: `https://alerts.example.com/${unique("matrix")}` } },
    );
    const id = created.data!.createAlertWebhook.webhook.id;
    return {
      query: `mutation($id: ID!) { deleteAlertWebhook(id: $id) }`,
      variables: { id },
      happened: async () => (await repo(server, AlertWebhookEntity).countBy({ id })) === 0,
    };
  },
};

// ─── The matrix ───────────────────────────────────────────────────────────────────────────────────

interface Cell {
  name: string;
  operation: string;
  principal: PrincipalName;
  expected: Outcome;
}

const CELLS: Cell[] = Object.entries(EXPECTED).flatMap(([operation, row]) =>
  PRINCIPALS.map((principal, i) => {
    const expected = row[i];
    // acl-02: a viewer or developer calling an admin mutation.
    const tag = operation.startsWith("Mutation.") && (principal === "viewer" || principal === "developer") ? "acl-02 " : "";
    return { name: `${tag}${operation} as ${principal} → ${expected}`, operation, principal, expected };
  }),
);

/** A service-account-shaped key that no account has. */
const BAD_CREDENTIAL = `rbac_sk_${randomBytes(32).toString("base64url")}`;

function keyOf(server: TestServer, org: OrgFixture, principal: PrincipalName): string | null {
  switch (principal) {
    case "anonymous":
      return null;
    case "bad credential":
      return BAD_CREDENTIAL;
    case "platform":
      return server.platformKey;
    default:
      return org.keys[principal];
  }
}

/** "ok", "UNAUTHENTICATED" or "FORBIDDEN: <message>" — the shape of the EXPECTED table. */
function outcomeOf(response: GraphQLResponse, field: string): string {
  const error = response.errors?.[0];
  if (!error) return response.data?.[field] == null ? `no error but ${field} is null` : ok;
  const code = error.extensions?.code;
  return code === "FORBIDDEN" ? `FORBIDDEN: ${error.message}` : String(code);
}

describe.each(DATABASES)("permission matrix on $name", (kind) => {
  let server: TestServer;
  let org: OrgFixture;

  beforeAll(async () => {
    server = await startServer(kind);
    org = await createOrgWithPrincipals(server);
  });
  afterAll(() => server?.stop());

  test.each(CELLS)("$name", async ({ operation, principal, expected }) => {
    const field = operation.split(".")[1];
    const call = await CALLS[operation]({ server, org, principal, key: keyOf(server, org, principal) });
    const response = await server.gql(call.query, call.variables ?? {}, call.key !== undefined ? call.key : keyOf(server, org, principal));

    expect(outcomeOf(response, field)).toBe(expected);
    if (expected !== ok) {
      expect(response.errors).toHaveLength(1);
      expect(response.data?.[field] ?? null).toBeNull();
    }
    if (call.happened) expect(await call.happened()).toBe(expected === ok);
  });
});

describe("permission matrix coverage", () => {
  test("the matrix has a row, and a call, for every root field of the served schema — and nothing else", async () => {
    const schema = await buildTypeSchema();
    const rootFields = [schema.getQueryType(), schema.getMutationType()]
      .filter(isObjectType)
      .flatMap((type) => Object.keys(type.getFields()).map((field) => `${type.name}.${field}`))
      .sort();
    expect(Object.keys(EXPECTED).sort()).toEqual(rootFields);
    expect(Object.keys(CALLS).sort()).toEqual(rootFields);
    // Subscriptions run over graphql-ws, not HTTP: their matrix is in test/integration/alerts.test.ts.
    expect(Object.keys(schema.getSubscriptionType()?.getFields() ?? {})).toEqual(["alertRaised"]);
  });

  test("the matrix has a column for every built-in role", () => {
    const roleColumns = PRINCIPALS.filter(isOrgRole);
    expect([...roleColumns].sort()).toEqual(BUILT_IN_ROLES.map((r) => r.key).sort());
  });
});
