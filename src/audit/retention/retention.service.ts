/**
 * Retention: the one way audit entries leave the database.
 *
 * Rules:
 * - Per stream, in one transaction: the purged entries are the oldest remaining ones up to (not
 *   including) the first entry at or after the cutoff — never an entry younger than the cutoff,
 *   even when clocks made timestamps non-monotonic.
 * - Before anything is deleted the purged run is verified: the previous checkpoint's signature,
 *   then every entry's sequence, previousHash and hash from that checkpoint on. A stream that does
 *   not verify is not purged (CONFLICT), so retention can never erase the evidence of tampering.
 * - A signed checkpoint (stream, throughSequence, throughHash, entryCount, cutoff, time) is written
 *   first; the database's DELETE trigger lets only entries that a checkpoint covers go.
 * - The purge itself is recorded: one `Audit.retention.purge` entry in the purged stream, in the
 *   same transaction.
 * - Concurrent purges of one stream (several instances) queue: an advisory lock per stream on
 *   PostgreSQL; SQLite serializes writers anyway.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { Between } from "typeorm";
import type { Database } from "../../db/database";
import { AppError } from "../../shared/errors";
import type { PrincipalKind } from "../../shared/principal";
import type { ChainCheckpoints } from "../audit-chain";
import { AuditEntryEntity, AuditStreamEntity } from "../audit-entry.entity";
import { entryHash, PLATFORM_STREAM, type AuditLog } from "../audit-log";
import { AuditCheckpointEntity } from "./audit-checkpoint.entity";
import type { CheckpointSigner } from "./checkpoint-signer.service";

export const PURGE_OPERATION = "Audit.retention.purge";
const RETENTION_LOCK_ID = 7_263_010;
const PAGE = 1000;

/** Who purges: an operator's request, or the schedule. */
export interface PurgeActor {
  actorId: string;
  actorKind: PrincipalKind | null;
  role: string | null;
  requestId: string;
  ipAddress: string | null;
  userAgent: string | null;
}

export interface StreamPurge {
  checkpoint: AuditCheckpointEntity;
  /** The `Audit.retention.purge` entry written with it (announce it once committed). */
  written: AuditEntryEntity[];
}

/** A stream whose chain does not verify is never purged. */
export class RetentionRefusedError extends AppError {
  constructor(stream: string, sequence: number, why: string) {
    super(
      "CONFLICT",
      `Nothing was purged: the audit stream ${stream === PLATFORM_STREAM ? "of the platform" : `of organization ${stream}`} ${why} at sequence ${sequence}; investigate with verifyAuditChain`,
      { extensions: { reason: "AUDIT_CHAIN_BROKEN", organizationId: stream === PLATFORM_STREAM ? null : stream, sequence } },
    );
  }
}

