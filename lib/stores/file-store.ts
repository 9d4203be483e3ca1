/**
 * FileStore: sessions in ONE file that survives restarts (seed 001: "if you want sessions to
 * persist across boots, you may be better off using some kind of disk-based cache").
 *
 * - The file is created with mode 0600 (it holds resumption secrets) in a directory created
 *   0700 if missing, and replaced atomically: write a temp file next to it, fsync, rename().
 *   A crash leaves either the old or the new file, never half of one.
 * - Keys are stored as SHA-256 hashes, so the file does not list the hosts you talk to in
 *   clear (wrap the store in an EncryptedStore to hide them from a dictionary, too).
 * - An unreadable or corrupt file is reported with `process.emitWarning` (code
 *   `OPENSSL_SESSION_STORE_CORRUPT`) and the store starts empty; the next write replaces it.
 *   Reading never throws.
 * - Writes are coalesced: while one is in flight, later changes are batched into the next.
 *
 * One process at a time should write a given file: concurrent writers do not corrupt it
 * (rename is atomic) but the last writer wins.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { invalidArgType, validateInteger, validateString } from '../errors.js';
import type { SessionStore } from './store.js';

/** The format marker at the top of the file. */
export const FILE_STORE_FORMAT = 'openssl-session/file-store';
const FILE_STORE_VERSION = 1;

export interface FileStoreOptions {
  /** Most records kept; the ones expiring first are dropped beyond it (default 10000). */
  maxEntries?: number;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

interface Stored {
  value: Buffer;
  expiresAt: number;
}

interface FileShape {
  format: string;
  version: number;
  entries: Record<string, { value: string; expiresAt: number }>;
}

function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function isFileShape(value: unknown): value is FileShape {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<FileShape>;
  return v.format === FILE_STORE_FORMAT && v.version === FILE_STORE_VERSION && v.entries !== null && typeof v.entries === 'object';
}

/** A SessionStore persisted to one JSON file (mode 0600, atomic replace, hashed keys). */
export class FileStore implements SessionStore {
  /** Absolute path of the file. */
  readonly path: string;
  readonly #maxEntries: number;
  readonly #now: () => number;
  #map: Promise<Map<string, Stored>> | undefined;
  #writing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #closed = false;

  constructor(path: string, options: FileStoreOptions = {}) {
    this.path = resolve(validateString(path, 'path'));
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    this.#maxEntries = validateInteger(options.maxEntries ?? 10_000, 'options.maxEntries', 1);
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const stored = (await this.#load()).get(hashKey(key));
    if (stored === undefined || stored.expiresAt <= this.#now()) return undefined;
    return Buffer.from(stored.value);
  }

  async set(key: string, value: Buffer, expiresAt: number): Promise<void> {
    this.#assertOpen();
    (await this.#load()).set(hashKey(key), { value: Buffer.from(value), expiresAt });
    return this.#save();
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen();
    if ((await this.#load()).delete(hashKey(key))) return this.#save();
  }

  /** Resolves once every accepted change is on disk (rejects with the last write error). */
  async flush(): Promise<void> {
    await this.#queued;
    await this.#writing;
  }

  /** Flushes; later set()/delete() calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush().catch(() => {});
  }

  #assertOpen(): void {
    if (this.#closed) throw Object.assign(new Error(`FileStore ${this.path} is closed`), { code: 'ERR_SESSION_STORE_CLOSED' });
  }

  #load(): Promise<Map<string, Stored>> {
    this.#map ??= this.#read();
    return this.#map;
  }

  async #read(): Promise<Map<string, Stored>> {
    const map = new Map<string, Stored>();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#warn(`cannot be read (${(error as Error).message})`);
      return map;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.#warn('is not valid JSON');
      return map;
    }
    if (!isFileShape(parsed)) {
      this.#warn(`is not a ${FILE_STORE_FORMAT} v${FILE_STORE_VERSION} file`);
      return map;
    }
    const now = this.#now();
    for (const [hash, entry] of Object.entries(parsed.entries)) {
      // Skip (without failing the file) any entry that is malformed or expired.
      if (!/^[0-9a-f]{64}$/.test(hash) || entry === null || typeof entry !== 'object') continue;
      if (typeof entry.value !== 'string' || typeof entry.expiresAt !== 'number' || entry.expiresAt <= now) continue;
      map.set(hash, { value: Buffer.from(entry.value, 'base64'), expiresAt: entry.expiresAt });
    }
    return map;
  }

  #warn(what: string): void {
    process.emitWarning(`openssl-session: session file ${this.path} ${what}; starting with an empty store (the next write replaces it)`, {
      code: 'OPENSSL_SESSION_STORE_CORRUPT',
    });
  }

  /** Schedules a write that includes every change made so far; coalesces with a queued one. */
  #save(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#writing) {
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
      });
      return this.#writing;
    }
    const queued = this.#writing
      .catch(() => {})
      .then(() => {
        this.#queued = undefined;
        return this.#save();
      });
    this.#queued = queued;
    return queued;
  }

  async #write(): Promise<void> {
    const map = await this.#load();
    const now = this.#now();
    let live = [...map].filter(([, s]) => s.expiresAt > now);
    if (live.length > this.#maxEntries) live = live.sort((a, b) => b[1].expiresAt - a[1].expiresAt).slice(0, this.#maxEntries);
    if (live.length !== map.size) {
      map.clear();
      for (const [hash, stored] of live) map.set(hash, stored);
    }
    const shape: FileShape = { format: FILE_STORE_FORMAT, version: FILE_STORE_VERSION, entries: {} };
    for (const [hash, stored] of live) shape.entries[hash] = { value: stored.value.toString('base64'), expiresAt: stored.expiresAt };

    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // whatever the umask
      await handle.writeFile(JSON.stringify(shape), 'utf8');
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw error;
    }
    await handle.close();
    try {
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  }
}
