/** Who is calling. Resolvers and rules only ever see this shape, whatever the credential was. */
export const ACTIONS = ["READ", "WRITE", "DELETE", "ADMIN"] as const;
export type Action = (typeof ACTIONS)[number];

export type PrincipalKind = "PLATFORM" | "USER" | "SERVICE";

export interface Principal {
  /** Stable id of the actor: platform key id, service account id or user id. */
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly displayName: string;
  /** null only for PLATFORM principals, which act across organizations. */
  readonly organizationId: string | null;
  readonly roleKey: string | null;
  readonly permissions: ReadonlySet<Action>;
  /** USER principals: the IdP groups of their last login and the mapping that gave the role. */
  readonly groups?: readonly string[];
  readonly roleMappingId?: string | null;
}

export function missingActions(principal: Principal, required: readonly Action[]): Action[] {
  return required.filter((action) => !principal.permissions.has(action));
}

export function isPlatform(principal: Principal | null): principal is Principal {
  return principal?.kind === "PLATFORM";
}
