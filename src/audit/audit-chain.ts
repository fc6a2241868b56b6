/**
 * Verifies an audit stream's hash chain (aud-04).
 *
 * Rules:
 * - Walks the stream in sequence order, in pages, from 1: every sequence present exactly once,
 *   every previousHash equal to the hash before it, every hash equal to the recomputed hash of the
 *   entry, and the last one equal to the stream head.
 * - Reports the first sequence where any of that fails; an edited, deleted or inserted row is named.
 * - Retention (src/audit/retention/) may have purged a stream's oldest entries: the walk then starts
 *   after the latest checkpoint whose signature verifies, from its hash. A checkpoint whose signature
 *   does not verify fails the stream. Without a checkpoint source, every stream starts at 1.
 */
import type { EntityManager } from "typeorm";
import { Between } from "typeorm";
import { AuditEntryEntity, AuditStreamEntity } from "./audit-entry.entity";
import { entryHash } from "./audit-log";

export interface ChainVerification {
  ok: boolean;
  entriesChecked: number;
  firstBrokenSequence: number | null;
  /** The retention checkpoint the walk started after (null: it started at 1). */
  checkpointSequence: number | null;
}

/** A stream's retention checkpoints, as their signer judged them. */
export interface ChainCheckpoints {
  /** The latest checkpoint whose signature verifies: entries 1 … throughSequence were purged. */
  latest: { throughSequence: number; throughHash: string } | null;
  /** The first sequence a checkpoint with a bad signature claims was purged (null: none is bad). */
  firstForgedSequence: number | null;
}

export type CheckpointSource = (em: EntityManager, stream: string) => Promise<ChainCheckpoints>;

const NO_CHECKPOINTS: CheckpointSource = async () => ({ latest: null, firstForgedSequence: null });

const PAGE = 1000;

export async function verifyChain(em: EntityManager, stream: string, checkpoints: CheckpointSource = NO_CHECKPOINTS): Promise<ChainVerification> {
  const result = await walk(em, stream, checkpoints);
  if (result.ok) return result;
  // A purge that committed during the walk removed entries the walk still expected: walk once more from its checkpoint.
  const now = (await checkpoints(em, stream)).latest?.throughSequence ?? null;
  return now === result.checkpointSequence ? result : walk(em, stream, checkpoints);
}

async function walk(em: EntityManager, stream: string, checkpoints: CheckpointSource): Promise<ChainVerification> {
  // The head is read first: entries appended while we walk lie beyond it and are left for next time.
  const head = await em.findOne(AuditStreamEntity, { where: { stream } });
  const last = head?.lastSequence ?? 0;
  const { latest, firstForgedSequence } = await checkpoints(em, stream);
  const checkpointSequence = latest?.throughSequence ?? null;
  const verdict = (entriesChecked: number, broken: number | null): ChainVerification => {
    const firstBrokenSequence = firstForgedSequence == null ? broken : Math.min(firstForgedSequence, broken ?? firstForgedSequence);
    return { ok: firstBrokenSequence == null, entriesChecked, firstBrokenSequence, checkpointSequence };
  };
  let expectedSequence = (checkpointSequence ?? 0) + 1;
  let previousHash = latest?.throughHash ?? "";
  let checked = 0;
  while (expectedSequence <= last) {
    const page = await em.find(AuditEntryEntity, {
      where: { stream, sequence: Between(expectedSequence, Math.min(last, expectedSequence + PAGE - 1)) },
      order: { sequence: "ASC" },
    });
    for (const entry of page) {
      if (entry.sequence !== expectedSequence || entry.previousHash !== previousHash || entry.hash !== entryHash(previousHash, entry)) {
        return verdict(checked, expectedSequence);
      }
      previousHash = entry.hash;
      expectedSequence += 1;
      checked += 1;
    }
    if (page.length === 0) break;
  }
  if (checked !== last - (checkpointSequence ?? 0) || (head?.lastHash ?? "") !== previousHash) {
    return verdict(checked, expectedSequence);
  }
  return verdict(checked, null);
}
