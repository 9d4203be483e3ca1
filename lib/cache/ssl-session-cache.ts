/**
 * SslSessionCache: the SessionCache for our engine. It holds live SslSession handles (no DER
 * parsing per resumption) and adds the two hooks a TLS client calls around a handshake:
 *
 *     const key = cache.keyFor({ host, port, servername, checkHost, context });
 *     await cache.offer(key, connection);   // before the handshake: SSL_set_session
 *     cache.observe(key, tlsSocket);        // before (or right after) the handshake
 *
 * `offer` takes from memory, then the store; store trouble is a miss, never an exception.
 * `observe` stores every new session the connection reports: TLS 1.2 sessions and TLS 1.3
 * tickets arrive through the TlsSocket 'session' event, which OpenSSL only produces when the
 * client context's cache mode includes SESS_CACHE.CLIENT (createContext() sets
 * CLIENT | NO_INTERNAL_STORE, as node:tls does). Without it, observe falls back to
 * SSL_get1_session: the TLS 1.2 session at 'secure', the last TLS 1.3 ticket at 'close'
 * (one ticket per connection instead of all of them). Sessions that arrive before the
 * handshake finished are held until it succeeds; a connection that fails drops them, and
 * evicts the cached session it was offered.
 */
import { rootCertificates } from 'node:tls';

import { SESS_CACHE, VERIFY, VERSION } from '../constants.js';
import type { SslConnection } from '../core/ssl-connection.js';
import { SslContext, type SslContextOptions } from '../core/ssl-context.js';
import { SslSession } from '../core/ssl-session.js';
import { invalidArgType, validateString } from '../errors.js';
import { connect, defaultClientContext, type ConnectOptions, type TlsClient } from '../tls/tls-client.js';
import { TlsSocket as TlsSocketClass, type TlsSocket } from '../tls/tls-socket.js';
import { sslSessionAdapter } from './adapters.js';
import { canonicalTrust, defaultServername, formatKey, identityOf, keyDigest, type TrustOptions } from './key.js';
import { SessionCache, type SessionCacheOptions, type SessionTrust, type Taken } from './session-cache.js';

/** Options of an SslSessionCache (a SessionCache without the adapter, which is fixed). */
export type SslSessionCacheOptions = Omit<SessionCacheOptions<SslSession>, 'adapter'>;

/** What an engine cache key is made of: where to, and with which client context. */
export interface SslCacheKeyOptions {
  /** Host (default 'localhost'). */
  host?: string;
  port: number;
  /** SNI; default `host` unless it is an IP address; false: none (as connect()). */
  servername?: string | false;
  /** Name checked against the certificate when verifying (default: SNI or host, as connect()). */
  checkHost?: string | false;
  /** The client context (default: connect()'s default context). */
  context?: SslContext;
  /**
   * Explicit trust/resumability options of `context`. Without them (and for contexts not
   * made by createContext()), the key includes the context's identity: safe, but the key
   * means nothing in another process, so such sessions are never persisted.
   */
  config?: TrustOptions;
}

/** Trust options of contexts whose configuration we know (createContext(), the default context). */
const contextConfigs = new WeakMap<SslContext, TrustOptions>();

/** The trust/resumability part of SslContextOptions. */
export function trustOptionsOf(options: SslContextOptions): TrustOptions {
  return {
    verify: options.verify ?? null,
    ca: options.ca ?? null,
    cert: options.cert ?? null,
    alpnProtocols: options.alpnProtocols ?? null,
    minVersion: options.minVersion ?? null,
    maxVersion: options.maxVersion ?? null,
    ciphers: options.ciphers ?? null,
    ciphersuites: options.ciphersuites ?? null,
    options: options.options ?? null,
  };
}

function configOf(context: SslContext): TrustOptions | undefined {
  const known = contextConfigs.get(context);
  if (known) return known;
  if (context === defaultClientContext()) {
    const config = trustOptionsOf({ ca: rootCertificates as readonly string[], verify: true });
    contextConfigs.set(context, config);
    return config;
  }
  return undefined;
}

/** What a context says about itself right now (part of the key: a later setVerify() changes it). */
interface LiveSettings {
  verifyMode: number;
  min: number;
  max: number;
  options: number;
}

/**
 * Per context, the `cfg` digests keyFor() made, valid while the context reports the same live
 * settings and has the same known configuration. connect() asks for a key on every connection,
 * and the canonical form with its SHA-256 costs ~20 µs; the settings are read every time.
 */
interface DigestMemo extends LiveSettings {
  config: TrustOptions | undefined;
  byCheckHost: Map<string | null, string>;
}
const digestMemos = new WeakMap<SslContext, DigestMemo>();
const DIGEST_MEMO_SIZE = 256;

