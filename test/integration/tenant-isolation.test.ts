/**
 * Tenant isolation and privilege boundaries (SECURITY-CASES acl-01, acl-02, acl-03, acl-05, acl-08).
 *
 * Two organizations, A and B, each with one service-account key per built-in role. Every probe is
 * sent twice — once with the other organization's real id and once with a random id of the same
 * kind — and the two answers must be identical once the id is substituted (DESIGN.md: "foreign ids
 * answer NOT_FOUND, exactly like missing ones"). State is compared row by row before and after.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { RoleMappingEntity } from "../../src/mappings/role-mapping.entity";
import { OrganizationDomainEntity, OrganizationEntity } from "../../src/organizations/organization.entity";
import { ServiceAccountEntity } from "../../src/service-accounts/service-account.entity";
import { DATABASES } from "../support/databases";
import { createMapping, createOrgWithPrincipals, createServiceAccount, type OrgFixture } from "../support/fixtures";
import { ok, startServer, type GraphQLResponse, type TestServer } from "../support/server";

type RoleKey = "admin" | "developer" | "viewer" | "service";
const ROLES: RoleKey[] = ["admin", "developer", "viewer", "service"];
const NON_ADMIN_ROLES: RoleKey[] = ["developer", "viewer", "service"];

const SERVICE_ROLE_REFUSED = "The service role is for API keys only and cannot be given to people through SSO";

interface Fixture {
  a: OrgFixture;
  b: OrgFixture;
  mappingA: string;
  mappingB: string;
  accountA: string;
  accountB: string;
  /** Service-account id behind each of B's keys (the actorId of B's audit entries). */
  actorB: Record<RoleKey, string>;
}

// ---------------------------------------------------------------------------------------------
// helpers

/** The whole response with `id` replaced by a placeholder, to compare a foreign and a missing id. */
function normalized(response: GraphQLResponse, id: string): string {
  return JSON.stringify({ data: response.data ?? null, errors: response.errors ?? null }).split(id).join("<id>");
}

/** Every row of an organization (lastUsedAt aside: using a key legitimately touches it). */
async function organizationRows(server: TestServer, organizationId: string) {
  const em = server.app.db.manager;
  const accounts = await em.find(ServiceAccountEntity, { where: { organizationId }, order: { id: "ASC" } });
  return {
    organization: await em.findOne(OrganizationEntity, { where: { id: organizationId } }),
    domains: await em.find(OrganizationDomainEntity, { where: { organizationId }, order: { domain: "ASC" } }),
    mappings: await em.find(RoleMappingEntity, { where: { organizationId }, order: { id: "ASC" } }),
    accounts: accounts.map(({ lastUsedAt: _lastUsedAt, ...rest }) => rest),
  };
}

/** Every business row of the database (not the audit trail), for "nothing was written". */
async function allRows(server: TestServer) {
  const em = server.app.db.manager;
  const accounts = await em.find(ServiceAccountEntity, { order: { id: "ASC" } });
  return {
    organizations: await em.find(OrganizationEntity, { order: { id: "ASC" } }),
    domains: await em.find(OrganizationDomainEntity, { order: { domain: "ASC" } }),
    mappings: await em.find(RoleMappingEntity, { order: { id: "ASC" } }),
    accounts: accounts.map(({ lastUsedAt: _lastUsedAt, ...rest }) => rest),
  };
}

interface AuditRow {
  id: string;
  organizationId: string | null;
  actorId: string;
  actorKind: string | null;
  operation: string;
  resource: string;
  success: boolean;
  reason: string | null;
}

