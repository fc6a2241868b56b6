/**
 * Authenticates users' access tokens (JWTs: three dot-separated parts).
 *
 * Rules:
 * - The token must verify (src/tokens/access-tokens.ts), and its session must still be active on
 *   every request: not revoked or past its lifetime, the user not deactivated, the user's current
 *   role equal to the token's. Logout, deprovisioning and demotion therefore act at once, not at
 *   token expiry (tok-09).
 */
import type { RoleService } from "../roles/role.service";
import { UnauthenticatedError } from "../shared/errors";
import type { Principal } from "../shared/principal";
import type { AccessTokens } from "./access-tokens";
import type { Authenticator } from "./authentication";
import type { SessionService } from "./session.service";

export class AccessTokenAuthenticator implements Authenticator {
  constructor(
    private readonly tokens: AccessTokens,
    private readonly sessions: SessionService,
    private readonly roles: RoleService,
  ) {}

  accepts(credential: string): boolean {
    return credential.split(".").length === 3;
  }

  async authenticate(credential: string): Promise<Principal> {
    const claims = await this.tokens.verify(credential);
    const active = await this.sessions.activeSession(claims.sid);
    if (!active || active.user.id !== claims.sub || active.session.roleKey !== claims.role || active.user.organizationId !== claims.org) {
      throw new UnauthenticatedError("Session ended: log in again");
    }
    const role = this.roles.find(active.session.roleKey);
    if (!role) throw new UnauthenticatedError("Session ended: log in again");
    return {
      id: active.user.id,
      kind: "USER",
      displayName: active.user.displayName ?? active.user.email ?? active.user.subject,
      organizationId: active.user.organizationId,
      roleKey: role.key,
      permissions: role.permissionSet,
      groups: JSON.parse(active.user.groups) as string[],
      roleMappingId: active.user.roleMappingId,
    };
  }
}
