/**
 * The store of started OIDC logins (state, nonce, PKCE verifier), shared by every instance.
 *
 * Rules:
 * - `state` and the browser-binding cookie value are stored only as SHA-256 hashes, the PKCE
 *   verifier only sealed; a row lives 10 minutes.
 * - A callback must present the state AND the cookie of the browser that started the login; only
 *   then is the row consumed — once: a conditional UPDATE ... WHERE consumedAt IS NULL whose
 *   affected-row count decides, on SQLite and PostgreSQL alike (a replayed or concurrent callback
 *   loses, oidc-03).
 * - The row is consumed before anything else is checked, so a failed callback cannot be retried
 *   with the same state.
 */
import { createHash, randomUUID } from "node:crypto";
import { IsNull } from "typeorm";
import type { Database } from "../../db/database";
import type { SecretBox } from "../../shared/secret-box";
import { OidcTransactionEntity } from "./oidc-transaction.entity";

export const TRANSACTION_TTL_MS = 10 * 60_000;
/** Rows are kept a little past expiry so a late callback still gets "expired" rather than "unknown". */
const PURGE_AFTER_MS = 60 * 60_000;

export interface NewTransaction {
  connectionId: string;
  state: string;
  browserBinding: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  codeChallenge: string | null;
  clientState: string | null;
}

export interface OpenedTransaction {
  id: string;
  connectionId: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  codeChallenge: string | null;
  clientState: string | null;
  expiresAt: Date;
}

export class TransactionRejection extends Error {}

export function sha256(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

export class OidcTransactionService {
  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
  ) {}

  async create(tx: NewTransaction, now = new Date()): Promise<void> {
    const id = randomUUID();
    await this.db.transaction(async (em) => {
      await em
        .createQueryBuilder()
        .delete()
        .from(OidcTransactionEntity)
        .where(`"expiresAt" < :cutoff`, { cutoff: new Date(now.getTime() - PURGE_AFTER_MS).toISOString() })
        .execute();
      await em.insert(OidcTransactionEntity, {
        id,
        connectionId: tx.connectionId,
        stateHash: sha256(tx.state),
        browserHash: sha256(tx.browserBinding),
        nonce: tx.nonce,
        codeVerifierSealed: this.secrets.seal(tx.codeVerifier, verifierPurpose(id)),
        redirectUri: tx.redirectUri,
        codeChallenge: tx.codeChallenge,
        clientState: tx.clientState,
        createdAt: now,
        expiresAt: new Date(now.getTime() + TRANSACTION_TTL_MS),
        consumedAt: null,
      });
    });
  }

  /** Consumes the login started by this browser with this state, or says why it cannot. */
  async consume(state: string, browserBinding: string | null, now = new Date()): Promise<OpenedTransaction> {
    const row = await this.db.manager.findOne(OidcTransactionEntity, { where: { stateHash: sha256(state) } });
    if (!row) throw new TransactionRejection("unknown state: this login was not started here, or it expired; start the login again");
    if (!browserBinding || sha256(browserBinding) !== row.browserHash) {
      throw new TransactionRejection("the state was issued to another browser (login cookie missing or different); start the login again in this browser");
    }
    const result = await this.db.transaction((em) => em.update(OidcTransactionEntity, { id: row.id, consumedAt: IsNull() }, { consumedAt: now }));
    if (result.affected !== 1) throw new TransactionRejection("this login response was already used (replayed callback); start the login again");
    return {
      id: row.id,
      connectionId: row.connectionId,
      nonce: row.nonce,
      codeVerifier: this.secrets.open(row.codeVerifierSealed, verifierPurpose(row.id)),
      redirectUri: row.redirectUri,
      codeChallenge: row.codeChallenge,
      clientState: row.clientState,
      expiresAt: row.expiresAt,
    };
  }
}

function verifierPurpose(transactionId: string): string {
  return `oidc-transaction:${transactionId}:code-verifier`;
}
