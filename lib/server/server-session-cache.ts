/**
 * ServerSessionCache: a server's session cache in a SessionStore shared by a fleet (seed 001's
 * "replace OpenSSL's internal cache with your own", seed 003's Postfix-style external cache,
 * Apache mod_ssl's socache), with lookups that never block the event loop.
 *
 * OpenSSL's get-session callback is synchronous, a remote store is not. So the lookup happens
 * one step earlier, in the client hello callback: it reads the session id (TLS 1.2) or the
 * stateful PSK identities (TLS 1.3 with OP.NO_TICKET: the identity IS the session id) from the
 * ClientHello, starts the store query and returns a promise, which PAUSES the handshake
 * (SSL_CLIENT_HELLO_RETRY; the step reports SSL_ERROR.WANT_CLIENT_HELLO_CB). When the store
 * answers, or `timeout` ms (default 50) pass, the driver steps again; OpenSSL then asks the
 * get-session callback, which hands over the session fetched (or nothing: a full handshake).
 *
 * - Cache mode SERVER | NO_INTERNAL: the store is the only cache. New sessions are written
 *   through (TTL = the session's own expiry), removed ones deleted (OpenSSL removes a session
 *   after a fatal alert, an expired lookup, or SSL_free of a connection never shut down).
 * - Store keys: `<namespace>:<session id context>:<session id>` (hex), so contexts with
 *   different session id contexts never even see each other's records.
 * - Session id context: by default SHA-256 of the server's certificate chain and trust
 *   settings (SslContext.trustDigest), so two virtual hosts never share sessions even in one
 *   store; every process of a fleet with the same certificate derives the same one.
 * - Stateless tickets (TLS 1.2 tickets, TLS 1.3 without NO_TICKET) never touch the store: they
 *   resume through the ticket keys (TicketKeys), and their sessions are not written.
 * - A store that fails, or answers after `timeout`, costs a full handshake and is counted
 *   (storeErrors, timeouts); the connection never fails because of it.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';

import { MAX_SID_CTX_LENGTH, OP, SESS_CACHE, VERSION } from '../constants.js';
import type { ClientHelloInfo } from '../core/client-hello.js';
import { SslContext } from '../core/ssl-context.js';
import type { SslConnection } from '../core/ssl-connection.js';
import { SslSession } from '../core/ssl-session.js';
import { invalidArgType, outOfRange, toBytes, validateInteger, validateString } from '../errors.js';
import type { SessionStore } from '../stores/store.js';

export interface ServerSessionCacheOptions {
  /** The server context to wire (its cache mode, session id context and callbacks are set). */
  context: SslContext;
  /** Where sessions live (e.g. a RedisStore shared by the fleet). */
  store: SessionStore;
  /** How long a handshake waits for the store, ms (default 50); then a full handshake. */
  timeout?: number;
  /** Session id context (≤ 32 bytes); default: derived from the certificate and trust settings. */
  sessionIdContext?: string | Uint8Array;
  /** Prefix of the store keys (default 'tls-server'). */
  namespace?: string;
}

export interface ServerSessionCacheStats {
  /** ClientHellos that offered something to look up in the store. */
  lookups: number;
  /** Lookups the store answered with a session handed to OpenSSL. */
  hits: number;
  /** Lookups the store answered with nothing. */
  misses: number;
  /** Lookups that took longer than `timeout` (a full handshake instead). */
  timeouts: number;
  /** Store operations that failed (and records that did not parse). */
  storeErrors: number;
  /** New sessions written to the store. */
  stored: number;
  /** Sessions deleted from the store on OpenSSL's remove callback. */
  removed: number;
  /** Store writes and deletes in flight. */
  pending: number;
}

/** What the store said about one identity: the DER record, null (miss), or still unknown. */
type Found = Buffer | null;

/** Derives the default session id context: 32 bytes bound to what makes sessions interchangeable. */
export function defaultSessionIdContext(context: SslContext, namespace = 'tls-server'): Buffer {
  return createHash('sha256').update('openssl-session sid_ctx v1\0').update(namespace).update('\0').update(context.trustDigest()).digest();
}

/** A server session cache over a SessionStore, with async lookups; see the module comment. */
export class ServerSessionCache extends EventEmitter {
  readonly context: SslContext;
  readonly store: SessionStore;
  readonly timeout: number;
  readonly namespace: string;
  /** The session id context set on the context (and part of every store key). */
  readonly sessionIdContext: Buffer;
  readonly #prefix: string;
  /** Per connection: what the store returned for the identities its ClientHello offered. */
  readonly #found = new WeakMap<SslConnection, Map<string, Found>>();
  readonly #pending = new Set<Promise<void>>();
  readonly #counters = { lookups: 0, hits: 0, misses: 0, timeouts: 0, storeErrors: 0, stored: 0, removed: 0 };
  #closed = false;

