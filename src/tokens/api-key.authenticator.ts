/**
 * Authenticates platform keys and service-account keys.
 *
 * Rules:
 * - Looked up by SHA-256 on every request, so a revoked key fails at once.
 * - `rbac_sk_` keys are service accounts; any other key without dots is a platform key (the
 *   bootstrap key may be any operator-chosen value of 32+ characters). JWTs contain dots and are
 *   never taken for API keys.
 * - lastUsedAt is refreshed at most once a minute per key, off the request path.
 */
import type { Logger } from "pino";
import type { Database } from "../db/database";
import { UnauthenticatedError } from "../shared/errors";
import { ACTIONS, type Principal } from "../shared/principal";
import type { RoleService } from "../roles/role.service";
import { ServiceAccountEntity } from "../service-accounts/service-account.entity";
import { hashKey, sameHash, SERVICE_KEY_PREFIX } from "./api-key";
import type { Authenticator } from "./authentication";
import { PlatformKeyEntity } from "./platform-key.entity";

const LAST_USED_INTERVAL_MS = 60_000;
const ALL_ACTIONS = new Set(ACTIONS);

export class ApiKeyAuthenticator implements Authenticator {
  private readonly lastUsedWrites = new Map<string, number>();
  private readonly param: string;

  constructor(
    private readonly db: Database,
    private readonly roles: RoleService,
    private readonly logger: Logger,
  ) {
    this.param = db.dialect === "postgres" ? "$1" : "?";
  }

  accepts(credential: string): boolean {
    return !credential.includes(".");
  }

  async authenticate(credential: string): Promise<Principal> {
    const keyHash = hashKey(credential);
    return credential.startsWith(SERVICE_KEY_PREFIX) ? this.serviceAccount(keyHash) : this.platformKey(keyHash);
  }

  private async serviceAccount(keyHash: string): Promise<Principal> {
    // One plain indexed lookup per request (TypeORM's find costs more than the query itself).
    const [account] = (await this.db.manager.query(
      `SELECT "id", "organizationId", "name", "roleKey", "keyHash", "revokedAt" FROM "service_account" WHERE "keyHash" = ${this.param}`,
      [keyHash],
    )) as Array<Pick<ServiceAccountEntity, "id" | "organizationId" | "name" | "roleKey" | "keyHash"> & { revokedAt: string | null }>;
    if (!account || !sameHash(account.keyHash, keyHash) || account.revokedAt) throw invalidKey();
    const role = this.roles.find(account.roleKey);
    if (!role) throw invalidKey();
    this.touch(ServiceAccountEntity, account.id);
    return {
      id: account.id,
      kind: "SERVICE",
      displayName: account.name,
      organizationId: account.organizationId,
      roleKey: role.key,
      permissions: role.permissionSet,
    };
  }

  private async platformKey(keyHash: string): Promise<Principal> {
    const [key] = (await this.db.manager.query(`SELECT "id", "name", "keyHash", "revokedAt" FROM "platform_key" WHERE "keyHash" = ${this.param}`, [keyHash])) as Array<
      Pick<PlatformKeyEntity, "id" | "name" | "keyHash"> & { revokedAt: string | null }
    >;
    if (!key || !sameHash(key.keyHash, keyHash) || key.revokedAt) throw invalidKey();
    this.touch(PlatformKeyEntity, key.id);
    return { id: key.id, kind: "PLATFORM", displayName: key.name, organizationId: null, roleKey: null, permissions: ALL_ACTIONS };
  }

  private touch(entity: typeof ServiceAccountEntity | typeof PlatformKeyEntity, id: string): void {
    const now = Date.now();
    if (now - (this.lastUsedWrites.get(id) ?? 0) < LAST_USED_INTERVAL_MS) return;
    this.lastUsedWrites.set(id, now);
    this.db
      .transaction((em) => em.update(entity, { id }, { lastUsedAt: new Date(now) }))
      .catch((error) => this.logger.warn({ err: error, keyId: id }, "could not record lastUsedAt"));
  }
}

function invalidKey(): UnauthenticatedError {
  return new UnauthenticatedError("Invalid or revoked API key");
}
