/**
 * src/roles/role.service.ts over the real role table: a SQLite database built by the migrations,
 * loaded like the service does at start (no stub).
 */
import type { DataSource } from "typeorm";
import { createDataSource } from "../../src/db/data-source";
import { Database } from "../../src/db/database";
import { RoleService } from "../../src/roles/role.service";
import { AppError } from "../../src/shared/errors";
import { ACTIONS, type Action, type Principal } from "../../src/shared/principal";

let dataSource: DataSource;
const roles = new RoleService();

beforeAll(async () => {
  dataSource = createDataSource("sqlite::memory:");
  await dataSource.initialize();
  await dataSource.runMigrations();
  await roles.load(new Database(dataSource));
});
afterAll(() => dataSource?.destroy());

function accountWithRole(roleKey: string): Principal {
  const role = roles.find(roleKey)!;
  return { id: `sa-${roleKey}`, kind: "SERVICE", displayName: roleKey, organizationId: "org-1", roleKey, permissions: role.permissionSet };
}

function custom(permissions: Action[]): Principal {
  return { id: "custom", kind: "SERVICE", displayName: "custom", organizationId: "org-1", roleKey: "custom", permissions: new Set(permissions) };
}

const platform: Principal = { id: "pk", kind: "PLATFORM", displayName: "bootstrap", organizationId: null, roleKey: null, permissions: new Set(ACTIONS) };

/** "ok" or "<CODE>: <message>". */
function grant(principal: Principal, roleKey: string): string {
  try {
    roles.assertCanGrant(principal, roles.require(roleKey, "roleKey"));
    return "ok";
  } catch (error) {
    if (error instanceof AppError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe("RoleService loaded from the migrated database", () => {
  test("holds the four built-in roles of the seed's table", () => {
    const table = Object.fromEntries(roles.all().map((r) => [r.key, [...r.permissions].sort()]));
    expect(table).toEqual({
      admin: ["ADMIN", "DELETE", "READ", "WRITE"],
      developer: ["READ", "WRITE"],
      viewer: ["READ"],
      service: ["READ", "WRITE"],
    });
    expect(roles.all().every((r) => r.builtIn)).toBe(true);
  });

  test("an unknown role key → BAD_USER_INPUT naming the field and the known keys", () => {
    let error: unknown;
    try {
      roles.require("superuser", "roleKey");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "roleKey" });
    expect((error as AppError).message).toMatch(/admin.*developer.*service.*viewer/);
  });

  test("role keys are exact: `Admin` is not `admin`", () => {
    expect(roles.find("Admin")).toBeNull();
    expect(() => roles.require("Admin", "roleKey")).toThrow(AppError);
  });

  test("the service role cannot be given to people; the others can", () => {
    expect(() => roles.requireForPeople("service", "roleKey")).toThrow(/API keys only/);
    for (const key of ["admin", "developer", "viewer"]) expect(roles.requireForPeople(key, "roleKey").key).toBe(key);
  });
});

describe("acl-08 RoleService.assertCanGrant: no caller grants a permission it lacks", () => {
  /** The callers, built once the role table is loaded. */
  const GRANTERS: Record<string, () => Principal> = {
    admin: () => accountWithRole("admin"),
    developer: () => accountWithRole("developer"),
    viewer: () => accountWithRole("viewer"),
    service: () => accountWithRole("service"),
    "read+write+admin (no delete)": () => custom(["READ", "WRITE", "ADMIN"]),
    platform: () => platform,
  };

  // prettier-ignore
  const TABLE: Array<[string, string, string]> = [
    ["admin",                        "admin",     "ok"],
    ["admin",                        "viewer",    "ok"],
    ["developer",                    "admin",     "FORBIDDEN: Missing permission: delete, admin"],
    ["developer",                    "developer", "ok"],
    ["developer",                    "service",   "ok"],
    ["viewer",                       "developer", "FORBIDDEN: Missing permission: write"],
    ["viewer",                       "admin",     "FORBIDDEN: Missing permission: write, delete, admin"],
    ["viewer",                       "viewer",    "ok"],
    ["service",                      "admin",     "FORBIDDEN: Missing permission: delete, admin"],
    ["read+write+admin (no delete)", "admin",     "FORBIDDEN: Missing permission: delete"],
    ["read+write+admin (no delete)", "developer", "ok"],
    ["platform",                     "admin",     "ok"],
  ];

  test.each(TABLE)("acl-08 %s granting %s → %s", (granter, roleKey, expected) => {
    expect(grant(GRANTERS[granter](), roleKey)).toBe(expected);
  });

  test("acl-08 a principal lacking DELETE cannot grant admin; the error lists what is missing", () => {
    let error: unknown;
    try {
      roles.assertCanGrant(custom(["READ", "WRITE", "ADMIN"]), roles.require("admin", "roleKey"));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("FORBIDDEN");
    expect((error as AppError).message).toBe("Missing permission: delete");
    expect((error as AppError).extensions).toMatchObject({ missing: ["delete"] });
  });
});
