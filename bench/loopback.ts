/**
 * Scenario (b): a client and a server in one process over 127.0.0.1, one connection at a
 * time: handshake, small request/reply, close. Ours (connect/createServer) vs node:tls.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import {
  OP,
  SESS_CACHE,
  SSL_ERROR,
  SslConnection,
  SslContext,
  SslSessionCache,
  type SslSession,
  connect,
  createServer,
} from './package.js';
import { buildInProcessPeer, cLoopSecondsPerHandshake, type Protocol, type Resumption } from './engine.js';
import { runNodeFlightsLoopback } from './floors.js';
import { benchCertificate, compare, measure, type FloorRunner, type Row, type Sample } from './harness.js';

const REQUEST = Buffer.from('GET / HTTP/1.0\r\n\r\n');
const REPLY = Buffer.alloc(100, 'x');
const version = (p: Protocol) => (p === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2');

/**
 * Times `count` connections after a warm-up one, each offering the session the one before it
 * left (disposed once replaced, and at the end).
 */
async function measureResuming(count: number, once: (offer: SslSession | null) => Promise<SslSession | null>): Promise<Sample> {
  let session = await once(null);
  try {
    return await measure(count, async () => {
      for (let i = 0; i < count; i++) {
        const next = await once(session);
        session?.dispose();
        session = next;
      }
    });
  } finally {
    session?.dispose();
  }
}

/** The server context of the bench: the certificate, and no tickets when resuming by session id. */
function benchServerContext(resumption: Resumption): SslContext {
  const { cert, key } = benchCertificate();
  const context = new SslContext('server', { cert, key, sessionIdContext: 'bench' });
  if (resumption === 'id') context.setOptions(OP.NO_TICKET);
  return context;
}

