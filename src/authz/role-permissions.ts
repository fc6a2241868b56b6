import type { Action } from "../shared/principal";

/**
 * Table 1 — built-in roles and what they may do (the seed's table). Seeded into the `role` table by
 * the initial migration and immutable afterwards: no operation changes a built-in role.
 */
export interface BuiltInRole {
  key: string;
  name: string;
  description: string;
  permissions: readonly Action[];
  /** May a person get this role through SSO / a group mapping / the default role? */
  assignableToPeople: boolean;
}

export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  { key: "admin", name: "Admin", description: "Full access: platform administrators", permissions: ["READ", "WRITE", "DELETE", "ADMIN"], assignableToPeople: true },
  { key: "developer", name: "Developer", description: "Read/write, no delete: active development", permissions: ["READ", "WRITE"], assignableToPeople: true },
  { key: "viewer", name: "Viewer", description: "Read-only: stakeholders, auditors", permissions: ["READ"], assignableToPeople: true },
  { key: "service", name: "Service", description: "API access only: automated systems (API keys, never SSO)", permissions: ["READ", "WRITE"], assignableToPeople: false },
];
