/**
 * TicketKeys: the keys a server encrypts session tickets with, rotated, and shared by every
 * process of a fleet so a ticket issued by one server resumes on any other
 * (SSL_CTX_set_tlsext_ticket_key_evp_cb; `context.setTicketKeys(keys)`).
 *
 * - The current key encrypts new tickets. When the rotation interval (default 12 h) has passed,
 *   the next key takes over; the retired one still decrypts for a grace period (default
 *   `keep` × interval) and at most `keep` (default 2) retired keys are held. A ticket under a
 *   retired key resumes AND gets a fresh ticket under the current key (the callback returns 2).
 * - Key bytes live in C++ memory only (native/ticket_keys.cc) and are zeroed (OPENSSL_cleanse)
 *   when dropped or freed. To share them they must travel: `fromStore` / `fromFile` move them
 *   as one record (zeroed in JS as soon as it is written or read); wrap the store in an
 *   EncryptedStore (or give RedisStore an `encryptionKey`) so they are encrypted at rest.
 * - Fleet rotation needs no coordinator: the shared record always holds the NEXT key one
 *   interval before it starts encrypting; every process re-reads the record every
 *   `checkInterval` and whichever process first sees that no next key exists adds one. Two
 *   processes racing both write a next key; the last write wins and everyone converges on the
 *   next read, long before that key encrypts anything. Next keys already decrypt, so a server
 *   whose clock runs a little ahead does no harm.
 * - The clock is injectable (`now`): decisions in the ticket callback use it too.
 *
 * Not a derived-key scheme on purpose: keys derived from one long-lived secret would let
 * whoever steals that secret decrypt every ticket ever issued; random keys that are dropped
 * after the grace period limit what a stolen key can open.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { invalidArgType, validateInteger, validateString } from '../errors.js';
import { binding } from '../native.js';
import type { SessionStore } from '../stores/store.js';

const HOUR = 3_600_000;

/** The native key ring (native/ticket_keys.h), exported as a static of SslContext. */
interface NativeTicketKeys {
  generate(activeFrom: number): void;
  maintain(now: number): void;
  import(record: Uint8Array): boolean;
  export(): Buffer;
  describe(now: number): TicketKeyInfo[];
  stats(): Omit<TicketKeysStats, 'refreshes' | 'refreshErrors' | 'keys'>;
  setClock(clock: (() => number) | null): void;
  /** Zeroes and drops every key, and stops automatic rotation for good. */
  clear(): void;
  size(): number;
}

type NativeTicketKeysClass = new (interval: number, gracePeriod: number, keep: number, autoRotate: boolean) => NativeTicketKeys;
const NativeTicketKeysClass = (binding.SslContext as unknown as { TicketKeys: NativeTicketKeysClass }).TicketKeys;

/** One key, as `keys()` describes it (never its bytes). */
export interface TicketKeyInfo {
  /** The 16-byte key name (hex) every ticket under this key starts with. */
  name: string;
  /** When it starts (started) encrypting, ms since the epoch. */
  activeFrom: number;
  /** current: encrypts; next: decrypts, encrypts from activeFrom; previous: decrypts until decryptUntil. */
  state: 'current' | 'next' | 'previous';
  /** When a previous key stops decrypting (null: current and next keys). */
  decryptUntil: number | null;
}

export interface TicketKeysStats {
  /** Tickets issued. */
  encrypted: number;
  /** Tickets presented under the current (or a next) key. */
  decrypted: number;
  /** Tickets presented under a retired key within its grace period (resumed and renewed). */
  decryptedWithOldKey: number;
  /** Tickets under an unknown or expired key (a full handshake follows). */
  rejected: number;
  /** Shared sources: refreshes done / failed. */
  refreshes: number;
  refreshErrors: number;
  /** Keys held now. */
  keys: number;
}

export interface TicketKeysOptions {
  /** Rotation interval, ms (default 12 h). */
  interval?: number;
  /** Retired keys kept for decryption (default 2). */
  keep?: number;
  /** How long a retired key still decrypts, ms (default keep × interval). */
  gracePeriod?: number;
  /** Clock, ms since the epoch (default Date.now); the ticket callback uses it too. */
  now?: () => number;
}

export interface SharedTicketKeysOptions extends TicketKeysOptions {
  /**
   * How often the shared record is re-read (and a next key added when missing), ms
   * (default min(interval / 4, 5 min)); 0 = never on its own (call refresh()).
   */
  checkInterval?: number;
  /** Called with errors of the background refresh (the keys held stay in use). */
  onError?: (error: Error) => void;
  /**
   * Reject when the source cannot be read at start (default false: start with a local key,
   * report the error to `onError`, and join the shared keys on a later refresh). A record
   * that exists but cannot be parsed always rejects (ERR_TICKET_KEYS_FORMAT).
   */
  requireStore?: boolean;
}

