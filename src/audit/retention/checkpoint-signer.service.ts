/**
 * Signs and verifies retention checkpoints.
 *
 * Rules:
 * - HMAC-SHA256 with a dedicated key: 32 random bytes, stored only sealed with RBAC_ENCRYPTION_KEY
 *   (SecretBox, bound to its key id). Whoever can write the database but does not hold the
 *   encryption key can neither read nor forge a key, so cannot forge a checkpoint.
 * - The signature covers every field that gives a checkpoint meaning (stream, sequence, hash,
 *   count, cutoff, time, key id) in a fixed canonical encoding with a version tag.
 * - Verification compares in constant time; an unknown key, a key that does not open, or a
 *   malformed signature is simply "not valid" (never an exception).
 * - Keys are append-only in the database; a new key is created only when none opens (first use,
 *   or after RBAC_ENCRYPTION_KEY was replaced — older checkpoints then no longer verify).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { SecretBox } from "../../shared/secret-box";
import { AuditCheckpointKeyEntity, type AuditCheckpointEntity } from "./audit-checkpoint.entity";

type SignedFields = Pick<AuditCheckpointEntity, "stream" | "throughSequence" | "throughHash" | "entryCount" | "olderThan" | "createdAt" | "keyId">;

/** The bytes a checkpoint's signature covers. */
export function checkpointPayload(c: SignedFields): string {
  return JSON.stringify([
    "audit-checkpoint/v1", c.keyId, c.stream, c.throughSequence, c.throughHash, c.entryCount, c.olderThan.toISOString(), c.createdAt.toISOString(),
  ]);
}

export class CheckpointSigner {
  /** Opened keys by id. A key id's sealed value is bound to that id, so the cache cannot be poisoned. */
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly secrets: SecretBox) {}

  /** Sets keyId and signature on the checkpoint with the newest key that opens (creating one if none does). */
  async sign(em: EntityManager, checkpoint: AuditCheckpointEntity): Promise<void> {
    const { keyId, key } = await this.currentKey(em);
    checkpoint.keyId = keyId;
    checkpoint.signature = hmac(key, checkpointPayload(checkpoint));
  }

  async verify(em: EntityManager, checkpoint: AuditCheckpointEntity): Promise<boolean> {
    const key = await this.keyById(em, checkpoint.keyId);
    if (!key) return false;
    const expected = Buffer.from(hmac(key, checkpointPayload(checkpoint)));
    const given = Buffer.from(String(checkpoint.signature));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async currentKey(em: EntityManager): Promise<{ keyId: string; key: Buffer }> {
    const rows = await em.find(AuditCheckpointKeyEntity, { order: { createdAt: "DESC", keyId: "ASC" } });
    for (const row of rows) {
      const key = this.open(row);
      if (key) return { keyId: row.keyId, key };
    }
    const key = randomBytes(32);
    const row = new AuditCheckpointKeyEntity();
    row.keyId = randomUUID();
    row.keySealed = this.secrets.seal(key.toString("base64url"), purpose(row.keyId));
    row.createdAt = new Date();
    await em.insert(AuditCheckpointKeyEntity, row);
    this.keys.set(row.keyId, key);
    return { keyId: row.keyId, key };
  }

  private async keyById(em: EntityManager, keyId: string): Promise<Buffer | null> {
    const cached = this.keys.get(keyId);
    if (cached) return cached;
    const row = await em.findOne(AuditCheckpointKeyEntity, { where: { keyId } });
    return row ? this.open(row) : null;
  }

  private open(row: AuditCheckpointKeyEntity): Buffer | null {
    const cached = this.keys.get(row.keyId);
    if (cached) return cached;
    try {
      const key = Buffer.from(this.secrets.open(row.keySealed, purpose(row.keyId)), "base64url");
      if (key.length !== 32) return null;
      this.keys.set(row.keyId, key);
      return key;
    } catch {
      return null; // sealed with another encryption key, or tampered with
    }
  }
}

const purpose = (keyId: string) => `audit-checkpoint-key:${keyId}`;

function hmac(key: Buffer, payload: string): string {
  return createHmac("sha256", key).update(payload, "utf8").digest("base64url");
}
