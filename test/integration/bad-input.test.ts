/**
 * Bad input to every mutation: the right error code, a message a person can act on, the field
 * named where the service names it, and nothing written (the domain tables are compared row by
 * row before and after; a refused call may only add its own failure entry to the audit trail).
 */
import { randomUUID } from "node:crypto";
import { DATABASES } from "../support/databases";
import { createMapping, createOrganization, createServiceAccount } from "../support/fixtures";
import { errorCode, ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

const CREATE_ORG = `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id slug allowedDomains } }`;
const UPDATE_ORG = `mutation($id: ID!, $input: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $input) { id allowedDomains } }`;
const DELETE_ORG = `mutation($id: ID!) { deleteOrganization(id: $id) }`;
const CREATE_MAPPING = `mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`;
const UPDATE_MAPPING = `mutation($id: ID!, $input: UpdateRoleMappingInput!) { updateRoleMapping(id: $id, input: $input) { id } }`;
const DELETE_MAPPING = `mutation($id: ID!) { deleteRoleMapping(id: $id) }`;
const CREATE_ACCOUNT = `mutation($input: CreateServiceAccountInput!) { createServiceAccount(input: $input) { apiKey serviceAccount { id } } }`;
const REVOKE_ACCOUNT = `mutation($id: ID!) { revokeServiceAccount(id: $id) { id revokedAt } }`;

const KNOWN_ROLES = ["admin", "developer", "viewer", "service"];
const DOMAIN_TABLES = ["organization", "organization_domain", "role_mapping", "service_account"];

/** What the cases run against, built once per database through the public API. */
interface Fixture {
  orgA: { id: string; slug: string };
  orgB: { id: string; slug: string };
  takenDomain: string;
  engineersMapping: string;
  viewersGroup: string;
  account: string;
  adminKeyA: string;
}

interface BadCase {
  name: string;
  query: string;
  variables: (f: Fixture) => Record<string, unknown>;
  /** Defaults to the platform key. */
  key?: (f: Fixture) => string;
  code: "BAD_USER_INPUT" | "NOT_FOUND" | "CONFLICT";
  /** extensions.field; undefined where graphql-js itself refuses the value (no field is set). */
  field?: string;
  /** Every fragment must appear in the message. */
  says: string[];
}

const long = (n: number) => "a".repeat(n);
const createOrg = (input: Record<string, unknown>) => ({ input: { slug: `bad-${randomUUID().slice(0, 8)}`, name: "Bad Input Inc", ...input } });

const CASES: Array<[string, BadCase[]]> = [
  [
    "createOrganization",
    [
      { name: "slug with uppercase letters", query: CREATE_ORG, variables: () => createOrg({ slug: "Acme" }), code: "BAD_USER_INPUT", field: "slug", says: ["slug must be 1-63 lowercase letters, digits or hyphens"] },
      { name: "slug with spaces", query: CREATE_ORG, variables: () => createOrg({ slug: "acme corp" }), code: "BAD_USER_INPUT", field: "slug", says: ["slug must be 1-63 lowercase letters"] },
      { name: "slug of 64 characters", query: CREATE_ORG, variables: () => createOrg({ slug: long(64) }), code: "BAD_USER_INPUT", field: "slug", says: ["slug must be 1-63"] },
      { name: "slug starting with a hyphen", query: CREATE_ORG, variables: () => createOrg({ slug: "-acme" }), code: "BAD_USER_INPUT", field: "slug", says: ["starting and ending with a letter or digit"] },
      { name: "empty name", query: CREATE_ORG, variables: () => createOrg({ name: "" }), code: "BAD_USER_INPUT", field: "name", says: ["name must be longer than or equal to 1 characters"] },
      { name: "name of 201 characters", query: CREATE_ORG, variables: () => createOrg({ name: long(201) }), code: "BAD_USER_INPUT", field: "name", says: ["name must be shorter than or equal to 200 characters"] },
      { name: "name with a BEL control character", query: CREATE_ORG, variables: () => createOrg({ name: "Acme\u0007Corp" }), code: "BAD_USER_INPUT", field: "name", says: ["name must not contain control characters"] },
      { name: "name with a line break", query: CREATE_ORG, variables: () => createOrg({ name: "Acme\nCorp" }), code: "BAD_USER_INPUT", field: "name", says: ["name must not contain control characters"] },
      { name: 'domain "not a domain"', query: CREATE_ORG, variables: () => createOrg({ allowedDomains: ["good.example", "not a domain"] }), code: "BAD_USER_INPUT", field: "allowedDomains", says: ["allowedDomains must contain domain names such as example.com", "not a domain"] },
      { name: 'domain "http://x.com" (a URL)', query: CREATE_ORG, variables: () => createOrg({ allowedDomains: ["http://x.com"] }), code: "BAD_USER_INPUT", field: "allowedDomains", says: ["allowedDomains must contain domain names", "http://x.com"] },
      { name: "unknown defaultRoleKey", query: CREATE_ORG, variables: () => createOrg({ defaultRoleKey: "superuser" }), code: "BAD_USER_INPUT", field: "defaultRoleKey", says: ['Unknown role "superuser"', ...KNOWN_ROLES] },
      { name: "defaultRoleKey service (API keys only)", query: CREATE_ORG, variables: () => createOrg({ defaultRoleKey: "service" }), code: "BAD_USER_INPUT", field: "defaultRoleKey", says: ["for API keys only"] },
      { name: "enforceSso without ssoEnabled", query: CREATE_ORG, variables: () => createOrg({ enforceSso: true }), code: "BAD_USER_INPUT", field: "enforceSso", says: ["enforceSso requires ssoEnabled"] },
      { name: "duplicate slug", query: CREATE_ORG, variables: (f) => createOrg({ slug: f.orgA.slug }), code: "CONFLICT", field: "slug", says: ["already exists"] },
      { name: "a domain of another organization", query: CREATE_ORG, variables: (f) => createOrg({ allowedDomains: ["fresh.example", f.takenDomain] }), code: "CONFLICT", field: "allowedDomains", says: ["another organization"] },
      { name: "a domain of another organization in other letter case", query: CREATE_ORG, variables: (f) => createOrg({ allowedDomains: [f.takenDomain.toUpperCase()] }), code: "CONFLICT", field: "allowedDomains", says: ["another organization"] },
    ],
  ],
  [
    "updateOrganization",
    [
      { name: "unknown id", query: UPDATE_ORG, variables: () => ({ id: randomUUID(), input: { name: "x" } }), code: "NOT_FOUND", says: ["Organization not found"] },
      { name: "unknown id asked by an organization admin", query: UPDATE_ORG, key: (f) => f.adminKeyA, variables: () => ({ id: randomUUID(), input: { name: "x" } }), code: "NOT_FOUND", says: ["Organization not found"] },
      { name: "slug with spaces", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { slug: "Bad Slug" } }), code: "BAD_USER_INPUT", field: "slug", says: ["slug must be 1-63 lowercase letters"] },
      { name: "empty name", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { name: "" } }), code: "BAD_USER_INPUT", field: "name", says: ["name must be longer than or equal to 1 characters"] },
      { name: "name with an escape sequence", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { name: "\u001b[31mred" } }), code: "BAD_USER_INPUT", field: "name", says: ["name must not contain control characters"] },
      { name: 'domain "not a domain"', query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { allowedDomains: ["not a domain"] } }), code: "BAD_USER_INPUT", field: "allowedDomains", says: ["allowedDomains must contain domain names", "not a domain"] },
      { name: "enforceSso while SSO is off", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { name: "Renamed B", enforceSso: true } }), code: "BAD_USER_INPUT", field: "enforceSso", says: ["enforceSso requires ssoEnabled"] },
      { name: "unknown defaultRoleKey", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { defaultRoleKey: "root" } }), code: "BAD_USER_INPUT", field: "defaultRoleKey", says: ['Unknown role "root"', ...KNOWN_ROLES] },
      { name: "the slug of another organization", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { slug: f.orgA.slug } }), code: "CONFLICT", field: "slug", says: ["already exists"] },
      { name: "a domain of another organization, with a valid rename", query: UPDATE_ORG, variables: (f) => ({ id: f.orgB.id, input: { name: "Renamed B", allowedDomains: [f.takenDomain] } }), code: "CONFLICT", field: "allowedDomains", says: ["another organization"] },
    ],
  ],
  [
    "deleteOrganization",
    [
      { name: "unknown id", query: DELETE_ORG, variables: () => ({ id: randomUUID() }), code: "NOT_FOUND", says: ["Organization not found"] },
      { name: "an id that is not a UUID", query: DELETE_ORG, variables: () => ({ id: "not-a-uuid' OR '1'='1" }), code: "NOT_FOUND", says: ["Organization not found"] },
    ],
  ],
  [
    "createRoleMapping",
    [
      { name: "unknown roleKey", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "new-group", roleKey: "superuser" } }), code: "BAD_USER_INPUT", field: "roleKey", says: ['Unknown role "superuser"', ...KNOWN_ROLES] },
      { name: "unknown roleKey asked by an organization admin", query: CREATE_MAPPING, key: (f) => f.adminKeyA, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "new-group", roleKey: "Admin" } }), code: "BAD_USER_INPUT", field: "roleKey", says: ['Unknown role "Admin"', ...KNOWN_ROLES] },
      { name: "roleKey service (API keys only)", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "new-group", roleKey: "service" } }), code: "BAD_USER_INPUT", field: "roleKey", says: ["for API keys only"] },
      { name: "empty idpGroup", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "", roleKey: "viewer" } }), code: "BAD_USER_INPUT", field: "idpGroup", says: ["idpGroup must be longer than or equal to 1 characters"] },
      { name: "idpGroup of 257 characters", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: long(257), roleKey: "viewer" } }), code: "BAD_USER_INPUT", field: "idpGroup", says: ["idpGroup must be shorter than or equal to 256 characters"] },
      { name: "idpGroup with a NUL character", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "eng\u0000ineers", roleKey: "viewer" } }), code: "BAD_USER_INPUT", field: "idpGroup", says: ["idpGroup must not contain control characters"] },
      { name: "idpGroup with CR LF", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "eng\r\nadmins", roleKey: "viewer" } }), code: "BAD_USER_INPUT", field: "idpGroup", says: ["idpGroup must not contain control characters"] },
      { name: "priority 1001", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "new-group", roleKey: "viewer", priority: 1001 } }), code: "BAD_USER_INPUT", field: "priority", says: ["priority must not be greater than 1000"] },
      { name: "priority -1001", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "new-group", roleKey: "viewer", priority: -1001 } }), code: "BAD_USER_INPUT", field: "priority", says: ["priority must not be less than -1000"] },
      { name: "priority beyond a 32-bit Int", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "new-group", roleKey: "viewer", priority: 2 ** 40 } }), code: "BAD_USER_INPUT", says: ["priority", "Int"] },
      { name: "unknown organizationId", query: CREATE_MAPPING, variables: () => ({ input: { organizationId: randomUUID(), idpGroup: "new-group", roleKey: "viewer" } }), code: "NOT_FOUND", says: ["Organization not found"] },
      { name: "a group already mapped in the organization", query: CREATE_MAPPING, variables: (f) => ({ input: { organizationId: f.orgA.id, idpGroup: "engineers", roleKey: "viewer" } }), code: "CONFLICT", field: "idpGroup", says: ['Group "engineers" is already mapped'] },
    ],
  ],
  [
    "updateRoleMapping",
    [
      { name: "unknown id", query: UPDATE_MAPPING, variables: () => ({ id: randomUUID(), input: { priority: 1 } }), code: "NOT_FOUND", says: ["Role mapping not found"] },
      { name: "unknown roleKey", query: UPDATE_MAPPING, variables: (f) => ({ id: f.engineersMapping, input: { roleKey: "owner", priority: 7 } }), code: "BAD_USER_INPUT", field: "roleKey", says: ['Unknown role "owner"', ...KNOWN_ROLES] },
      { name: "roleKey service (API keys only)", query: UPDATE_MAPPING, variables: (f) => ({ id: f.engineersMapping, input: { roleKey: "service" } }), code: "BAD_USER_INPUT", field: "roleKey", says: ["for API keys only"] },
      { name: "priority 5000", query: UPDATE_MAPPING, variables: (f) => ({ id: f.engineersMapping, input: { priority: 5000 } }), code: "BAD_USER_INPUT", field: "priority", says: ["priority must not be greater than 1000"] },
      { name: "empty idpGroup", query: UPDATE_MAPPING, variables: (f) => ({ id: f.engineersMapping, input: { idpGroup: "" } }), code: "BAD_USER_INPUT", field: "idpGroup", says: ["idpGroup must be longer than or equal to 1 characters"] },
      { name: "idpGroup with a tab", query: UPDATE_MAPPING, variables: (f) => ({ id: f.engineersMapping, input: { idpGroup: "eng\tineers" } }), code: "BAD_USER_INPUT", field: "idpGroup", says: ["idpGroup must not contain control characters"] },
      { name: "renamed to a group already mapped, with a valid priority", query: UPDATE_MAPPING, variables: (f) => ({ id: f.engineersMapping, input: { idpGroup: f.viewersGroup, priority: 9 } }), code: "CONFLICT", field: "idpGroup", says: [`Group "viewers" is already mapped`] },
    ],
  ],
  [
    "deleteRoleMapping",
    [
      { name: "unknown id", query: DELETE_MAPPING, variables: () => ({ id: randomUUID() }), code: "NOT_FOUND", says: ["Role mapping not found"] },
      { name: "unknown id asked by an organization admin", query: DELETE_MAPPING, key: (f) => f.adminKeyA, variables: () => ({ id: randomUUID() }), code: "NOT_FOUND", says: ["Role mapping not found"] },
    ],
  ],
  [
    "createServiceAccount",
    [
      { name: "empty name", query: CREATE_ACCOUNT, variables: (f) => ({ input: { organizationId: f.orgA.id, name: "" } }), code: "BAD_USER_INPUT", field: "name", says: ["name must be longer than or equal to 1 characters"] },
      { name: "name of 201 characters", query: CREATE_ACCOUNT, variables: (f) => ({ input: { organizationId: f.orgA.id, name: long(201) } }), code: "BAD_USER_INPUT", field: "name", says: ["name must be shorter than or equal to 200 characters"] },
      { name: "name with a DEL control character", query: CREATE_ACCOUNT, variables: (f) => ({ input: { organizationId: f.orgA.id, name: "bot\u007f" } }), code: "BAD_USER_INPUT", field: "name", says: ["name must not contain control characters"] },
      { name: "unknown roleKey", query: CREATE_ACCOUNT, variables: (f) => ({ input: { organizationId: f.orgA.id, name: "bot", roleKey: "robot" } }), code: "BAD_USER_INPUT", field: "roleKey", says: ['Unknown role "robot"', ...KNOWN_ROLES] },
      { name: "unknown organizationId", query: CREATE_ACCOUNT, variables: () => ({ input: { organizationId: randomUUID(), name: "bot" } }), code: "NOT_FOUND", says: ["Organization not found"] },
    ],
  ],
  [
    "revokeServiceAccount",
    [
      { name: "unknown id", query: REVOKE_ACCOUNT, variables: () => ({ id: randomUUID() }), code: "NOT_FOUND", says: ["Service account not found"] },
      { name: "unknown id asked by an organization admin", query: REVOKE_ACCOUNT, key: (f) => f.adminKeyA, variables: () => ({ id: randomUUID() }), code: "NOT_FOUND", says: ["Service account not found"] },
    ],
  ],
];

