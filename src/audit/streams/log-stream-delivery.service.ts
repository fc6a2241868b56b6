/**
 * The delivery worker: sends each enabled log stream its organization's audit entries.
 *
 * Rules:
 * - Per stream, entries leave in sequence order, in batches of at most batchSize, starting right
 *   after lastAcknowledgedSequence. That sequence advances only when the endpoint answered 2xx, and
 *   only in the database: it is what a restart, or another instance, continues from.
 * - Only committed entries leave: a batch is read inside a transaction. Sequences of a stream
 *   commit in order (the writer holds the stream head row until it commits), so reading after the
 *   acknowledged sequence never passes over an entry that commits later.
 * - One deliverer per stream across instances: a stream is claimed by a conditional UPDATE of
 *   leaseOwner / leaseUntil (free, expired, or already ours) and the lease is renewed for every
 *   batch. The lease (30 s) outlives a request (10 s timeout). The acknowledgement advances only
 *   from the sequence the batch was read after, so a late answer can never move it back.
 * - At-least-once: a batch whose 2xx was lost, or that another instance sends again after a lease
 *   expired (a process stalled for longer than the lease), arrives again with the same sequences
 *   and the same X-RBAC-Delivery id; receivers drop sequences they already hold.
 * - A failure (non-2xx, redirect, timeout, refused connection, unreadable secret) is recorded on
 *   the stream and in the delivery log and retried with exponential backoff (nextAttemptAt, so
 *   every instance honours it); the retry sends the same range again. Other streams go on.
 * - Bounded: one unref'd timer; at most maxConcurrent streams in flight per instance; the newest
 *   DELIVERY_LOG_KEPT delivery-log rows per stream are kept. stop() waits for requests in flight
 *   (≤ 10 s) and releases this instance's leases, so a restart resumes at once.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { EntityManager } from "typeorm";
import type { Database } from "../../db/database";
import { AuditEntryEntity, AuditStreamEntity } from "../audit-entry.entity";
import { jsonLine } from "../audit-export.service";
import type { AuditLog } from "../audit-log";
import { deliver, type DeliveryOutcome } from "../delivery/signed-webhook";
import { LogStreamDeliveryEntity, LogStreamEntity } from "./log-stream.entity";
import { urlOrigin, type LogStreamService } from "./log-stream.service";

export interface LogStreamWorkerOptions {
  /** How often every instance looks for work it was not woken for (other instances' entries, due retries). */
  pollIntervalMs: number;
  /** Delay before retry `attempt` (1 = first retry). */
  backoffMs: (attempt: number) => number;
  leaseMs: number;
  maxConcurrent: number;
  /** Batches per claim before the stream is released and taken up again (lets other instances share). */
  maxBatchesPerClaim: number;
}

export const DELIVERY_LOG_KEPT = 1000;
const SECRET_UNREADABLE = "the signing secret cannot be opened (was RBAC_ENCRYPTION_KEY changed?); rotate the secret";
const PRUNE_EVERY = 50;

/** What a receiver gets: `entries` hold every AuditEntry field plus the chain (previousHash, hash). */
export interface LogStreamPayload {
  organizationId: string;
  stream: "audit";
  deliveryId: string;
  firstSequence: number;
  lastSequence: number;
  entries: Array<Record<string, unknown>>;
}

interface Work {
  stream: LogStreamEntity;
  entries: AuditEntryEntity[];
  /** Fewer entries than this mean the stream is caught up (for now). */
  limit: number;
  /** The entries after the acknowledged sequence were purged (retention) before delivery: moved past them. */
  skipped: boolean;
}

interface Candidate {
  id: string;
  organizationId: string;
  lastAcknowledgedSequence: number;
  nextAttemptAt: string | null;
  leaseOwner: string | null;
  leaseUntil: string | null;
  head: number | null;
}

type End = "caught-up" | "more" | "failed" | "not-claimed" | "stopped";

export function payloadEntry(entry: AuditEntryEntity): Record<string, unknown> {
  // The same values `auditEntries` and the export give, plus the chain fields.
  return { ...(JSON.parse(jsonLine(entry)) as Record<string, unknown>), previousHash: entry.previousHash, hash: entry.hash };
}

