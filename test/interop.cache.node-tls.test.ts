/**
 * The cache with node:tls, both ways, over TLS 1.2 and 1.3: node's client through a
 * NodeSessionCache against our server, our client through an SslSessionCache against node's
 * server; the sync withSessionCache() wrapper; DER from the node cache resumed by our
 * engine; verification gating and eviction on node sockets; and SessionCacheAgent for https.
 */
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import { createSelfSigned, SslConnection, SslSession, type TlsServer, TlsSocket } from '../lib/index.js';
import { SessionCacheAgent } from '../lib/interop/https-agent.js';
import { NodeSessionCache, withSessionCache } from '../lib/interop/tls-session-cache.js';
import { MemoryStore } from '../lib/stores/index.js';
import { closed, pair, roundTrip, startServer, stopServer } from './helpers/cache.js';

type Version = 'TLSv1.2' | 'TLSv1.3';
const versions: Version[] = ['TLSv1.2', 'TLSv1.3'];

let ours: TlsServer;
let nodeServer: tls.Server;
let oursPort: number;
let nodePort: number;

beforeAll(async () => {
  ours = await startServer();
  oursPort = ours.address().port;
  nodeServer = tls.createServer({ cert: pair.cert, key: pair.key }, (socket) => {
    socket.on('error', () => {});
    socket.end('hello\n');
  });
  await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
  nodePort = (nodeServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await stopServer(ours);
  await new Promise<void>((resolve) => nodeServer.close(() => resolve()));
});

/** One node:tls connection through `cache.tlsConnect`; reads to the end. */
async function nodeRoundTrip(
  cache: NodeSessionCache,
  options: tls.ConnectionOptions,
): Promise<{ reused: boolean; protocol: string | null }> {
  const socket = await cache.tlsConnect({ host: '127.0.0.1', servername: 'localhost', ca: pair.cert, ...options });
  const result = { reused: socket.isSessionReused(), protocol: socket.getProtocol() };
  await closed(socket);
  return result;
}

describe.each(versions)('%s', (version) => {
  it('node:tls client + NodeSessionCache -> our server: resumes', async () => {
    const cache = new NodeSessionCache();
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await nodeRoundTrip(cache, { port: oursPort, maxVersion: version }));
    expect(runs.map((r) => r.reused)).toEqual([false, true, true]);
    expect(runs.every((r) => r.protocol === version)).toBe(true);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, ticketsTaken: version === 'TLSv1.3' ? 2 : 0 });
    cache.dispose();
  });

  it('our client + SslSessionCache -> node:tls server: resumes', async () => {
    const cache = new SslSessionCache();
    const context = cache.createContext({ ca: pair.cert, maxVersion: version });
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await roundTrip(cache, { port: nodePort, context }));
    expect(runs.map((r) => r.reused)).toEqual([false, true, true]);
    expect(runs.every((r) => r.protocol === version)).toBe(true);
    cache.dispose();
  });

  it('withSessionCache(tls.connect, cache): a synchronous drop-in', async () => {
    const cache = new NodeSessionCache();
    const connect = withSessionCache(tls.connect, cache);
    const reused: boolean[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = connect({ host: '127.0.0.1', port: nodePort, servername: 'localhost', ca: pair.cert, maxVersion: version });
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      reused.push(socket.isSessionReused());
      await closed(socket);
    }
    expect(reused).toEqual([false, true]);
    cache.dispose();
  });

  it('a session node:tls cached (DER) resumes in our engine, against a node server', async () => {
    const cache = new NodeSessionCache();
    const options = { host: '127.0.0.1', port: nodePort, servername: 'localhost', ca: pair.cert, maxVersion: version } as const;
    await nodeRoundTrip(cache, options);
    const der = cache.getSync(cache.keyFor(options))!;
    const engine = new SslSessionCache();
    const context = engine.createContext({ ca: pair.cert, maxVersion: version });
    const connection = new SslConnection(context);
    connection.setTlsextHostName('localhost');
    connection.set1Host('localhost');
    const session = SslSession.fromDER(der);
    connection.setSession(session);
    session.dispose();
    const socket = new TlsSocket(net.connect(nodePort, '127.0.0.1'), connection);
    socket.socket.once('connect', () => socket.startHandshake());
    await socket.waitSecure();
    expect(socket.isSessionReused()).toBe(true);
    await closed(socket);
    socket.free();
    cache.dispose();
    engine.dispose();
  });
});

