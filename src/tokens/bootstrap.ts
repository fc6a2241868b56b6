/**
 * The first platform key.
 *
 * Rules:
 * - Only when no platform key exists: then RBAC_BOOTSTRAP_API_KEY (32+ characters) is registered
 *   as given, or a random key is issued; either way the caller prints it once.
 * - Once a platform key exists, the bootstrap value is ignored (and never stored again).
 * - Several instances starting together on PostgreSQL create exactly one key (advisory lock).
 */
import { randomUUID } from "node:crypto";
import type { Database } from "../db/database";
import { adoptKey, issueKey, PLATFORM_KEY_PREFIX } from "./api-key";
import { PlatformKeyEntity } from "./platform-key.entity";

export type BootstrapOutcome = { created: false } | { created: true; apiKey: string; fromEnvironment: boolean };

const BOOTSTRAP_LOCK_ID = 7_263_001;

export async function ensurePlatformKey(db: Database, bootstrapKey: string | undefined): Promise<BootstrapOutcome> {
  return db.transaction(async (em) => {
    if (db.dialect === "postgres") await em.query("SELECT pg_advisory_xact_lock($1)", [BOOTSTRAP_LOCK_ID]);
    if ((await em.count(PlatformKeyEntity)) > 0) return { created: false } as const;
    const issued = bootstrapKey ? adoptKey(bootstrapKey) : issueKey(PLATFORM_KEY_PREFIX);
    await em.insert(PlatformKeyEntity, {
      id: randomUUID(),
      name: "bootstrap",
      keyPrefix: issued.keyPrefix,
      keyHash: issued.keyHash,
      createdAt: new Date(),
      lastUsedAt: null,
      revokedAt: null,
    });
    return { created: true, apiKey: issued.key, fromEnvironment: Boolean(bootstrapKey) } as const;
  });
}