  constructor(options: ServerSessionCacheOptions) {
    super();
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const { context, store } = options;
    if (!(context instanceof SslContext) || !context.isServer) throw invalidArgType('options.context', "a 'server' SslContext", context);
    if (store === null || typeof store !== 'object' || typeof store.get !== 'function')
      throw invalidArgType('options.store', 'a SessionStore', store);
    this.context = context;
    this.store = store;
    this.timeout = validateInteger(options.timeout ?? 50, 'options.timeout', 1);
    this.namespace = validateString(options.namespace ?? 'tls-server', 'options.namespace');
    if (options.sessionIdContext !== undefined) {
      const bytes = Buffer.from(toBytes(options.sessionIdContext, 'options.sessionIdContext'));
      if (bytes.length === 0 || bytes.length > MAX_SID_CTX_LENGTH) {
        throw outOfRange('options.sessionIdContext', `1 to ${MAX_SID_CTX_LENGTH} bytes`, `${bytes.length} bytes`);
      }
      this.sessionIdContext = bytes;
    } else {
      this.sessionIdContext = defaultSessionIdContext(context, this.namespace);
    }
    this.#prefix = `${this.namespace}:${this.sessionIdContext.toString('hex')}:`;

    context.setSessionIdContext(this.sessionIdContext);
    context.setSessionCacheMode(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL);
    context.onClientHello((connection, hello) => this.#onClientHello(connection, hello));
    context.onGetSession((id, connection) => this.#onGetSession(id, connection));
    context.onNewSession((session) => this.#onNewSession(session));
    context.onRemoveSession((session) => this.#onRemoveSession(session));
  }

  /** The store key of a session id. */
  keyFor(sessionId: Uint8Array): string {
    return this.#prefix + Buffer.from(sessionId).toString('hex');
  }

  stats(): ServerSessionCacheStats {
    return { ...this.#counters, pending: this.#pending.size };
  }

  /** Resolves once every store write and delete started so far has settled. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await this.store.flush?.();
  }

  /** Unwires the context (its callbacks are unset; the store is left open) after pending writes settle. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.context.closed) {
      this.context.onClientHello(null);
      this.context.onGetSession(null);
      this.context.onNewSession(null);
      this.context.onRemoveSession(null);
    }
    await this.flush();
  }

  /** Which identities OpenSSL will look up for this ClientHello (the get-session callback's ids). */
  #lookupIds(hello: ClientHelloInfo): Buffer[] {
    const options = this.context.getOptions();
    const noTicket = (options & OP.NO_TICKET) !== 0;
    const max = this.context.getMaxProtoVersion();
    const tls13 =
      (options & OP.NO_TLSv1_3) === 0 && (max === 0 || max >= VERSION.TLS1_3) && hello.supportedVersions.includes(VERSION.TLS1_3);
    if (tls13) {
      // TLS 1.3 is negotiated: the legacy session id is ignored. Only stateful tickets (the
      // server runs with NO_TICKET) are looked up, and only 32-byte identities
      // (tls_get_stateful_ticket in ssl/statem/extensions_srvr.c).
      return noTicket ? hello.pskIdentities.filter((id) => id.length === 32) : [];
    }
    // TLS ≤ 1.2: a ticket the server accepts tickets for is decrypted, never looked up, and
    // a failed decryption is not followed by a session id lookup (ssl_get_prev_session).
    if (hello.hasTicket && !noTicket) return [];
    return hello.sessionId.length > 0 ? [hello.sessionId] : [];
  }

  #onClientHello(connection: SslConnection, hello: ClientHelloInfo): Promise<void> | undefined {
    if (this.#closed) return undefined;
    const ids = this.#lookupIds(hello);
    if (ids.length === 0) return undefined;
    let found = this.#found.get(connection);
    const wanted = ids.map((id) => id.toString('hex')).filter((hex) => !found?.has(hex));
    if (wanted.length === 0) return undefined; // already fetched (a second ClientHello after HelloRetryRequest)
    if (found === undefined) {
      found = new Map();
      this.#found.set(connection, found);
    }
    return this.#lookup(wanted, found);
  }

  /** Queries the store for every wanted id; settles when all answered or the timeout passed. */
  #lookup(wanted: string[], found: Map<string, Found>): Promise<void> {
    this.#counters.lookups++;
    return new Promise<void>((resolve) => {
      let outstanding = wanted.length;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        if (done) return;
        this.#counters.timeouts++;
        for (const hex of wanted) if (!found.has(hex)) found.set(hex, null);
        finish();
      }, this.timeout);
      for (const hex of wanted) {
        let request: Promise<Buffer | undefined>;
        try {
          request = this.store.get(this.#prefix + hex);
        } catch (error) {
          request = Promise.reject(error);
        }
        request.then(
          (record) => {
            if (done) {
              record?.fill(0); // too late: a full handshake is already under way
              return;
            }
            if (record === undefined || record.length === 0) {
              this.#counters.misses++;
              found.set(hex, null);
            } else {
              found.set(hex, record);
            }
            if (--outstanding === 0) finish();
          },
          (error: unknown) => {
            if (done) return; // already counted as a timeout
            found.set(hex, null);
            this.#storeError(error, 'get');
            if (--outstanding === 0) finish();
          },
        );
      }
    });
  }

  #onGetSession(id: Buffer, connection: SslConnection | null): SslSession | null {
    if (connection === null) return null;
    const found = this.#found.get(connection);
    const hex = id.toString('hex');
    const record = found?.get(hex);
    if (record === undefined || record === null) return null;
    // Consumed: the record holds the session's master secret; drop it from JS memory now.
    found!.delete(hex);
    let session: SslSession;
    try {
      session = SslSession.fromDER(record);
    } catch (error) {
      this.#storeError(error, 'get'); // a record that does not parse (corrupt, or not ours)
      return null;
    } finally {
      record.fill(0);
    }
    this.#counters.hits++;
    // OpenSSL takes its own reference as soon as the callback returns (lookup_sess_in_cache
    // with *copy = 1); our handle goes once this step is over.
    setImmediate(() => session.dispose());
    return session;
  }

  #onNewSession(session: SslSession): void {
    try {
      const id = session.getId();
      // TLS 1.3 stateless tickets carry the whole session: nothing to look up later.
      const stateless = session.getProtocolVersion() === VERSION.TLS1_3 && (this.context.getOptions() & OP.NO_TICKET) === 0;
      if (this.#closed || id.length === 0 || stateless) return;
      const expiresAt = (session.getTime() + session.getTimeout()) * 1000;
      const der = session.toDER();
      this.#track(
        'set',
        () => this.store.set(this.keyFor(id), der, expiresAt),
        () => {
          this.#counters.stored++;
        },
        () => der.fill(0),
      );
    } finally {
      session.dispose();
    }
  }

