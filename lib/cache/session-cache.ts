/**
 * SessionCache<V>: the client-side session cache (seed 000's "hashtable keyed host:port",
 * with the bound and expiry it calls for), generic over what it stores: live SslSession
 * handles for our engine, DER Buffers for node:tls.
 *
 * - Key: see ./key.ts (host:port + SNI + digest of trust/resumability options).
 * - True LRU across peers (`maxPeers`): a hit or a store moves the peer to the front
 *   (./peer-table.ts: laid out so a hit on 10 k peers stays near lru-cache's speed).
 * - Per peer, a pool of TLS 1.3 tickets (`ticketsPerPeer`, default 4), newest first, each
 *   handed out at most once (RFC 8446 C.4); a TLS 1.2 session is reused until it expires.
 * - get() hands out the cached value itself, as any JS cache does: no handle is created per
 *   hit (that cost ~4 µs and a GC finalizer per get). A TLS 1.2 value handed out is never
 *   released by the cache afterwards (the caller may still hold it): when it is evicted the
 *   cache just drops it and GC releases the reference.
 * - Expiry = min(time + timeout, time + ticket lifetime hint, time + cap (7 d TLS 1.3,
 *   1 d TLS 1.2), peer certificate notAfter). Expired sessions are never returned; they are
 *   dropped when their peer is touched and by a sweep at most once a minute.
 * - Store tier (optional, async): every change to a peer is written through as one record;
 *   a memory miss consults the store. Store failures and timeouts are counted and cost a
 *   miss (a full handshake), never an exception.
 */
import { EventEmitter } from 'node:events';

import { VERSION, versionName } from '../constants.js';
import { invalidArgType, validateInteger, validateString } from '../errors.js';
import { cacheStored, warningsOn } from '../guard-rails.js';
import type { SessionStore } from '../stores/store.js';
import type { SessionAdapter, SessionMeta } from './adapters.js';
import { keyInfo, sessionKey, type SessionKeyOptions } from './key.js';
import { PeerTable } from './peer-table.js';
import { coarseNow, expiryOf } from './expiry.js';
import type { SessionRecord } from './record.js';
import { StoreTier, type StoreOperation } from './store-tier.js';

import type {
  CachedSessionInfo,
  CacheStats,
  EvictReason,
  HitInfo,
  SessionCacheEvents,
  SessionCacheOptions,
  SessionTrust,
} from './types.js';

/** Property carrying a handed-out value's origin (see evictValue). */
const ORIGIN = Symbol('openssl-session cache origin');

export type * from './types.js';

/** A cached session: the stored record's fields, with the live value and/or its DER. */
interface Entry<V> extends Omit<SessionRecord, 'der'> {
  value: V | undefined;
  der: Buffer | undefined;
  /** The value was handed out by get(): the cache no longer releases it (GC does). */
  lent: boolean;
}

/** Where a cached value came from (see evictValue), stored on the value under ORIGIN. */
interface Origin {
  cache: object;
  key: string;
  entry: object;
}

/** What take()/takeSync() hand out: the value, and whether the caller now owns it (a TLS 1.3 ticket). */
export interface Taken<V> {
  value: V;
  owned: boolean;
}

const DAY = 86_400;
const SWEEP_INTERVAL_MS = 60_000;

/**
 * A client session cache. Values put in with set() belong to the cache. get()/getSync()
 * return the cached value itself: a TLS 1.2 session stays cached and is shared (use it, do
 * not dispose it: a disposed session is dropped at its next lookup); a TLS 1.3 ticket leaves
 * the cache and is the caller's (dispose it after setSession(), or leave it to GC).
 * V: what is stored (see SessionAdapter); K: what keyFor() takes.
 */
export class SessionCache<V extends object, K = SessionKeyOptions> extends EventEmitter<SessionCacheEvents> {
  readonly adapter: SessionAdapter<V>;
  readonly maxPeers: number;
  readonly ticketsPerPeer: number;
  readonly store: SessionStore | null;
  readonly storeTimeout: number;
  readonly persistClientCertSessions: boolean;
  readonly #caps: { tls13: number; tls12: number };
  readonly #now: () => number;
  /** Peers in LRU order (least recent first); each pool newest first. */
  readonly #peers = new PeerTable<Entry<V>, V>();
  // Where a cached value came from (for evictValue) travels on the value itself under
  // ORIGIN, set once when it enters the cache: a WeakMap cost ~3 µs per entry (ephemerons).
  /** The store side (ordering, coalescing, timeouts), or null without a store. */
  readonly #tier: StoreTier | null;
  readonly #counters = { hits: 0, misses: 0, stores: 0, evictions: 0, expirations: 0, ticketsTaken: 0, storeErrors: 0 };
  #lastSweep: number;
  #disposed = false;
  /** What the last #take() handed out belongs to the caller (a TLS 1.3 ticket). */
  #lastTakeOwned = false;
  /** 'hit' listeners (counted: listenerCount() on every hit is measurable). */
  #hitListeners = 0;
  /** The adapter reports dispose() of a cached value (watch): hits skip usable(). */
  readonly #watching: boolean;

