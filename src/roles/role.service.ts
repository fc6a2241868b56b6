/**
 * The role table, held in memory. Built-in roles are immutable data, so they are read once at start.
 *
 * Rules:
 * - An unknown role key is a BAD_USER_INPUT naming the known keys.
 * - No caller may grant (map, default, or give to a service account) a role holding a permission the
 *   caller lacks (acl-08).
 * - Roles not assignable to people (`service`) never come from SSO: not mappable, not a default role.
 */
import { BadUserInputError, ForbiddenError } from "../shared/errors";
import { ACTIONS, missingActions, type Action, type Principal } from "../shared/principal";
import type { Database } from "../db/database";
import { RoleEntity } from "./role.entity";

export interface Role {
  key: string;
  name: string;
  description: string | null;
  builtIn: boolean;
  permissions: Action[];
  permissionSet: ReadonlySet<Action>;
  assignableToPeople: boolean;
}

export class RoleService {
  private roles = new Map<string, Role>();

  async load(db: Database): Promise<void> {
    const rows = await db.manager.find(RoleEntity, { order: { key: "ASC" } });
    this.roles = new Map(rows.map((row) => [row.key, toRole(row)]));
  }

  all(): Role[] {
    return [...this.roles.values()];
  }

  find(key: string | null | undefined): Role | null {
    return key ? this.roles.get(key) ?? null : null;
  }

  /** For input: the role or a BAD_USER_INPUT naming the field and the valid keys. */
  require(key: string, field: string): Role {
    const role = this.roles.get(key);
    if (!role) throw new BadUserInputError(field, `Unknown role "${key}"; expected one of: ${[...this.roles.keys()].join(", ")}`);
    return role;
  }

  requireForPeople(key: string, field: string): Role {
    const role = this.require(key, field);
    if (!role.assignableToPeople) {
      throw new BadUserInputError(field, `The ${role.key} role is for API keys only and cannot be given to people through SSO`);
    }
    return role;
  }

  assertCanGrant(principal: Principal, role: Role): void {
    const missing = missingActions(principal, role.permissions);
    if (missing.length > 0) throw new ForbiddenError(missing.map((a) => a.toLowerCase()));
  }
}

function toRole(row: RoleEntity): Role {
  const permissions = row.permissions
    .split(",")
    .filter((p): p is Action => (ACTIONS as readonly string[]).includes(p));
  return {
    key: row.key,
    name: row.name,
    description: row.description,
    builtIn: row.builtIn,
    permissions,
    permissionSet: new Set(permissions),
    assignableToPeople: row.assignableToPeople,
  };
}