export class RetentionService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly signer: CheckpointSigner,
  ) {}

  /** Every stream, in the order writers lock stream heads (see AuditLog.appendInTransaction). */
  async streams(em: EntityManager): Promise<string[]> {
    const rows = await em.find(AuditStreamEntity, { select: { stream: true } });
    return rows.map((r) => r.stream).sort();
  }

  /** Purges every stream inside the caller's transaction (an operator's mutation). */
  async purgeAll(em: EntityManager, olderThan: Date, actor: PurgeActor): Promise<StreamPurge[]> {
    const purged: StreamPurge[] = [];
    for (const stream of await this.streams(em)) {
      const result = await this.purgeStream(em, stream, olderThan, actor);
      if (result) purged.push(result);
    }
    return purged;
  }

  /**
   * Purges up to `limit` of the stream's entries older than `olderThan`, inside the caller's
   * transaction. Returns null when there was nothing to purge.
   */
  async purgeStream(em: EntityManager, stream: string, olderThan: Date, actor: PurgeActor, limit = Number.MAX_SAFE_INTEGER): Promise<StreamPurge | null> {
    if (this.db.dialect === "postgres") await em.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [RETENTION_LOCK_ID, stream]);
    const previous = await em.findOne(AuditCheckpointEntity, { where: { stream }, order: { throughSequence: "DESC" } });
    if (previous && !(await this.signer.verify(em, previous))) {
      throw new RetentionRefusedError(stream, previous.throughSequence, "has a checkpoint whose signature does not verify");
    }
    const from = previous?.throughSequence ?? 0;
    const end = Math.min(await this.lastPurgeable(em, stream, from, olderThan), from + limit);
    if (end <= from) return null;

    const throughHash = await this.verifiedHash(em, stream, from, previous?.throughHash ?? "", end);
    const checkpoint = new AuditCheckpointEntity();
    checkpoint.id = randomUUID();
    checkpoint.stream = stream;
    checkpoint.throughSequence = end;
    checkpoint.throughHash = throughHash;
    checkpoint.entryCount = end - from;
    checkpoint.olderThan = olderThan;
    checkpoint.createdAt = new Date();
    await this.signer.sign(em, checkpoint);
    await em.insert(AuditCheckpointEntity, checkpoint);

    const deleted = await em
      .createQueryBuilder()
      .delete()
      .from(AuditEntryEntity)
      .where(`"stream" = :stream AND "sequence" > :from AND "sequence" <= :end`, { stream, from, end })
      .execute();
    if (deleted.affected != null && deleted.affected !== checkpoint.entryCount) {
      throw new Error(`retention of stream ${stream}: deleted ${deleted.affected} entries, expected ${checkpoint.entryCount}`);
    }

    const written = await this.audit.appendInTransaction(em, [
      {
        ...actor,
        organizationId: stream === PLATFORM_STREAM ? null : stream,
        action: "delete",
        operation: PURGE_OPERATION,
        resource: `auditCheckpoint:${checkpoint.id}`,
        success: true,
        reason: null,
        details: { checkpointId: checkpoint.id, throughSequence: end, entryCount: checkpoint.entryCount, olderThan: olderThan.toISOString() },
      },
    ]);
    return { checkpoint, written };
  }

  /** The stream's checkpoints as the chain verifier needs them (signatures checked). */
  async chainCheckpoints(em: EntityManager, stream: string): Promise<ChainCheckpoints> {
    const rows = await em.find(AuditCheckpointEntity, { where: { stream }, order: { throughSequence: "ASC" } });
    let latest: ChainCheckpoints["latest"] = null;
    let firstForgedSequence: number | null = null;
    for (const row of rows) {
      if (await this.signer.verify(em, row)) latest = { throughSequence: row.throughSequence, throughHash: row.throughHash };
      else firstForgedSequence ??= (latest?.throughSequence ?? 0) + 1;
    }
    return { latest, firstForgedSequence };
  }

  /** Newest first. */
  async checkpoints(em: EntityManager, stream: string, limit: number): Promise<Array<AuditCheckpointEntity & { signatureValid: boolean }>> {
    const rows = await em.find(AuditCheckpointEntity, { where: { stream }, order: { throughSequence: "DESC" }, take: limit });
    return Promise.all(rows.map(async (row) => Object.assign(row, { signatureValid: await this.signer.verify(em, row) })));
  }

  /** The last sequence before the first remaining entry at or after the cutoff (or the newest entry). */
  private async lastPurgeable(em: EntityManager, stream: string, from: number, olderThan: Date): Promise<number> {
    const kept = await em
      .createQueryBuilder(AuditEntryEntity, "e")
      .select("e.sequence", "sequence")
      .where("e.stream = :stream AND e.sequence > :from AND e.timestamp >= :olderThan", { stream, from, olderThan: olderThan.toISOString() })
      .orderBy("e.sequence", "ASC")
      .limit(1)
      .getRawOne<{ sequence: number | string }>();
    if (kept) return Number(kept.sequence) - 1;
    const newest = await em
      .createQueryBuilder(AuditEntryEntity, "e")
      .select("MAX(e.sequence)", "sequence")
      .where("e.stream = :stream", { stream })
      .getRawOne<{ sequence: number | string | null }>();
    return Number(newest?.sequence ?? 0);
  }

  /** Walks entries from+1 … end as verifyChain does; returns the hash of `end`, or refuses. */
  private async verifiedHash(em: EntityManager, stream: string, from: number, fromHash: string, end: number): Promise<string> {
    let expected = from + 1;
    let previousHash = fromHash;
    while (expected <= end) {
      const page = await em.find(AuditEntryEntity, {
        where: { stream, sequence: Between(expected, Math.min(end, expected + PAGE - 1)) },
        order: { sequence: "ASC" },
      });
      for (const entry of page) {
        if (entry.sequence !== expected || entry.previousHash !== previousHash || entry.hash !== entryHash(previousHash, entry)) {
          throw new RetentionRefusedError(stream, expected, "does not verify");
        }
        previousHash = entry.hash;
        expected += 1;
      }
      if (page.length === 0) throw new RetentionRefusedError(stream, expected, "does not verify");
    }
    return previousHash;
  }
}
