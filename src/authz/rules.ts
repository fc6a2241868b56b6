/**
 * Shield rules generated from the operation table: one rule per root field, an explicit `allow`
 * for each readable object type, and `deny` for everything else.
 *
 * Rules:
 * - fallbackRule is deny (graphql-shield's default is allow).
 * - allowExternalErrors is true so resolver errors keep their code; unknown errors are masked by
 *   the server's formatError instead of being turned into FORBIDDEN.
 * - The rules read only the context principal, never arguments, so no cache can carry one
 *   organization's answer to another; they are cheap, so they run uncached.
 */
import { allow, deny, rule, shield } from "graphql-shield";
import type { IRules } from "graphql-shield";
import { AppError } from "../shared/errors";
import type { RequestContext } from "../shared/context";
import { decide } from "./decide";
import { OPERATIONS, READABLE_OBJECT_TYPES, type OperationRule } from "./operations";

function ruleFor(operation: string, table: OperationRule) {
  return rule(`op:${operation}`, { cache: "no_cache" })(
    (_parent: unknown, _args: unknown, ctx: RequestContext) => decide(table, ctx.principal, ctx.credentialError),
  );
}

/** Root types of the GraphQL schema; other rows of the table (`Http.*`) are HTTP routes. */
const GRAPHQL_ROOT_TYPES = new Set(["Query", "Mutation", "Subscription"]);

export function buildRuleTree(): IRules {
  const tree: Record<string, Record<string, unknown> | unknown> = {};
  for (const [operation, table] of Object.entries(OPERATIONS)) {
    const [type, field] = operation.split(".");
    if (!GRAPHQL_ROOT_TYPES.has(type)) continue;
    const fields = (tree[type] ??= {}) as Record<string, unknown>;
    fields[field] = ruleFor(operation, table);
  }
  for (const type of READABLE_OBJECT_TYPES) tree[type] = allow;
  return tree as IRules;
}

export function buildShield() {
  return shield(buildRuleTree(), {
    fallbackRule: deny,
    allowExternalErrors: true,
    debug: false,
    fallbackError: () => new AppError("FORBIDDEN", "Access denied: this field has no access rule"),
  });
}
