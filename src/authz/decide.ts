/**
 * The one decision function behind every generated rule.
 *
 * Rules:
 * - PUBLIC passes; everything else needs a valid principal (else UNAUTHENTICATED, with the reason
 *   the credential was refused when one was sent).
 * - PLATFORM scope admits platform principals only.
 * - Otherwise the principal's permissions must include every required action; the error lists
 *   exactly what is missing: "Missing permission: delete".
 * - Organization isolation is not decided here: resolvers scope every lookup to the caller's
 *   organization so foreign ids answer NOT_FOUND, exactly like missing ones.
 */
import { AppError, ForbiddenError, UnauthenticatedError } from "../shared/errors";
import { missingActions, type Action, type Principal } from "../shared/principal";
import type { OperationRule } from "./operations";

export function decide(
  rule: OperationRule,
  principal: Principal | null,
  credentialError: AppError | null,
): true | AppError {
  if (rule.scope === "PUBLIC") return true;
  if (!principal) return credentialError ?? new UnauthenticatedError();
  if (principal.kind === "PLATFORM") return true;
  if (rule.scope === "PLATFORM") return new ForbiddenError(["platform"]);
  const missing = missingActions(principal, rule.requires);
  return missing.length === 0 ? true : new ForbiddenError(missing.map((a) => a.toLowerCase()));
}

export interface ActionDecision {
  allowed: boolean;
  reason: string;
}

/** `can(action)`: does the caller's role grant this action? */
export function decideAction(principal: Principal, action: Action): ActionDecision {
  const verb = action.toLowerCase();
  if (principal.kind === "PLATFORM") return { allowed: true, reason: "Platform principals may do everything" };
  const role = principal.roleKey ?? "no role";
  if (principal.permissions.has(action)) return { allowed: true, reason: `Role ${role} grants ${verb}` };
  return { allowed: false, reason: `Missing permission: ${verb} (role ${role} does not grant it)` };
}
