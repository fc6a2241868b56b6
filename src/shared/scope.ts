/**
 * Tenant isolation helpers.
 *
 * Rules:
 * - A platform principal sees every organization; any other principal only its own.
 * - Asking for another organization's object answers exactly what asking for a missing one does:
 *   NOT_FOUND with the same message.
 */
import { NotFoundError } from "./errors";
import type { Principal } from "./principal";

export function canSeeOrganization(principal: Principal, organizationId: string): boolean {
  return principal.kind === "PLATFORM" || principal.organizationId === organizationId;
}

export function assertOrganizationVisible(principal: Principal, organizationId: string, what = "Organization", id = organizationId): void {
  if (!canSeeOrganization(principal, organizationId)) throw new NotFoundError(what, id);
}