/** All audit entries the key may read (every page). */
async function auditTrail(server: TestServer, key: string, filter: Record<string, unknown> = {}): Promise<AuditRow[]> {
  const entries: AuditRow[] = [];
  let after: string | null = null;
  do {
    const data: any = ok(
      await server.gql(
        `query($filter: AuditEntryFilter, $after: String) {
          auditEntries(filter: $filter, first: 100, after: $after) {
            edges { node { id organizationId actorId actorKind operation resource success reason } }
            pageInfo { hasNextPage endCursor }
          }
        }`,
        { filter, after },
        key,
      ),
    );
    entries.push(...data.auditEntries.edges.map((e: { node: AuditRow }) => e.node));
    after = data.auditEntries.pageInfo.hasNextPage ? data.auditEntries.pageInfo.endCursor : null;
  } while (after);
  return entries;
}

/** A GraphQL input literal, for the inline (non-variable) form of a mutation. */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${literal(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

function expectError(response: GraphQLResponse, code: string, message: string): void {
  expect(response.errors).toHaveLength(1);
  expect(response.errors![0].extensions?.code).toBe(code);
  expect(response.errors![0].message).toBe(message);
}

// ---------------------------------------------------------------------------------------------
// acl-01 probes: each names one object of A by id, directly or through an input

type Target = "organization" | "mapping" | "account";
const NOT_FOUND_LABEL: Record<Target, string> = { organization: "Organization", mapping: "Role mapping", account: "Service account" };

interface ForeignProbe {
  name: string;
  operation: string;
  target: Target;
  /** Only admins reach the resolver; the other roles are refused by the rule, for any id alike. */
  adminOnly: boolean;
  query: string;
  variables?: (fx: Fixture) => Record<string, unknown>;
}

const FOREIGN_PROBES: ForeignProbe[] = [
  {
    name: "organization(id)",
    operation: "Query.organization",
    target: "organization",
    adminOnly: false,
    query: `query($id: ID!) { organization(id: $id) { id name slug allowedDomains roleMappings { id idpGroup role { key } } } }`,
  },
  {
    name: "organization(id) nested beside the caller's own organization",
    operation: "Query.organization",
    target: "organization",
    adminOnly: false,
    query: `query($id: ID!, $own: ID!) {
      own: organization(id: $own) { id }
      foreign: organization(id: $id) { id name roleMappings { id organization { id slug } } }
    }`,
    variables: (fx) => ({ own: fx.b.id }),
  },
  {
    name: "roleMappings(organizationId)",
    operation: "Query.roleMappings",
    target: "organization",
    adminOnly: false,
    query: `query($id: ID!) { roleMappings(organizationId: $id) { id idpGroup organization { id name } } }`,
  },
  {
    name: "serviceAccounts(organizationId)",
    operation: "Query.serviceAccounts",
    target: "organization",
    adminOnly: true,
    query: `query($id: ID!) { serviceAccounts(organizationId: $id) { id name keyPrefix organization { id } } }`,
  },
  {
    name: "auditEntries(filter: { organizationId })",
    operation: "Query.auditEntries",
    target: "organization",
    adminOnly: false,
    query: `query($id: ID!) { auditEntries(filter: { organizationId: $id }) { edges { node { id operation actorId } } } }`,
  },
  {
    name: "updateOrganization(id)",
    operation: "Mutation.updateOrganization",
    target: "organization",
    adminOnly: true,
    query: `mutation($id: ID!) { updateOrganization(id: $id, input: { name: "Taken over", allowedDomains: [] }) { id name } }`,
  },
  {
    name: "createRoleMapping(input: { organizationId })",
    operation: "Mutation.createRoleMapping",
    target: "organization",
    adminOnly: true,
    query: `mutation($id: ID!) { createRoleMapping(input: { organizationId: $id, idpGroup: "intruders", roleKey: "admin" }) { id } }`,
  },
  {
    name: "updateRoleMapping(id)",
    operation: "Mutation.updateRoleMapping",
    target: "mapping",
    adminOnly: true,
    query: `mutation($id: ID!) { updateRoleMapping(id: $id, input: { roleKey: "admin", priority: 999 }) { id priority } }`,
  },
  {
    name: "deleteRoleMapping(id)",
    operation: "Mutation.deleteRoleMapping",
    target: "mapping",
    adminOnly: true,
    query: `mutation($id: ID!) { deleteRoleMapping(id: $id) }`,
  },
  {
    name: "createServiceAccount(input: { organizationId })",
    operation: "Mutation.createServiceAccount",
    target: "organization",
    adminOnly: true,
    query: `mutation($id: ID!) { createServiceAccount(input: { organizationId: $id, name: "intruder", roleKey: "admin" }) { apiKey serviceAccount { id } } }`,
  },
  {
    name: "revokeServiceAccount(id)",
    operation: "Mutation.revokeServiceAccount",
    target: "account",
    adminOnly: true,
    query: `mutation($id: ID!) { revokeServiceAccount(id: $id) { id revokedAt } }`,
  },
];

// ---------------------------------------------------------------------------------------------
// acl-02: every admin operation, aimed at the caller's OWN organization (only the role is missing)

interface AdminCall {
  operation: string;
  missing: string[];
  query: string;
  variables: (fx: Fixture) => Record<string, unknown>;
}

const ADMIN_CALLS: AdminCall[] = [
  {
    operation: "Mutation.updateOrganization",
    missing: ["admin"],
    query: `mutation($org: ID!) { updateOrganization(id: $org, input: { name: "Renamed" }) { id } }`,
    variables: (fx) => ({ org: fx.b.id }),
  },
  {
    operation: "Mutation.createRoleMapping",
    missing: ["admin"],
    query: `mutation($org: ID!) { createRoleMapping(input: { organizationId: $org, idpGroup: "readers", roleKey: "viewer" }) { id } }`,
    variables: (fx) => ({ org: fx.b.id }),
  },
  {
    operation: "Mutation.updateRoleMapping",
    missing: ["admin"],
    query: `mutation($id: ID!) { updateRoleMapping(id: $id, input: { priority: 5 }) { id } }`,
    variables: (fx) => ({ id: fx.mappingB }),
  },
  {
    operation: "Mutation.deleteRoleMapping",
    missing: ["admin", "delete"],
    query: `mutation($id: ID!) { deleteRoleMapping(id: $id) }`,
    variables: (fx) => ({ id: fx.mappingB }),
  },
  {
    operation: "Mutation.createServiceAccount",
    missing: ["admin"],
    query: `mutation($org: ID!) { createServiceAccount(input: { organizationId: $org, name: "robot" }) { apiKey } }`,
    variables: (fx) => ({ org: fx.b.id }),
  },
  {
    operation: "Mutation.revokeServiceAccount",
    missing: ["admin"],
    query: `mutation($id: ID!) { revokeServiceAccount(id: $id) { id } }`,
    variables: (fx) => ({ id: fx.accountB }),
  },
];

/** PLATFORM-scoped operations: refused to every organization principal, admins included. */
const PLATFORM_CALLS: AdminCall[] = [
  {
    operation: "Mutation.createOrganization",
    missing: ["platform"],
    query: `mutation($slug: String!) { createOrganization(input: { slug: $slug, name: "Shadow" }) { id } }`,
    variables: () => ({ slug: `shadow-${randomBytes(4).toString("hex")}` }),
  },
  {
    operation: "Mutation.deleteOrganization",
    missing: ["platform"],
    query: `mutation($org: ID!) { deleteOrganization(id: $org) }`,
    variables: (fx) => ({ org: fx.b.id }),
  },
];

// ---------------------------------------------------------------------------------------------
// acl-05: undeclared input fields

interface MassAssignment {
  inputType: string;
  extra: string;
  field: string;
  caller: "platform" | "admin";
  /** Arguments besides `input`, as a literal, e.g. `id: "…", `. */
  args: (fx: Fixture) => string;
  input: (fx: Fixture) => Record<string, unknown>;
}

const MASS_ASSIGNMENTS: MassAssignment[] = [
  {
    inputType: "UpdateRoleMappingInput",
    extra: "organizationId",
    field: "updateRoleMapping",
    caller: "admin",
    args: (fx) => `id: ${JSON.stringify(fx.mappingB)}, `,
    input: (fx) => ({ priority: 7, organizationId: fx.a.id }),
  },
  {
    inputType: "CreateServiceAccountInput",
    extra: "role",
    field: "createServiceAccount",
    caller: "admin",
    args: () => "",
    input: (fx) => ({ organizationId: fx.b.id, name: "mass-role", role: "admin" }),
  },
  {
    inputType: "CreateServiceAccountInput",
    extra: "keyHash",
    field: "createServiceAccount",
    caller: "admin",
    args: () => "",
    input: (fx) => ({ organizationId: fx.b.id, name: "mass-hash", keyHash: "0".repeat(64) }),
  },
  {
    inputType: "CreateOrganizationInput",
    extra: "id",
    field: "createOrganization",
    caller: "platform",
    args: () => "",
    input: (fx) => ({ slug: `mass-${randomBytes(4).toString("hex")}`, name: "Mass", id: fx.a.id }),
  },
  {
    inputType: "CreateRoleMappingInput",
    extra: "id",
    field: "createRoleMapping",
    caller: "admin",
    args: () => "",
    input: (fx) => ({ organizationId: fx.b.id, idpGroup: "mass-group", roleKey: "viewer", id: fx.mappingA }),
  },
  {
    inputType: "UpdateOrganizationInput",
    extra: "organizationId",
    field: "updateOrganization",
    caller: "admin",
    args: (fx) => `id: ${JSON.stringify(fx.b.id)}, `,
    input: (fx) => ({ name: "Mass renamed", organizationId: fx.a.id }),
  },
];

// ---------------------------------------------------------------------------------------------

describe.each(DATABASES)("tenant isolation on $name", (kind) => {
  let server: TestServer;
  let fx: Fixture;

  const keyOf = (caller: "platform" | RoleKey, org: OrgFixture = fx.b) => (caller === "platform" ? server.platformKey : org.keys[caller]);

  beforeAll(async () => {
    server = await startServer(kind);
    const a = await createOrgWithPrincipals(server);
    const b = await createOrgWithPrincipals(server);
    for (const org of [a, b]) {
      ok(
        await server.gql(`mutation($id: ID!, $input: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $input) { id } }`, {
          id: org.id,
          input: { allowedDomains: [`${org.slug}.example.com`], defaultRoleKey: "viewer" },
        }),
      );
    }
    const mappingA = await createMapping(server, a.id, "engineering", "developer");
    const mappingB = await createMapping(server, b.id, "engineering", "developer");
    const accountA = (await createServiceAccount(server, a.id, "viewer")).id;
    const accountB = (await createServiceAccount(server, b.id, "viewer")).id;
    const actorB = {} as Record<RoleKey, string>;
    for (const role of ROLES) actorB[role] = ok(await server.gql(`{ me { id } }`, {}, b.keys[role])).me.id;
    fx = { a, b, mappingA, mappingB, accountA, accountB, actorB };
  });
  afterAll(() => server.stop());

  // ----- acl-01 -------------------------------------------------------------------------------

  describe("acl-01 organization B asking for organization A's objects", () => {
    test.each(FOREIGN_PROBES)(
      "acl-01 $name with A's id answers exactly as for a missing id, for every role of B; nothing changes in A; the denial is audited",
      async (probe) => {
        const foreignId = { organization: fx.a.id, mapping: fx.mappingA, account: fx.accountA }[probe.target];
        const before = await organizationRows(server, fx.a.id);
        const adminDenials = () => auditTrail(server, fx.b.keys.admin, { actorId: fx.actorB.admin, operation: probe.operation, success: false });
        const deniedBefore = new Set((await adminDenials()).map((e) => e.id));

        for (const role of ROLES) {
          const extra = probe.variables?.(fx) ?? {};
          const foreign = await server.gql(probe.query, { ...extra, id: foreignId }, fx.b.keys[role]);
          const missingId = randomUUID();
          const missing = await server.gql(probe.query, { ...extra, id: missingId }, fx.b.keys[role]);

          const refusedByRule = probe.adminOnly && role !== "admin";
          const error = foreign.errors?.[0];
          expect({ role, code: error?.extensions?.code }).toEqual({ role, code: refusedByRule ? "FORBIDDEN" : "NOT_FOUND" });
          if (!refusedByRule) expect(error?.message).toBe(`${NOT_FOUND_LABEL[probe.target]} not found: ${foreignId}`);
          expect(foreign.errors).toHaveLength(1);
          // Same code, same message, same path, same data: a foreign id is indistinguishable from a missing one.
          expect(normalized(foreign, foreignId)).toBe(normalized(missing, missingId));
          // Nothing of A leaks into the answer.
          expect(JSON.stringify(foreign)).not.toContain(fx.a.slug);
        }

        expect(await organizationRows(server, fx.a.id)).toEqual(before);

        // Exactly one new entry in B's own trail for the admin's attempt on A's id.
        const denials = (await adminDenials()).filter((e) => !deniedBefore.has(e.id) && e.resource.includes(foreignId));
        expect(denials).toHaveLength(1);
        expect(denials[0]).toMatchObject({
          organizationId: fx.b.id,
          actorKind: "SERVICE",
          success: false,
          reason: `NOT_FOUND: ${NOT_FOUND_LABEL[probe.target]} not found: ${foreignId}`,
        });
      },
    );

    test("acl-01 nested: B's query naming its own and A's organization gets its own and NOT_FOUND for A's", async () => {
      const response = await server.gql(
        `query($own: ID!, $foreign: ID!) { own: organization(id: $own) { id } foreign: organization(id: $foreign) { id roleMappings { id } } }`,
        { own: fx.b.id, foreign: fx.a.id },
        fx.b.keys.viewer,
      );
      expect(response.data).toEqual({ own: { id: fx.b.id }, foreign: null });
      expect(response.errors).toHaveLength(1);
      expect(response.errors![0]).toMatchObject({ path: ["foreign"], message: `Organization not found: ${fx.a.id}`, extensions: { code: "NOT_FOUND" } });
    });

    test.each(ROLES)("acl-01 `organizations` lists only B's organization to B's %s, nested mappings included", async (role) => {
      const data: any = ok(
        await server.gql(`{ organizations(first: 100) { edges { node { id roleMappings { id organization { id } } } } } }`, {}, fx.b.keys[role]),
      );
      const nodes = data.organizations.edges.map((e: { node: any }) => e.node);
      expect(nodes.map((n: { id: string }) => n.id)).toEqual([fx.b.id]);
      const mappingIds = nodes.flatMap((n: any) => n.roleMappings.map((m: any) => m.id));
      expect(mappingIds).toContain(fx.mappingB);
      expect(mappingIds).not.toContain(fx.mappingA);
      expect(nodes.flatMap((n: any) => n.roleMappings.map((m: any) => m.organization.id))).toEqual(mappingIds.map(() => fx.b.id));
    });

    test.each(["admin", "viewer"] as const)("acl-01 B's %s reads only B's audit entries, never one of A's", async (role) => {
      // A's own admin acts in A, so A's trail holds entries of an actor that exists only there.
      const aActor = ok(await server.gql(`{ me { id } }`, {}, fx.a.keys.admin)).me.id as string;
      const aEntries = await auditTrail(server, server.platformKey, { organizationId: fx.a.id });
      expect(aEntries.map((e) => e.actorId)).toContain(aActor);
      expect(aEntries.length).toBeGreaterThan(0);
      const bEntries = await auditTrail(server, fx.b.keys[role]);
      expect(bEntries.length).toBeGreaterThan(0);
      expect(new Set(bEntries.map((e) => e.organizationId))).toEqual(new Set([fx.b.id]));
      const aIds = new Set(aEntries.map((e) => e.id));
      expect(bEntries.filter((e) => aIds.has(e.id))).toEqual([]);
      // Filtering by its own organization gives the same entries (the filter is no way out either).
      const filtered = await auditTrail(server, fx.b.keys[role], { organizationId: fx.b.id });
      expect(filtered.every((e) => e.organizationId === fx.b.id)).toBe(true);
      // Filtering on one of A's actors finds nothing from B's side, though that actor has entries.
      expect(await auditTrail(server, fx.b.keys[role], { actorId: aActor })).toEqual([]);
    });
  });

  // ----- acl-02 -------------------------------------------------------------------------------

  describe("acl-02 non-admin roles calling admin operations", () => {
    test.each(ADMIN_CALLS)("acl-02 developer, viewer and service calling $operation get FORBIDDEN `Missing permission: ...`, nothing written, denial audited", async (call) => {
      const message = `Missing permission: ${call.missing.join(", ")}`;
      for (const role of NON_ADMIN_ROLES) {
        const before = await allRows(server);
        const response = await server.gql(call.query, call.variables(fx), fx.b.keys[role]);
        expectError(response, "FORBIDDEN", message);
        expect(response.errors![0].extensions?.missing).toEqual(call.missing);
        expect(response.data ?? null).toBeNull();
        expect(await allRows(server)).toEqual(before);

        const denials = await auditTrail(server, fx.b.keys.admin, { actorId: fx.actorB[role], operation: call.operation, success: false });
        expect(denials.map((d) => d.reason)).toContain(`FORBIDDEN: ${message}`);
      }
    });

    test("acl-02 serviceAccounts (an admin query) is FORBIDDEN `Missing permission: admin` to developer, viewer and service", async () => {
      for (const role of NON_ADMIN_ROLES) {
        const response = await server.gql(`query($org: ID!) { serviceAccounts(organizationId: $org) { id keyPrefix } }`, { org: fx.b.id }, fx.b.keys[role]);
        expectError(response, "FORBIDDEN", "Missing permission: admin");
      }
    });

    test.each(PLATFORM_CALLS)("acl-02 every organization role, admin included, calling $operation gets FORBIDDEN `Missing permission: platform`", async (call) => {
      for (const role of ROLES) {
        const before = await allRows(server);
        const response = await server.gql(call.query, call.variables(fx), fx.b.keys[role]);
        expectError(response, "FORBIDDEN", "Missing permission: platform");
        expect(await allRows(server)).toEqual(before);
      }
    });
  });

  // ----- acl-03 -------------------------------------------------------------------------------

  describe("acl-03 changing mappings beyond one's rights", () => {
    test("acl-03 a developer mapping a group to admin (new or existing mapping) is FORBIDDEN and nothing changes", async () => {
      const before = await allRows(server);
      const created = await server.gql(
        `mutation($org: ID!) { createRoleMapping(input: { organizationId: $org, idpGroup: "developers-to-admin", roleKey: "admin" }) { id } }`,
        { org: fx.b.id },
        fx.b.keys.developer,
      );
      expectError(created, "FORBIDDEN", "Missing permission: admin");
      const updated = await server.gql(
        `mutation($id: ID!) { updateRoleMapping(id: $id, input: { roleKey: "admin" }) { id } }`,
        { id: fx.mappingB },
        fx.b.keys.developer,
      );
      expectError(updated, "FORBIDDEN", "Missing permission: admin");
      expect(await allRows(server)).toEqual(before);
    });

    test("acl-03 an admin of A changing B's mappings is refused with NOT_FOUND, exactly like a missing mapping (DESIGN.md), and B's mapping is unchanged", async () => {
      const before = await organizationRows(server, fx.b.id);
      const attacks = [
        { query: `mutation($id: ID!) { updateRoleMapping(id: $id, input: { roleKey: "viewer", idpGroup: "hijacked" }) { id } }`, label: "Role mapping", id: fx.mappingB },
        { query: `mutation($id: ID!) { deleteRoleMapping(id: $id) }`, label: "Role mapping", id: fx.mappingB },
        { query: `mutation($id: ID!) { createRoleMapping(input: { organizationId: $id, idpGroup: "a-admins", roleKey: "admin" }) { id } }`, label: "Organization", id: fx.b.id },
      ];
      for (const attack of attacks) {
        const foreign = await server.gql(attack.query, { id: attack.id }, fx.a.keys.admin);
        expectError(foreign, "NOT_FOUND", `${attack.label} not found: ${attack.id}`);
        const missingId = randomUUID();
        const missing = await server.gql(attack.query, { id: missingId }, fx.a.keys.admin);
        expect(normalized(foreign, attack.id)).toBe(normalized(missing, missingId));
      }
      expect(await organizationRows(server, fx.b.id)).toEqual(before);
      const mappings: any = ok(await server.gql(`query($org: ID!) { roleMappings(organizationId: $org) { id idpGroup role { key } } }`, { org: fx.b.id }));
      expect(mappings.roleMappings).toContainEqual({ id: fx.mappingB, idpGroup: "engineering", role: { key: "developer" } });
    });
  });

  // ----- acl-05 -------------------------------------------------------------------------------

  describe("acl-05 mass assignment", () => {
    test.each(MASS_ASSIGNMENTS)(
      "acl-05 `$extra` in $inputType is rejected inline (GRAPHQL_VALIDATION_FAILED) and through variables (BAD_USER_INPUT); nothing written",
      async (c) => {
        const key = keyOf(c.caller);
        const input = c.input(fx);
        const undeclared = `Field "${c.extra}" is not defined by type "${c.inputType}"`;
        const before = await allRows(server);

        const inline = await server.gql(`mutation { ${c.field}(${c.args(fx)}input: ${literal(input)}) { __typename } }`, {}, key);
        expect(inline.status).toBe(400);
        expect(inline.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
        expect(inline.errors?.[0]?.message).toContain(undeclared);
        expect(inline.data ?? null).toBeNull();

        const viaVariables = await server.gql(`mutation($input: ${c.inputType}!) { ${c.field}(${c.args(fx)}input: $input) { __typename } }`, { input }, key);
        expect(viaVariables.status).toBe(400);
        expect(viaVariables.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
        expect(viaVariables.errors?.[0]?.message).toContain(undeclared);
        expect(viaVariables.data ?? null).toBeNull();

        expect(await allRows(server)).toEqual(before);

        // Control: without the undeclared field the very same call is accepted, so the field alone was the problem.
        const { [c.extra]: _dropped, ...declared } = input;
        ok(await server.gql(`mutation($input: ${c.inputType}!) { ${c.field}(${c.args(fx)}input: $input) { __typename } }`, { input: declared }, key));
      },
    );
  });

  // ----- acl-08 -------------------------------------------------------------------------------

  describe("acl-08 no caller grants a permission it lacks", () => {
    const grants = NON_ADMIN_ROLES.flatMap((caller) => (["admin", "developer", "service", "viewer"] as const).map((granted) => ({ caller, granted })));

    test.each(grants)("acl-08 a $caller cannot create a service account with role $granted (FORBIDDEN), none is created", async ({ caller, granted }) => {
      const before = await allRows(server);
      const response = await server.gql(
        `mutation($org: ID!, $role: String) { createServiceAccount(input: { organizationId: $org, name: "escalation", roleKey: $role }) { apiKey } }`,
        { org: fx.b.id, role: granted },
        fx.b.keys[caller],
      );
      expectError(response, "FORBIDDEN", "Missing permission: admin");
      expect(await allRows(server)).toEqual(before);
    });

    test("acl-08 a viewer creating a developer-role account is refused and no key comes back", async () => {
      const response = await server.gql(
        `mutation($org: ID!) { createServiceAccount(input: { organizationId: $org, name: "viewer-made", roleKey: "developer" }) { apiKey serviceAccount { id } } }`,
        { org: fx.b.id },
        fx.b.keys.viewer,
      );
      expect(response.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect(JSON.stringify(response)).not.toContain("rbac_sk_");
      const names = (await server.app.db.manager.find(ServiceAccountEntity, { where: { organizationId: fx.b.id } })).map((a) => a.name);
      expect(names).not.toContain("viewer-made");
    });

    const serviceRoleCases = [
      {
        name: "createRoleMapping with roleKey service",
        field: "roleKey",
        variables: (f: Fixture) => ({ org: f.b.id }),
        query: `mutation($org: ID!) { createRoleMapping(input: { organizationId: $org, idpGroup: "robots", roleKey: "service" }) { id } }`,
      },
      {
        name: "updateRoleMapping to roleKey service",
        field: "roleKey",
        variables: (f: Fixture) => ({ map: f.mappingB }),
        query: `mutation($map: ID!) { updateRoleMapping(id: $map, input: { roleKey: "service" }) { id } }`,
      },
      {
        name: "updateOrganization with defaultRoleKey service",
        field: "defaultRoleKey",
        variables: (f: Fixture) => ({ org: f.b.id }),
        query: `mutation($org: ID!) { updateOrganization(id: $org, input: { defaultRoleKey: "service" }) { id } }`,
      },
    ];

    test.each(serviceRoleCases.flatMap((c) => (["admin", "platform"] as const).map((caller) => ({ ...c, caller }))))(
      "acl-08 the service role never reaches people: $name by $caller → BAD_USER_INPUT on $field",
      async (c) => {
        const before = await allRows(server);
        const response = await server.gql(c.query, c.variables(fx), keyOf(c.caller));
        expectError(response, "BAD_USER_INPUT", SERVICE_ROLE_REFUSED);
        expect(response.errors![0].extensions?.field).toBe(c.field);
        expect(await allRows(server)).toEqual(before);
      },
    );

    test("acl-08 the service role cannot be the default role of a new organization → BAD_USER_INPUT on defaultRoleKey", async () => {
      const before = await allRows(server);
      const slug = `robots-${randomBytes(4).toString("hex")}`;
      const response = await server.gql(
        `mutation($slug: String!) { createOrganization(input: { slug: $slug, name: "Robots", defaultRoleKey: "service" }) { id } }`,
        { slug },
      );
      expectError(response, "BAD_USER_INPUT", SERVICE_ROLE_REFUSED);
      expect(response.errors![0].extensions?.field).toBe("defaultRoleKey");
      expect(await allRows(server)).toEqual(before);
    });

    test("acl-08 control: an admin may grant what it holds (a developer-role account and a viewer mapping)", async () => {
      const account: any = ok(
        await server.gql(
          `mutation($org: ID!) { createServiceAccount(input: { organizationId: $org, name: "granted-by-admin", roleKey: "developer" }) { serviceAccount { role { key } } } }`,
          { org: fx.b.id },
          fx.b.keys.admin,
        ),
      );
      expect(account.createServiceAccount.serviceAccount.role.key).toBe("developer");
      const mapping: any = ok(
        await server.gql(
          `mutation($org: ID!) { createRoleMapping(input: { organizationId: $org, idpGroup: "auditors", roleKey: "viewer" }) { role { key } } }`,
          { org: fx.b.id },
          fx.b.keys.admin,
        ),
      );
      expect(mapping.createRoleMapping.role.key).toBe("viewer");
    });
  });
});