/** Every row of the domain tables (lastUsedAt aside: it is refreshed off the request path). */
async function domainRows(server: TestServer): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  for (const table of DOMAIN_TABLES) {
    const result: Array<Record<string, unknown>> = await server.app.db.dataSource.query(`SELECT * FROM "${table}"`);
    rows[table] = result.map(({ lastUsedAt: _ignored, ...row }) => JSON.stringify(row)).sort();
  }
  return rows;
}

/** Successful entries in the audit trail: a refused mutation must not add one. */
async function successfulAuditEntries(server: TestServer): Promise<number> {
  const result: Array<{ success: unknown }> = await server.app.db.dataSource.query(`SELECT "success" FROM "audit_entry"`);
  return result.filter((r) => r.success === true || r.success === 1).length;
}

function expectRefusal(response: GraphQLResponse, c: BadCase): void {
  expect(response.errors).toHaveLength(1);
  const [error] = response.errors!;
  expect(error.extensions?.code).toBe(c.code);
  if (c.field !== undefined) expect(error.extensions?.field).toBe(c.field);
  for (const fragment of c.says) expect(error.message).toContain(fragment);
  expect(error.message).not.toMatch(/\$value|\$property|\$constraint/);
  expect(response.data ?? null).toBeNull();
}

describe.each(DATABASES)("bad input to every mutation on $name", (kind) => {
  let server: TestServer;
  let f: Fixture;

  beforeAll(async () => {
    server = await startServer(kind);
    const takenDomain = `taken-${randomUUID().slice(0, 8)}.example`;
    const orgA = await createOrganization(server, { allowedDomains: [takenDomain] });
    const orgB = await createOrganization(server);
    const engineersMapping = await createMapping(server, orgA.id, "engineers", "developer");
    await createMapping(server, orgA.id, "viewers", "viewer");
    const account = await createServiceAccount(server, orgA.id, "viewer");
    const adminKeyA = (await createServiceAccount(server, orgA.id, "admin")).apiKey;
    f = { orgA, orgB, takenDomain, engineersMapping, viewersGroup: "viewers", account: account.id, adminKeyA };
  });
  afterAll(() => server.stop());

  describe.each(CASES)("%s", (_mutation, cases) => {
    test.each(cases)("$name → $code, nothing written", async (c) => {
      const before = await domainRows(server);
      const successesBefore = await successfulAuditEntries(server);

      const response = await server.gql(c.query, c.variables(f), c.key ? c.key(f) : undefined);

      expectRefusal(response, c);
      expect(await domainRows(server)).toEqual(before);
      expect(await successfulAuditEntries(server)).toBe(successesBefore);
    });
  });

  test("a refused call leaves the objects it named as they were (organization, mapping, account)", async () => {
    const read = async () =>
      ok(
        await server.gql(
          `query($a: ID!) { organization(id: $a) { name slug enforceSso allowedDomains roleMappings { id idpGroup priority role { key } } } serviceAccounts(organizationId: $a) { id name revokedAt role { key } } }`,
          { a: f.orgA.id },
        ),
      );
    const before = await read();
    await server.gql(UPDATE_ORG, { id: f.orgA.id, input: { name: "Renamed A", enforceSso: true } });
    await server.gql(UPDATE_MAPPING, { id: f.engineersMapping, input: { priority: 3, roleKey: "nobody" } });
    await server.gql(CREATE_ACCOUNT, { input: { organizationId: f.orgA.id, name: "bot", roleKey: "nobody" } });
    expect(await read()).toEqual(before);
  });

  test("domains are lower-cased and deduplicated when an organization is created", async () => {
    const suffix = randomUUID().slice(0, 8);
    const data = ok(
      await server.gql<{ createOrganization: { id: string; allowedDomains: string[] } }>(
        CREATE_ORG,
        createOrg({ allowedDomains: [`Acme-${suffix}.EXAMPLE`, `acme-${suffix}.example`, `ACME-${suffix}.Example`, `Mail.Acme-${suffix}.example`] }),
      ),
    );
    expect([...data.createOrganization.allowedDomains].sort()).toEqual([`acme-${suffix}.example`, `mail.acme-${suffix}.example`]);
    const rows: Array<{ domain: string; organizationId: string }> = await server.app.db.dataSource.query(`SELECT * FROM "organization_domain"`);
    expect(rows.filter((r) => r.organizationId === data.createOrganization.id).map((r) => r.domain).sort()).toEqual([`acme-${suffix}.example`, `mail.acme-${suffix}.example`]);
  });

  test("domains are lower-cased and deduplicated when an organization is updated", async () => {
    const org = await createOrganization(server);
    const suffix = randomUUID().slice(0, 8);
    const data = ok(
      await server.gql<{ updateOrganization: { allowedDomains: string[] } }>(UPDATE_ORG, {
        id: org.id,
        input: { allowedDomains: [`BETA-${suffix}.example`, `beta-${suffix}.EXAMPLE`] },
      }),
    );
    expect(data.updateOrganization.allowedDomains).toEqual([`beta-${suffix}.example`]);
    // Once stored lower-case, the same domain in any case is a CONFLICT for another organization.
    const other = await server.gql(CREATE_ORG, createOrg({ allowedDomains: [`Beta-${suffix}.Example`] }));
    expect(errorCode(other)).toBe("CONFLICT");
    expect(other.errors?.[0].extensions?.field).toBe("allowedDomains");
  });

  test("the same group may be mapped in two organizations (uniqueness is per organization)", async () => {
    const id = await createMapping(server, f.orgB.id, "engineers", "viewer");
    expect(id).toEqual(expect.any(String));
  });
});
