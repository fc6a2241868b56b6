/**
 * acl-04: an organization keeps at least one way to have an admin.
 *
 * Rules:
 * - The paths to an admin role are the organization's mappings to a role holding ADMIN, plus its
 *   default role when that holds ADMIN.
 * - A change that takes the count from one or more to zero is refused, unless a platform principal
 *   forces it (`force: true`); anyone else asking to force is FORBIDDEN.
 * - The organization row is locked first (PostgreSQL FOR UPDATE; SQLite transactions are
 *   serialized), so two concurrent demotions cannot both see "one other path left".
 */
import type { EntityManager } from "typeorm";
import { In } from "typeorm";
import type { Database } from "../db/database";
import { AppError, ForbiddenError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import { OrganizationEntity } from "../organizations/organization.entity";
import type { RoleService } from "../roles/role.service";
import { RoleMappingEntity } from "./role-mapping.entity";

export class AdminPathGuard {
  constructor(
    private readonly db: Database,
    private readonly roles: RoleService,
  ) {}

  /** Refuses `force` from non-platform callers; locks the organization and counts its admin paths. */
  async before(em: EntityManager, principal: Principal, organizationId: string, force: boolean): Promise<number> {
    if (force && principal.kind !== "PLATFORM") throw new ForbiddenError(["platform"]);
    if (this.db.dialect === "postgres") await em.query(`SELECT "id" FROM "organization" WHERE "id" = $1 FOR UPDATE`, [organizationId]);
    return this.count(em, organizationId);
  }

  async after(em: EntityManager, principal: Principal, organizationId: string, before: number, force: boolean): Promise<void> {
    if (before === 0 || (force && principal.kind === "PLATFORM")) return;
    if ((await this.count(em, organizationId)) > 0) return;
    throw new AppError(
      "CONFLICT",
      "This change would remove the last way to become admin in this organization; map another group to admin first, or ask a platform operator to force it",
      { extensions: { reason: "LAST_ADMIN_PATH" } },
    );
  }

  private async count(em: EntityManager, organizationId: string): Promise<number> {
    const adminRoles = this.roles.all().filter((r) => r.permissionSet.has("ADMIN")).map((r) => r.key);
    const mappings = await em.count(RoleMappingEntity, { where: { organizationId, roleKey: In(adminRoles) } });
    const org = await em.findOne(OrganizationEntity, { where: { id: organizationId }, select: { id: true, defaultRoleKey: true } });
    return mappings + (org?.defaultRoleKey && adminRoles.includes(org.defaultRoleKey) ? 1 : 0);
  }
}
