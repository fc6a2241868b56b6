/** The password policy's bounds (issue 3 "a minimum policy"); the HTTP side is in password-login.test.ts. */
import { assertPasswordAllowed, hashPassword, verifyPassword } from "../../src/sso/password/password-policy";

function violation(password: string, email: string | null = "pat@corp.example.com"): { field?: unknown; message: string } | null {
  try {
    assertPasswordAllowed(password, email);
    return null;
  } catch (error) {
    const e = error as { message: string; extensions?: Record<string, unknown> };
    return { field: e.extensions?.field, message: e.message };
  }
}

describe("password policy", () => {
  test("12 to 256 characters, counted in code points", () => {
    expect(violation("Abcdefgh-1x")).toMatchObject({ field: "password", message: expect.stringMatching(/at least 12/) });
    expect(violation("Abcdefgh-1xy")).toBeNull();
    expect(violation("🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑x")).toBeNull(); // 12 code points, 23 UTF-16 units
    expect(violation(`Q${"w9".repeat(127)}e`)).toBeNull(); // 256
    expect(violation(`Q${"w9".repeat(127)}er`)).toMatchObject({ message: expect.stringMatching(/at most 256/) });
  });

  test("not containing the email's user name (case-insensitive); very short user names are not checked", () => {
    expect(violation("xx-PAT-password-xx")).toMatchObject({ message: expect.stringMatching(/user name/) });
    expect(violation("pa-long-enough-pass", "pa@corp.example.com")).toBeNull();
  });

  test("not a common password, whatever the case; not one character repeated", () => {
    expect(violation("PASSWORD1234")).toMatchObject({ message: expect.stringMatching(/most commonly used/) });
    expect(violation("1q2w3e4r5t6y")).toMatchObject({ message: expect.stringMatching(/most commonly used/) });
    expect(violation("............")).toMatchObject({ message: expect.stringMatching(/repeated/) });
  });

  test("the message never contains the password", () => {
    for (const password of ["Sh0rt!", "my-pat-secret-value", "password1234"]) expect(violation(password)?.message).not.toContain(password);
  });

  test("argon2id, NFKC-normalized: a composed and a decomposed é verify alike", async () => {
    const hash = await hashPassword("Caf\u00e9-au-lait-2024");
    expect(hash.startsWith("$argon2id$")).toBe(true);
    expect(await verifyPassword(hash, "Cafe\u0301-au-lait-2024")).toBe(true);
    expect(await verifyPassword(hash, "Cafe-au-lait-2024")).toBe(false);
    expect(await verifyPassword("not a hash", "anything")).toBe(false);
  });
});
