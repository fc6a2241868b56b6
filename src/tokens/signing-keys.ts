/**
 * Our token-signing keys.
 *
 * Rules:
 * - ES256 only; kid = the key's JWK thumbprint; private keys are sealed at rest (SecretBox).
 * - Exactly one key signs: the newest one not rotated out. It is replaced when it reaches the
 *   configured age (SIGNING_KEY_ROTATION_DAYS) or when an operator rotates it; one instance does it. A rotated key keeps verifying for the
 *   overlap (the access-token lifetime plus skew), then it is retired and its tokens are refused.
 * - Keys live in the database, so every instance signs and verifies with the same set; an unknown
 *   kid reloads the set at most once per cooldown (a flood of bogus kids cannot hammer the database).
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type JWK } from "jose";
import type { EntityManager } from "typeorm";
import type { Database } from "../db/database";
import type { SecretBox } from "../shared/secret-box";
import { SigningKeyEntity } from "./session.entity";

export const TOKEN_ALGORITHM = "ES256";
const RELOAD_COOLDOWN_MS = 5_000;
const KEY_LOCK_ID = 7_263_002;

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;
type SignKey = Awaited<ReturnType<typeof importPKCS8>>;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  verifyKey: VerifyKey;
  rotatedAt: Date | null;
  retiredAt: Date | null;
  createdAt: Date;
  sealedPrivateKey: string;
}

export class SigningKeys {
  private keys = new Map<string, LoadedKey>();
  private signer: { kid: string; key: SignKey } | null = null;
  private lastReload = 0;
  private scheduled: Promise<unknown> | null = null;

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
    private readonly overlapMs: number,
    /** The signing key is replaced once it is this old (0: only by `rotate()`). */
    private readonly rotateAfterMs = 0,
  ) {}

  /** Makes sure a signing key exists (one instance creates it) and loads the set. */
  async init(): Promise<void> {
    await this.db.transaction(async (em) => {
      if (this.db.dialect === "postgres") await em.query("SELECT pg_advisory_xact_lock($1)", [KEY_LOCK_ID]);
      const current = await em.createQueryBuilder(SigningKeyEntity, "k").where("k.rotatedAt IS NULL").getCount();
      if (current === 0) await em.insert(SigningKeyEntity, await this.newKey());
    });
    await this.reload();
  }

  /** Starts signing with a new key; the previous one verifies until the overlap ends. */
  /** `em`: the caller's transaction, when it holds one (a mutation); else a transaction of its own. */
  async rotate(now = new Date(), onlyIfOlderThan?: Date, em?: EntityManager): Promise<string> {
    const fresh = await this.newKey(now);
    const inTransaction = (work: (em: EntityManager) => Promise<string>) => (em ? work(em) : this.db.transaction(work));
    const rotated = await inTransaction(async (em) => {
      if (this.db.dialect === "postgres") await em.query("SELECT pg_advisory_xact_lock($1)", [KEY_LOCK_ID]);
      if (onlyIfOlderThan) {
        // Scheduled rotation: another instance may have done it already.
        const current = await em.createQueryBuilder(SigningKeyEntity, "k").where("k.rotatedAt IS NULL").orderBy("k.createdAt", "DESC").getOne();
        if (current && current.createdAt > onlyIfOlderThan) return current.kid;
      }
      await em
        .createQueryBuilder()
        .update(SigningKeyEntity)
        .set({ rotatedAt: now, retiredAt: new Date(now.getTime() + this.overlapMs) })
        .where("rotatedAt IS NULL")
        .execute();
      await em.insert(SigningKeyEntity, fresh);
      return fresh.kid;
    });
    await this.reload();
    return rotated;
  }

  /** Every key, newest first (public facts only). */
  async list(em: EntityManager = this.db.manager): Promise<Array<{ kid: string; algorithm: string; createdAt: Date; rotatedAt: Date | null; retiredAt: Date | null; active: boolean }>> {
    const rows = await em.find(SigningKeyEntity, { order: { createdAt: "DESC" } });
    return rows.map((r) => ({ kid: r.kid, algorithm: r.algorithm, createdAt: r.createdAt, rotatedAt: r.rotatedAt, retiredAt: r.retiredAt, active: !r.rotatedAt }));
  }

  /** Refuses a key's tokens from now on (compromise). Retiring the signing key rotates first. */
  async retire(kid: string, now = new Date(), em?: EntityManager): Promise<void> {
    const manager = em ?? this.db.manager;
    const row = await manager.findOne(SigningKeyEntity, { where: { kid } });
    if (!row) return;
    if (!row.rotatedAt) await this.rotate(now, undefined, em);
    if (em) await em.update(SigningKeyEntity, { kid }, { retiredAt: now, rotatedAt: now });
    else await this.db.transaction((tx) => tx.update(SigningKeyEntity, { kid }, { retiredAt: now, rotatedAt: now }));
    await this.reload();
  }

  /**
   * The key that signs now, as the database says (another instance may have rotated it). Callers
   * inside a transaction pass its manager: a second pool connection per transaction would let
   * `DATABASE_POOL_SIZE` concurrent transactions wait on each other forever.
   */
  async signingKey(em: EntityManager = this.db.manager): Promise<{ kid: string; key: SignKey }> {
    const active = await em
      .createQueryBuilder(SigningKeyEntity, "k")
      .select(["k.kid", "k.createdAt"])
      .where("k.rotatedAt IS NULL")
      .orderBy("k.createdAt", "DESC")
      .getOne();
    if (active && this.rotateAfterMs > 0 && Date.now() - active.createdAt.getTime() > this.rotateAfterMs) {
      // Never awaited here: callers may hold a transaction (SQLite queues transactions), and the
      // current key stays valid; the next signature uses the new one.
      this.scheduled ??= this.rotate(new Date(), new Date(Date.now() - this.rotateAfterMs))
        .catch(() => undefined)
        .finally(() => {
          this.scheduled = null;
        });
    }
    if (!this.signer || (active && active.kid !== this.signer.kid)) await this.reload(em);
    if (!this.signer) throw new Error("no active signing key");
    return this.signer;
  }

  /**
   * The key for a kid, if it may still verify. Retirement is read from the database on every call,
   * so a key retired by any instance is refused by all at once. Unknown kids reload the set at most
   * once per cooldown.
   */
  async verificationKey(kid: string, now = new Date()): Promise<VerifyKey | null> {
    let key = this.keys.get(kid);
    if (!key && Date.now() - this.lastReload > RELOAD_COOLDOWN_MS) {
      await this.reload();
      key = this.keys.get(kid);
    }
    if (!key) return null;
    const [row] = (await this.db.manager.query(`SELECT "retiredAt" FROM "signing_key" WHERE "kid" = ${this.db.dialect === "postgres" ? "$1" : "?"}`, [kid])) as Array<{
      retiredAt: string | null;
    }>;
    if (!row || (row.retiredAt && row.retiredAt <= now.toISOString())) return null;
    return key.verifyKey;
  }

  /** Public keys that may still verify, for /.well-known/jwks.json. */
  jwks(now = new Date()): { keys: JWK[] } {
    return {
      keys: [...this.keys.values()]
        .filter((k) => !k.retiredAt || k.retiredAt > now)
        .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: TOKEN_ALGORITHM, use: "sig" })),
    };
  }

  private async reload(em: EntityManager = this.db.manager): Promise<void> {
    this.lastReload = Date.now();
    const rows = await em.find(SigningKeyEntity, { order: { createdAt: "DESC" } });
    const loaded = new Map<string, LoadedKey>();
    for (const row of rows) {
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      loaded.set(row.kid, {
        kid: row.kid,
        publicJwk,
        verifyKey: await importJWK(publicJwk, TOKEN_ALGORITHM),
        rotatedAt: row.rotatedAt,
        retiredAt: row.retiredAt,
        createdAt: row.createdAt,
        sealedPrivateKey: row.privateKeySealed,
      });
    }
    this.keys = loaded;
    const active = [...loaded.values()].find((k) => !k.rotatedAt);
    if (!active) this.signer = null;
    else if (active.kid !== this.signer?.kid) {
      const pem = this.secrets.open(active.sealedPrivateKey, `signing-key:${active.kid}`);
      this.signer = { kid: active.kid, key: await importPKCS8(pem, TOKEN_ALGORITHM) };
    }
  }

  private async newKey(now = new Date()): Promise<SigningKeyEntity> {
    const { publicKey, privateKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const row = new SigningKeyEntity();
    row.kid = kid;
    row.algorithm = TOKEN_ALGORITHM;
    row.publicJwk = JSON.stringify(publicJwk);
    row.privateKeySealed = this.secrets.seal(await exportPKCS8(privateKey), `signing-key:${kid}`);
    row.createdAt = now;
    row.rotatedAt = null;
    row.retiredAt = null;
    return row;
  }
}