/** Where a fleet's key record lives. */
interface KeySource {
  load(): Promise<Buffer | undefined>;
  save(record: Buffer, expiresAt: number): Promise<void>;
  /** Writes only when absent; false when a record already exists. */
  create(record: Buffer, expiresAt: number): Promise<boolean>;
}

/** A store with an atomic create-if-absent (RedisStore has one: SET NX). */
interface StoreWithSetIfAbsent extends SessionStore {
  setIfAbsent(key: string, value: Buffer, expiresAt: number): Promise<boolean>;
}

function hasSetIfAbsent(store: SessionStore): store is StoreWithSetIfAbsent {
  return typeof (store as Partial<StoreWithSetIfAbsent>).setIfAbsent === 'function';
}

function storeSource(store: SessionStore, name: string): KeySource {
  return {
    load: () => store.get(name),
    save: (record, expiresAt) => store.set(name, record, expiresAt),
    async create(record, expiresAt) {
      if (hasSetIfAbsent(store)) return store.setIfAbsent(name, record, expiresAt);
      // No atomic create: check, write, and report "not created" so the caller re-reads what
      // the store holds now (two processes starting at the same instant may both write; the
      // re-read, or at worst the next refresh, puts them on the same record).
      if ((await store.get(name)) !== undefined) return false;
      await store.set(name, record, expiresAt);
      return false;
    },
  };
}

