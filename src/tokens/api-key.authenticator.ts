/**
 * Authenticates platform keys and service-account keys.
 *
 * Rules:
 * - Looked up by SHA-256. Valid keys are kept in a bounded cache that every revocation (on any
 *   instance) empties through the change feed, so a revoked key still fails at once.
 * - `rbac_sk_` keys are service accounts; any other key without dots is a platform key (the
 *   bootstrap key may be any operator-chosen value of 32+ characters). JWTs contain dots and are
 *   never taken for API keys.
 * - lastUsedAt is refreshed at most once a minute per key, off the request path.
 */
import type { Logger } from "pino";
import type { ChangeFeed } from "../db/change-feed";
import type { Database } from "../db/database";
import { VersionedCache, type CacheObserver } from "../shared/versioned-cache";
import { UnauthenticatedError } from "../shared/errors";
import { ACTIONS, type Principal } from "../shared/principal";
import type { RoleService } from "../roles/role.service";
import { ServiceAccountEntity } from "../service-accounts/service-account.entity";
import { hashKey, sameHash, SERVICE_KEY_PREFIX } from "./api-key";
import type { Authenticator } from "./authentication";
import { PlatformKeyEntity } from "./platform-key.entity";

const LAST_USED_INTERVAL_MS = 60_000;
const ALL_ACTIONS = new Set(ACTIONS);
const CACHE_MAX = 10_000;
const CACHE_MAX_AGE_MS = 60_000;

export class ApiKeyAuthenticator implements Authenticator {
  private readonly lastUsedWrites = new Map<string, number>();
  private readonly param: string;
  private readonly cache: VersionedCache<string, Principal>;

  constructor(
    private readonly db: Database,
    private readonly roles: RoleService,
    private readonly logger: Logger,
    changes: ChangeFeed,
    observe?: CacheObserver,
  ) {
    this.param = db.dialect === "postgres" ? "$1" : "?";
    this.cache = new VersionedCache(changes, "credentials", { max: CACHE_MAX, maxAgeMs: CACHE_MAX_AGE_MS, observe });
  }

  accepts(credential: string): boolean {
    return !credential.includes(".");
  }

  async authenticate(credential: string): Promise<Principal> {
    const keyHash = hashKey(credential);
    const principal = await this.cache.get(keyHash, () => (credential.startsWith(SERVICE_KEY_PREFIX) ? this.serviceAccount(keyHash) : this.platformKey(keyHash)));
    if (!principal) throw invalidKey();
    this.touch(principal);
    return principal;
  }

  private async serviceAccount(keyHash: string): Promise<Principal | null> {
    // One plain indexed lookup per request (TypeORM's find costs more than the query itself).
    const [account] = (await this.db.manager.query(
      `SELECT "id", "organizationId", "name", "roleKey", "keyHash", "revokedAt" FROM "service_account" WHERE "keyHash" = ${this.param}`,
      [keyHash],
    )) as Array<Pick<ServiceAccountEntity, "id" | "organizationId" | "name" | "roleKey" | "keyHash"> & { revokedAt: string | null }>;
    if (!account || !sameHash(account.keyHash, keyHash) || account.revokedAt) return null;
    const role = this.roles.find(account.roleKey);
    if (!role) return null;
    return {
      id: account.id,
      kind: "SERVICE",
      displayName: account.name,
      organizationId: account.organizationId,
      roleKey: role.key,
      permissions: role.permissionSet,
    };
  }

  private async platformKey(keyHash: string): Promise<Principal | null> {
    const [key] = (await this.db.manager.query(`SELECT "id", "name", "keyHash", "revokedAt" FROM "platform_key" WHERE "keyHash" = ${this.param}`, [keyHash])) as Array<
      Pick<PlatformKeyEntity, "id" | "name" | "keyHash"> & { revokedAt: string | null }
    >;
    if (!key || !sameHash(key.keyHash, keyHash) || key.revokedAt) return null;
    return { id: key.id, kind: "PLATFORM", displayName: key.name, organizationId: null, roleKey: null, permissions: ALL_ACTIONS };
  }

  private touch(principal: Principal): void {
    const entity = principal.kind === "SERVICE" ? ServiceAccountEntity : PlatformKeyEntity;
    const id = principal.id;
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
