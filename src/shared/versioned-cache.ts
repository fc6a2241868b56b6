/**
 * A bounded in-memory cache whose entries die with a change of their topic (see ChangeFeed).
 *
 * Rules:
 * - Only found values are cached (a miss always asks the database again).
 * - An entry is served only while its topic's version is unchanged and it is younger than maxAgeMs
 *   (a backstop: nothing depends on it for correctness).
 * - The version is read before loading; if it moved during the load, the value is returned but not
 *   kept.
 * - At `max` entries the oldest is dropped first.
 */
import { NO_CACHE, type ChangeFeed, type Topic } from "../db/change-feed";

interface Entry<V> {
  value: V;
  version: number;
  storedAt: number;
}

export type CacheObserver = (hit: boolean) => void;

export class VersionedCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(
    private readonly changes: ChangeFeed,
    private readonly topic: Topic,
    private readonly options: { max: number; maxAgeMs: number; observe?: CacheObserver },
  ) {}

  async get(key: K, load: () => Promise<V | null>): Promise<V | null> {
    const version = this.changes.version(this.topic);
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.version === version && version !== NO_CACHE && Date.now() - entry.storedAt < this.options.maxAgeMs) {
        this.options.observe?.(true);
        return entry.value;
      }
      this.entries.delete(key);
    }
    this.options.observe?.(false);
    const value = await load();
    if (value !== null && version !== NO_CACHE && this.changes.version(this.topic) === version) {
      if (this.entries.size >= this.options.max) this.entries.delete(this.entries.keys().next().value as K);
      this.entries.set(key, { value, version, storedAt: Date.now() });
    }
    return value;
  }
}
