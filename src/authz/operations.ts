import type { Action } from "../shared/principal";

/**
 * Table 2 — every root GraphQL field → the actions it requires and its scope. The shield rules are
 * generated from this table (src/authz/rules.ts) and `operationPermissions` publishes it.
 * `Http.*` rows are HTTP routes beside /graphql; they decide with the same decide().
 *
 * Scopes:
 * - PUBLIC         anyone, even without a credential
 * - AUTHENTICATED  any valid credential
 * - ORGANIZATION   a principal of an organization whose role grants `requires`, or a platform
 *                  principal; the resolver limits the data to the caller's organization
 *                  (other organizations' objects answer NOT_FOUND)
 * - PLATFORM       platform principals only
 */
export type Scope = "PUBLIC" | "AUTHENTICATED" | "ORGANIZATION" | "PLATFORM";

export interface OperationRule {
  requires: readonly Action[];
  scope: Scope;
}

export const OPERATIONS = {
  "Query.me": { requires: [], scope: "AUTHENTICATED" },
  "Query.can": { requires: [], scope: "AUTHENTICATED" },
  "Query.checkPermissions": { requires: [], scope: "AUTHENTICATED" },
  "Query.roles": { requires: [], scope: "AUTHENTICATED" },
  "Query.operationPermissions": { requires: [], scope: "PUBLIC" },
  "Query.organizations": { requires: ["READ"], scope: "ORGANIZATION" },
  "Query.organization": { requires: ["READ"], scope: "ORGANIZATION" },
  "Query.roleMappings": { requires: ["READ"], scope: "ORGANIZATION" },
  "Query.serviceAccounts": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.auditEntries": { requires: ["READ"], scope: "ORGANIZATION" },
  "Query.verifyAuditChain": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.auditCheckpoints": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  /** Retention purge: operators only (it removes entries of every organization). */
  "Mutation.purgeAuditEntries": { requires: ["ADMIN", "DELETE"], scope: "PLATFORM" },
  /** GET /audit/export (an HTTP route, not a GraphQL field): auditors are viewers. */
  "Http.auditExport": { requires: ["READ"], scope: "ORGANIZATION" },
  "Query.loginOptions": { requires: [], scope: "PUBLIC" },
  "Query.signingKeys": { requires: ["ADMIN"], scope: "PLATFORM" },
  "Mutation.rotateSigningKey": { requires: ["ADMIN"], scope: "PLATFORM" },
  "Mutation.retireSigningKey": { requires: ["ADMIN", "DELETE"], scope: "PLATFORM" },
  "Query.users": { requires: ["ADMIN"], scope: "ORGANIZATION" },

  "Mutation.createOrganization": { requires: ["ADMIN"], scope: "PLATFORM" },
  "Mutation.updateOrganization": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deleteOrganization": { requires: ["ADMIN", "DELETE"], scope: "PLATFORM" },
  "Mutation.createRoleMapping": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.updateRoleMapping": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deleteRoleMapping": { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" },
  "Mutation.createServiceAccount": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.revokeServiceAccount": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deactivateUser": { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" },
  "Query.oidcConnections": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.testOidcConnection": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.createOidcConnection": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.updateOidcConnection": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deleteOidcConnection": { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" },
  "Query.samlConnections": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.testSamlConnection": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.createSamlConnection": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.updateSamlConnection": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.importSamlMetadata": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deleteSamlConnection": { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" },
  "Mutation.createPasswordUser": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.setUserPassword": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  /** SIEM log streams (src/audit/streams): configuration and delivery log. */
  "Query.logStreams": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.logStreamDeliveries": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.createLogStream": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.updateLogStream": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.rotateLogStreamSecret": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deleteLogStream": { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" },
  /** Suspicious-activity alerts (src/audit/alerts): auditors (viewers) read them, admins act on them. */
  "Query.alerts": { requires: ["READ"], scope: "ORGANIZATION" },
  "Mutation.acknowledgeAlert": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.alertRules": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.updateAlertRule": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Query.alertWebhooks": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.createAlertWebhook": { requires: ["ADMIN"], scope: "ORGANIZATION" },
  "Mutation.deleteAlertWebhook": { requires: ["ADMIN", "DELETE"], scope: "ORGANIZATION" },
  /** Over graphql-ws on /graphql; the WebSocket server decides with the same decide() (src/audit/alerts/alert-subscription.routes.ts). */
  "Subscription.alertRaised": { requires: ["READ"], scope: "ORGANIZATION" },
} as const satisfies Record<string, OperationRule>;

export type OperationName = keyof typeof OPERATIONS;

export function operationRule(operation: string): OperationRule | undefined {
  return (OPERATIONS as Record<string, OperationRule>)[operation];
}

/**
 * Object types whose fields any caller who legitimately reached them may read. Reaching them is
 * guarded by the root fields above; a new type must be added here on purpose (deny by default).
 */
export const READABLE_OBJECT_TYPES = [
  "Principal",
  "Role",
  "Decision",
  "OperationPermission",
  "Organization",
  "OrganizationConnection",
  "OrganizationEdge",
  "RoleMapping",
  "ServiceAccount",
  "CreatedServiceAccount",
  "AuditEntry",
  "AuditEntryConnection",
  "AuditChainVerification",
  "AuditCheckpoint",
  "AuditEntryEdge",
  "PageInfo",
  "OidcConnection",
  "SsoConnectionTest",
  "LoginOptions",
  "SigningKey",
  "LoginOption",
  "User",
  "SamlConnection",
  "SamlCertificate",
  "LogStream",
  "LogStreamWithSecret",
  "LogStreamDelivery",
  "LogStreamDeliveryConnection",
  "LogStreamDeliveryEdge",
  "Alert",
  "AlertConnection",
  "AlertEdge",
  "AlertRuleSetting",
  "AlertWebhook",
  "AlertDelivery",
  "CreatedAlertWebhook",
] as const;
