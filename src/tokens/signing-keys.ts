/**
 * Our token-signing keys.
 *
 * Rules:
 * - ES256 only; kid = the key's JWK thumbprint; private keys are sealed at rest (SecretBox).
 * - Exactly one key signs: the newest one not rotated out. A rotated key keeps verifying for the
 *   overlap (the access-token lifetime plus skew), then it is retired and its tokens are refused.
 * - Keys live in the database, so every instance signs and verifies with the same set; an unknown
 *   kid reloads the set at most once per cooldown (a flood of bogus kids cannot hammer the database).
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type JWK } from "jose";
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

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
    private readonly overlapMs: number,
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
  async rotate(now = new Date()): Promise<string> {
    const fresh = await this.newKey(now);
    await this.db.transaction(async (em) => {
      await em
        .createQueryBuilder()
        .update(SigningKeyEntity)
        .set({ rotatedAt: now, retiredAt: new Date(now.getTime() + this.overlapMs) })
        .where("rotatedAt IS NULL")
        .execute();
      await em.insert(SigningKeyEntity, fresh);
    });
    await this.reload();
    return fresh.kid;
  }

  /** Refuses a key's tokens from now on (compromise). Retiring the signing key rotates first. */
  async retire(kid: string, now = new Date()): Promise<void> {
    const row = await this.db.manager.findOne(SigningKeyEntity, { where: { kid } });
    if (row && !row.rotatedAt) await this.rotate(now);
    await this.db.transaction((em) => em.update(SigningKeyEntity, { kid }, { retiredAt: now, rotatedAt: now }));
    await this.reload();
  }

  /** The key that signs now, as the database says (another instance may have rotated it). */
  async signingKey(): Promise<{ kid: string; key: SignKey }> {
    const active = await this.db.manager
      .createQueryBuilder(SigningKeyEntity, "k")
      .select(["k.kid"])
      .where("k.rotatedAt IS NULL")
      .orderBy("k.createdAt", "DESC")
      .getOne();
    if (!this.signer || (active && active.kid !== this.signer.kid)) await this.reload();
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
    const row = await this.db.manager.findOne(SigningKeyEntity, { where: { kid }, select: { kid: true, retiredAt: true } });
    if (!row || (row.retiredAt && row.retiredAt <= now)) return null;
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

  private async reload(): Promise<void> {
    this.lastReload = Date.now();
    const rows = await this.db.manager.find(SigningKeyEntity, { order: { createdAt: "DESC" } });
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
