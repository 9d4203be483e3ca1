/** connect(): a TLS client over a net.Socket, driven by our engine. */
import { isIP } from 'node:net';
import * as net from 'node:net';
import { rootCertificates } from 'node:tls';

import { SESS_CACHE, VERIFY } from '../constants.js';
import type { TrustOptions } from '../cache/key.js';
// Type-only: the cache module imports connect() (a value import here would be circular).
import type { SslSessionCache } from '../cache/ssl-session-cache.js';
import { SslConnection } from '../core/ssl-connection.js';
import { SslContext } from '../core/ssl-context.js';
import type { SslSession } from '../core/ssl-session.js';
import { invalidArgType, validateInteger } from '../errors.js';
import { TlsSocket } from './tls-socket.js';

export interface ConnectOptions {
  /** Host to connect to (default 'localhost'). */
  host?: string;
  /** TCP port. */
  port: number;
  /** Client SslContext; default: a shared one verifying against node's root CAs. */
  context?: SslContext;
  /** A session to resume (SSL_set_session before the handshake). */
  session?: SslSession | null;
  /** SNI to send (default: `host` unless it is an IP address); false sends none. */
  servername?: string | false;
  /**
   * Name the certificate must match when the context verifies peers (SSL_set1_host).
   * Default: servername or host. false skips the name check (the chain is still verified).
   */
  checkHost?: string | false;
  /** Handshake timeout, ms (default 120000). */
  handshakeTimeout?: number;
  /**
   * TCP_NODELAY on the socket connect() opens (default true). With Nagle's algorithm on, a
   * small write that follows an unacknowledged one (the server's first bytes after its last
   * handshake flight) waits for the peer's delayed ACK: about 40 ms per connection on Linux.
   */
  noDelay?: boolean;
  /** An already connected transport to run TLS over instead of opening a TCP connection. */
  socket?: import('node:stream').Duplex;
  /**
   * Called with the new SslConnection before its handshake (set options on it, or keep it to
   * observe it: after a failed connect() it has been freed).
   */
  prepare?: (connection: SslConnection) => void;
  /**
   * A 'session' listener attached before the handshake starts, so no session is missed (TLS 1.2
   * sessions arrive during the handshake, before connect() resolves). Needs SESS_CACHE.CLIENT in
   * the context's mode. The session is yours: dispose() it when done.
   */
  onSession?: (session: SslSession) => void;
  /**
   * A 'keylog' listener attached before the handshake starts: each secret of the handshake as
   * one line of NSS key log format (a Buffer ending in a newline), as node:tls' 'keylog' event.
   * Append them to the file Wireshark's "(Pre)-Master-Secret log filename" names to decrypt a
   * capture. The lines are the keys to this connection's traffic.
   */
  onKeylog?: (line: Buffer) => void;
  /**
   * Client session cache: offers a cached session for this host:port and configuration
   * (memory first, then the cache's store; store trouble costs a full handshake, never the
   * connection) and stores every new session. Ignored when `session` is given.
   */
  sessionCache?: SslSessionCache;
  /** Trust options to build the cache key from, when the cache cannot know the context's (see SslCacheKeyOptions). */
  sessionKeyConfig?: TrustOptions;
}

/** A connected client. The SslConnection stays usable after close (get1Session()); free() releases it. */
export class TlsClient extends TlsSocket {}

let defaultContext: SslContext | undefined;

/**
 * The context connect() uses when none is given: verifies the server against node's
 * bundled root CAs, and caches on the client side only through callbacks
 * (CLIENT | NO_INTERNAL_STORE, as node:tls does), so the 'session' event fires.
 */
export function defaultClientContext(): SslContext {
  defaultContext ??= new SslContext('client', {
    ca: rootCertificates as readonly string[],
    verify: true,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
  });
  return defaultContext;
}

/** Opens a TCP connection and performs the TLS handshake; resolves once it is done. */
export async function connect(options: ConnectOptions): Promise<TlsClient> {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
  if (options.prepare !== undefined && typeof options.prepare !== 'function')
    throw invalidArgType('options.prepare', 'a function', options.prepare);
  if (options.onSession !== undefined && typeof options.onSession !== 'function')
    throw invalidArgType('options.onSession', 'a function', options.onSession);
  if (options.onKeylog !== undefined && typeof options.onKeylog !== 'function')
    throw invalidArgType('options.onKeylog', 'a function', options.onKeylog);
  const host = options.host ?? 'localhost';
  const context = options.context ?? defaultClientContext();
  if (!(context instanceof SslContext)) throw invalidArgType('options.context', 'an SslContext', context);
  if (context.isServer) throw invalidArgType('options.context', "a 'client' SslContext", 'a server context');
  if (options.socket === undefined) validateInteger(options.port, 'options.port', 1, 65535);

  const connection = new SslConnection(context);
  try {
    if (options.session) connection.setSession(options.session);
    const servername = options.servername ?? (isIP(host) ? false : host);
    if (servername !== false) connection.setTlsextHostName(servername);
    const checkHost = options.checkHost ?? (servername !== false ? servername : host);
    // SSL_set1_host only matters when the context verifies (VERIFY.PEER).
    if (checkHost !== false && (context.getVerifyMode() & VERIFY.PEER) !== 0) connection.set1Host(checkHost);
    options.prepare?.(connection);
  } catch (error) {
    connection.free();
    throw error;
  }
  const cache = options.session ? undefined : options.sessionCache;
  const cacheKey = cache?.keyFor({
    host,
    port: options.port,
    servername: options.servername,
    checkHost: options.checkHost,
    context,
    config: options.sessionKeyConfig,
  });
  if (cache !== undefined && cacheKey !== undefined) await cache.offer(cacheKey, connection); // false on a miss

  const socket = options.socket ?? net.connect({ host, port: options.port, noDelay: options.noDelay ?? true });
  const client = new TlsClient(socket, connection, {
    ...(options.handshakeTimeout !== undefined ? { handshakeTimeout: options.handshakeTimeout } : {}),
  });
  if (options.onSession) client.on('session', options.onSession);
  if (options.onKeylog) client.on('keylog', options.onKeylog);
  // Before the handshake starts: TLS 1.2 sessions arrive during it.
  if (cache !== undefined && cacheKey !== undefined) cache.observe(cacheKey, client);
  const secure = client.waitSecure();
  if (options.socket !== undefined || (socket as net.Socket).readyState === 'open') client.startHandshake();
  else
    socket.once('connect', () => {
      if (!client.destroyed) client.startHandshake();
    });
  // An error in the same step as the end of the handshake is emitted on the next tick, before
  // the caller's `await connect()` continues and can listen for it: keep a listener until then
  // (the error stays readable as `client.errored`, and 'close' follows).
  const bridge = () => {};
  client.on('error', bridge);
  try {
    await secure;
  } catch (error) {
    client.off('error', bridge);
    client.destroy();
    throw error;
  }
  setImmediate(() => client.off('error', bridge));
  return client;
}
