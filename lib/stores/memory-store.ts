/**
 * MemoryStore: the reference SessionStore, a bounded in-process map. A SessionCache already
 * keeps live sessions in memory, so a MemoryStore behind one cache adds nothing; it is useful
 * to share serialized sessions between several caches of one process (say a node:tls cache
 * and an engine cache configured alike), as a test double, and as FileStore's in-memory image.
 */
import { invalidArgType, validateInteger } from '../errors.js';
import type { SessionStore } from './store.js';

export interface MemoryStoreOptions {
  /** Most records kept; the least recently used goes first (default 10000). */
  maxEntries?: number;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

interface Stored {
  value: Buffer;
  expiresAt: number;
}

/** A SessionStore in a Map: LRU-bounded, expired records dropped on read. */
export class MemoryStore implements SessionStore {
  readonly #map = new Map<string, Stored>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    this.#maxEntries = validateInteger(options.maxEntries ?? 10_000, 'options.maxEntries', 1);
    this.#now = options.now ?? Date.now;
  }

  /** Records held now (expired ones included until read or evicted). */
  get size(): number {
    return this.#map.size;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const stored = this.#map.get(key);
    if (stored === undefined) return undefined;
    this.#map.delete(key);
    if (stored.expiresAt <= this.#now()) return undefined;
    this.#map.set(key, stored); // most recently used last
    return Buffer.from(stored.value);
  }

  async set(key: string, value: Buffer, expiresAt: number): Promise<void> {
    this.#map.delete(key);
    this.#map.set(key, { value: Buffer.from(value), expiresAt });
    while (this.#map.size > this.#maxEntries) this.#map.delete(this.#map.keys().next().value as string);
  }

  async delete(key: string): Promise<void> {
    this.#map.delete(key);
  }

  /** Keys in least-recently-used-first order. */
  keys(): string[] {
    return [...this.#map.keys()];
  }
}
