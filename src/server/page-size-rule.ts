/**
 * `first: 100000` written into a query is refused as BAD_USER_INPUT (gql-05) during validation,
 * before graphql-armor's cost limit, which would otherwise multiply the literal into a cost error.
 * Page sizes passed as variables are bounded by the resolvers (src/shared/pagination.ts).
 */
import { Kind, visit, type ASTVisitor, type DocumentNode, type ValidationContext, type ValidationRule } from "graphql";
import { BadUserInputError } from "../shared/errors";
import { MAX_PAGE_SIZE } from "../shared/pagination";

function oversizePage(document: DocumentNode): number | null {
  let found: number | null = null;
  visit(document, {
    Argument(node) {
      if (node.name.value === "first" && node.value.kind === Kind.INT) {
        const value = Number.parseInt(node.value.value, 10);
        if (value > MAX_PAGE_SIZE || value < 1) found ??= value;
      }
    },
  });
  return found;
}

/** Reports the oversize page and keeps the wrapped rules (cost limit) from also reporting it. */
export function withPageSizeBound(rules: readonly ValidationRule[]): ValidationRule[] {
  const verdicts = new WeakMap<DocumentNode, number | null>();
  const oversize = (context: ValidationContext) => {
    const document = context.getDocument();
    if (!verdicts.has(document)) verdicts.set(document, oversizePage(document));
    return verdicts.get(document)!;
  };
  const pageSizeRule: ValidationRule = (context): ASTVisitor => {
    const value = oversize(context);
    if (value !== null) context.reportError(new BadUserInputError("first", `first must be between 1 and ${MAX_PAGE_SIZE}, got ${value}`));
    return {};
  };
  return [pageSizeRule, ...rules.map((rule): ValidationRule => (context) => (oversize(context) === null ? rule(context) : {}))];
}