export class LogStreamDeliveryService {
  readonly instanceId = randomUUID();
  private started = false;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private ticking: Promise<void> | null = null;
  private tickAgain = false;
  private waitingForCapacity = false;
  private readonly running = new Map<string, Promise<void>>();
  /** Streams that got new entries while their delivery was running: look again when it ends. */
  private readonly dirty = new Set<string>();
  /** Organization id → its enabled streams, as of the last poll (decides which commits wake us). */
  private streamed = new Map<string, string[]>();
  /** Organizations whose streams changed here and whose change has not committed yet. */
  private readonly changed = new Set<string>();
  private readonly deliveredSincePrune = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly streams: LogStreamService,
    private readonly logger: Logger,
    private readonly options: LogStreamWorkerOptions,
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.audit.onCommitted((entries) => this.onCommitted(entries));
    this.requestTick();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    await Promise.allSettled([...this.running.values()]);
  }

  /**
   * A stream of the organization changed on this instance: look now, and again when the change's
   * own audit entry commits (the change is only visible to other connections from then on).
   */
  wake(organizationId: string): void {
    this.changed.add(organizationId);
    this.requestTick();
  }

  private onCommitted(entries: AuditEntryEntity[]): void {
    if (!this.started || this.stopping) return;
    let wake = false;
    for (const organizationId of new Set(entries.map((e) => e.organizationId))) {
      if (organizationId && this.changed.delete(organizationId)) wake = true;
      for (const id of (organizationId && this.streamed.get(organizationId)) || []) {
        if (this.running.has(id)) this.dirty.add(id);
        else wake = true;
      }
    }
    if (wake) this.requestTick();
  }

  private requestTick(): void {
    if (!this.started || this.stopping) return;
    if (this.ticking) this.tickAgain = true;
    else this.schedule(0);
  }

  /** Keeps the one timer at the earliest time asked for. */
  private schedule(delayMs: number): void {
    if (this.stopping) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        if (this.tickAgain) {
          this.tickAgain = false;
          this.requestTick();
        }
      });
    }, Math.max(0, delayMs));
    this.timer.unref();
  }

  /** Looks at every enabled stream and starts the ones with due work. */
  private async tick(): Promise<void> {
    let next = this.options.pollIntervalMs;
    try {
      const rows = await this.candidates();
      const now = Date.now();
      const streamed = new Map<string, string[]>();
      for (const row of rows) streamed.set(row.organizationId, [...(streamed.get(row.organizationId) ?? []), row.id]);
      this.streamed = streamed;
      for (const row of rows) {
        if (this.stopping) break;
        if (Number(row.head ?? 0) <= Number(row.lastAcknowledgedSequence) || this.running.has(row.id)) continue;
        const dueIn = row.nextAttemptAt ? new Date(row.nextAttemptAt).getTime() - now : 0;
        if (dueIn > 0) {
          next = Math.min(next, dueIn);
          continue;
        }
        const leasedElsewhere = row.leaseOwner && row.leaseOwner !== this.instanceId && row.leaseUntil && new Date(row.leaseUntil).getTime() > now;
        if (leasedElsewhere) continue;
        if (this.running.size >= this.options.maxConcurrent) {
          this.waitingForCapacity = true; // the next delivery to finish asks again
          break;
        }
        this.launch(row.id);
      }
    } catch (error) {
      this.logger.warn({ err: error }, "log streams: could not look for work; trying again at the next poll");
    }
    this.schedule(next);
  }

  private candidates(): Promise<Candidate[]> {
    return this.db.manager
      .createQueryBuilder(LogStreamEntity, "s")
      .leftJoin(AuditStreamEntity, "a", "a.stream = s.organizationId")
      .select("s.id", "id")
      .addSelect("s.organizationId", "organizationId")
      .addSelect("s.lastAcknowledgedSequence", "lastAcknowledgedSequence")
      .addSelect("s.nextAttemptAt", "nextAttemptAt")
      .addSelect("s.leaseOwner", "leaseOwner")
      .addSelect("s.leaseUntil", "leaseUntil")
      .addSelect("a.lastSequence", "head")
      .where("s.enabled = :enabled", { enabled: true })
      .getRawMany<Candidate>();
  }

  private launch(id: string): void {
    const task = this.deliverStream(id)
      .catch((error): End => {
        this.logger.warn({ err: error, logStream: id }, "log stream: delivery interrupted; it resumes from the last acknowledged sequence");
        return "failed";
      })
      .then((end) => {
        this.running.delete(id);
        const full = this.waitingForCapacity;
        this.waitingForCapacity = false;
        if (this.dirty.delete(id) || end === "more" || full) this.requestTick();
      });
    this.running.set(id, task);
  }

  /** Claims the stream and sends batches until it is caught up, fails, or has had its share. */
  private async deliverStream(id: string): Promise<End> {
    let claimed = false;
    try {
      for (let batch = 0; batch < this.options.maxBatchesPerClaim; batch += 1) {
        if (this.stopping) return "stopped";
        const work = await this.db.transaction((em) => this.claimAndRead(em, id));
        if (!work) return "not-claimed";
        claimed = true;
        if (work.entries.length === 0) {
          if (work.skipped) continue;
          return "caught-up";
        }
        const started = performance.now();
        const outcome = await this.send(work);
        const durationMs = Math.round(performance.now() - started);
        const retryInMs = await this.db.transaction((em) => this.record(em, work, outcome, durationMs));
        if (!outcome.ok) {
          if (retryInMs != null) this.schedule(retryInMs);
          return "failed";
        }
        if (work.entries.length < work.limit) return "caught-up";
      }
      return "more";
    } finally {
      if (claimed) await this.release(id);
    }
  }

  /** Claims (or renews) the lease, then reads the next batch; null when the stream is not ours to deliver now. */
  private async claimAndRead(em: EntityManager, id: string): Promise<Work | null> {
    const now = new Date();
    const claim = await em
      .createQueryBuilder()
      .update(LogStreamEntity)
      .set({ leaseOwner: this.instanceId, leaseUntil: new Date(now.getTime() + this.options.leaseMs) })
      .where(`"id" = :id AND "enabled" = :enabled`, { id, enabled: true })
      .andWhere(`("nextAttemptAt" IS NULL OR "nextAttemptAt" <= :now)`, { now: now.toISOString() })
      .andWhere(`("leaseOwner" IS NULL OR "leaseOwner" = :me OR "leaseUntil" < :now)`, { me: this.instanceId })
      .execute();
    if (claim.affected !== 1) return null;
    const stream = await em.findOneOrFail(LogStreamEntity, { where: { id } });
    // The head first: every entry up to it is committed, so an empty read below means "purged", not "not yet visible".
    const head = (await em.findOne(AuditStreamEntity, { where: { stream: stream.organizationId } }))?.lastSequence ?? 0;
    const after = stream.lastAcknowledgedSequence;
    const upTo = stream.retryUpToSequence != null && stream.retryUpToSequence > after ? stream.retryUpToSequence : null;
    const limit = upTo != null ? Math.min(stream.batchSize, upTo - after) : stream.batchSize;
    const query = em
      .createQueryBuilder(AuditEntryEntity, "e")
      .where("e.stream = :stream", { stream: stream.organizationId })
      .andWhere("e.sequence > :after", { after });
    if (upTo != null) query.andWhere("e.sequence <= :upTo", { upTo });
    const entries = await query.orderBy("e.sequence", "ASC").limit(limit).getMany();
    const skipTo = upTo ?? head;
    if (entries.length > 0 || skipTo <= after) return { stream, entries, limit, skipped: false };
    // Entries purged by retention before they could be delivered: nothing to send, move past them.
    await em
      .createQueryBuilder()
      .update(LogStreamEntity)
      .set({ lastAcknowledgedSequence: skipTo, retryUpToSequence: null, failedAttempts: 0, nextAttemptAt: null })
      .where(`"id" = :id AND "lastAcknowledgedSequence" = :after`, { id, after })
      .execute();
    this.logger.warn({ logStream: id, organizationId: stream.organizationId, from: after + 1, to: skipTo }, "log stream: entries were purged by retention before delivery; skipped");
    return { stream, entries, limit, skipped: true };
  }

  private async send({ stream, entries }: Work): Promise<DeliveryOutcome> {
    const first = entries[0].sequence;
    const last = entries[entries.length - 1].sequence;
    let secret: string;
    try {
      secret = this.streams.secretOf(stream);
    } catch {
      return { ok: false, status: null, error: SECRET_UNREADABLE };
    }
    const payload: LogStreamPayload = {
      organizationId: stream.organizationId,
      stream: "audit",
      deliveryId: deliveryIdOf(stream.id, first, last),
      firstSequence: first,
      lastSequence: last,
      entries: entries.map(payloadEntry),
    };
    return deliver({ url: stream.url, secret }, payload, payload.deliveryId);
  }

  /** Advances the acknowledgement or schedules the retry, and writes the delivery-log row. Returns the retry delay. */
  private async record(em: EntityManager, { stream, entries }: Work, outcome: DeliveryOutcome, durationMs: number): Promise<number | null> {
    const now = new Date();
    const first = entries[0].sequence;
    const last = entries[entries.length - 1].sequence;
    const attempt = stream.failedAttempts + 1;
    const error = outcome.ok ? null : describeFailure(outcome);
    const fromAcknowledged = { id: stream.id, after: stream.lastAcknowledgedSequence };
    let retryInMs: number | null = null;
    if (outcome.ok) {
      await em
        .createQueryBuilder()
        .update(LogStreamEntity)
        .set({ lastAcknowledgedSequence: last, lastDeliveryAt: now, lastError: null, failedAttempts: 0, nextAttemptAt: null, retryUpToSequence: null })
        .where(`"id" = :id AND "lastAcknowledgedSequence" = :after`, fromAcknowledged)
        .execute();
    } else {
      retryInMs = Math.max(0, Math.round(this.options.backoffMs(attempt)));
      await em
        .createQueryBuilder()
        .update(LogStreamEntity)
        .set({ failedAttempts: attempt, lastError: error, nextAttemptAt: new Date(now.getTime() + retryInMs), retryUpToSequence: last })
        .where(`"id" = :id AND "lastAcknowledgedSequence" = :after`, fromAcknowledged)
        .execute();
      this.logger.warn({ logStream: stream.id, organizationId: stream.organizationId, endpoint: urlOrigin(stream.url), attempt, status: outcome.status, error, retryInMs }, "log stream: delivery failed; retrying with backoff");
    }
    if (!(await em.exists(LogStreamEntity, { where: { id: stream.id } }))) return retryInMs; // deleted meanwhile
    const row = em.create(LogStreamDeliveryEntity, {
      streamId: stream.id,
      deliveryId: deliveryIdOf(stream.id, first, last),
      attempt,
      ok: outcome.ok,
      status: outcome.status,
      firstSequence: first,
      lastSequence: last,
      entryCount: entries.length,
      error,
      durationMs,
      instanceId: this.instanceId,
      createdAt: now,
    });
    await em.insert(LogStreamDeliveryEntity, row);
    await this.prune(em, stream.id);
    return retryInMs;
  }

  /** Keeps the newest DELIVERY_LOG_KEPT rows of the stream (checked every PRUNE_EVERY deliveries). */
  private async prune(em: EntityManager, streamId: string): Promise<void> {
    const count = (this.deliveredSincePrune.get(streamId) ?? 0) + 1;
    this.deliveredSincePrune.set(streamId, count % PRUNE_EVERY);
    if (count < PRUNE_EVERY) return;
    const oldestKept = await em
      .createQueryBuilder(LogStreamDeliveryEntity, "d")
      .select("d.id", "id")
      .where("d.streamId = :streamId", { streamId })
      .orderBy("d.id", "DESC")
      .offset(DELIVERY_LOG_KEPT - 1)
      .limit(1)
      .getRawOne<{ id: number }>();
    if (oldestKept) {
      await em
        .createQueryBuilder()
        .delete()
        .from(LogStreamDeliveryEntity)
        .where(`"streamId" = :streamId AND "id" < :id`, { streamId, id: oldestKept.id })
        .execute();
    }
  }

  private async release(id: string): Promise<void> {
    try {
      await this.db.transaction((em) =>
        em
          .createQueryBuilder()
          .update(LogStreamEntity)
          .set({ leaseOwner: null, leaseUntil: null })
          .where(`"id" = :id AND "leaseOwner" = :me`, { id, me: this.instanceId })
          .execute(),
      );
    } catch (error) {
      this.logger.warn({ err: error, logStream: id }, "log stream: could not release the lease; it expires on its own");
    }
  }
}

export function deliveryIdOf(streamId: string, first: number, last: number): string {
  return `${streamId}:${first}-${last}`;
}

/** A short, actionable reason (never the endpoint's answer body, which is not read). */
function describeFailure(outcome: DeliveryOutcome): string {
  if (outcome.status != null) {
    if (outcome.status >= 300 && outcome.status < 400) return `HTTP ${outcome.status}: redirects are not followed; point the stream at the final URL`;
    return `HTTP ${outcome.status}: the endpoint did not acknowledge the batch`;
  }
  if (outcome.error === "TimeoutError") return "no answer within 10 s";
  if (outcome.error === SECRET_UNREADABLE) return outcome.error;
  return `could not reach the endpoint (${outcome.error ?? "connection failed"})`;
}
