/**
 * `openssl-session demo`: seed 000's client, call for call, in TypeScript.
 *
 *   ctx = SSL_CTX_new(client); SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2)
 *   5 times: connect; ssl = SSL_new(ctx); if (session) SSL_set_session(ssl, session);
 *            SSL_connect(ssl); print SSL_session_reused(ssl) ? "REUSED SESSION" : "NEW SESSION";
 *            if (session) SSL_SESSION_free(session); session = SSL_get1_session(ssl);
 *            SSL_shutdown(ssl); SSL_free(ssl); close
 *   SSL_SESSION_free(session); SSL_CTX_free(ctx)
 *
 * By default it starts an embedded server with a server-side session cache (session id
 * context set, a certificate generated at start); --connect points it elsewhere.
 */
import * as net from 'node:net';
import { parseArgs } from 'node:util';

import { createSelfSigned } from '../certs.js';
import { OP, SESS_CACHE, openSSLVersion } from '../constants.js';
import { SslConnection } from '../core/ssl-connection.js';
import { SslContext } from '../core/ssl-context.js';
import type { SslSession } from '../core/ssl-session.js';
import { TlsSocket } from '../tls/tls-socket.js';
import { recordHandshake } from './handshake-trace.js';
import { createServer, type TlsServer } from '../tls/tls-server.js';

const HELP = `usage: openssl-session demo [options]

Reproduces the classic OpenSSL client session-reuse example: connect 5 times, offer the
session kept from the previous connection, print NEW SESSION / REUSED SESSION.

options:
  --tls1.3             use TLS 1.3 (default: TLS 1.2, as in the original example)
  --no-ticket          resume by session id from the server's cache instead of a ticket
  --connect host:port  use an external server (e.g. openssl s_server -accept 4433) instead
                       of the embedded one; its certificate is not verified, as in the C code
  --count N            number of connections (default 5)
  --verbose            print protocol, cipher, session id and ticket of each connection
  --messages           print the handshake messages of each connection (> sent, < received):
                       what a resumed handshake leaves out
  --help               this text`;

interface DemoOptions {
  tls13: boolean;
  noTicket: boolean;
  target: { host: string; port: number } | null;
  count: number;
  verbose: boolean;
  messages: boolean;
}