/** Our server on 127.0.0.1: replies to the first data and closes. */
async function startOurServer(resumption: Resumption) {
  const serverContext = benchServerContext(resumption);
  const server = createServer({ context: serverContext }, (socket) => {
    socket.once('data', () => socket.end(REPLY));
    socket.on('error', () => {});
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { serverContext, server, port };
}

/** Ours: createServer + connect. */
export async function runOursLoopback(protocol: Protocol, resumption: Resumption, count: number): Promise<Sample> {
  const { serverContext, server, port } = await startOurServer(resumption);
  const clientContext = new SslContext('client', { minVersion: version(protocol), maxVersion: version(protocol) });
  const resume = resumption !== 'full';

  const once = async (offer: SslSession | null): Promise<SslSession | null> => {
    const client = await connect({ host: '127.0.0.1', port, context: clientContext, session: offer });
    client.write(REQUEST);
    await new Promise<void>((resolve, reject) => {
      client.once('data', () => resolve());
      client.once('error', reject);
    });
    const next = resume ? client.get1Session() : null; // TLS 1.3: the ticket came before the reply
    await new Promise<void>((resolve) => {
      client.once('close', () => resolve());
      client.end();
      client.resume();
    });
    client.free();
    return next;
  };
  try {
    return await measureResuming(count, once);
  } finally {
    await server.close();
    serverContext.close();
    clientContext.close();
  }
}

/**
 * Ours as an app calling the same host all day: connect({ sessionCache }) with no session
 * handling of its own. The cache keys the host:port and trust settings, offers what it holds
 * and stores every new session ('session' events: the context caches on the client side only
 * through callbacks, as node:tls does). Throws unless every measured connection resumed.
 */
export async function runOursLoopbackCached(protocol: Protocol, resumption: Exclude<Resumption, 'full'>, count: number): Promise<Sample> {
  const { serverContext, server, port } = await startOurServer(resumption);
  const clientContext = new SslContext('client', {
    minVersion: version(protocol),
    maxVersion: version(protocol),
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
  });
  const sessionCache = new SslSessionCache();
  let reused = 0;
  const once = async () => {
    const client = await connect({ host: '127.0.0.1', port, context: clientContext, sessionCache });
    if (client.isSessionReused()) reused++;
    client.write(REQUEST);
    await new Promise<void>((resolve, reject) => {
      client.once('data', () => resolve());
      client.once('error', reject);
    });
    await new Promise<void>((resolve) => {
      client.once('close', () => resolve());
      client.end();
      client.resume();
    });
    client.free();
  };
  try {
    await once();
    const sample = await measure(count, async () => {
      for (let i = 0; i < count; i++) await once();
    });
    if (reused !== count) throw new Error(`connect({ sessionCache }) resumed ${reused} of ${count}`);
    return sample;
  } finally {
    sessionCache.dispose();
    await server.close();
    serverContext.close();
    clientContext.close();
  }
}

/**
 * Our engine with no stream layer: SslConnection driven straight from net.Socket events, the
 * least glue that can carry this loop (TLS 1.2 only). Not an API; its distance from the
 * connect/createServer row is what TlsSocket, connect() and the server cost.
 */
export async function runEngineOverNet(resumption: Exclude<Resumption, 'full'>, count: number): Promise<Sample> {
  const serverContext = benchServerContext(resumption);
  const clientContext = new SslContext('client', { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  const flush = (conn: SslConnection, socket: net.Socket) => {
    const out = conn.takeOutput();
    if (out !== null) socket.write(out);
  };
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const conn = new SslConnection(serverContext);
    let secure = false;
    socket.on('data', (chunk: Buffer) => {
      conn.feed(chunk);
      if (!secure) {
        secure = conn.doHandshake() === SSL_ERROR.NONE;
        if (!secure) return flush(conn, socket);
      }
      const data = conn.read();
      if (data !== null && data.length > 0) {
        conn.write(REPLY);
        conn.shutdown();
        flush(conn, socket);
        socket.end();
      } else flush(conn, socket);
    });
    socket.on('close', () => conn.free());
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let reused = 0;
  const once = (offer: SslSession | null) =>
    new Promise<SslSession | null>((resolve, reject) => {
      const conn = new SslConnection(clientContext);
      if (offer) conn.setSession(offer);
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => {
        conn.doHandshake();
        flush(conn, socket);
      });
      let secure = false;
      socket.on('data', (chunk: Buffer) => {
        conn.feed(chunk);
        if (!secure) {
          secure = conn.doHandshake() === SSL_ERROR.NONE;
          if (secure) conn.write(REQUEST); // with the Finished, as connect() + write() send it
          return flush(conn, socket);
        }
        const data = conn.read();
        if (data === null || data.length === 0) return;
        if (conn.sessionReused()) reused++;
        const next = conn.get1Session();
        conn.shutdown();
        flush(conn, socket);
        socket.once('close', () => {
          conn.free();
          resolve(next);
        });
        socket.end();
      });
      socket.once('error', reject);
    });
  try {
    const sample = await measureResuming(count, once);
    if (reused !== count) throw new Error(`the engine over net resumed ${reused} of ${count}`);
    return sample;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    serverContext.close();
    clientContext.close();
  }
}

/** node:tls: tls.createServer + tls.connect, sessions by ticket or (with a cache) by id. */
export async function runNodeLoopback(protocol: Protocol, resumption: Resumption, count: number): Promise<Sample> {
  const { cert, key } = benchCertificate();
  const cache = new Map<string, Buffer>();
  const server = tls.createServer(
    { cert, key, sessionIdContext: 'bench', ...(resumption === 'id' ? { secureOptions: OP.NO_TICKET } : {}) },
    (socket) => {
      socket.once('data', () => socket.end(REPLY));
      socket.on('error', () => {});
    },
  );
  if (resumption === 'id') {
    // node:tls servers resume session ids only through these events (its internal cache is off).
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      cache.set(id.toString('hex'), data);
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, cache.get(id.toString('hex')) ?? null);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const resume = resumption !== 'full';

  const once = (offer: Buffer | undefined): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      let latest: Buffer | undefined;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        rejectUnauthorized: false,
        minVersion: version(protocol),
        maxVersion: version(protocol),
        ...(offer ? { session: offer } : {}),
      });
      socket.on('session', (s: Buffer) => (latest = s));
      socket.once('secureConnect', () => socket.write(REQUEST));
      socket.once('data', () => {
        const next = resume ? (latest ?? socket.getSession()) : undefined;
        socket.once('close', () => resolve(next));
        socket.end();
        socket.resume();
      });
      socket.once('error', reject);
    });
  let session = await once(undefined);
  try {
    return await measure(count, async () => {
      for (let i = 0; i < count; i++) session = await once(session);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export const LOOPBACK_VARIANTS: Array<[Protocol, Resumption, number]> = [
  ['tls1.2', 'full', 200],
  ['tls1.2', 'ticket', 600],
  ['tls1.2', 'id', 600],
  ['tls1.3', 'full', 200],
  ['tls1.3', 'ticket', 400],
];

export async function loopbackScenario(rounds: number, scale: number): Promise<Row[]> {
  const rows: Row[] = [];
  const cLoop = buildInProcessPeer();
  if ('skip' in cLoop) console.log(`(b) ceiling column: skipped — ${cLoop.skip}`);
  for (const [protocol, resumption, n] of LOOPBACK_VARIANTS) {
    const count = Math.max(10, Math.round(n * scale));
    // The floor: the same flights over plain net in this process, plus OpenSSL's own work for
    // both sides (the C loop on node's OpenSSL). A full TLS 1.2 handshake has a round trip
    // more than those flights: no ceiling there.
    const floor: FloorRunner | undefined =
      'skip' in cLoop || (protocol === 'tls1.2' && resumption === 'full')
        ? undefined
        : async () => {
            const sockets = await runNodeFlightsLoopback(count);
            return sockets.wallSeconds / sockets.handshakes + cLoopSecondsPerHandshake(protocol, resumption, count)!;
          };
    rows.push(
      await compare(
        '(b) loopback, one process',
        `${protocol} ${resumption}`,
        'node:tls',
        rounds,
        () => runNodeLoopback(protocol, resumption, count),
        () => runOursLoopback(protocol, resumption, count),
        floor,
      ),
    );
    if (resumption !== 'full') {
      const cached = await compare(
        '(b) loopback, one process',
        `${protocol} ${resumption}: through connect({ sessionCache })`,
        'node:tls',
        rounds,
        () => runNodeLoopback(protocol, resumption, count),
        () => runOursLoopbackCached(protocol, resumption, count),
        floor,
      );
      cached.note = 'ours column = connect({ sessionCache }): the cache keys, offers and stores every session';
      rows.push(cached);
    }
    if (protocol === 'tls1.2' && resumption === 'id') {
      const bare = await compare(
        '(b) loopback, one process',
        `${protocol} ${resumption}: engine over net, no TlsSocket`,
        'node:tls',
        rounds,
        () => runNodeLoopback(protocol, resumption, count),
        () => runEngineOverNet(resumption, count),
        floor,
      );
      bare.note = 'ours column = SslConnection driven straight from net.Socket events: what the stream layer and connect/createServer cost';
      rows.push(bare);
    }
  }
  return rows;
}
