/**
 * Our token-signing keys over their life: scheduled rotation by age, operator rotation and
 * retirement through GraphQL (platform principals only), overlap for tokens of the previous key.
 */
import { SigningKeyEntity } from "../../src/tokens/session.entity";
import { DATABASES } from "../support/databases";
import { errorCode, ok, startServer, type TestServer } from "../support/server";
import { createOrgWithPrincipals } from "../support/fixtures";

describe.each(DATABASES)("signing keys on $name", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { env: { SIGNING_KEY_ROTATION_DAYS: "1" } });
  });
  afterAll(() => server.stop());

  const issue = () => server.app.accessTokens.issue({ userId: "u", sessionId: "s", organizationId: "o", roleKey: "viewer" });
  const kidOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString()).kid as string;

  test("a signing key older than SIGNING_KEY_ROTATION_DAYS is replaced at the next signature; the old one still verifies", async () => {
    const before = await issue();
    const oldKid = kidOf(before.token);
    await server.app.db.dataSource.getRepository(SigningKeyEntity).update({ kid: oldKid }, { createdAt: new Date(Date.now() - 2 * 86_400_000) });
    // The rotation is started by the next signature and never awaited by it (it may run inside a transaction).
    let after = await issue();
    for (let i = 0; i < 50 && kidOf(after.token) === oldKid; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await issue();
    }
    expect(kidOf(after.token)).not.toBe(oldKid);
    await expect(server.app.accessTokens.verify(before.token)).resolves.toMatchObject({ sub: "u" });
    const keys = ok(await server.gql(`{ signingKeys { kid active rotatedAt retiredAt } }`)).signingKeys as Array<{ kid: string; active: boolean; retiredAt: string | null }>;
    expect(keys.filter((k) => k.active)).toHaveLength(1);
    expect(keys.find((k) => k.kid === oldKid)).toMatchObject({ active: false });
    expect(keys.find((k) => k.kid === oldKid)!.retiredAt).not.toBeNull();
  });

  test("operators rotate and retire keys over GraphQL; organization admins may not", async () => {
    const org = await createOrgWithPrincipals(server);
    expect(errorCode(await server.gql(`mutation { rotateSigningKey { kid } }`, {}, org.keys.admin))).toBe("FORBIDDEN");
    const token = await issue();
    const rotated = ok(await server.gql(`mutation { rotateSigningKey { kid active } }`)).rotateSigningKey;
    expect(rotated.active).toBe(true);
    await expect(server.app.accessTokens.verify(token.token)).resolves.toBeTruthy();
    ok(await server.gql(`mutation($kid: String!) { retireSigningKey(kid: $kid) { kid retiredAt } }`, { kid: kidOf(token.token) }));
    await expect(server.app.accessTokens.verify(token.token)).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    expect(errorCode(await server.gql(`mutation { retireSigningKey(kid: "nope") { kid } }`))).toBe("NOT_FOUND");
  });
});
