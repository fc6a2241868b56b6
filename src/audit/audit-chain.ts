/**
 * Verifies an audit stream's hash chain (aud-04).
 *
 * Rules:
 * - Walks the stream in sequence order, in pages, from 1: every sequence present exactly once,
 *   every previousHash equal to the hash before it, every hash equal to the recomputed hash of the
 *   entry, and the last one equal to the stream head.
 * - Reports the first sequence where any of that fails; an edited, deleted or inserted row is named.
 */
import type { EntityManager } from "typeorm";
import { Between } from "typeorm";
import { AuditEntryEntity, AuditStreamEntity } from "./audit-entry.entity";
import { entryHash } from "./audit-log";

export interface ChainVerification {
  ok: boolean;
  entriesChecked: number;
  firstBrokenSequence: number | null;
}

const PAGE = 1000;

export async function verifyChain(em: EntityManager, stream: string): Promise<ChainVerification> {
  // The head is read first: entries appended while we walk lie beyond it and are left for next time.
  const head = await em.findOne(AuditStreamEntity, { where: { stream } });
  const last = head?.lastSequence ?? 0;
  let expectedSequence = 1;
  let previousHash = "";
  let checked = 0;
  while (expectedSequence <= last) {
    const page = await em.find(AuditEntryEntity, {
      where: { stream, sequence: Between(expectedSequence, Math.min(last, expectedSequence + PAGE - 1)) },
      order: { sequence: "ASC" },
    });
    for (const entry of page) {
      if (entry.sequence !== expectedSequence || entry.previousHash !== previousHash || entry.hash !== entryHash(previousHash, entry)) {
        return { ok: false, entriesChecked: checked, firstBrokenSequence: expectedSequence };
      }
      previousHash = entry.hash;
      expectedSequence += 1;
      checked += 1;
    }
    if (page.length === 0) break;
  }
  if (checked !== last || (head?.lastHash ?? "") !== previousHash) {
    return { ok: false, entriesChecked: checked, firstBrokenSequence: checked + 1 };
  }
  return { ok: true, entriesChecked: checked, firstBrokenSequence: null };
}
