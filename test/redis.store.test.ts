/**
 * RedisStore against a real redis-server (started here on a free port, no persistence) and a
 * real 3-node Redis Cluster: namespaced hashed keys, TTL from expiresAt, encryption at rest,
 * SET NX, a Redis that is not there yet, and both caches (client SslSessionCache, server
 * ServerSessionCache) sharing sessions through it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import { createServer, EncryptedStore, MemoryStore, OP, SESS_CACHE, SslContext, SslSession, type TlsServer } from '../lib/index.js';
import { ServerSessionCache, TicketKeys } from '../lib/server/index.js';
import { RedisStore } from '../lib/stores/redis-store.js';
import { inMemorySessions, pair } from './helpers/cache.js';
import { describeRedis, freePort, RedisCluster, RedisServer } from './helpers/redis.js';
import { connectInMemory } from './helpers/server.js';

const KEY = Buffer.alloc(32, 0x5a);
const OTHER_KEY = Buffer.alloc(32, 0xa5);

describeRedis('RedisStore (single redis-server)', () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const store = (options: ConstructorParameters<typeof RedisStore>[0] = {}): RedisStore => {
    const s = new RedisStore({ url: redis.url, ...options });
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });

  it('stores under namespaced, hashed keys with a TTL from expiresAt', async () => {
    const s = store({ namespace: 'ns-basic' });
    await s.ready();
    const expiresAt = Date.now() + 60_000;
    await s.set('imap.example.com:993|secret-host', Buffer.from([0, 1, 2, 255]), expiresAt);
    expect(await s.get('imap.example.com:993|secret-host')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await s.get('absent')).toBeUndefined();
    const keys = await redis.command('KEYS ns-basic:*');
    expect(keys).toContain(s.redisKey('imap.example.com:993|secret-host'));
    expect(s.redisKey('x')).toMatch(/^ns-basic:[0-9a-f]{64}$/);
    expect(keys).not.toContain('imap'); // no host name in Redis
    const pttl = Number((await redis.command(`PTTL ${s.redisKey('imap.example.com:993|secret-host')}`)).slice(1));
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    // Already expired: nothing kept (the old record goes).
    await s.set('imap.example.com:993|secret-host', Buffer.from('x'), Date.now() - 1);
    expect(await s.get('imap.example.com:993|secret-host')).toBeUndefined();
    await s.set('gone', Buffer.from('x'), Date.now() + 60_000);
    await s.delete('gone');
    expect(await s.get('gone')).toBeUndefined();
    expect(s.stats()).toMatchObject({ gets: 4, hits: 1, misses: 3, ready: true, errors: 0 });
  });

  it('encrypted values are unreadable without the key', async () => {
    const [session] = inMemorySessions({ version: 'TLSv1.2' });
    const der = session!.toDER();
    const sealed = store({ namespace: 'ns-enc', encryptionKey: KEY });
    const wrongKey = store({ namespace: 'ns-enc', encryptionKey: OTHER_KEY });
    const plain = store({ namespace: 'ns-enc' }); // sees the raw bytes
    await sealed.ready();
    await sealed.set('peer', der, Date.now() + 60_000);
    expect((await sealed.get('peer'))!.equals(der)).toBe(true);
    // What Redis holds, read as raw bytes under the same Redis key:
    const name = new EncryptedStore(new MemoryStore(), KEY).nameFor('peer');
    const raw = await plain.get(name);
    expect(raw).toBeDefined();
    expect(raw!.length).toBe(1 + 12 + 16 + der.length); // version, IV, tag, ciphertext
    expect(raw!.includes(der.subarray(0, 48))).toBe(false);
    expect(raw!.includes(session!.getId())).toBe(false);
    expect(() => SslSession.fromDER(raw!)).toThrow();
    // Another key: a different name (a miss), and even the right record does not open.
    expect(await wrongKey.get('peer')).toBeUndefined();
    const misplaced = new EncryptedStore(plain, OTHER_KEY);
    await plain.set(misplaced.nameFor('peer'), raw!, Date.now() + 60_000);
    expect(await wrongKey.get('peer')).toBeUndefined();
    session!.dispose();
  });

  it('setIfAbsent is SET NX (plain and encrypted)', async () => {
    for (const s of [store({ namespace: 'ns-nx' }), store({ namespace: 'ns-nx-enc', encryptionKey: KEY })]) {
      await s.ready();
      const results = await Promise.all([0, 1, 2].map((i) => s.setIfAbsent('one', Buffer.from(`writer ${i}`), Date.now() + 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await s.get('one'))!.toString()).toBe(`writer ${results.indexOf(true)}`);
    }
  });

  it('a Redis that is not there yet: commands fail at once (no queueing); it connects when it comes up', async () => {
    const port = await freePort();
    const early = new RedisStore({ url: `redis://127.0.0.1:${port}`, reconnectDelay: { min: 20, max: 100 } });
    stores.push(early);
    const start = performance.now();
    await expect(early.get('x')).rejects.toMatchObject({ code: 'ERR_SESSION_STORE_UNAVAILABLE' });
    await expect(early.set('x', Buffer.from('y'), Date.now() + 1000)).rejects.toThrow();
    expect(performance.now() - start).toBeLessThan(50);
    expect(early.stats()).toMatchObject({ unavailable: 2, ready: false });
    await expect(early.ready(100)).rejects.toThrow(/not ready/);
    // Now a server appears on that port.
    const late = await RedisServer.start({ port });
    try {
      await early.ready(5000);
      await early.set('x', Buffer.from('y'), Date.now() + 10_000);
      expect((await early.get('x'))!.toString()).toBe('y');
    } finally {
      await early.close();
      await late.stop();
    }
  });

  it('client caches on two machines share sessions through Redis', async () => {
    const context = new SslContext('server', {
      cert: pair.cert,
      key: pair.key,
      maxVersion: 'TLSv1.2',
      sessionIdContext: 'redis-client-cache',
    });
    context.setTicketKeys(new TicketKeys());
    const server: TlsServer = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      socket.end('hi\n');
    });
    const { port } = await server.listen();
    try {
      const machine = () => new SslSessionCache({ store: store({ namespace: 'ns-clients', encryptionKey: KEY }), storeTimeout: 500 });
      const [a, b] = [machine(), machine()];
      await Promise.all([(a.store as RedisStore).ready(), (b.store as RedisStore).ready()]);
      const options = { host: '127.0.0.1', port, servername: 'localhost' as const, checkHost: 'localhost' };
      const ctxA = a.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
      const ctxB = b.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
      const first = await a.connect({ ...options, context: ctxA });
      expect(first.isSessionReused()).toBe(false);
      await new Promise((resolve) => first.once('end', resolve).resume());
      first.end();
      await a.flush();
      const second = await b.connect({ ...options, context: ctxB }); // B's memory is empty: Redis has it
      expect(second.isSessionReused()).toBe(true);
      second.destroy();
      expect(b.stats()).toMatchObject({ hits: 1, storeErrors: 0 });
      a.dispose();
      b.dispose();
      ctxA.close();
      ctxB.close();
    } finally {
      await server.close();
      context.close();
    }
  });
});

describeRedis('RedisStore over Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 20_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("keys spread over the nodes; three servers resume each other's sessions through the cluster", async () => {
    const servers = [0, 1, 2].map(
      () => new SslContext('server', { cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.3', options: OP.NO_TICKET }),
    );
    const stores = servers.map(
      () => new RedisStore({ cluster: { rootNodes: cluster.rootNodes }, namespace: 'cluster-fleet', encryptionKey: KEY }),
    );
    try {
      await Promise.all(stores.map((s) => s.ready()));
      const caches = servers.map((context, i) => new ServerSessionCache({ context, store: stores[i]!, timeout: 500 }));
      const client = new SslContext('client', {
        ca: pair.cert,
        verify: true,
        sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
      });
      let offer: SslSession | null = null;
      const reused: boolean[] = [];
      for (let i = 0; i < 9; i++) {
        const result = await connectInMemory(client, servers[i % 3]!, offer);
        await caches[i % 3]!.flush();
        reused.push(result.reused);
        offer = result.sessions[result.sessions.length - 1] ?? null;
      }
      expect(reused).toEqual([false, true, true, true, true, true, true, true, true]);
      // 2 tickets after the full handshake + 1 per resumption = 10 records, over several slots.
      const sizes = (await Promise.all(cluster.nodes.map((n) => n.command('DBSIZE')))).map((r) => Number(r.slice(1)));
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
      expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      expect(caches.reduce((n, c) => n + c.stats().hits, 0)).toBe(8);
      await Promise.all(caches.map((c) => c.close()));
      client.close();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      for (const s of servers) s.close();
    }
  });
});
