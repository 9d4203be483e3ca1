/**
 * Seed 002's email client: it reconnects to its IMAP server again and again, and wants to
 * reuse TLS sessions "from a cache on my side" to spare the server full handshakes. Here the
 * cache is an SslSessionCache keyed by host:port (+ SNI + trust options), so a client talking
 * to several servers keeps the sessions apart, TLS 1.3 tickets are used once each, and
 * expired sessions are never offered.
 *
 * By default the IMAP server is simulated locally: our createServer() on 127.0.0.1 with a
 * server-side session cache, greeting "* OK IMAP4rev1 ready" (seed 001's server recipe).
 * `--connect imap.example.com:993` talks to a real IMAPS server instead (verified against
 * node's root CAs).
 *
 *     npx tsx examples/imap-client.ts [--reconnects 4] [--tls1.2] [--connect host:port]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { SslSessionCache, type CacheStats } from '../lib/cache/index.js';
import { createSelfSigned, createServer, SESS_CACHE, SslContext, type TlsServer, type TlsSocket } from '../lib/index.js';

export interface ImapExampleOptions {
  /** Connections after the first (default 4). */
  reconnects?: number;
  /** Highest protocol version (default TLS 1.3). */
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** A real IMAPS server instead of the simulated one. */
  target?: { host: string; port: number };
  /** Where lines go (default console.log). */
  log?: (line: string) => void;
}

export interface ImapConnectionResult {
  n: number;
  resumed: boolean;
  protocol: string | null;
  greeting: string;
}

export interface ImapExampleResult {
  connections: ImapConnectionResult[];
  cache: CacheStats;
}

/** Reads from `socket` until `pattern` matches what arrived; resolves with all of it. */
function readUntil(socket: TlsSocket, pattern: RegExp, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no ${pattern} from the server within ${ms} ms (got ${JSON.stringify(text)})`)), ms);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) finish();
    };
    const onEnd = () => finish(new Error(`the server closed before ${pattern}`));
    function finish(error?: Error) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      if (error) reject(error);
      else resolve(text);
    }
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

/** A tiny IMAP-over-TLS server: greeting, then OK to anything, BYE to LOGOUT. */
async function startImapServer(cert: string, key: string): Promise<TlsServer> {
  const context = new SslContext('server', {
    cert,
    key,
    sessionIdContext: 'imap-example', // SSL_CTX_set_session_id_context
    sessionCacheMode: SESS_CACHE.SERVER,
    timeout: 300,
  });
  const server = createServer({ context }, (socket) => {
    socket.on('error', () => {});
    socket.write('* OK IMAP4rev1 ready\r\n');
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const [tag = '*', command = ''] = buffered.slice(0, end).split(' ');
        buffered = buffered.slice(end + 2);
        if (command.toUpperCase() === 'LOGOUT') socket.end(`* BYE logging out\r\n${tag} OK LOGOUT completed\r\n`);
        else socket.write(`${tag} OK ${command} completed\r\n`);
      }
    });
  });
  await server.listen(0, '127.0.0.1');
  return server;
}

/** Connects 1 + `reconnects` times through one session cache; returns what happened. */
export async function main(options: ImapExampleOptions = {}): Promise<ImapExampleResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const reconnects = options.reconnects ?? 4;
  const local = options.target === undefined ? createSelfSigned({ commonName: 'localhost' }) : null;
  const server = local ? await startImapServer(local.cert, local.key) : null;
  const target = options.target ?? { host: '127.0.0.1', port: server!.address().port };
  const servername = options.target ? options.target.host : 'localhost';

  // One cache for the whole client; the context's options are part of every key.
  const cache = new SslSessionCache({ maxPeers: 32 });
  const context = cache.createContext({ maxVersion: options.maxVersion ?? 'TLSv1.3', ...(local ? { ca: local.cert } : {}) });
  const connections: ImapConnectionResult[] = [];
  let stats: CacheStats;
  try {
    for (let n = 1; n <= 1 + reconnects; n++) {
      const client = await cache.connect({ host: target.host, port: target.port, context, servername });
      const greeting = (await readUntil(client, /\r\n/)).split('\r\n')[0]!;
      const result = { n, resumed: client.isSessionReused(), protocol: client.getProtocol(), greeting };
      connections.push(result);
      log(`connection ${n}: ${result.resumed ? 'REUSED SESSION' : 'NEW SESSION'} (${result.protocol}) ${greeting}`);
      client.write('a1 LOGOUT\r\n');
      await readUntil(client, /^a1 (OK|NO|BAD)/m);
      await new Promise<void>((resolve) => {
        client.once('close', () => resolve());
        client.end();
        client.resume();
      });
      client.free();
    }
  } finally {
    stats = cache.stats();
    cache.dispose();
    context.close();
    if (server) {
      await server.close();
      server.context.close();
    }
    log(`cache: ${stats.hits} hits, ${stats.misses} misses, ${stats.stores} sessions stored, ${stats.ticketsTaken} tickets used once each`);
  }
  return { connections, cache: stats };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      reconnects: { type: 'string', default: '4' },
      'tls1.2': { type: 'boolean', default: false },
      connect: { type: 'string' },
    },
  });
  const match = values.connect === undefined ? null : /^(.+):(\d+)$/.exec(values.connect);
  main({
    reconnects: Number(values.reconnects),
    maxVersion: values['tls1.2'] ? 'TLSv1.2' : 'TLSv1.3',
    ...(match ? { target: { host: match[1]!, port: Number(match[2]) } } : {}),
  }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
