import type { QueryRunner } from "typeorm";
import { BUILT_IN_ROLES } from "../../authz/role-permissions";

/** Inserts the built-in roles (shared by both dialects' initial migration). */
export async function seedBuiltInRoles(queryRunner: QueryRunner, placeholder: (i: number) => string): Promise<void> {
  for (const role of BUILT_IN_ROLES) {
    await queryRunner.query(
      `INSERT INTO "role" ("key", "name", "description", "builtIn", "permissions", "assignableToPeople") VALUES (${[1, 2, 3, 4, 5, 6].map(placeholder).join(", ")})`,
      [role.key, role.name, role.description, true, role.permissions.join(","), role.assignableToPeople],
    );
  }
}
