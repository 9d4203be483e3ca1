/**
 * The store side of a SessionCache: the operations of one key run one after another, writes
 * are coalesced (a write queued behind another takes the newest snapshot), and every store
 * call is bounded by a timeout. Failures go to `onError`; nothing here throws at the cache.
 */
import { type SessionStore, withTimeout } from '../stores/store.js';
import { decodeRecords, encodeRecords, type SessionRecord } from './record.js';

export type StoreOperation = 'get' | 'set' | 'delete';

export class StoreTier {
  readonly store: SessionStore;
  readonly timeout: number;
  readonly #onError: (error: unknown, operation: StoreOperation) => void;
  readonly #chains = new Map<string, Promise<void>>();
  /** Memory state of a key newer than its store record, waiting to be written. */
  readonly #snapshots = new Map<string, SessionRecord[]>();

  constructor(store: SessionStore, timeout: number, onError: (error: unknown, operation: StoreOperation) => void) {
    this.store = store;
    this.timeout = timeout;
    this.#onError = onError;
  }

  /** Whether a write of `key` is still queued (memory is newer than the store). */
  writePending(key: string): boolean {
    return this.#snapshots.has(key);
  }

  /**
   * Runs `load` with the decoded record of `key`, in order with the key's writes. `load` is
   * not called when there is no record, when `skip()` says memory became as new (checked
   * before and after the read), or when the record does not decode (a store error).
   * Rejects only with a timeout or the store's own error.
   */
  read(key: string, skip: () => boolean, load: (records: SessionRecord[]) => void): Promise<void> {
    return withTimeout(
      this.#serial(key, async () => {
        if (skip() || this.#snapshots.has(key)) return;
        const bytes = await withTimeout(this.store.get(key), this.timeout, 'session store get');
        if (bytes === undefined || skip() || this.#snapshots.has(key)) return;
        let records: SessionRecord[];
        try {
          records = decodeRecords(bytes);
        } catch (error) {
          this.#onError(error, 'get');
          return;
        }
        load(records);
      }),
      this.timeout,
      'session store get',
    );
  }

  /** Writes `records` (newest first; none: delete) as the record of `key`, coalesced and in order. */
  write(key: string, records: SessionRecord[]): void {
    const queued = this.#snapshots.has(key);
    this.#snapshots.set(key, records);
    if (queued) return; // the write already queued takes this newer snapshot
    let operation: StoreOperation = 'set';
    this.#serial(key, async () => {
      const latest = this.#snapshots.get(key) ?? [];
      this.#snapshots.delete(key);
      if (latest.length === 0) {
        operation = 'delete';
        await withTimeout(this.store.delete(key), this.timeout, 'session store delete');
      } else {
        const expiresAt = Math.max(...latest.map((r) => r.expiresAt));
        await withTimeout(this.store.set(key, encodeRecords(latest), expiresAt), this.timeout, 'session store set');
      }
    }).catch((error: unknown) => this.#onError(error, operation));
  }

  /** Resolves once every store operation started so far has settled. */
  async flush(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /** Runs store operations of one key one after another. */
  #serial(key: string, fn: () => Promise<void>): Promise<void> {
    const run = (this.#chains.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => {});
    this.#chains.set(key, tail);
    void tail.then(() => {
      if (this.#chains.get(key) === tail) this.#chains.delete(key);
    });
    return run;
  }
}