  constructor(options: SessionCacheOptions<V>) {
    super();
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const a = options.adapter;
    if (a === null || typeof a !== 'object' || typeof a.describe !== 'function')
      throw invalidArgType('options.adapter', 'a SessionAdapter', a);
    this.adapter = a;
    this.#watching = typeof a.watch === 'function';
    const emitter = this as EventEmitter;
    emitter.on('newListener', (event: string | symbol) => {
      if (event === 'hit') this.#hitListeners++;
    });
    emitter.on('removeListener', (event: string | symbol) => {
      if (event === 'hit') this.#hitListeners--;
    });
    this.maxPeers = validateInteger(options.maxPeers ?? 256, 'options.maxPeers');
    this.ticketsPerPeer = validateInteger(options.ticketsPerPeer ?? 4, 'options.ticketsPerPeer', 1, 1000);
    const store = options.store ?? null;
    if (store !== null && (typeof store !== 'object' || typeof store.get !== 'function'))
      throw invalidArgType('options.store', 'a SessionStore', store);
    this.store = store;
    this.storeTimeout = validateInteger(options.storeTimeout ?? 1000, 'options.storeTimeout');
    this.#tier = store === null ? null : new StoreTier(store, this.storeTimeout, (error, operation) => this.#storeError(error, operation));
    this.persistClientCertSessions = options.persistClientCertSessions ?? false;
    this.#caps = {
      tls13: validateInteger(options.maxLifetime?.tls13 ?? 7 * DAY, 'options.maxLifetime.tls13'),
      tls12: validateInteger(options.maxLifetime?.tls12 ?? DAY, 'options.maxLifetime.tls12'),
    };
    if (options.now !== undefined && typeof options.now !== 'function') throw invalidArgType('options.now', 'a function', options.now);
    this.#now = options.now ?? coarseNow;
    this.#lastSweep = this.#now();
  }

  /**
   * The cache key for `options`: host:port, SNI and a digest of every trust/resumability
   * option (see ./key.ts). Subclasses take their engine's connect options (K).
   */
  keyFor(options: K): string {
    return sessionKey(options as SessionKeyOptions);
  }

  /** The cache's clock (ms since the epoch). */
  now(): number {
    return this.#now();
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Number of peers in memory. */
  get size(): number {
    return this.#peers.size;
  }

  /** Keys in memory, least recently used first. */
  keys(): string[] {
    return [...this.#peers.keys()];
  }

  /** The unexpired sessions held in memory for `key`, newest first (no stats, no LRU change). */
  peek(key: string): CachedSessionInfo[] {
    const now = this.#now();
    return (this.#peers.pool(key) ?? [])
      .filter((e) => e.expiresAt > now)
      .map((e) => ({
        protocol: versionName(e.protocol),
        singleUse: e.singleUse,
        hasTicket: e.hasTicket,
        ticketLifetimeHint: e.ticketLifetimeHint,
        storedAt: e.storedAt,
        expiresAt: e.expiresAt,
        expiresBy: e.expiresBy,
      }));
  }

  /** Whether memory holds an unexpired session for `key` (no stats, no LRU change). */
  has(key: string): boolean {
    return this.peek(key).length > 0;
  }

  /**
   * A session for `key` from memory only, or undefined. A TLS 1.2 session stays cached and
   * the cached value itself is returned (shared: do not dispose it); a TLS 1.3 ticket leaves
   * the cache (each is returned once) and is yours.
   */
  getSync(key: string): V | undefined {
    return this.#takeMemory(key, true);
  }

  /** Like getSync(), then the store on a memory miss. Never rejects: store trouble is a miss. */
  async get(key: string): Promise<V | undefined> {
    return (await this.take(key))?.value;
  }

  /** getSync(), saying whether the value is now the caller's (`owned`: a TLS 1.3 ticket) or still the cache's. */
  takeSync(key: string, countMiss = true): Taken<V> | undefined {
    const value = this.#takeMemory(key, countMiss);
    return value === undefined ? undefined : { value, owned: this.#lastTakeOwned };
  }

  /** A memory-only #take with the miss counted (no result object: getSync is the hot path). */
  #takeMemory(key: string, countMiss: boolean): V | undefined {
    if (this.#disposed) return undefined;
    const value = this.#take(key, 'memory');
    if (value === undefined && countMiss) this.#miss(key);
    return value;
  }

  /** get(), saying whether the value is now the caller's (see takeSync). */
  async take(key: string): Promise<Taken<V> | undefined> {
    return this.takeSync(key, false) ?? this.takeFromStore(key);
  }

  /**
   * The store half of take(), for a caller that already missed in memory: loads the key's
   * record (unless memory became newer meanwhile), then takes from memory. Counts the miss.
   */
  protected async takeFromStore(key: string): Promise<Taken<V> | undefined> {
    if (this.#disposed) return undefined;
    if (this.#tier === null || !this.#persistable(key)) {
      this.#miss(key);
      return undefined;
    }
    try {
      await this.#tier.read(
        key,
        () => this.#peers.has(key) || this.#disposed,
        (records) => this.#load(key, records),
      );
    } catch (error) {
      this.#storeError(error, 'get');
    }
    const value = this.#disposed ? undefined : this.#take(key, 'store');
    if (value === undefined) {
      this.#miss(key);
      return undefined;
    }
    return { value, owned: this.#lastTakeOwned };
  }

  /**
   * Takes ownership of `value` and caches it under `key`. Returns false (and releases the
   * value) when it is refused: verification failed (`trust: 'failed'`), not resumable,
   * already expired, a duplicate, or the cache is disposed.
   */
  set(key: string, value: V, options: { trust?: SessionTrust } = {}): boolean {
    validateString(key, 'key');
    if (value === null || typeof value !== 'object') throw invalidArgType('value', 'a session (an object)', value);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const trust = options.trust ?? 'unverified';
    if (this.#disposed || trust === 'failed' || this.maxPeers === 0) return this.#refuse(value);
    let meta: SessionMeta;
    try {
      meta = this.adapter.describe(value);
    } catch {
      return this.#refuse(value);
    }
    const now = this.#now();
    const { expiresAt, expiresBy } = expiryOf(meta, this.#caps);
    if (!meta.resumable) cacheStored(this, key, value, false); // guard-rail: a TLS 1.3 session taken too early?
    if (!meta.resumable || expiresAt <= now) return this.#refuse(value);
    this.#maybeSweep(now);
    const existing = this.#peers.pool(key);
    if (existing) {
      this.#expirePeer(key, existing, now);
      let der: Buffer | undefined;
      const same = (e: Entry<V>) =>
        e.value !== undefined ? this.adapter.same(e.value, value) : e.der!.equals((der ??= this.adapter.toDER(value)));
      if (existing.some(same)) return this.#refuse(value);
    }
    const entries = this.#peers.pool(key) ?? [];
    const singleUse = meta.protocol === VERSION.TLS1_3;
    // One protocol per peer; a TLS 1.2 peer keeps only its newest session.
    for (let i = entries.length - 1; i >= 0; i--) {
      if (entries[i]!.protocol !== meta.protocol || !singleUse) this.#remove(key, entries, entries[i]!, 'replaced');
    }
    const entry: Entry<V> = {
      value,
      der: undefined,
      lent: false,
      protocol: meta.protocol,
      singleUse,
      hasTicket: meta.hasTicket,
      ticketLifetimeHint: meta.ticketLifetimeHint,
      storedAt: now,
      expiresAt,
      expiresBy,
    };
    this.#adopt(value, key, entry);
    entries.unshift(entry);
    while (entries.length > this.ticketsPerPeer) this.#remove(key, entries, entries[entries.length - 1]!, 'overflow');
    this.#peers.set(key, entries);
    this.#counters.stores++;
    this.#trimPeers();
    this.#persist(key);
    // Guard rail, mixed trust configurations: a key's host and configuration are recorded when
    // the key enters the cache; a new session for a peer already here has nothing new to say.
    if (warningsOn && existing === undefined) cacheStored(this, key, value, true);
    return true;
  }

  /** Evicts least recently used peers while there are more than maxPeers. */
  #trimPeers(): void {
    if (this.#peers.size <= this.maxPeers) return;
    for (const [lru, pool] of this.#peers) {
      if (this.#peers.size <= this.maxPeers) break;
      for (const entry of [...pool]) this.#remove(lru, pool, entry, 'lru');
    }
  }

  /** Drops every session of `key`, in memory and in the store. Returns how many were in memory. */
  evict(key: string): number {
    const entries = this.#peers.pool(key);
    const count = entries?.length ?? 0;
    if (entries) for (const entry of [...entries]) this.#remove(key, entries, entry, 'explicit');
    this.#persist(key);
    return count;
  }

  /**
   * Drops the cached session a value returned by get()/getSync() came from (a connection
   * that used it failed). Returns whether something was dropped. TLS 1.3 tickets already
   * left the cache when taken, so this only matters for reusable (TLS 1.2) sessions.
   */
  evictValue(value: V): boolean {
    return this.dropValue(value, 'error');
  }

  /** evictValue() with the reason given to 'evict' listeners. */
  protected dropValue(value: V, reason: EvictReason): boolean {
    if (value === null || typeof value !== 'object') return false;
    const origin = (value as { [ORIGIN]?: Origin })[ORIGIN];
    if (origin === undefined || origin.cache !== this) return false;
    const entries = this.#peers.pool(origin.key);
    const entry = entries?.find((e) => e === origin.entry);
    if (entries === undefined || entry === undefined) return false;
    this.#remove(origin.key, entries, entry, reason);
    this.#persist(origin.key);
    return true;
  }

  /**
   * Marks `value` as this cache's: its origin (for evictValue) and, with an adapter that can
   * watch values, a hook that drops the entry when someone disposes the value.
   */
  #adopt(value: V, key: string, entry: Entry<V>): void {
    const origin: Origin = { cache: this, key, entry };
    try {
      (value as { [ORIGIN]?: Origin })[ORIGIN] = origin;
    } catch {
      // a frozen value: evictValue() cannot find it, everything else works
    }
    this.adapter.watch?.(value, () => {
      if (!this.#disposed) this.dropValue(value, 'unusable');
    });
  }

  /** Drops every expired session now. Returns how many. */
  sweep(): number {
    this.#lastSweep = this.#now();
    let count = 0;
    for (const [key, entries] of [...this.#peers]) count += this.#expirePeer(key, entries);
    return count;
  }

  /** Resolves once every store write started so far has settled. */
  async flush(): Promise<void> {
    await this.#tier?.flush();
  }

  /** Counters and sizes. */
  stats(): CacheStats {
    let sessions = 0;
    for (const entries of this.#peers.values()) sessions += entries.length;
    return { ...this.#counters, peers: this.#peers.size, sessions };
  }

  /**
   * Releases every session held in memory (values handed out by get() are left to their
   * holders and GC); the cache then stores nothing and finds nothing. The store is left as is.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const entries of this.#peers.values()) for (const e of entries) if (e.value !== undefined) this.#release(e.value, e.lent);
    this.#peers.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The newest usable session of `key` (the peer becomes the most recent). A TLS 1.3 ticket
   * leaves the cache (owned by the caller); a TLS 1.2 value stays and is marked lent.
   * Sets #lastTakeOwned (no result object: this is the hot path).
   */
  #take(key: string, source: HitInfo['source']): V | undefined {
    const now = this.#now();
    this.#maybeSweep(now);
    const slot = this.#peers.slotOf(key);
    if (slot < 0) return undefined;
    this.#peers.touch(slot);
    // Fast path: a reusable session already handed out once, nothing in the pool expired,
    // and (with a watching adapter) no dispose() of it since: no pool or entry is read.
    const fast = this.#peers.fastHit(slot, now);
    if (fast !== undefined && (this.#watching || this.adapter.usable(fast))) {
      this.#lastTakeOwned = false;
      this.#counters.hits++;
      if (this.#hitListeners > 0) this.#emitHit(key, this.#peers.poolAt(slot), source);
      return fast;
    }
    const entries = this.#peers.poolAt(slot);
    this.#expirePeer(key, entries, now);
    for (;;) {
      const entry = entries[0];
      if (entry === undefined) return undefined;
      let value = entry.value;
      if (value === undefined) {
        try {
          value = entry.value = this.adapter.fromDER(entry.der!);
        } catch (error) {
          this.#storeError(error, 'get'); // a stored session that no longer parses
          this.#remove(key, entries, entry, 'error');
          continue;
        }
        this.#adopt(value, key, entry);
      }
      if (!this.adapter.usable(value)) {
        this.#remove(key, entries, entry, 'unusable');
        this.#persist(key);
        continue;
      }
      this.#lastTakeOwned = entry.singleUse;
      if (entry.singleUse) {
        entries.shift();
        entry.value = undefined;
        this.#release(value, true); // handed over
        this.#counters.ticketsTaken++;
        if (entries.length === 0) this.#peers.delete(key);
        else this.#peers.refresh(slot);
        this.#persist(key);
      } else {
        entry.lent = true;
        this.#peers.markFast(slot, value);
      }
      this.#counters.hits++;
      if (this.#hitListeners > 0) this.#emitHit(key, entries, source, entry);
      return value;
    }
  }

  #emitHit(key: string, entries: Entry<V>[], source: HitInfo['source'], entry = entries[0]!): void {
    this.emit('hit', key, { source, protocol: versionName(entry.protocol), singleUse: entry.singleUse, remaining: entries.length });
  }

  #miss(key: string): void {
    this.#counters.misses++;
    if (this.listenerCount('miss') > 0) this.emit('miss', key);
  }

  #refuse(value: V): false {
    this.adapter.dispose(value);
    return false;
  }

  /**
   * The cache lets go of `value`: disposes it, unless someone else holds it (`shared`: lent or
   * handed over). A value that lives on forgets this cache (no dispose hook, no origin), so
   * holding it does not keep the cache alive.
   */
  #release(value: V, shared: boolean): void {
    if (!shared) {
      this.adapter.dispose(value);
      return;
    }
    this.adapter.watch?.(value, null);
    const carrier = value as { [ORIGIN]?: Origin };
    if (carrier[ORIGIN]?.cache === this) carrier[ORIGIN] = undefined;
  }

  /** Removes `entry` from the pool of `key` (and the peer when it empties), releasing its value. */
  #remove(key: string, entries: Entry<V>[], entry: Entry<V>, reason: EvictReason): void {
    const index = entries.indexOf(entry);
    if (index < 0) return;
    entries.splice(index, 1);
    if (this.#peers.pool(key) === entries) {
      if (entries.length === 0) this.#peers.delete(key);
      else this.#peers.refresh(this.#peers.slotOf(key));
    }
    const value = entry.value;
    entry.value = undefined;
    if (value !== undefined) this.#release(value, entry.lent);
    if (reason === 'expired') this.#counters.expirations++;
    else this.#counters.evictions++;
    this.emit('evict', key, reason);
  }

  #expirePeer(key: string, entries: Entry<V>[], now = this.#now()): number {
    let expired = 0;
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (entry.expiresAt > now) continue;
      this.#remove(key, entries, entry, 'expired');
      expired++;
    }
    return expired;
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.sweep();
  }

  #persistable(key: string): boolean {
    const info = keyInfo(key);
    return !info.ephemeral && (!info.clientCertificate || this.persistClientCertSessions);
  }

  /** Puts the store's records of `key` in memory (the tier checked memory is not newer). */
  #load(key: string, records: SessionRecord[]): void {
    const now = this.#now();
    const entries: Entry<V>[] = records
      .filter((r) => r.expiresAt > now)
      .slice(0, this.ticketsPerPeer)
      .map((r) => ({ ...r, value: undefined, lent: false }));
    if (entries.length === 0 || this.maxPeers === 0) return;
    this.#peers.set(key, entries);
    this.#trimPeers();
  }

  /** Writes the current sessions of `key` through to the store (coalesced, in order). */
  #persist(key: string): void {
    if (this.#tier === null || !this.#persistable(key)) return;
    const records: SessionRecord[] = [];
    for (const e of this.#peers.pool(key) ?? []) {
      try {
        e.der ??= this.adapter.toDER(e.value!);
      } catch {
        continue;
      }
      const { value: _value, der, lent: _lent, ...meta } = e;
      records.push({ ...meta, der });
    }
    this.#tier.write(key, records);
  }

  #storeError(error: unknown, operation: StoreOperation): void {
    this.#counters.storeErrors++;
    if (this.listenerCount('storeError') > 0) this.emit('storeError', error instanceof Error ? error : new Error(String(error)), operation);
  }
}
