/** Builds organizations and principals through the public API, as a real operator would. */
import type { TestServer } from "./server";
import { ok } from "./server";

export interface OrgFixture {
  id: string;
  slug: string;
  /** Service-account API keys of this organization, one per built-in role. */
  keys: Record<"admin" | "developer" | "viewer" | "service", string>;
}

let counter = 0;

export async function createOrganization(server: TestServer, overrides: Record<string, unknown> = {}): Promise<{ id: string; slug: string }> {
  counter += 1;
  const slug = `org-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
  const data = ok(
    await server.gql<{ createOrganization: { id: string; slug: string } }>(
      `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id slug } }`,
      { input: { slug, name: `Org ${slug}`, ...overrides } },
    ),
  );
  return data.createOrganization;
}

export async function createServiceAccount(server: TestServer, organizationId: string, roleKey: string, key = server.platformKey): Promise<{ id: string; apiKey: string }> {
  const data = ok(
    await server.gql<{ createServiceAccount: { apiKey: string; serviceAccount: { id: string } } }>(
      `mutation($input: CreateServiceAccountInput!) { createServiceAccount(input: $input) { apiKey serviceAccount { id } } }`,
      { input: { organizationId, name: `${roleKey}-account`, roleKey } },
      key,
    ),
  );
  return { id: data.createServiceAccount.serviceAccount.id, apiKey: data.createServiceAccount.apiKey };
}

export async function createOrgWithPrincipals(server: TestServer): Promise<OrgFixture> {
  const org = await createOrganization(server);
  const keys = {} as OrgFixture["keys"];
  for (const role of ["admin", "developer", "viewer", "service"] as const) {
    keys[role] = (await createServiceAccount(server, org.id, role)).apiKey;
  }
  return { ...org, keys };
}

export async function createMapping(server: TestServer, organizationId: string, idpGroup: string, roleKey: string, key = server.platformKey): Promise<string> {
  const data = ok(
    await server.gql<{ createRoleMapping: { id: string } }>(
      `mutation($input: CreateRoleMappingInput!) { createRoleMapping(input: $input) { id } }`,
      { input: { organizationId, idpGroup, roleKey } },
      key,
    ),
  );
  return data.createRoleMapping.id;
}
