/**
 * RedisStore: a SessionStore in Redis (the official `redis` client, node-redis), for the many
 * machines of a fleet: servers share their session cache (ServerSessionCache) and ticket keys
 * (TicketKeys.fromStore); clients share their session cache (SslSessionCache). What Apache's
 * mod_ssl socache_redis does, and what rustls users ask for.
 *
 * - Keys are namespaced and hashed: `<namespace>:<sha256(key)>`, so Redis (and whoever reads
 *   its dumps) never sees host names or session ids, and keys spread over a cluster's slots.
 * - With `encryptionKey` (32 bytes) values are sealed with AES-256-GCM before they leave the
 *   process (an EncryptedStore in front): Redis holds ciphertext only; a process with another
 *   key reads misses.
 * - TTL: every record expires in Redis at its `expiresAt` (SET … PXAT).
 * - Single Redis (`url` / `client` options) or Redis Cluster (`cluster`: createCluster options).
 * - Redis down or slow never blocks or fails a handshake: commands are not queued while
 *   disconnected (disableOfflineQueue: they fail at once, counted as `unavailable`), every
 *   command is bounded by `commandTimeout` (default 250 ms; the reply, not only the write),
 *   and the client reconnects by itself with exponential backoff (reconnectStrategy). Callers (the caches) turn every failure
 *   into a miss or a skipped write: a full handshake, never a failed connection.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

import type { RedisClientOptions, RedisClientType, RedisClusterOptions, RedisClusterType } from 'redis';

import { invalidArgType, outOfRange, validateInteger, validateString } from '../errors.js';
import { EncryptedStore } from './encrypted-store.js';
import type { SessionStore } from './store.js';

export interface RedisStoreOptions {
  /** Single Redis: `redis://[[user][:password]@]host[:port][/db]`. */
  url?: string;
  /** Single Redis: node-redis client options (merged over `url`; our socket defaults fill the gaps). */
  client?: RedisClientOptions;
  /** Redis Cluster: node-redis createCluster options (`rootNodes`, `defaults`, ...). */
  cluster?: RedisClusterOptions;
  /** Key prefix (default 'openssl-session'). */
  namespace?: string;
  /** 32 secret bytes: encrypt values at rest (AES-256-GCM, EncryptedStore). */
  encryptionKey?: Uint8Array;
  /** Per-command timeout, ms (default 250). */
  commandTimeout?: number;
  /** Reconnect backoff: first delay and cap, ms (default 50 and 2000). */
  reconnectDelay?: { min?: number; max?: number };
  /** Socket connect timeout, ms (default 1000). */
  connectTimeout?: number;
}

export interface RedisStoreStats {
  /** GETs answered (hits + misses). */
  gets: number;
  hits: number;
  misses: number;
  /** SETs and DELs that succeeded. */
  sets: number;
  deletes: number;
  /** Commands refused at once because Redis was not connected. */
  unavailable: number;
  /** Commands that timed out. */
  timeouts: number;
  /** Other command failures. */
  errors: number;
  /** Connection errors the client reported, and reconnections that succeeded. */
  connectionErrors: number;
  reconnects: number;
  /** Whether the client is connected and ready now. */
  ready: boolean;
}

type AnyRedis = RedisClientType | RedisClusterType;

/** The commands we use, with Buffers for blob replies and a per-command timeout. */
interface Commands {
  get(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer, options: object): Promise<unknown>;
  del(key: string): Promise<number>;
}

type RedisModule = typeof import('redis');
let redisModule: RedisModule | undefined;

/**
 * node-redis, loaded on first use: it takes ~300 ms to load, which nobody who never makes a
 * RedisStore should pay when importing this package.
 */
