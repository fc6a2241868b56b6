/**
 * Home-realm discovery: loginOptions(email) finds the organization by the email's domain and tells
 * where to log in, revealing nothing about domains that are not registered.
 */
import { DATABASES } from "../support/databases";
import { createOrganization } from "../support/fixtures";
import { errorCode, ok, startServer, type TestServer } from "../support/server";

const OPTIONS = `query($email: String!) { loginOptions(email: $email) { sso { protocol name loginUrl } passwordAllowed message } }`;
const NO_SSO = { sso: [], passwordAllowed: true, message: "No SSO for this domain: log in with your email and password" };

describe.each(DATABASES)("loginOptions on $name", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());

  const unique = () => `d${Math.random().toString(36).slice(2, 10)}.example.com`;
  const options = async (email: string) => ok(await server.gql(OPTIONS, { email }, null)).loginOptions;
  const connect = async (organizationId: string, issuer: string) =>
    ok(
      await server.gql(`mutation($i: CreateOidcConnectionInput!) { createOidcConnection(input: $i) { id loginUrl } }`, {
        i: { organizationId, issuer, clientId: "rbac", clientSecret: "s3cret-value" },
      }),
    ).createOidcConnection as { id: string; loginUrl: string };

  test("an SSO organization lists its entry points and still allows passwords when SSO is not enforced", async () => {
    const domain = unique();
    const org = await createOrganization(server, { ssoEnabled: true, allowedDomains: [domain] });
    const connection = await connect(org.id, "https://login.acme.example");
    const answer = await options(`alice@${domain.toUpperCase()}`);
    expect(answer).toEqual({
      sso: [{ protocol: "oidc", name: "login.acme.example", loginUrl: connection.loginUrl }],
      passwordAllowed: true,
      message: "Continue with your identity provider, or log in with your email and password",
    });
    expect(connection.loginUrl).toMatch(new RegExp(`/auth/oidc/${connection.id}/login$`));
  });

  test("enforced SSO: no password", async () => {
    const domain = unique();
    const org = await createOrganization(server, { ssoEnabled: true, enforceSso: true, allowedDomains: [domain] });
    await connect(org.id, "https://idp.corp.example");
    const answer = await options(`bob@${domain}`);
    expect(answer.passwordAllowed).toBe(false);
    expect(answer.sso).toHaveLength(1);
    expect(answer.message).toMatch(/requires single sign-on/);
  });

  test("an unregistered domain and a registered one with SSO off get the very same answer", async () => {
    const off = unique();
    const org = await createOrganization(server, { ssoEnabled: false, allowedDomains: [off] });
    await connect(org.id, "https://idp.off.example");
    expect(await options(`carol@${off}`)).toEqual(NO_SSO);
    expect(await options(`carol@${unique()}`)).toEqual(NO_SSO);
  });

  test("a malformed email is BAD_USER_INPUT naming the field", async () => {
    const response = await server.gql(OPTIONS, { email: "not-an-email" }, null);
    expect(errorCode(response)).toBe("BAD_USER_INPUT");
    expect(response.errors![0].extensions!.field).toBe("email");
  });
});
