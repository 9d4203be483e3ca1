/**
 * The interface every session store implements: an async map from a cache key to an opaque
 * record (bytes) with an absolute expiry. The client cache (lib/cache) serializes a peer's
 * sessions into one record and writes it through on every change; a store only keeps bytes.
 *
 * Stored sessions are secrets (they carry the resumption master secret): stores that write
 * outside the process must protect them (FileStore: mode 0600; EncryptedStore: AES-256-GCM).
 */

/** An async key/value store for serialized sessions. Implementations must never keep `value` by reference. */
export interface SessionStore {
  /** The record stored under `key`, or undefined when absent or expired. */
  get(key: string): Promise<Buffer | undefined>;
  /** Stores `value` under `key` until `expiresAt` (ms since the epoch), replacing any previous record. */
  set(key: string, value: Buffer, expiresAt: number): Promise<void>;
  /** Removes the record under `key` (no error when absent). */
  delete(key: string): Promise<void>;
  /** Resolves once every write accepted so far is durable (optional). */
  flush?(): Promise<void>;
  /** Flushes and releases resources (optional). */
  close?(): Promise<void>;
}

/** Rejects with a coded Error when `promise` does not settle within `ms` (0 = no limit). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`${what} did not finish within ${ms} ms`), { code: 'ERR_SESSION_STORE_TIMEOUT' }));
    }, ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