function loadRedis(): RedisModule {
  if (redisModule === undefined) {
    try {
      redisModule = createRequire(import.meta.url)('redis') as RedisModule;
    } catch (cause) {
      throw Object.assign(new Error('RedisStore needs the `redis` package (node-redis): npm install redis', { cause }), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
    }
  }
  return redisModule;
}

function unavailableError(): Error {
  return Object.assign(new Error('Redis is not connected (the session store answers nothing until it reconnects)'), {
    code: 'ERR_SESSION_STORE_UNAVAILABLE',
  });
}

/** A SessionStore in Redis (single or cluster); see the module comment. */
export class RedisStore implements SessionStore {
  readonly namespace: string;
  readonly commandTimeout: number;
  /** The node-redis client (RedisClientType, or RedisClusterType with `cluster`). */
  readonly redis: AnyRedis;
  readonly #commands: Commands;
  readonly #front: SessionStore;
  readonly #encryptedNx: EncryptedStore | undefined;
  readonly #nxResults = new Map<string, boolean>();
  readonly #nxQueue = new Map<string, Promise<void>>();
  readonly #counters = {
    gets: 0,
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    unavailable: 0,
    timeouts: 0,
    errors: 0,
    connectionErrors: 0,
    reconnects: 0,
  };
  readonly #connecting: Promise<void>;
  #everReady = false;
  #reconnecting = 0;
  #closed = false;
  #readyWaiters: Array<() => void> = [];
  #wakeConnect: (() => void) | undefined;

  constructor(options: RedisStoreOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    this.namespace = validateString(options.namespace ?? 'openssl-session', 'options.namespace');
    this.commandTimeout = validateInteger(options.commandTimeout ?? 250, 'options.commandTimeout', 1);
    const min = validateInteger(options.reconnectDelay?.min ?? 50, 'options.reconnectDelay.min', 1);
    const max = validateInteger(options.reconnectDelay?.max ?? 2000, 'options.reconnectDelay.max', min);
    const connectTimeout = validateInteger(options.connectTimeout ?? 1000, 'options.connectTimeout', 1);
    if (options.encryptionKey !== undefined) {
      if (!(options.encryptionKey instanceof Uint8Array))
        throw invalidArgType('options.encryptionKey', 'a Buffer or Uint8Array of 32 bytes', options.encryptionKey);
      if (options.encryptionKey.length !== 32)
        throw outOfRange('options.encryptionKey', '32 bytes long', `${options.encryptionKey.length} bytes`);
    }
    if (options.cluster !== undefined && (options.url !== undefined || options.client !== undefined)) {
      throw invalidArgType('options', 'either `cluster` or `url`/`client`, not both', options);
    }

    // Exponential backoff with jitter; never gives up (a store must come back by itself).
    const reconnectStrategy = (retries: number): number => {
      const delay = Math.min(max, min * 2 ** Math.min(retries, 16));
      return Math.round(delay / 2 + Math.random() * (delay / 2));
    };
    const socketDefaults = { connectTimeout, reconnectStrategy };
    const { createClient, createCluster, RESP_TYPES } = loadRedis();
    if (options.cluster !== undefined) {
      const cluster = options.cluster;
      this.redis = createCluster({
        ...cluster,
        defaults: {
          ...cluster.defaults,
          disableOfflineQueue: true,
          socket: { ...socketDefaults, ...cluster.defaults?.socket } as never,
        },
      }) as unknown as RedisClusterType;
    } else {
      const client = options.client ?? {};
      this.redis = createClient({
        ...client,
        ...(options.url !== undefined ? { url: options.url } : {}),
        disableOfflineQueue: true,
        socket: { ...socketDefaults, ...client.socket } as never,
      }) as unknown as RedisClientType;
    }
    const redis = this.redis as unknown as NodeJS.EventEmitter & { withCommandOptions(o: object): unknown };
    // node-redis throws 'error' events at the process when nobody listens: we always listen.
    redis.on('error', () => {
      this.#counters.connectionErrors++;
    });
    // A single client emits 'ready' on every (re)connection; a cluster emits 'connect' once
    // its topology is known, and 'node-ready' as each node's client (re)connects.
    const onReady = (reconnected: boolean) => {
      if (reconnected) this.#counters.reconnects++;
      this.#everReady = true;
      for (const wake of this.#readyWaiters.splice(0)) wake();
    };
    if (options.cluster !== undefined) {
      redis.on('connect', () => onReady(false));
      redis.on('node-reconnecting', () => {
        this.#reconnecting++;
      });
      redis.on('node-ready', () => {
        if (this.#reconnecting > 0) {
          this.#reconnecting--;
          onReady(true);
        }
      });
      redis.on('node-error', () => {
        this.#counters.connectionErrors++;
      });
    } else {
      redis.on('ready', () => onReady(this.#everReady));
    }
    this.#commands = redis.withCommandOptions({
      typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
      timeout: this.commandTimeout,
    }) as Commands;
    this.#connecting = this.#connect(min, max);

    const raw: SessionStore = {
      get: (key) => this.#get(key),
      set: (key, value, expiresAt) => this.#set(key, value, expiresAt),
      delete: (key) => this.#delete(key),
    };
    if (options.encryptionKey !== undefined) {
      this.#front = new EncryptedStore(raw, options.encryptionKey);
      this.#encryptedNx = new EncryptedStore(
        {
          get: (key) => this.#get(key),
          set: async (key, value, expiresAt) => {
            this.#nxResults.set(key, await this.#setNx(this.redisKey(key), value, expiresAt));
          },
          delete: (key) => this.#delete(key),
        },
        options.encryptionKey,
      );
    } else {
      this.#front = raw;
    }
  }

  /** Connects; a cluster whose nodes are all down at start rejects connect(): retry until closed. */
  async #connect(min: number, max: number): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await (this.redis as unknown as { connect(): Promise<unknown> }).connect();
        return;
      } catch {
        this.#counters.connectionErrors++;
        if (this.#closed) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(
            () => {
              this.#wakeConnect = undefined;
              resolve();
            },
            Math.min(max, min * 2 ** Math.min(attempt, 16)),
          );
          timer.unref();
          this.#wakeConnect = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** Whether Redis is connected and ready now. */
  get isReady(): boolean {
    return (this.redis as unknown as { isReady: boolean }).isReady;
  }

  /**
   * Resolves once Redis is ready; rejects after `timeout` ms, or when the store is closed first.
   * For startup and tests: the store works (as misses) before that, too.
   */
  ready(timeout = 5000): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.#closed) return Promise.reject(unavailableError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== wake);
        reject(Object.assign(new Error(`Redis was not ready within ${timeout} ms`), { code: 'ERR_SESSION_STORE_UNAVAILABLE' }));
      }, timeout);
      const wake = () => {
        clearTimeout(timer);
        if (this.isReady) resolve();
        else reject(unavailableError()); // closed before it was ready
      };
      this.#readyWaiters.push(wake);
    });
  }

  /** The Redis key a store key lives under. */
  redisKey(key: string): string {
    return `${this.namespace}:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.#front.get(key);
  }

  set(key: string, value: Buffer, expiresAt: number): Promise<void> {
    return this.#front.set(key, value, expiresAt);
  }

  delete(key: string): Promise<void> {
    return this.#front.delete(key);
  }

  /** SET NX: writes only when no record exists; resolves whether it wrote (TicketKeys.fromStore uses it). */
  async setIfAbsent(key: string, value: Buffer, expiresAt: number): Promise<boolean> {
    if (this.#encryptedNx === undefined) return this.#setNx(this.redisKey(key), value, expiresAt);
    // Sealed exactly as set() seals (same key, same name-bound AAD) by a second EncryptedStore
    // whose inner store writes with NX; its answer comes back by name. Calls for one key run
    // one after another so answers cannot cross.
    const name = this.#encryptedNx.nameFor(key);
    const previous = this.#nxQueue.get(name) ?? Promise.resolve();
    const run = previous.then(async () => {
      await this.#encryptedNx!.set(key, value, expiresAt);
      const created = this.#nxResults.get(name) ?? false;
      this.#nxResults.delete(name);
      return created;
    });
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#nxQueue.set(name, settled);
    void settled.then(() => {
      if (this.#nxQueue.get(name) === settled) this.#nxQueue.delete(name);
    });
    return run;
  }

  stats(): RedisStoreStats {
    return { ...this.#counters, ready: this.isReady };
  }

  /** Closes the connection (pending commands finish first). Later commands fail (misses). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#readyWaiters.splice(0)) wake();
    this.#wakeConnect?.();
    const redis = this.redis as unknown as { isOpen: boolean; close(): Promise<void>; destroy(): void };
    try {
      if (redis.isOpen) await redis.close();
      else redis.destroy();
    } catch {
      redis.destroy();
    }
    await this.#connecting.catch(() => {});
  }

  /**
   * Runs one command, bounded by commandTimeout. node-redis' own command `timeout` only covers
   * the time a command waits to be WRITTEN (commands-queue.js drops the timer once the command
   * is on the socket), so a Redis that accepts commands but answers late (CLIENT PAUSE, a
   * slow node) is bounded here; the late reply is discarded.
   */
  async #run<T>(command: () => Promise<T>): Promise<T> {
    if (this.#closed || !this.isReady) {
      this.#counters.unavailable++;
      throw unavailableError();
    }
    const pending = command();
    pending.catch(() => {}); // a failure after our timeout has no one left to tell
    let timer: NodeJS.Timeout | undefined;
    const timedOut = Symbol('timeout');
    const timeout = new Promise<typeof timedOut>((resolve) => {
      timer = setTimeout(() => resolve(timedOut), this.commandTimeout);
      timer.unref();
    });
    try {
      const result = await Promise.race([pending, timeout]);
      if (result === timedOut) {
        this.#counters.timeouts++;
        throw Object.assign(new Error(`Redis did not answer within ${this.commandTimeout} ms`), { code: 'ERR_SESSION_STORE_TIMEOUT' });
      }
      return result as T;
    } catch (error) {
      if ((error as { code?: string })?.code === 'ERR_SESSION_STORE_TIMEOUT') throw error;
      if (error instanceof loadRedis().TimeoutError)
        this.#counters.timeouts++; // stuck unsent in the queue
      else this.#counters.errors++;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async #get(key: string): Promise<Buffer | undefined> {
    const value = await this.#run(() => this.#commands.get(this.redisKey(key)));
    this.#counters.gets++;
    if (value === null || value === undefined) {
      this.#counters.misses++;
      return undefined;
    }
    this.#counters.hits++;
    return Buffer.isBuffer(value) ? value : Buffer.from(value as unknown as string, 'binary');
  }

  async #set(key: string, value: Buffer, expiresAt: number): Promise<void> {
    if (!(expiresAt > Date.now())) return this.#delete(key); // already expired: nothing to keep
    await this.#run(() => this.#commands.set(this.redisKey(key), value, { expiration: { type: 'PXAT', value: Math.ceil(expiresAt) } }));
    this.#counters.sets++;
  }

  async #setNx(redisKey: string, value: Buffer, expiresAt: number): Promise<boolean> {
    const reply = await this.#run(() =>
      this.#commands.set(redisKey, value, { expiration: { type: 'PXAT', value: Math.ceil(expiresAt) }, condition: 'NX' }),
    );
    this.#counters.sets++;
    return reply !== null;
  }

  async #delete(key: string): Promise<void> {
    await this.#run(() => this.#commands.del(this.redisKey(key)));
    this.#counters.deletes++;
  }
}
