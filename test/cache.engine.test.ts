/**
 * SslSessionCache with our engine over 127.0.0.1, through the hooks connect({ sessionCache })
 * will call (offer before the handshake, observe the TlsSocket): resumption over TLS 1.2 and
 * 1.3, verification gating, eviction of what a failed connection used, store failures that
 * cost a full handshake and nothing more, and the fallback without SESS_CACHE.CLIENT.
 */
import * as net from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SslSessionCache, type EvictReason } from '../lib/cache/index.js';
import { createSelfSigned, SslContext, type TlsServer, type TlsSocket } from '../lib/index.js';
import { MemoryStore, type SessionStore } from '../lib/stores/index.js';
import { closed, hookedConnect, pair, roundTrip, startServer, stopServer } from './helpers/cache.js';

let server: TlsServer;
let port: number;

beforeAll(async () => {
  server = await startServer();
  port = server.address().port;
});
afterAll(async () => {
  await stopServer(server);
});

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('%s over 127.0.0.1', (version) => {
  it('the first connection is full, the next ones resume through the cache', async () => {
    const cache = new SslSessionCache();
    const context = cache.createContext({ ca: pair.cert, maxVersion: version });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await roundTrip(cache, { port, context }));
    expect(results.map((r) => r.reused)).toEqual([false, true, true, true]);
    expect(results.map((r) => r.offered)).toEqual([false, true, true, true]);
    expect(new Set(results.map((r) => r.protocol))).toEqual(new Set([version]));
    const stats = cache.stats();
    expect(stats).toMatchObject({ hits: 3, misses: 1, storeErrors: 0 });
    if (version === 'TLSv1.3') {
      expect(stats.ticketsTaken).toBe(3); // one ticket per resumption, never the same twice
      expect(stats.stores).toBeGreaterThanOrEqual(5); // 2 tickets after the full handshake, more after each resumption
    } else {
      expect(stats).toMatchObject({ ticketsTaken: 0, stores: 1 }); // one session, reused
    }
    cache.dispose();
    context.close();
  });

  it('without SESS_CACHE.CLIENT no session event fires, and observe() falls back to get1Session()', async () => {
    const cache = new SslSessionCache();
    const context = new SslContext('client', { ca: pair.cert, verify: true, maxVersion: version }); // cache mode: OpenSSL's default (server only)
    let sessionEvents = 0;
    const { tls, key } = await hookedConnect(cache, { port, context });
    tls.on('session', () => sessionEvents++);
    await closed(tls);
    expect(sessionEvents).toBe(0);
    expect(cache.peek(key)).toHaveLength(1); // TLS 1.3: only the last ticket, at close
    expect((await roundTrip(cache, { port, context })).reused).toBe(true);
    tls.free();
    cache.dispose();
    context.close();
  });
});

describe('TLS 1.2 resumption and set()', () => {
  // A resumed TLS 1.2 connection keeps the session it was offered. With SESS_CACHE.CLIENT no
  // 'session' event fires for it and the cache does not take it again (it would be a duplicate);
  // without, observe() cannot tell and falls back to get1Session(), which set() refuses.
  it.each([
    ['SESS_CACHE.CLIENT (createContext)', true, 0],
    ["OpenSSL's default mode", false, 1],
  ] as const)('%s: set() calls per resumed connection', async (_mode, viaCreateContext, expectedSets) => {
    const cache = new SslSessionCache();
    const context = viaCreateContext
      ? cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' })
      : new SslContext('client', { ca: pair.cert, verify: true, maxVersion: 'TLSv1.2' });
    expect((await roundTrip(cache, { port, context })).reused).toBe(false);
    const set = cache.set.bind(cache);
    let sets = 0;
    cache.set = (...args: Parameters<typeof cache.set>) => {
      sets++;
      return set(...args);
    };
    expect((await roundTrip(cache, { port, context })).reused).toBe(true);
    expect((await roundTrip(cache, { port, context })).reused).toBe(true);
    expect(sets).toBe(2 * expectedSets);
    expect(cache.stats()).toMatchObject({ stores: 1, hits: 2 }); // one session, reused
    cache.dispose();
    context.close();
  });
});

