/**
 * Audit retention: signed checkpoints, the purge (schedule and operator mutation), and the
 * checkpoint source that lets verifyAuditChain verify a purged stream from its checkpoint.
 *
 * Rules:
 * - Off unless configured (AUDIT_RETENTION_DAYS, 0 = keep forever; at least 30 days when set).
 * - The schedule purges once at start and then every 6 hours (timer unref'd), one stream and at
 *   most BATCH entries per transaction, so writers of the audit trail are never held up long; a
 *   stream that cannot be purged (its chain does not verify) is logged and skipped.
 * - stop() waits for a running purge to finish its current batch.
 */
import { randomUUID } from "node:crypto";
import type { CheckpointSource } from "../audit-chain";
import type { AuditModule, AuditModuleDeps } from "../audit-module";
import { CheckpointSigner } from "./checkpoint-signer.service";
import { DAY_MS, RetentionResolver } from "./retention.resolver";
import { RetentionService, type PurgeActor } from "./retention.service";

/** GraphQL resolver classes of this module (built into the schema by src/server/schema.ts). */
export const RETENTION_RESOLVERS: Function[] = [RetentionResolver];

export interface RetentionOptions {
  /** Purge entries older than this many days on the schedule; 0 = keep forever. */
  retentionDays: number;
}

export interface RetentionModule extends AuditModule {
  /** Hand to AuditResolver: purged streams verify from their latest valid checkpoint. */
  readonly checkpoints: CheckpointSource;
  /** One scheduled run now (also what the timer calls). */
  runScheduled(): Promise<void>;
}

const INTERVAL_MS = 6 * 60 * 60 * 1000;
const BATCH = 10_000;
const MAX_BATCHES_PER_STREAM = 1_000;

export function createRetentionModule(deps: AuditModuleDeps, options: RetentionOptions = { retentionDays: 0 }): RetentionModule {
  const signer = new CheckpointSigner(deps.secrets);
  const retention = new RetentionService(deps.db, deps.audit, signer);
  const logger = deps.logger.child({ component: "audit-retention" });
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopping = false;

  async function purgeExpired(): Promise<void> {
    const olderThan = new Date(Date.now() - options.retentionDays * DAY_MS);
    const actor: PurgeActor = { actorId: "retention", actorKind: null, role: null, requestId: `retention-${randomUUID()}`, ipAddress: null, userAgent: null };
    for (const stream of await retention.streams(deps.db.manager)) {
      try {
        for (let batch = 0; batch < MAX_BATCHES_PER_STREAM && !stopping; batch += 1) {
          const purged = await deps.db.transaction((em) => retention.purgeStream(em, stream, olderThan, actor, BATCH));
          if (!purged) break;
          deps.audit.announce(purged.written);
          logger.info({ stream, throughSequence: purged.checkpoint.throughSequence, entryCount: purged.checkpoint.entryCount }, "audit entries purged");
        }
      } catch (error) {
        logger.error({ err: error, stream }, "audit retention: stream not purged");
      }
      if (stopping) return;
    }
  }

  function runScheduled(): Promise<void> {
    running ??= purgeExpired()
      .catch((error) => logger.error({ err: error }, "audit retention run failed"))
      .finally(() => {
        running = null;
      });
    return running;
  }

  return {
    resolvers: [[RetentionResolver, new RetentionResolver(deps.db, retention)]],
    checkpoints: (em, stream) => retention.chainCheckpoints(em, stream),
    runScheduled,
    start() {
      if (options.retentionDays <= 0 || timer) return;
      stopping = false;
      void runScheduled();
      timer = setInterval(() => void runScheduled(), INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
