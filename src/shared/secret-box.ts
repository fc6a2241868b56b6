/**
 * Encryption of secrets at rest (OIDC client secrets, token signing keys).
 *
 * Rules:
 * - AES-256-GCM with a random 96-bit nonce per value; the stored text is
 *   `v1.<nonce>.<ciphertext+tag>` in base64url, so a tampered value fails to open.
 * - The key comes from configuration (RBAC_ENCRYPTION_KEY, 32 bytes base64/base64url), never from
 *   the database it protects.
 * - `purpose` is bound as additional data: a value sealed for one column cannot be moved to another.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error("the encryption key must be 32 bytes");
  }

  seal(plaintext: string, purpose: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    cipher.setAAD(Buffer.from(purpose, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `v1.${nonce.toString("base64url")}.${body.toString("base64url")}`;
  }

  open(sealed: string, purpose: string): string {
    const [version, nonce, body] = sealed.split(".");
    if (version !== "v1" || !nonce || !body) throw new Error("not a sealed secret");
    const data = Buffer.from(body, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(nonce, "base64url"));
    decipher.setAAD(Buffer.from(purpose, "utf8"));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString("utf8");
  }
}
