/**
 * PeerTable: the session cache's peers, key -> pool of entries, in LRU order, laid out so a
 * cache hit touches as little memory as possible.
 *
 * At 10 k peers a hit is bound by memory latency, not by instructions: following key ->
 * node -> pool array -> entry -> value costs a cache miss per hop (~1 µs in all). So each
 * peer is a slot number; the LRU links and the earliest expiry of each pool live in typed
 * arrays, and a hit on a reusable session reads its value from `fast`, a dense array the
 * cache fills after a first (slow) hit and that any change to the pool clears. A hit is then
 * a Map lookup plus a few reads of arrays that stay in the CPU cache (the same layout as
 * lru-cache).
 */
export interface PoolEntry {
  expiresAt: number;
}

const NONE = -1;

export class PeerTable<E extends PoolEntry, V> {
  readonly #slots = new Map<string, number>();
  #keys: Array<string | undefined> = [];
  #pools: Array<E[] | undefined> = [];
  /** The value a hit may return without looking at the pool (see markFast), or undefined. */
  #fast: Array<V | undefined> = [];
  #minExpires = new Float64Array(16);
  #older = new Int32Array(16);
  #newer = new Int32Array(16);
  #oldest = NONE;
  #newest = NONE;
  readonly #free: number[] = [];

  get size(): number {
    return this.#slots.size;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  /** The slot of `key`, or -1. Does not change recency. */
  slotOf(key: string): number {
    return this.#slots.get(key) ?? NONE;
  }

  /** The pool of `key`, without changing recency. */
  pool(key: string): E[] | undefined {
    const slot = this.#slots.get(key);
    return slot === undefined ? undefined : this.#pools[slot];
  }

  poolAt(slot: number): E[] {
    return this.#pools[slot]!;
  }

  /** The fast value of `slot` if no entry of its pool has expired by `now`, else undefined. */
  fastHit(slot: number, now: number): V | undefined {
    return this.#minExpires[slot]! > now ? this.#fast[slot] : undefined;
  }

  /** Lets hits on `slot` return `value` directly until the pool changes (refresh). */
  markFast(slot: number, value: V): void {
    this.#fast[slot] = value;
  }

  /** Makes `slot` the most recently used. */
  touch(slot: number): void {
    if (slot === this.#newest) return;
    this.#unlink(slot);
    this.#append(slot);
  }

  /** Sets the pool of `key` and makes it the most recently used. */
  set(key: string, pool: E[]): void {
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#free.pop() ?? this.#grow();
      this.#slots.set(key, slot);
      this.#keys[slot] = key;
      this.#append(slot);
    } else {
      this.touch(slot);
    }
    this.#pools[slot] = pool;
    this.refresh(slot);
  }

  /** Call after changing the pool of `slot`: recomputes its earliest expiry and clears its fast value. */
  refresh(slot: number): void {
    let min = Infinity;
    for (const entry of this.#pools[slot]!) if (entry.expiresAt < min) min = entry.expiresAt;
    this.#minExpires[slot] = min;
    this.#fast[slot] = undefined;
  }

  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#slots.delete(key);
    this.#unlink(slot);
    this.#keys[slot] = this.#pools[slot] = this.#fast[slot] = undefined;
    this.#free.push(slot);
    return true;
  }

  clear(): void {
    this.#slots.clear();
    this.#keys = [];
    this.#pools = [];
    this.#fast = [];
    this.#free.length = 0;
    this.#minExpires = new Float64Array(16);
    this.#older = new Int32Array(16);
    this.#newer = new Int32Array(16);
    this.#oldest = this.#newest = NONE;
  }

  /** [key, pool] pairs, least recently used first. Deleting the current key while iterating is safe. */
  *entries(): IterableIterator<[string, E[]]> {
    for (let slot = this.#oldest; slot !== NONE;) {
      const next = this.#newer[slot]!;
      yield [this.#keys[slot]!, this.#pools[slot]!];
      slot = next;
    }
  }

  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<E[]> {
    for (const [, pool] of this.entries()) yield pool;
  }

  [Symbol.iterator](): IterableIterator<[string, E[]]> {
    return this.entries();
  }

  #grow(): number {
    const slot = this.#keys.length;
    this.#keys.push(undefined);
    this.#pools.push(undefined);
    this.#fast.push(undefined);
    if (slot >= this.#minExpires.length) {
      const size = this.#minExpires.length * 2;
      const grow = <T extends Float64Array | Int32Array>(old: T, make: (n: number) => T): T => {
        const bigger = make(size);
        bigger.set(old);
        return bigger;
      };
      this.#minExpires = grow(this.#minExpires, (n) => new Float64Array(n));
      this.#older = grow(this.#older, (n) => new Int32Array(n));
      this.#newer = grow(this.#newer, (n) => new Int32Array(n));
    }
    return slot;
  }

  #unlink(slot: number): void {
    const older = this.#older[slot]!;
    const newer = this.#newer[slot]!;
    if (older === NONE) this.#oldest = newer;
    else this.#newer[older] = newer;
    if (newer === NONE) this.#newest = older;
    else this.#older[newer] = older;
    this.#older[slot] = this.#newer[slot] = NONE;
  }

  #append(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NONE;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }
}
