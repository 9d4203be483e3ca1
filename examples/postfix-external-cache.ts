/**
 * A Postfix-style external client session cache (seed 003, Viktor Dukhovni on openssl-users):
 *
 *   SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_CLIENT |
 *                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
 *   SSL_CTX_sess_set_new_cb(client_ctx, new_client_session_cb);
 *   // "There's no remove callback, we handle cache management outside OpenSSL."
 *
 * OpenSSL keeps no client sessions (stats().number stays 0); every new session (each TLS 1.3
 * ticket, or the TLS 1.2 session) reaches the new-session callback, which serialises it to
 * DER into a Map keyed "host:port". A reconnect parses the DER back (SslSession.fromDER) and
 * offers it with setSession. Everything runs in memory against two real OpenSSL servers.
 *
 * Run it: `npx tsc -p . && node dist/examples/postfix-external-cache.js` or import `main()`.
 */
import { pathToFileURL } from 'node:url';

import {
  SESS_CACHE,
  SslConnection,
  SslContext,
  SslSession,
  createSelfSigned,
  handshakeInMemory,
  shutdownInMemory,
  transfer,
} from '../lib/index.js';

/** What one connection did. */
export interface ConnectionReport {
  peer: string;
  reused: boolean;
  protocol: string;
}

export interface ExampleResult {
  connections: ConnectionReport[];
  /** The external cache: "host:port" → DER of the newest session for that peer. */
  cache: Map<string, Buffer>;
  /** How often OpenSSL called the new-session callback. */
  newSessionCalls: number;
  /** stats().number of the client context at the end: 0, OpenSSL stored nothing. */
  clientCacheNumber: number;
}

/** A mail server: its own certificate, stateless TLS 1.3 tickets (OpenSSL's default). */
function mailServer(hostname: string): { ctx: SslContext; ca: string } {
  const pair = createSelfSigned({ commonName: hostname, altNames: [`DNS:${hostname}`] });
  const ctx = new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'smtpd' });
  return { ctx, ca: pair.cert };
}

export function main(log: (line: string) => void = console.log): ExampleResult {
  const servers = new Map([
    ['mx1.example.net:25', mailServer('mx1.example.net')],
    ['mx2.example.net:25', mailServer('mx2.example.net')],
  ]);

  const client = new SslContext('client', {
    ca: [...servers.values()].map((s) => s.ca),
    verify: true,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
  });

  // The external cache, and which peer each live connection talks to (Postfix keeps this
  // in the SSL's app data).
  const cache = new Map<string, Buffer>();
  const peerOf = new WeakMap<SslConnection, string>();
  let newSessionCalls = 0;
  client.onNewSession((session, connection) => {
    newSessionCalls++;
    const peer = connection === null ? undefined : peerOf.get(connection);
    // Only sessions from verified handshakes are worth keeping; serialise and let go.
    if (peer !== undefined && connection!.getVerifyResult() === 0) cache.set(peer, session.toDER());
    session.dispose();
  });

  const connections: ConnectionReport[] = [];
  const connectTo = (peer: string): void => {
    const server = servers.get(peer)!;
    const c = new SslConnection(client);
    const s = new SslConnection(server.ctx);
    peerOf.set(c, peer);
    const host = peer.split(':')[0]!;
    c.setTlsextHostName(host);
    c.set1Host(host);
    const der = cache.get(peer);
    if (der !== undefined) {
      using session = SslSession.fromDER(der);
      c.setSession(session); // OpenSSL takes its own reference: disposing ours is fine
    }
    handshakeInMemory(c, s);
    // SMTP greets first; reading the greeting also processes the TLS 1.3 tickets that
    // arrived with it, which is when the new-session callback runs.
    transfer(s, c, Buffer.from('220 ' + host + ' ESMTP\r\n'));
    transfer(c, s, Buffer.from('QUIT\r\n'));
    const report = { peer, reused: c.sessionReused(), protocol: c.getVersion() };
    connections.push(report);
    log(`${peer}  ${report.protocol}  ${report.reused ? 'REUSED SESSION' : 'NEW SESSION'}`);
    shutdownInMemory(c, s);
    c.free();
    s.free();
  };

  for (const peer of ['mx1.example.net:25', 'mx1.example.net:25', 'mx2.example.net:25', 'mx1.example.net:25', 'mx2.example.net:25']) {
    connectTo(peer);
  }

  const clientCacheNumber = client.stats().number;
  log(`new-session callbacks: ${newSessionCalls}; external cache: ${[...cache.keys()].join(', ')}`);
  log(`OpenSSL's own client cache holds ${clientCacheNumber} sessions`);
  client.close();
  for (const server of servers.values()) server.ctx.close();
  return { connections, cache, newSessionCalls, clientCacheNumber };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
