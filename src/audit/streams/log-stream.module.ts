import type { AuditModule, AuditModuleDeps } from "../audit-module";

/** GraphQL resolver classes of this module (built into the schema by src/server/schema.ts). */
export const LOG_STREAM_RESOLVERS: Function[] = [];

export function createLogStreamModule(_deps: AuditModuleDeps): AuditModule {
  return { resolvers: [] };
}