describe('node:tls verification gating and eviction', () => {
  it('rejectUnauthorized on + untrusted server: nothing stored; off: stored under its own key', async () => {
    const cache = new NodeSessionCache();
    const stranger = createSelfSigned({ commonName: 'localhost' });
    let sessionEvents = 0;
    const strict = tls.connect({ host: '127.0.0.1', port: nodePort, servername: 'localhost', ca: stranger.cert, maxVersion: 'TLSv1.2' });
    strict.on('session', () => sessionEvents++);
    cache.observe(
      cache.keyFor({ host: '127.0.0.1', port: nodePort, servername: 'localhost', ca: stranger.cert, maxVersion: 'TLSv1.2' }),
      strict,
    );
    const error = await new Promise<Error>((resolve) => strict.once('error', resolve));
    expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    await closed(strict);
    expect(sessionEvents).toBe(0);
    expect(cache.stats().stores).toBe(0);

    const laxOptions = { port: nodePort, ca: stranger.cert, rejectUnauthorized: false, maxVersion: 'TLSv1.2' } as const;
    expect((await nodeRoundTrip(cache, laxOptions)).reused).toBe(false);
    expect(cache.stats().stores).toBe(1);
    expect((await nodeRoundTrip(cache, laxOptions)).reused).toBe(true);
    // the verifying configuration is a different key: never offered the unverified session
    expect(
      cache.has(cache.keyFor({ host: '127.0.0.1', port: nodePort, servername: 'localhost', ca: stranger.cert, maxVersion: 'TLSv1.2' })),
    ).toBe(false);
    cache.dispose();
  });

  it('a node socket that fails after being offered a TLS 1.2 session evicts it', async () => {
    const cache = new NodeSessionCache();
    const options = { host: '127.0.0.1', port: nodePort, servername: 'localhost', ca: pair.cert, maxVersion: 'TLSv1.2' } as const;
    await nodeRoundTrip(cache, options);
    const key = cache.keyFor(options);
    const resetter = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve));
    const session = cache.getSync(key)!;
    const socket = tls.connect({ ...options, port: (resetter.address() as AddressInfo).port, session });
    cache.observe(key, socket, options, session);
    socket.on('error', () => {});
    const hadError = await new Promise((resolve) => socket.once('close', resolve));
    expect(hadError).toBe(true);
    expect(cache.has(key)).toBe(false);
    expect(cache.stats().evictions).toBe(1);
    await new Promise<void>((resolve) => resetter.close(() => resolve()));
    cache.dispose();
  });
});

describe('SessionCacheAgent (https)', () => {
  let httpsServer: https.Server;
  let httpsPort: number;
  beforeAll(async () => {
    httpsServer = https.createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
      res.setHeader('connection', 'close');
      res.end((req.socket as tls.TLSSocket).isSessionReused() ? 'reused' : 'new');
    });
    await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
    httpsPort = (httpsServer.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
  });

  function get(agent: https.Agent, extra: https.RequestOptions = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca: pair.cert, agent, ...extra }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    });
  }

  it.each(versions)('resumes across requests over %s, through the cache', async (version) => {
    const agent = new SessionCacheAgent({ keepAlive: false, maxVersion: version });
    const bodies = [await get(agent), await get(agent), await get(agent)];
    expect(bodies).toEqual(['new', 'reused', 'reused']);
    expect(agent.sessionCache.stats()).toMatchObject({ hits: 2, misses: 1 });
    // ALPN is part of the session key (node's own agent name leaves it out)
    expect(await get(agent, { ALPNProtocols: ['http/1.1'] } as https.RequestOptions)).toBe('new');
    agent.destroy();
    expect(agent.sessionCache.disposed).toBe(true);
  });

  it('reads the store asynchronously on a memory miss (a second agent over the same store)', async () => {
    const store = new MemoryStore();
    const first = new SessionCacheAgent({ keepAlive: false, sessionCache: new NodeSessionCache({ store }) });
    expect(await get(first)).toBe('new');
    await first.sessionCache.flush();
    const second = new SessionCacheAgent({ keepAlive: false, sessionCache: new NodeSessionCache({ store }) });
    const sources: string[] = [];
    second.sessionCache.on('hit', (_key, info) => sources.push(info.source));
    expect(await get(second)).toBe('reused');
    expect(sources).toEqual(['store']);
    first.destroy();
    second.destroy();
    expect(second.sessionCache.disposed).toBe(false); // not its own: left to its owner
    first.sessionCache.dispose();
    second.sessionCache.dispose();
  });

  it("maps node's _getSession/_cacheSession/_evictSession helpers onto the cache", async () => {
    const agent = new SessionCacheAgent({ keepAlive: false, maxVersion: 'TLSv1.2' });
    await get(agent);
    const name = agent.getName({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca: pair.cert, maxVersion: 'TLSv1.2' });
    expect(name.startsWith('127.0.0.1:')).toBe(true);
    expect(agent._getSession(name)).toBeInstanceOf(Buffer);
    agent._evictSession(name);
    expect(agent._getSession(name)).toBeUndefined();
    agent.destroy();
  });
});
