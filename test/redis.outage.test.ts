/**
 * Redis killed mid-run (SIGKILL) and restarted, and Redis too slow (CLIENT PAUSE): every
 * connection still completes — full handshakes instead of resumptions — the stats show the
 * fallbacks, and the stores reconnect by themselves and resumption comes back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import { createServer, OP, SESS_CACHE, SslContext, type SslSession } from '../lib/index.js';
import { ServerSessionCache } from '../lib/server/index.js';
import { RedisStore } from '../lib/stores/redis-store.js';
import { pair } from './helpers/cache.js';
import { describeRedis, RedisServer } from './helpers/redis.js';
import { connectInMemory } from './helpers/server.js';

describeRedis('Redis outage', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('killed and restarted mid-run: no connection fails, fallbacks are counted, resumption comes back', async () => {
    const servers = [0, 1, 2].map(
      () => new SslContext('server', { cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.2', options: OP.NO_TICKET }),
    );
    const stores = servers.map(() => new RedisStore({ url: redis.url, namespace: 'outage', reconnectDelay: { min: 20, max: 200 } }));
    await Promise.all(stores.map((s) => s.ready()));
    const caches = servers.map((context, i) => new ServerSessionCache({ context, store: stores[i]! }));
    // TLS 1.2 only: no random legacy session id, so lookups happen only for offered sessions.
    const client = new SslContext('client', {
      ca: pair.cert,
      verify: true,
      maxVersion: 'TLSv1.2',
      sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
    });
    let offer: SslSession | null = null;
    let n = 0;
    const phase = async (count: number) => {
      const pattern: string[] = [];
      for (let i = 0; i < count; i++, n++) {
        const result = await connectInMemory(client, servers[n % 3]!, offer); // rejects if the handshake fails
        await caches[n % 3]!.flush();
        pattern.push(result.reused ? 'R' : 'N');
        // Never stuck on the store: a paused handshake waits for an answer or 50 ms, no more
        // (generous bound: the suite runs files in parallel on small machines).
        expect(result.pausedMs).toBeLessThan(300);
        if (result.sessions.length > 0) offer = result.sessions[result.sessions.length - 1]!;
      }
      return pattern.join('');
    };
    const sum = (key: 'hits' | 'misses' | 'storeErrors' | 'stored' | 'timeouts') => caches.reduce((total, c) => total + c.stats()[key], 0);

    try {
      expect(await phase(6)).toBe('NRRRRR');
      expect(sum('storeErrors')).toBe(0);

      await redis.kill();
      expect(await phase(6)).toBe('NNNNNN'); // every one completes, in full
      // Each handshake's lookup failed (the session it offered could not be fetched), and each
      // new session's write failed.
      expect(sum('storeErrors')).toBe(12);
      expect(sum('hits')).toBe(5);
      // The stores failed exactly those 12 commands: refused at once while disconnected
      // (unavailable), or, for a command sent before the client noticed the dead socket,
      // failed by "Socket closed unexpectedly" (errors) — never queued for later.
      const failed = stores.reduce((total, s) => total + s.stats().unavailable + s.stats().errors + s.stats().timeouts, 0);
      expect(failed).toBe(12);
      expect(stores.reduce((total, s) => total + s.stats().unavailable, 0)).toBeGreaterThanOrEqual(6);
      expect(stores.every((s) => !s.isReady)).toBe(true);

      await redis.restart(); // same port, empty (no persistence)
      await Promise.all(stores.map((s) => s.ready(5000))); // reconnected by themselves
      expect(stores.every((s) => s.stats().reconnects === 1)).toBe(true);
      // The session offered first was never stored (Redis was down): a miss, then it is stored
      // and every server resumes it again.
      expect(await phase(6)).toBe('NRRRRR');
      expect(sum('storeErrors')).toBe(12);
      expect(sum('misses')).toBe(1);
      expect(sum('hits')).toBe(10);
    } finally {
      await Promise.all(caches.map((c) => c.close()));
      await Promise.all(stores.map((s) => s.close()));
      for (const s of [...servers, client]) s.close();
    }
  });

  it('too slow (CLIENT PAUSE 400 ms): the lookup gives up after 50 ms and the handshake goes on in full', async () => {
    const server = new SslContext('server', { cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.2', options: OP.NO_TICKET });
    const store = new RedisStore({ url: redis.url, namespace: 'slow' });
    await store.ready();
    const cache = new ServerSessionCache({ context: server, store });
    const client = new SslContext('client', {
      ca: pair.cert,
      verify: true,
      maxVersion: 'TLSv1.2',
      sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
    });
    try {
      const first = await connectInMemory(client, server);
      await cache.flush();
      expect((await connectInMemory(client, server, first.sessions[0]!)).reused).toBe(true);
      await redis.command('CLIENT PAUSE 400 ALL');
      const slow = await connectInMemory(client, server, first.sessions[0]!);
      expect(slow.reused).toBe(false);
      expect(slow.pausedMs).toBeGreaterThanOrEqual(45); // waited for the timeout...
      expect(slow.pausedMs).toBeLessThan(350); // ...not for Redis' 400 ms
      expect(cache.stats()).toMatchObject({ lookups: 2, hits: 1, timeouts: 1 });
      await new Promise((resolve) => setTimeout(resolve, 450)); // the pause ends
      // Meanwhile node-redis gave up on the paused GET itself (commandTimeout 250 ms): nothing
      // waits on Redis forever, and the cache counted that lookup once (as a timeout).
      expect(store.stats().timeouts).toBeGreaterThanOrEqual(1);
      expect(cache.stats()).toMatchObject({ timeouts: 1 });
      expect((await connectInMemory(client, server, first.sessions[0]!)).reused).toBe(true);
    } finally {
      await cache.close();
      await store.close();
      server.close();
      client.close();
    }
  });

  it('a client cache keeps connecting while Redis is down (store errors counted, full handshakes)', async () => {
    const context = new SslContext('server', { cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.2', sessionIdContext: 'outage-clients' });
    const server = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      socket.end('hi\n');
    });
    const { port } = await server.listen();
    const store = new RedisStore({ url: redis.url, namespace: 'outage-clients', reconnectDelay: { min: 20, max: 200 } });
    await store.ready();
    const caches: SslSessionCache[] = [];
    const machine = () => {
      const cache = new SslSessionCache({ store, storeTimeout: 200 });
      caches.push(cache);
      return cache;
    };
    const connectWith = async (cache: SslSessionCache) => {
      const context2 = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
      const socket = await cache.connect({ host: '127.0.0.1', port, servername: 'localhost', context: context2 });
      const reused = socket.isSessionReused();
      await new Promise((resolve) => socket.once('end', resolve).resume());
      socket.end();
      await cache.flush();
      context2.close();
      return reused;
    };
    try {
      expect(await connectWith(machine())).toBe(false);
      expect(await connectWith(machine())).toBe(true); // a fresh cache finds it in Redis
      await redis.kill();
      const down = machine();
      expect(await connectWith(down)).toBe(false); // nothing in memory, Redis unreachable: full handshake
      expect(down.stats().storeErrors).toBeGreaterThanOrEqual(1);
      await redis.restart();
      await store.ready(5000);
      expect(await connectWith(machine())).toBe(false); // Redis came back empty
      expect(await connectWith(machine())).toBe(true);
    } finally {
      for (const c of caches) c.dispose();
      await store.close();
      await server.close();
      context.close();
    }
  });
});
