/**
 * Helpers for the session cache tests: real sessions from in-memory handshakes, a TLS server
 * of ours on 127.0.0.1, and `hookedConnect`, which drives our engine through the cache hooks
 * exactly as connect({ sessionCache }) will (offer before the handshake, observe the socket).
 */
import * as net from 'node:net';

import type { SslSessionCache } from '../../lib/cache/index.js';
import {
  createServer,
  createSelfSigned,
  drain,
  handshakeInMemory,
  shutdownInMemory,
  SESS_CACHE,
  SslConnection,
  SslContext,
  VERIFY,
  type KeyPair,
  type SslContextOptions,
  type SslSession,
  type TlsServer,
  TlsSocket,
} from '../../lib/index.js';

export const pair = createSelfSigned({ commonName: 'localhost' });

/**
 * Runs one real handshake in memory and returns the sessions the client's new-session
 * callback produced (TLS 1.3: one per ticket, usually 2; TLS 1.2: 1). The caller owns them.
 */
export function inMemorySessions(options: {
  version: 'TLSv1.2' | 'TLSv1.3';
  server?: SslContextOptions;
  client?: SslContextOptions;
  keyPair?: KeyPair;
}): SslSession[] {
  const keys = options.keyPair ?? pair;
  const server = new SslContext('server', { cert: keys.cert, key: keys.key, sessionIdContext: 'cache-tests', ...options.server });
  const client = new SslContext('client', {
    ca: keys.cert,
    verify: true,
    maxVersion: options.version,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
    ...options.client,
  });
  const sessions: SslSession[] = [];
  client.onNewSession((session) => sessions.push(session));
  const c = new SslConnection(client);
  const s = new SslConnection(server);
  try {
    handshakeInMemory(c, s);
    drain(c, s); // TLS 1.3 tickets
    // A clean close: SSL_free of a connection that was not shut down marks its session
    // not resumable (OpenSSL's bad-session rule).
    shutdownInMemory(c, s);
  } finally {
    c.free();
    s.free();
    client.close();
    server.close();
  }
  return sessions;
}

/** Our TLS server on 127.0.0.1: each connection gets `greeting`, then close_notify (null: nothing, it stays open). */
export async function startServer(
  options: SslContextOptions = {},
  greeting: string | null = 'hello\n',
  keyPair: KeyPair = pair,
): Promise<TlsServer> {
  const context = new SslContext('server', { cert: keyPair.cert, key: keyPair.key, sessionIdContext: 'cache-tests', ...options });
  const server = createServer({ context }, (socket) => {
    socket.on('error', () => {});
    socket.on('data', () => {});
    if (greeting !== null) socket.end(greeting);
  });
  await server.listen(0, '127.0.0.1');
  return server;
}

export async function stopServer(server: TlsServer): Promise<void> {
  await server.close();
  server.context.close();
}

/** Resolves when `socket` closed (after reading everything it was sent). */
export function closed(socket: TlsSocket | net.Socket | import('node:tls').TLSSocket): Promise<void> {
  // `closed` turns true before 'close' is emitted (next tick): let that happen first.
  if (socket.closed) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.resume();
  });
}

export interface HookedConnectOptions {
  host?: string;
  port: number;
  context: SslContext;
  servername?: string | false;
  /** Use this key instead of cache.keyFor() (to point a key at another server). */
  key?: string;
}

/**
 * What lib/tls connect({ sessionCache }) will do, using only the public hooks:
 * key = keyFor(); offer(key, connection) before the handshake; observe(key, socket) before
 * startHandshake(). Resolves once secure, with whether a session was offered.
 */
export async function hookedConnect(
  cache: SslSessionCache,
  options: HookedConnectOptions,
): Promise<{ tls: TlsSocket; offered: boolean; key: string }> {
  const host = options.host ?? '127.0.0.1';
  const key =
    options.key ?? cache.keyFor({ host, port: options.port, context: options.context, servername: options.servername ?? 'localhost' });
  const connection = new SslConnection(options.context);
  const servername = options.servername ?? 'localhost';
  if (servername !== false) connection.setTlsextHostName(servername);
  if ((options.context.getVerifyMode() & VERIFY.PEER) !== 0) connection.set1Host(servername === false ? host : servername);
  const offered = await cache.offer(key, connection);
  const socket = net.connect({ host, port: options.port });
  const tls = new TlsSocket(socket, connection, { handshakeTimeout: 5000 });
  cache.observe(key, tls);
  socket.once('connect', () => tls.startHandshake());
  try {
    await tls.waitSecure();
  } catch (error) {
    tls.destroy();
    await closed(tls);
    throw error;
  }
  return { tls, offered, key };
}

/** hookedConnect, read to the end, close; returns whether the session was reused. */
export async function roundTrip(
  cache: SslSessionCache,
  options: HookedConnectOptions,
): Promise<{ reused: boolean; offered: boolean; protocol: string | null; key: string }> {
  const { tls, offered, key } = await hookedConnect(cache, options);
  const reused = tls.isSessionReused();
  const protocol = tls.getProtocol();
  await closed(tls);
  tls.free();
  return { reused, offered, protocol, key };
}
