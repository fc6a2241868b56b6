/**
 * The live feed behind the `alertRaised` subscription.
 *
 * Rules:
 * - In-process publish/subscribe. An alert raised here is published at once; alerts raised by other
 *   instances on the same database are picked up by a poll of the alert table (every second, only
 *   while someone is subscribed, looking back 10 s), so a subscriber sees every instance's alerts.
 *   Each alert is published once per instance (ids seen in the look-back are remembered).
 * - Each subscriber has a bounded buffer (100): a subscriber that does not read loses its oldest
 *   alerts, never the server's memory. Every alert stays readable through the `alerts` query.
 * - A subscriber's filter decides what it may see (its organization, or all for the platform); a
 *   `check` runs before each delivery and may end the subscription (credential revoked or expired).
 */
import type { EntityManager } from "typeorm";
import type { Logger } from "pino";
import { AlertEntity } from "./alert.entity";

const BUFFER = 100;
const POLL_MS = 1_000;
const LOOK_BACK_MS = 10_000;

export interface AlertSubscriber {
  accepts(alert: AlertEntity): boolean;
  /** Runs before each delivery; a thrown error ends the subscription with that error. */
  check?(): Promise<void>;
}

class Subscription implements AsyncIterableIterator<AlertEntity> {
  private readonly buffer: AlertEntity[] = [];
  private waiting: ((result: IteratorResult<AlertEntity>) => void) | null = null;
  private failWaiting: ((error: unknown) => void) | null = null;
  private done = false;

  constructor(
    private readonly subscriber: AlertSubscriber,
    private readonly onEnd: (s: Subscription) => void,
  ) {}

  offer(alert: AlertEntity): void {
    if (this.done || !this.subscriber.accepts(alert)) return;
    if (this.waiting) {
      const resolve = this.waiting;
      const reject = this.failWaiting!;
      this.waiting = this.failWaiting = null;
      this.deliver(alert).then(resolve, reject);
      return;
    }
    this.buffer.push(alert);
    if (this.buffer.length > BUFFER) this.buffer.shift();
  }

  async next(): Promise<IteratorResult<AlertEntity>> {
    if (this.done) return { done: true, value: undefined };
    const buffered = this.buffer.shift();
    if (buffered) return this.deliver(buffered);
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  async return(): Promise<IteratorResult<AlertEntity>> {
    this.end();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<AlertEntity>> {
    this.end();
    throw error;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<AlertEntity> {
    return this;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.buffer.length = 0;
    const resolve = this.waiting;
    this.waiting = this.failWaiting = null;
    resolve?.({ done: true, value: undefined });
    this.onEnd(this);
  }

  private async deliver(alert: AlertEntity): Promise<IteratorResult<AlertEntity>> {
    try {
      await this.subscriber.check?.();
    } catch (error) {
      this.end();
      throw error;
    }
    return { done: false, value: alert };
  }
}

export class AlertEvents {
  private readonly subscriptions = new Set<Subscription>();
  /** id → createdAt (ms) of alerts published within the look-back. */
  private readonly seen = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = false;

  constructor(
    private readonly em: () => EntityManager,
    private readonly logger: Logger,
  ) {}

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  subscribe(subscriber: AlertSubscriber): AsyncIterableIterator<AlertEntity> {
    const subscription = new Subscription(subscriber, (s) => this.subscriptions.delete(s));
    if (this.stopped) subscription.end();
    else this.subscriptions.add(subscription);
    return subscription;
  }

  /** An alert committed by this instance. */
  publish(alert: AlertEntity): void {
    if (this.seen.has(alert.id)) return;
    this.seen.set(alert.id, alert.createdAt.getTime());
    for (const s of this.subscriptions) s.offer(alert);
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of [...this.subscriptions]) s.end();
  }

  /** Alerts other instances raised within the look-back that were not published here yet. */
  private async poll(): Promise<void> {
    const horizon = Date.now() - LOOK_BACK_MS;
    for (const [id, at] of this.seen) if (at < horizon - LOOK_BACK_MS) this.seen.delete(id);
    if (this.polling || this.subscriptions.size === 0) return;
    this.polling = true;
    try {
      const recent = await this.em()
        .createQueryBuilder(AlertEntity, "a")
        .where("a.createdAt >= :since", { since: new Date(horizon).toISOString() })
        .orderBy("a.createdAt", "ASC")
        .limit(500)
        .getMany();
      for (const alert of recent) this.publish(alert);
    } catch (error) {
      this.logger.warn({ err: error }, "alert feed: polling the alert table failed");
    } finally {
      this.polling = false;
    }
  }
}
