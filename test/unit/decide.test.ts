/** src/authz/decide.ts: the one decision behind every generated shield rule, and `can`. */
import { decide, decideAction } from "../../src/authz/decide";
import type { OperationRule } from "../../src/authz/operations";
import { AppError, UnauthenticatedError } from "../../src/shared/errors";
import { ACTIONS, type Action, type Principal } from "../../src/shared/principal";

/** The seed's role table, by hand. */
const ROLE_PERMISSIONS: Record<string, Action[]> = {
  admin: ["READ", "WRITE", "DELETE", "ADMIN"],
  developer: ["READ", "WRITE"],
  viewer: ["READ"],
  service: ["READ", "WRITE"],
};

function member(roleKey: string | null, permissions: readonly Action[] = roleKey ? ROLE_PERMISSIONS[roleKey] : []): Principal {
  return { id: `sa-${roleKey}`, kind: "SERVICE", displayName: `${roleKey} account`, organizationId: "org-1", roleKey, permissions: new Set(permissions) };
}

const platform: Principal = { id: "pk-1", kind: "PLATFORM", displayName: "bootstrap", organizationId: null, roleKey: null, permissions: new Set(ACTIONS) };

const PUBLIC: OperationRule = { requires: [], scope: "PUBLIC" };
const AUTHENTICATED: OperationRule = { requires: [], scope: "AUTHENTICATED" };
const READ: OperationRule = { requires: ["READ"], scope: "ORGANIZATION" };
const ADMIN: OperationRule = { requires: ["ADMIN"], scope: "ORGANIZATION" };
const ADMIN_DELETE: OperationRule = { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" };
const PLATFORM_ONLY: OperationRule = { requires: ["ADMIN"], scope: "PLATFORM" };

/** "ok", or "<CODE>: <message>". */
function outcome(result: true | AppError): string {
  return result === true ? "ok" : `${result.code}: ${result.message}`;
}

describe("decide", () => {
  // prettier-ignore
  const TABLE: Array<[string, OperationRule, Principal | null, string]> = [
    ["public, no credential",            PUBLIC,        null,                   "ok"],
    ["public, viewer",                   PUBLIC,        member("viewer"),       "ok"],
    ["authenticated, viewer",            AUTHENTICATED, member("viewer"),       "ok"],
    ["authenticated, role-less member",  AUTHENTICATED, member(null),           "ok"],
    ["read, viewer",                     READ,          member("viewer"),       "ok"],
    ["read, role-less member",           READ,          member(null),           "FORBIDDEN: Missing permission: read"],
    ["admin, admin",                     ADMIN,         member("admin"),        "ok"],
    ["admin, developer",                 ADMIN,         member("developer"),    "FORBIDDEN: Missing permission: admin"],
    ["admin, service",                   ADMIN,         member("service"),      "FORBIDDEN: Missing permission: admin"],
    ["admin+delete, admin",              ADMIN_DELETE,  member("admin"),        "ok"],
    ["admin+delete, viewer",             ADMIN_DELETE,  member("viewer"),       "FORBIDDEN: Missing permission: admin, delete"],
    ["admin+delete, admin without delete", ADMIN_DELETE, member("custom", ["READ", "WRITE", "ADMIN"]), "FORBIDDEN: Missing permission: delete"],
    ["platform scope, platform",         PLATFORM_ONLY, platform,               "ok"],
    ["platform scope, organization admin", PLATFORM_ONLY, member("admin"),      "FORBIDDEN: Missing permission: platform"],
    ["organization scope, platform",     ADMIN_DELETE,  platform,               "ok"],
  ];

  test.each(TABLE)("%s → %s", (_name, rule, principal, expected) => {
    expect(outcome(decide(rule, principal, null))).toBe(expected);
  });

  test("FORBIDDEN lists the missing actions, lower-case, in extensions.missing too", () => {
    const result = decide(ADMIN_DELETE, member("developer"), null) as AppError;
    expect(result.extensions).toEqual({ code: "FORBIDDEN", missing: ["admin", "delete"] });
  });

  test.each([AUTHENTICATED, READ, ADMIN_DELETE, PLATFORM_ONLY])("no principal and no credential → UNAUTHENTICATED (%o)", (rule) => {
    const result = decide(rule, null, null);
    expect(result).toBeInstanceOf(UnauthenticatedError);
    expect((result as AppError).code).toBe("UNAUTHENTICATED");
  });

  test("a refused credential → exactly the error that says why", () => {
    const refused = new UnauthenticatedError("Invalid or revoked API key");
    expect(decide(ADMIN, null, refused)).toBe(refused);
    const expired = new AppError("TOKEN_EXPIRED", "token expired");
    expect(decide(READ, null, expired)).toBe(expired);
  });

  test("a refused credential does not stop a PUBLIC operation", () => {
    expect(decide(PUBLIC, null, new UnauthenticatedError("Invalid or revoked API key"))).toBe(true);
  });
});

describe("decideAction (can)", () => {
  // prettier-ignore
  const TABLE: Array<[Principal, Action, boolean, string]> = [
    [member("developer"), "READ",   true,  "Role developer grants read"],
    [member("developer"), "DELETE", false, "Missing permission: delete (role developer does not grant it)"],
    [member("viewer"),    "WRITE",  false, "Missing permission: write (role viewer does not grant it)"],
    [member("admin"),     "ADMIN",  true,  "Role admin grants admin"],
    [member("service"),   "ADMIN",  false, "Missing permission: admin (role service does not grant it)"],
    [member(null),        "READ",   false, "Missing permission: read (role no role does not grant it)"],
    [platform,            "DELETE", true,  "Platform principals may do everything"],
  ];

  test.each(TABLE)("%# %s may %s → %s", (principal, action, allowed, reason) => {
    expect(decideAction(principal, action)).toEqual({ allowed, reason });
  });

  test("every action against every role follows the role table", () => {
    for (const [roleKey, permissions] of Object.entries(ROLE_PERMISSIONS)) {
      for (const action of ACTIONS) {
        expect([roleKey, action, decideAction(member(roleKey), action).allowed]).toEqual([roleKey, action, permissions.includes(action)]);
      }
    }
  });
});
