/**
 * The store tier behind a SessionCache: write-through, cold loads, TLS 1.3 tickets used at
 * most once even across caches sharing a store and across concurrent lookups, and records
 * that cannot be used (garbage, expired) read as misses.
 */
import { describe, expect, it } from 'vitest';

import { SessionCache, sslSessionAdapter, SslSessionCache } from '../lib/cache/index.js';
import type { SslSession } from '../lib/index.js';
import { MemoryStore } from '../lib/stores/index.js';
import { inMemorySessions } from './helpers/cache.js';

const KEY = 'mail.test:993|sni=mail.test|cfg=00000000000000000000000000000000';

function cacheOver(store: MemoryStore, now?: () => number): SessionCache<SslSession> {
  return new SessionCache<SslSession>({ adapter: sslSessionAdapter, store, ...(now ? { now } : {}) });
}

describe('store tier', () => {
  it('writes every change through, and a ticket taken by one cache is gone for every other', async () => {
    const store = new MemoryStore();
    const writer = cacheOver(store);
    const tickets = [...inMemorySessions({ version: 'TLSv1.3' }), ...inMemorySessions({ version: 'TLSv1.3' })];
    const ders = tickets.map((t) => t.toDER());
    for (const t of tickets) writer.set(KEY, t);
    await writer.flush();
    writer.dispose(); // memory gone; the store keeps the pool

    const taken: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const reader = cacheOver(store); // a fresh process, as far as memory goes
      const session = await reader.get(KEY);
      if (session) {
        taken.push(session.toDER());
        session.dispose();
      }
      await reader.flush();
      reader.dispose();
    }
    expect(taken).toHaveLength(4);
    // newest first, each exactly once
    expect(taken.map((d) => ders.findIndex((x) => x.equals(d)))).toEqual([3, 2, 1, 0]);
    expect(await store.get(KEY)).toBeUndefined(); // an empty pool deletes the record
  });

  it('concurrent lookups of a cold key load the record once and never share a ticket', async () => {
    const store = new MemoryStore();
    const writer = cacheOver(store);
    for (const t of inMemorySessions({ version: 'TLSv1.3' })) writer.set(KEY, t);
    await writer.flush();
    writer.dispose();

    const reader = cacheOver(store);
    const got = await Promise.all([reader.get(KEY), reader.get(KEY), reader.get(KEY)]);
    const found = got.filter((s): s is SslSession => s !== undefined);
    expect(found).toHaveLength(2);
    expect(found[0]!.isSame(found[1]!)).toBe(false);
    expect(reader.stats()).toMatchObject({ hits: 2, misses: 1, ticketsTaken: 2 });
    for (const s of found) s.dispose();
    reader.dispose();
  });

  it('a TLS 1.2 session loaded from the store stays reusable and is parsed once', async () => {
    const store = new MemoryStore();
    const writer = cacheOver(store);
    writer.set(KEY, inMemorySessions({ version: 'TLSv1.2' })[0]!);
    await writer.flush();
    const reader = cacheOver(store);
    const a = (await reader.get(KEY))!;
    const b = (await reader.get(KEY))!;
    expect(b).toBe(a); // one live handle in memory, shared (no second d2i)
    // The record holds the session and its metadata, none of the cache's bookkeeping.
    const record = JSON.parse((await store.get(KEY))!.toString('utf8')) as { sessions: Array<Record<string, unknown>> };
    expect(Object.keys(record.sessions[0]!).sort()).toEqual([
      'der',
      'expiresAt',
      'expiresBy',
      'hasTicket',
      'protocol',
      'singleUse',
      'storedAt',
      'ticketLifetimeHint',
    ]);
    const sources: string[] = [];
    expect(reader.stats()).toMatchObject({ hits: 2, misses: 0 });
    reader.on('hit', (_k, info) => sources.push(info.source));
    expect(await reader.get(KEY)).toBe(a);
    expect(sources).toEqual(['memory']);
    writer.dispose();
    reader.dispose();
  });

  it('garbage and expired records read as misses; garbage counts as a store error', async () => {
    let clock = Date.now();
    const store = new MemoryStore({ now: () => clock });
    await store.set(KEY, Buffer.from('not a record'), clock + 60_000);
    const cache = cacheOver(store, () => clock);
    expect(await cache.get(KEY)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ misses: 1, storeErrors: 1 });

    const writer = cacheOver(store, () => clock);
    writer.set('short', inMemorySessions({ version: 'TLSv1.2', client: { timeout: 60 } })[0]!);
    await writer.flush();
    clock += 61_000;
    const late = cacheOver(store, () => clock);
    expect(await late.get('short')).toBeUndefined();
    expect(late.stats()).toMatchObject({ misses: 1, storeErrors: 0 });
    for (const c of [cache, writer, late]) c.dispose();
  });

  it('SslSessionCache.offer() reads the store too (and a disposed cache offers nothing)', async () => {
    const store = new MemoryStore();
    const writer = cacheOver(store);
    for (const t of inMemorySessions({ version: 'TLSv1.3' })) writer.set(KEY, t);
    await writer.flush();
    const engine = new SslSessionCache({ store });
    const context = engine.createContext({ verify: false });
    const { SslConnection } = await import('../lib/index.js');
    const connection = new SslConnection(context);
    expect(await engine.offer(KEY, connection)).toBe(true);
    engine.dispose();
    expect(await engine.offer(KEY, new SslConnection(context))).toBe(false);
    connection.free();
    context.close();
    writer.dispose();
  });
});