function parse(argv: string[]): DemoOptions | string {
  const { values } = parseArgs({
    args: argv,
    options: {
      'tls1.3': { type: 'boolean', default: false },
      'no-ticket': { type: 'boolean', default: false },
      connect: { type: 'string' },
      count: { type: 'string', default: '5' },
      verbose: { type: 'boolean', default: false },
      messages: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return HELP;
  let target: DemoOptions['target'] = null;
  if (values.connect !== undefined) {
    const match = /^(.+):(\d+)$/.exec(values.connect);
    if (!match) throw new Error(`--connect wants host:port, got "${values.connect}"`);
    target = { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
  }
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count wants a positive integer, got "${values.count}"`);
  return {
    tls13: values['tls1.3'],
    noTicket: values['no-ticket'],
    target,
    count,
    verbose: values.verbose,
    messages: values.messages,
  };
}

/** The server of the post seed 000 builds on: a server-side session cache with a session id context. */
async function startEmbeddedServer(options: DemoOptions): Promise<TlsServer> {
  const { cert, key } = createSelfSigned({ commonName: 'localhost' });
  const context = new SslContext('server', {
    cert,
    key,
    sessionIdContext: 'openssl-session-demo', // SSL_CTX_set_session_id_context
    sessionCacheMode: SESS_CACHE.SERVER, // SSL_CTX_set_session_cache_mode (OpenSSL's default)
    timeout: 300, // SSL_CTX_set_timeout
  });
  if (options.noTicket) context.setOptions(OP.NO_TICKET);
  const server = createServer({ context }, (socket) => {
    socket.on('data', () => {});
    socket.on('error', () => {});
  });
  await server.listen(0, '127.0.0.1');
  return server;
}

function tcpConnect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** With TLS 1.3 the session ticket comes after the handshake: wait for OpenSSL's new-session callback. */
function waitForTicket(tls: TlsSocket, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), ms);
    const onSession = (session: SslSession) => {
      session.dispose(); // we take our own reference with get1Session(), as the C code does
      finish(true);
    };
    const finish = (arrived: boolean) => {
      clearTimeout(timer);
      tls.off('session', onSession);
      resolve(arrived);
    };
    tls.on('session', onSession);
  });
}

function endTls(tls: TlsSocket): Promise<void> {
  return new Promise((resolve) => {
    tls.once('close', () => resolve());
    tls.end(); // SSL_shutdown, then close the socket
    tls.resume();
  });
}

export async function run(argv: string[]): Promise<number> {
  const options = parse(argv);
  if (typeof options === 'string') {
    console.log(options);
    return 0;
  }
  const server = options.target === null ? await startEmbeddedServer(options) : null;
  const target = options.target ?? { host: '127.0.0.1', port: server!.address().port };
  const protocol = options.tls13 ? 'TLS 1.3' : 'TLS 1.2';

  console.log(`# openssl-session demo: seed 000's client in TypeScript, on OpenSSL ${openSSLVersion()} (the one inside node)`);
  console.log(
    server
      ? `# server: embedded at ${target.host}:${target.port}, ${protocol}, server-side session cache, ` +
          `resumption by ${options.noTicket ? 'session id' : 'session ticket'}`
      : `# server: ${target.host}:${target.port}, ${protocol}`,
  );
  if (options.tls13) {
    console.log('# TLS 1.3: the server sends its session ticket after the handshake, so each connection');
    console.log('# waits for it (OpenSSL new-session callback) before SSL_get1_session takes the session.');
  }

  // ctx = SSL_CTX_new(SSLv23_client_method()); SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2);
  const ctx = new SslContext('client');
  ctx.setOptions(OP.NO_SSLv2); // 0 since OpenSSL 1.1.0; kept to mirror the C code
  if (options.tls13) ctx.setMinProtoVersion('TLSv1.3');
  else ctx.setMaxProtoVersion('TLSv1.2');
  if (options.noTicket) ctx.setOptions(OP.NO_TICKET);
  // Only so that OpenSSL reports TLS 1.3 tickets to us (new-session callback); no internal store.
  if (options.tls13) ctx.setSessionCacheMode(SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE);

  let session: SslSession | null = null;
  let reused = 0;
  try {
    for (let i = 0; i < options.count; i++) {
      const socket = await tcpConnect(target.host, target.port);
      const ssl = new SslConnection(ctx); // SSL_new(ctx)
      if (options.target && net.isIP(target.host) === 0) ssl.setTlsextHostName(target.host);
      if (session !== null) ssl.setSession(session); // SSL_set_session(ssl, session)
      // SSL_set_msg_callback: the handshake messages, in the order they crossed.
      const messages: string[] = [];
      if (options.messages) {
        ssl.setMessageListener(recordHandshake(messages));
      }
      const tls = new TlsSocket(socket, ssl);
      const ticket = options.tls13 ? waitForTicket(tls) : Promise.resolve(true);
      tls.startHandshake();
      await tls.waitSecure(); // SSL_connect(ssl)

      if (ssl.sessionReused()) {
        console.log('REUSED SESSION');
        reused++;
      } else {
        console.log('NEW SESSION');
      }
      if (!(await ticket)) console.log('# (no TLS 1.3 ticket arrived within 2 s: the next connection cannot resume)');
      if (options.messages) console.log(`#   ${messages.join('  ')}`);

      if (session !== null) session.dispose(); // SSL_SESSION_free(session)
      session = ssl.get1Session(); // session = SSL_get1_session(ssl)
      if (options.verbose && session) {
        const info = session.describe();
        console.log(
          `#   ${ssl.getVersion()} ${ssl.getCipherName()} id=${info.id.slice(0, 16) || '-'}… ` +
            `ticket=${info.hasTicket ? `${info.ticketLength} bytes, hint ${info.ticketLifetimeHint}s` : 'no'} resumable=${info.resumable}`,
        );
      }
      await endTls(tls); // SSL_shutdown(ssl); close(clntfd)
      ssl.free(); // SSL_free(ssl)
    }
  } finally {
    session?.dispose(); // cleanup: SSL_SESSION_free(session)
    ctx.close(); // SSL_CTX_free(ctx)
    if (server) {
      await server.close();
      server.context.close();
    }
  }
  console.log(`# ${reused} of ${options.count - 1} reconnects reused the session`);
  return 0;
}