function keyDigestOf(context: SslContext, live: LiveSettings, config: TrustOptions | undefined, checkHost: string | null): string {
  return keyDigest({
    v: 1,
    engine: 'openssl-session',
    live,
    trust: canonicalTrust({ ...(config ?? {}), checkHost }),
    context: config ? null : identityOf(context),
  });
}

/** keyDigestOf() through the context's memo (for configurations we own: nobody mutates them). */
function memoizedKeyDigest(context: SslContext, live: LiveSettings, config: TrustOptions | undefined, checkHost: string | null): string {
  let memo = digestMemos.get(context);
  if (
    memo === undefined ||
    memo.config !== config ||
    memo.verifyMode !== live.verifyMode ||
    memo.min !== live.min ||
    memo.max !== live.max ||
    memo.options !== live.options
  ) {
    memo = { ...live, config, byCheckHost: new Map() };
    digestMemos.set(context, memo);
  }
  let digest = memo.byCheckHost.get(checkHost);
  if (digest === undefined) {
    digest = keyDigestOf(context, live, config, checkHost);
    if (memo.byCheckHost.size >= DIGEST_MEMO_SIZE) memo.byCheckHost.clear();
    memo.byCheckHost.set(checkHost, digest);
  }
  return digest;
}

/**
 * A TLS 1.2 connection that resumed without a 'session' event although its context reports new
 * sessions: it still runs on the session it was offered, which the cache holds already
 * (get1Session() would only hand back a duplicate for set() to refuse).
 */
function stillOnOfferedSession(connection: SslConnection): boolean {
  return (connection.context.getSessionCacheMode() & SESS_CACHE.CLIENT) !== 0 && connection.sessionReused();
}

/** A client session cache for connections made with our engine (values: live SslSession handles). */
/** The session a cache offered to a connection (a property of the connection: a WeakMap set costs µs). */
const OFFERED = Symbol('openssl-session offered session');
type Offered = SslConnection & { [OFFERED]?: SslSession };

export class SslSessionCache extends SessionCache<SslSession, SslCacheKeyOptions> {
  constructor(options: SslSessionCacheOptions = {}) {
    super({ ...options, adapter: sslSessionAdapter });
  }

  /** SessionCache.set(), for SslSession values only (anything else is a TypeError, ERR_INVALID_ARG_TYPE). */
  override set(key: string, value: SslSession, options?: { trust?: SessionTrust }): boolean {
    validateString(key, 'key');
    if (!(value instanceof SslSession)) throw invalidArgType('value', 'an SslSession', value);
    return super.set(key, value, options);
  }

  /**
   * A client SslContext whose configuration the cache knows, so its keys are a digest of the
   * options (the same in every process: sessions can be persisted). Defaults, like node:tls:
   * verify the peer against node's root CAs; cache mode CLIENT | NO_INTERNAL_STORE so every
   * new session and TLS 1.3 ticket is reported.
   */
  createContext(options: SslContextOptions = {}): SslContext {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const full: SslContextOptions = {
      verify: true,
      ...(options.verify !== false && options.ca === undefined ? { ca: rootCertificates as readonly string[] } : {}),
      sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
      ...options,
    };
    const context = new SslContext('client', full);
    contextConfigs.set(context, trustOptionsOf(full));
    return context;
  }

  /**
   * The key for a connection: host:port, SNI, and a digest of the context's verify mode,
   * protocol bounds and options, the name checked, and either `config` / the context's
   * known configuration or (marked ephemeral) the context's identity.
   */
  override keyFor(options: SslCacheKeyOptions): string {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const host = options.host ?? 'localhost';
    const context = options.context ?? defaultClientContext();
    if (!(context instanceof SslContext)) throw invalidArgType('options.context', 'an SslContext', context);
    const verifyMode = context.getVerifyMode();
    const servername = defaultServername(host, options.servername);
    const checkHost = (verifyMode & VERIFY.PEER) === 0 || options.checkHost === false ? null : (options.checkHost ?? servername ?? host);
    const config = options.config ?? configOf(context);
    const live: LiveSettings = {
      verifyMode,
      min: context.getMinProtoVersion(),
      max: context.getMaxProtoVersion(),
      options: context.getOptions(),
    };
    // An explicit `config` is the caller's object (it may change between calls): digested each time.
    const digest =
      options.config !== undefined ? keyDigestOf(context, live, config, checkHost) : memoizedKeyDigest(context, live, config, checkHost);
    return formatKey({
      host,
      port: options.port,
      servername,
      digest,
      ephemeral: config === undefined,
      clientCertificate: config !== undefined && config.cert !== undefined && config.cert !== null,
    });
  }