  #onRemoveSession(session: SslSession): void {
    try {
      const id = session.getId();
      if (this.#closed || id.length === 0) return;
      const key = this.keyFor(id);
      this.#track(
        'delete',
        () => this.store.delete(key),
        () => {
          this.#counters.removed++;
        },
      );
    } finally {
      session.dispose();
    }
  }

  /** Runs a store write in the background: counted, bounded by a timeout, never rejected. */
  #track(operation: 'set' | 'delete', run: () => Promise<void>, onSuccess: () => void, always?: () => void): void {
    let request: Promise<void>;
    try {
      request = run();
    } catch (error) {
      request = Promise.reject(error);
    }
    // Only once the store is done with the value (not at our timeout: it may still be queued).
    if (always) request.then(always, always);
    // Writes get a longer leash than lookups (nothing waits for them), but never forever.
    const limit = Math.max(this.timeout * 20, 1000);
    let timer: NodeJS.Timeout | undefined;
    const bounded = Promise.race([
      request,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              Object.assign(new Error(`session store ${operation} did not finish within ${limit} ms`), {
                code: 'ERR_SESSION_STORE_TIMEOUT',
              }),
            ),
          limit,
        );
        timer.unref();
      }),
    ]);
    const tracked: Promise<void> = bounded
      .then(onSuccess, (error: unknown) => this.#storeError(error, operation))
      .finally(() => {
        clearTimeout(timer);
        this.#pending.delete(tracked);
      });
    this.#pending.add(tracked);
  }

  #storeError(error: unknown, operation: 'get' | 'set' | 'delete'): void {
    this.#counters.storeErrors++;
    if (this.listenerCount('storeError') > 0) this.emit('storeError', error instanceof Error ? error : new Error(String(error)), operation);
  }
}
