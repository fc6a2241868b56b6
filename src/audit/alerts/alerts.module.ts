import type { AuditModule, AuditModuleDeps } from "../audit-module";

/** GraphQL resolver classes of this module (built into the schema by src/server/schema.ts). */
export const ALERT_RESOLVERS: Function[] = [];

export function createAlertsModule(_deps: AuditModuleDeps): AuditModule {
  return { resolvers: [] };
}