  /**
   * Before a handshake: sets a cached session on `connection` (SSL_set_session) if there is
   * one, from memory first, then the store. Resolves whether it did; never rejects.
   */
  async offer(key: string, connection: SslConnection): Promise<boolean> {
    if (this.#offerFrom(() => this.takeSync(key, false), connection)) return true; // memory first, synchronously
    return this.#apply(await this.takeFromStore(key), connection) === 'set';
  }

  /** offer() from memory only, synchronously. */
  offerSync(key: string, connection: SslConnection): boolean {
    return this.#offerFrom(() => this.takeSync(key), connection);
  }

  /** Sets the first session `next` yields that OpenSSL still finds resumable. */
  #offerFrom(next: () => Taken<SslSession> | undefined, connection: SslConnection): boolean {
    for (let tries = 0; tries <= this.ticketsPerPeer; tries++) {
      const result = this.#apply(next(), connection);
      if (result !== 'unusable') return result === 'set';
    }
    return false;
  }

  /**
   * SSL_set_session of a taken session. Resumability is checked here (setSession reports it),
   * where the session is about to be used, not on every cache hit: OpenSSL marks a session
   * not resumable when a connection using it is freed without a clean shutdown; such a
   * session is dropped.
   */
  #apply(taken: Taken<SslSession> | undefined, connection: SslConnection): 'set' | 'unusable' | 'none' {
    if (taken === undefined) return 'none';
    try {
      if (connection.freed) return 'none';
      // OpenSSL takes its own reference. false: not resumable any more (the next candidate,
      // if any, replaces it; otherwise it is set but not offered: a full handshake).
      if (!connection.setSession(taken.value)) {
        if (!taken.owned) this.dropValue(taken.value, 'unusable');
        return 'unusable';
      }
      (connection as Offered)[OFFERED] = taken.value;
      return 'set';
    } catch {
      return 'none';
    } finally {
      if (taken.owned) taken.value.dispose(); // a TLS 1.3 ticket: ours now, and SSL holds it
    }
  }

  /**
   * Stores the sessions `socket` produces under `key`, once its handshake succeeded (see
   * the module doc), and evicts the session offered to it if it fails or is reset. Call it
   * before startHandshake() to see TLS 1.2 'session' events; after 'secure' works too (the
   * TLS 1.2 session is then taken with get1Session()).
   */
  observe(key: string, socket: TlsSocket): void {
    validateString(key, 'key');
    if (!(socket instanceof TlsSocketClass)) throw invalidArgType('socket', 'a TlsSocket', socket);
    const connection = socket.connection;
    const pending: SslSession[] = [];
    let trust: SessionTrust | undefined;
    let sessionEvents = 0;

    const onSession = (session: SslSession) => {
      let mine: SslSession;
      try {
        // Sole listener: the handle is ours. Otherwise take our own reference.
        mine = socket.listenerCount('session') > 1 ? session.upRef() : session;
      } catch {
        return; // another listener disposed it already
      }
      sessionEvents++;
      if (trust === undefined) pending.push(mine);
      else this.set(key, mine, { trust });
    };
    const onSecure = () => {
      if (trust !== undefined || connection.freed) return;
      // Handshake done: if the context verified, OpenSSL checked the chain and the name.
      trust = connection.getVerifyResult() === 0 ? 'verified' : 'unverified';
      for (const session of pending.splice(0)) this.set(key, session, { trust });
      if (sessionEvents === 0 && connection.version() !== VERSION.TLS1_3 && !stillOnOfferedSession(connection))
        this.#keepCurrent(key, connection, trust);
    };
    const onClose = () => {
      socket.off('session', onSession);
      socket.off('secure', onSecure);
      for (const session of pending.splice(0)) session.dispose();
      const failed = trust === undefined || socket.errored !== null;
      if (failed) {
        const offered = (connection as Offered)[OFFERED];
        if (offered) this.evictValue(offered);
        return;
      }
      if (sessionEvents === 0 && !connection.freed && connection.version() === VERSION.TLS1_3) this.#keepCurrent(key, connection, trust!);
    };

    socket.on('session', onSession);
    if (socket.secure) onSecure();
    else socket.once('secure', onSecure);
    socket.once('close', onClose);
  }

  /** SSL_get1_session fallback (no SESS_CACHE.CLIENT): a resumed TLS 1.2 session is a duplicate and is refused. */
  #keepCurrent(key: string, connection: SslConnection, trust: SessionTrust): void {
    let session: SslSession | null;
    try {
      session = connection.get1Session();
    } catch {
      return;
    }
    if (session !== null) this.set(key, session, { trust });
  }

  /**
   * connect() through the cache: offers a cached session, observes the connection, and
   * evicts the offered session if the handshake fails. Same options as connect(), plus
   * `config` for the key (see SslCacheKeyOptions).
   */
  async connect(options: ConnectOptions & { config?: TrustOptions }): Promise<TlsClient> {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const { config, ...connectOptions } = options;
    return connect({ ...connectOptions, sessionCache: this, ...(config !== undefined ? { sessionKeyConfig: config } : {}) });
  }
}