function fileSource(path: string): KeySource {
  const temp = () => `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  async function writeTemp(record: Buffer): Promise<string> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const name = temp();
    const handle = await open(name, 'wx', 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(record);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return name;
  }
  return {
    async load() {
      try {
        return await readFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async save(record) {
      const name = await writeTemp(record);
      try {
        await rename(name, path); // atomic replace
      } catch (error) {
        await unlink(name).catch(() => {});
        throw error;
      }
    },
    async create(record) {
      const name = await writeTemp(record);
      try {
        await link(name, path); // atomic create: EEXIST when another process was first
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        await unlink(name).catch(() => {});
      }
    },
  };
}

interface ResolvedOptions {
  interval: number;
  keep: number;
  gracePeriod: number;
  now: () => number;
}

function resolveOptions(options: TicketKeysOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
  const interval = validateInteger(options.interval ?? 12 * HOUR, 'options.interval', 1000);
  const keep = validateInteger(options.keep ?? 2, 'options.keep', 0, 32);
  const gracePeriod = validateInteger(options.gracePeriod ?? keep * interval, 'options.gracePeriod');
  if (options.now !== undefined && typeof options.now !== 'function') throw invalidArgType('options.now', 'a function', options.now);
  return { interval, keep, gracePeriod, now: options.now ?? Date.now };
}

/** Marks the constructor call of fromStore/fromFile (keys come from the source, no auto-rotation). */
const SHARED = Symbol('shared ticket keys');

/** Session ticket keys with rotation; see the module comment. Pass to `context.setTicketKeys()`. */
export class TicketKeys extends NativeTicketKeysClass {
  readonly interval: number;
  readonly keep: number;
  readonly gracePeriod: number;
  readonly #now: () => number;
  #source: KeySource | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #checkInterval = 0;
  #onError: ((error: Error) => void) | undefined;
  #refreshes = 0;
  #refreshErrors = 0;
  #closed = false;

  /**
   * Keys for ONE process: random, made in C++, rotated automatically every `interval` (checked
   * on every ticket operation, so no timer runs). For a fleet use `fromStore` or `fromFile`.
   */
  constructor(options: TicketKeysOptions = {}, mode?: symbol) {
    const o = resolveOptions(options);
    super(o.interval, o.gracePeriod, o.keep, mode !== SHARED);
    this.interval = o.interval;
    this.keep = o.keep;
    this.gracePeriod = o.gracePeriod;
    this.#now = o.now;
    if (options.now !== undefined) this.setClock(o.now); // the ticket callback asks it too
    if (mode !== SHARED) this.maintain(this.#now());
  }

  /**
   * Keys shared through a SessionStore (e.g. one RedisStore for the fleet) under `name`
   * (default 'openssl-session:ticket-keys'): loaded now (created when absent), re-read every
   * `checkInterval`. Resolves once keys are loaded.
   */
  static async fromStore(store: SessionStore, options: SharedTicketKeysOptions & { name?: string } = {}): Promise<TicketKeys> {
    if (store === null || typeof store !== 'object' || typeof store.get !== 'function')
      throw invalidArgType('store', 'a SessionStore', store);
    const name = validateString(options.name ?? 'openssl-session:ticket-keys', 'options.name');
    return TicketKeys.#shared(storeSource(store, name), options);
  }

  /**
   * Keys shared through one file (mode 0600, replaced atomically; created when absent), e.g. on
   * a volume every process of a host mounts. Re-read every `checkInterval`.
   */
  static async fromFile(path: string, options: SharedTicketKeysOptions = {}): Promise<TicketKeys> {
    return TicketKeys.#shared(fileSource(resolve(validateString(path, 'path'))), options);
  }

  static async #shared(source: KeySource, options: SharedTicketKeysOptions): Promise<TicketKeys> {
    const keys = new TicketKeys(options, SHARED);
    const checkInterval = validateInteger(options.checkInterval ?? Math.min(keys.interval / 4, 5 * 60_000), 'options.checkInterval');
    if (options.onError !== undefined && typeof options.onError !== 'function')
      throw invalidArgType('options.onError', 'a function', options.onError);
    keys.#source = source;
    keys.#checkInterval = checkInterval;
    keys.#onError = options.onError;
    try {
      await keys.refresh();
    } catch (error) {
      // The store is unreachable (or holds a record we cannot read): unless told otherwise,
      // start with a key of our own so this server still issues tickets (they resume here
      // only), and let the periodic refresh join the fleet's keys once the store answers.
      if (options.requireStore || (error as { code?: string })?.code === 'ERR_TICKET_KEYS_FORMAT') {
        keys.close();
        throw error;
      }
      keys.generate(keys.now());
      keys.#onError?.(error instanceof Error ? error : new Error(String(error)));
    }
    if (checkInterval > 0) {
      keys.#timer = setInterval(() => {
        keys.refresh().catch((error: unknown) => keys.#onError?.(error instanceof Error ? error : new Error(String(error))));
      }, checkInterval);
      keys.#timer.unref();
    }
    return keys;
  }

  /** The clock these keys use (ms since the epoch). */
  now(): number {
    return this.#now();
  }

  /**
   * Shared keys: re-reads the record, adds a next key when none is waiting (and a first key
   * when there is no record), drops expired keys, and writes the record back when it changed.
   * In-memory keys: rotates and prunes now. Concurrent calls share one run.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#source === undefined) {
      this.maintain(this.now());
      return Promise.resolve();
    }
    this.#refreshing ??= this.#refreshShared().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refreshShared(): Promise<void> {
    const source = this.#source!;
    try {
      let existed = await this.#load(source);
      for (let attempt = 0; attempt < 3; attempt++) {
        const now = this.now();
        let changed = false;
        if (this.size() === 0) {
          this.generate(now);
          changed = true;
        }
        const described = this.describe(now);
        if (!described.some((k) => k.state === 'next')) {
          const latest = described[described.length - 1]!;
          // One interval after the current key started; when that moment is already past
          // (nobody refreshed in time), far enough ahead for every process to read it first.
          const lead = 2 * (this.#checkInterval > 0 ? this.#checkInterval : this.interval / 4);
          this.generate(Math.max(latest.activeFrom + this.interval, now + lead));
          changed = true;
        }
        const before = this.size();
        this.maintain(now);
        changed ||= this.size() !== before;
        if (!changed) break;
        const record = this.export();
        // The record outlives every key in it by a margin; each save pushes it forward.
        const expiresAt = now + this.interval * (this.keep + 3) + this.gracePeriod;
        try {
          if (existed) {
            await source.save(record, expiresAt);
            break;
          }
          if (await source.create(record, expiresAt)) break;
        } finally {
          record.fill(0);
        }
        existed = await this.#load(source); // another process created it first: use theirs
      }
      this.#refreshes++;
    } catch (error) {
      this.#refreshErrors++;
      throw error;
    }
  }

  /** Loads the shared record into C++; returns whether one existed. */
  async #load(source: KeySource): Promise<boolean> {
    const record = await source.load();
    if (record === undefined) return false;
    try {
      if (!this.import(record)) {
        throw Object.assign(new Error('openssl-session: the shared ticket key record is not in the expected format'), {
          code: 'ERR_TICKET_KEYS_FORMAT',
        });
      }
    } finally {
      record.fill(0);
    }
    return true;
  }

  /** The keys held, newest last (names and times only). */
  keys(): TicketKeyInfo[] {
    return this.describe(this.now());
  }

  /** Ticket counters (from the callback) and refresh counters. */
  override stats(): TicketKeysStats {
    return { ...super.stats(), refreshes: this.#refreshes, refreshErrors: this.#refreshErrors, keys: this.size() };
  }

  /** Stops the background refresh and zeroes every key (contexts using them then issue no tickets). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
