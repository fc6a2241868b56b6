import { DATABASES } from "../support/databases";
import { createOrgWithPrincipals } from "../support/fixtures";
import { ok, startServer, type TestServer } from "../support/server";

describe.each(DATABASES)("smoke on $name", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server.stop());

  test("a service account asks can() and gets a decision", async () => {
    const org = await createOrgWithPrincipals(server);
    const data = ok(await server.gql(`{ can(action: DELETE, resource: "conversation:1") { allowed reason role { key } } }`, {}, org.keys.developer));
    expect(data.can).toEqual({ allowed: false, reason: "Missing permission: delete (role developer does not grant it)", role: { key: "developer" } });
  });
});
