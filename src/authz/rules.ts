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
 * - Fields whose rule is the constant `allow` (every field of a readable object type) get their
 *   own resolver back after shield is applied (`withoutAllowWrappers`): shield would let them
 *   through anyway, and its wrapper makes every field of every result asynchronous.
 */
import { isObjectType, type GraphQLSchema } from "graphql";
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

/**
 * `shielded` with the resolvers of `unshielded` put back on the fields of READABLE_OBJECT_TYPES
 * (their rule is `allow`). Root fields and every other type keep shield's wrapper and rules.
 */
export function withoutAllowWrappers(shielded: GraphQLSchema, unshielded: GraphQLSchema): GraphQLSchema {
  for (const typeName of READABLE_OBJECT_TYPES) {
    const target = shielded.getType(typeName);
    const source = unshielded.getType(typeName);
    if (!isObjectType(target) || !isObjectType(source)) throw new Error(`readable type ${typeName} is not an object type of the schema`);
    const original = source.getFields();
    for (const [name, field] of Object.entries(target.getFields())) field.resolve = original[name]?.resolve;
  }
  return shielded;
}