describe('verification gating', () => {
  it('a handshake that fails verification stores nothing (wrong CA, then wrong name)', async () => {
    const cache = new SslSessionCache();
    const stranger = createSelfSigned({ commonName: 'localhost' });
    const wrongCa = cache.createContext({ ca: stranger.cert });
    await expect(hookedConnect(cache, { port, context: wrongCa })).rejects.toMatchObject({ code: 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' });
    const rightCa = cache.createContext({ ca: pair.cert });
    await expect(hookedConnect(cache, { port, context: rightCa, servername: 'example.com' })).rejects.toMatchObject({
      code: 'ERR_SSL_CERTIFICATE_VERIFY_FAILED',
    });
    expect(cache.stats()).toMatchObject({ stores: 0, sessions: 0 });
    cache.dispose();
  });

  it('verify off stores under its own key: a verifying connection is never offered that session', async () => {
    const cache = new SslSessionCache();
    const lax = cache.createContext({ verify: false });
    const strict = cache.createContext({ ca: pair.cert });
    expect((await roundTrip(cache, { port, context: lax })).reused).toBe(false);
    expect((await roundTrip(cache, { port, context: lax })).reused).toBe(true);
    const strictRun = await roundTrip(cache, { port, context: strict });
    expect(strictRun).toMatchObject({ offered: false, reused: false });
    expect(cache.keys()).toHaveLength(2);
    cache.dispose();
  });
});

describe('failed connections', () => {
  async function resetServer(): Promise<{ port: number; close: () => Promise<void> }> {
    const s = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return { port: (s.address() as net.AddressInfo).port, close: () => new Promise((resolve) => s.close(() => resolve())) };
  }

  it('a handshake that fails after a session was offered evicts that session', async () => {
    const cache = new SslSessionCache();
    const reasons: EvictReason[] = [];
    cache.on('evict', (_key, reason) => reasons.push(reason));
    const context = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
    const { key } = await roundTrip(cache, { port, context });
    expect(cache.has(key)).toBe(true);
    const reset = await resetServer();
    // The same key (same server, as far as the cache knows) now answers with a reset.
    const attempt = hookedConnect(cache, { port: reset.port, context, key });
    await expect(attempt).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(reasons).toEqual(['error']);
    expect(cache.has(key)).toBe(false);
    await reset.close();
    cache.dispose();
  });

  it('a connection reset after the handshake evicts the session it resumed', async () => {
    const accepted: TlsSocket[] = [];
    const resetting = await startServer({ sessionIdContext: 'reset' });
    resetting.removeAllListeners('secureConnection');
    resetting.on('secureConnection', (socket: TlsSocket) => {
      socket.on('error', () => {});
      accepted.push(socket);
    });
    const serverSide = async (n: number) => {
      while (accepted.length < n) await new Promise((resolve) => setTimeout(resolve, 5));
      return accepted[n - 1]!;
    };
    const rport = resetting.address().port;
    const cache = new SslSessionCache();
    const reasons: EvictReason[] = [];
    cache.on('evict', (_key, reason) => reasons.push(reason));
    const context = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
    const first = await hookedConnect(cache, { port: rport, context });
    first.tls.end();
    (await serverSide(1)).end();
    await closed(first.tls);
    const second = await hookedConnect(cache, { port: rport, context });
    expect(second.tls.isSessionReused()).toBe(true);
    second.tls.on('error', () => {});
    ((await serverSide(2)).socket as net.Socket).resetAndDestroy();
    await closed(second.tls);
    expect(second.tls.errored).toMatchObject({ code: 'ECONNRESET' });
    expect(cache.has(second.key)).toBe(false);
    expect(reasons).toEqual(['error']);
    second.tls.free();
    first.tls.free();
    cache.dispose();
    await stopServer(resetting);
  });

  it('drops a cached session OpenSSL marked not resumable (its connection was freed without close_notify)', async () => {
    const silent = await startServer({ sessionIdContext: 'silent' }, null); // never closes first
    const sport = silent.address().port;
    const cache = new SslSessionCache();
    const reasons: EvictReason[] = [];
    cache.on('evict', (_key, reason) => reasons.push(reason));
    const context = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
    const { tls, key } = await hookedConnect(cache, { port: sport, context });
    expect(cache.has(key)).toBe(true);
    tls.destroy(); // no SSL_shutdown from either side
    await closed(tls);
    tls.free(); // SSL_free -> ssl_clear_bad_session -> the session is not resumable any more
    const again = await hookedConnect(cache, { port: sport, context });
    expect(again).toMatchObject({ offered: false });
    expect(again.tls.isSessionReused()).toBe(false);
    expect(reasons).toEqual(['unusable']);
    again.tls.destroy();
    await closed(again.tls);
    again.tls.free();
    cache.dispose();
    await stopServer(silent);
  });
});

describe('stores on the connection path', () => {
  const failing: SessionStore = {
    get: () => Promise.reject(new Error('store down')),
    set: () => Promise.reject(new Error('store down')),
    delete: () => Promise.reject(new Error('store down')),
  };
  const hanging: SessionStore = {
    get: () => new Promise(() => {}),
    set: () => new Promise(() => {}),
    delete: () => new Promise(() => {}),
  };

  it.each([
    ['failing', failing],
    ['hanging', hanging],
  ])('a %s store costs a full handshake, never the connection', async (_name, store) => {
    const cache = new SslSessionCache({ store, storeTimeout: 100 });
    const errors: string[] = [];
    cache.on('storeError', (error, op) => errors.push(`${op}: ${error.message}`));
    const context = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.3' });
    const first = await roundTrip(cache, { port, context });
    expect(first).toMatchObject({ offered: false, reused: false });
    await cache.flush();
    expect(cache.stats().storeErrors).toBeGreaterThanOrEqual(2); // the get, and the writes of the tickets
    expect(errors[0]).toMatch(/^get: (store down|session store get did not finish within 100 ms)$/);
    // memory still works
    expect((await roundTrip(cache, { port, context })).reused).toBe(true);
    cache.dispose();
  });

  it('a second cache over the same store resumes from it (cold load); identity keys are not persisted', async () => {
    const store = new MemoryStore();
    const writer = new SslSessionCache({ store });
    const context = writer.createContext({ ca: pair.cert, maxVersion: 'TLSv1.3' });
    const client = await writer.connect({ host: '127.0.0.1', port, context, servername: 'localhost' });
    await closed(client);
    client.free();
    await writer.flush();
    expect(store.size).toBe(1);

    const reader = new SslSessionCache({ store });
    const readerContext = reader.createContext({ ca: pair.cert, maxVersion: 'TLSv1.3' }); // same options, another object
    const hits: string[] = [];
    reader.on('hit', (_key, info) => hits.push(info.source));
    const again = await reader.connect({ host: '127.0.0.1', port, context: readerContext, servername: 'localhost' });
    expect(again.isSessionReused()).toBe(true);
    expect(hits).toEqual(['store']);
    await closed(again);
    again.free();

    const plain = new SslContext('client', { ca: pair.cert, verify: true }); // unknown configuration: identity key
    const ephemeral = new SslSessionCache({ store: new MemoryStore() });
    const third = await ephemeral.connect({ host: '127.0.0.1', port, context: plain, servername: 'localhost' });
    await closed(third);
    third.free();
    await ephemeral.flush();
    expect(ephemeral.keys()[0]).toMatch(/\|ephemeral$/);
    expect((ephemeral.store as MemoryStore).size).toBe(0);
    for (const c of [writer, reader, ephemeral]) c.dispose();
  });
});
