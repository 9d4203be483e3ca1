/**
 * SessionCacheAgent: an https.Agent whose TLS sessions live in a NodeSessionCache instead of
 * https.Agent's own map. Node's agent keeps one session per name, FIFO-evicted, reusing TLS
 * 1.3 tickets, and its name leaves out ALPN; this one keys sessions by cache.keyFor(options)
 * (every trust option, ALPN included), evicts LRU, takes each TLS 1.3 ticket once, honours
 * expiry, and can read and write a store.
 *
 * What it overrides of node's lib/https.js:
 * - getName(): node's name plus the cache key, so sockets configured differently are not
 *   pooled together either.
 * - createConnection(): as node's (offer a session, tls.connect, cache 'session's, evict on
 *   an error close), through the cache. On a memory miss with a store configured, the
 *   lookup is async and the socket is handed over through the callback, which http.Agent
 *   supports.
 * - _getSession() / _cacheSession() / _evictSession(): node's internal helpers, mapped onto
 *   the cache for code that calls them.
 */
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';

import { invalidArgType } from '../errors.js';
import { NodeSessionCache, type NodeKeyOptions } from './tls-session-cache.js';

export interface SessionCacheAgentOptions extends https.AgentOptions {
  /** The cache to use (shared with cache.tlsConnect() if you like). Default: a new NodeSessionCache. */
  sessionCache?: NodeSessionCache;
}

const MAX_NAMES = 1000;

/** An https.Agent that resumes TLS sessions through a NodeSessionCache. */
export class SessionCacheAgent extends https.Agent {
  /** The session cache. An agent that created its own disposes it in destroy(). */
  readonly sessionCache: NodeSessionCache;
  readonly #ownsCache: boolean;
  /** Agent name -> cache key, for the _getSession/_cacheSession/_evictSession helpers. */
  readonly #keys = new Map<string, string>();

  constructor(options: SessionCacheAgentOptions = {}) {
    super(options);
    if (options.sessionCache !== undefined && !(options.sessionCache instanceof NodeSessionCache)) {
      throw invalidArgType('options.sessionCache', 'a NodeSessionCache', options.sessionCache);
    }
    this.#ownsCache = options.sessionCache === undefined;
    this.sessionCache = options.sessionCache ?? new NodeSessionCache({ maxPeers: options.maxCachedSessions ?? 100 });
  }

  override getName(options: https.RequestOptions = {}): string {
    const key = this.sessionCache.keyFor(options as NodeKeyOptions);
    const name = `${super.getName(options)}:${key}`;
    if (!this.#keys.has(name)) {
      if (this.#keys.size >= MAX_NAMES) this.#keys.delete(this.#keys.keys().next().value as string);
      this.#keys.set(name, key);
    }
    return name;
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const connectOptions = { ...options } as tls.ConnectionOptions & NodeKeyOptions;
    const cache = this.sessionCache;
    const key = cache.keyFor(connectOptions);
    const connect = (session: Buffer | undefined): tls.TLSSocket => {
      const socket = tls.connect(session ? { ...connectOptions, session } : connectOptions);
      cache.observe(key, socket, connectOptions, session);
      return socket;
    };
    if (connectOptions.session || cache.store === null || cache.has(key) || callback === undefined) {
      return connect(connectOptions.session ? undefined : cache.getSync(key));
    }
    void cache.get(key).then((session) => {
      let socket: tls.TLSSocket;
      try {
        socket = connect(session);
      } catch (error) {
        callback(error as Error, undefined as unknown as Duplex);
        return;
      }
      callback(null, socket);
    });
    return undefined;
  }

  /** node's helper: a cached session (DER) for an agent name, from memory. */
  _getSession(name: string): Buffer | undefined {
    return this.sessionCache.getSync(this.#keys.get(name) ?? name);
  }

  /** node's helper: caches a session (DER) for an agent name (its verification is not known: stored as unverified). */
  _cacheSession(name: string, session: Buffer): void {
    this.sessionCache.set(this.#keys.get(name) ?? name, session, { trust: 'unverified' });
  }

  /** node's helper: drops the sessions of an agent name. */
  _evictSession(name: string): void {
    this.sessionCache.evict(this.#keys.get(name) ?? name);
  }

  override destroy(): void {
    super.destroy();
    if (this.#ownsCache) this.sessionCache.dispose();
  }
}
