/**
 * SessionCache core: LRU across peers, the TLS 1.3 ticket pool (single use, newest first),
 * TLS 1.2 reuse, expiry from every bound with a controlled clock (no sleeping), stats,
 * events and dispose. Values are real sessions from in-memory handshakes.
 */
import { describe, expect, it, vi } from 'vitest';

import { X509Certificate } from 'node:crypto';

import { describeSslSession, SessionCache, sslSessionAdapter, type EvictReason } from '../lib/cache/index.js';
import * as lib from '../lib/index.js';
import { createSelfSigned, OP, type SslSession } from '../lib/index.js';
import { inMemorySessions } from './helpers/cache.js';
import { runGcChild } from './helpers/gc-child.js';
import { pair } from './helpers/fixtures.js';

function engineCache(options: Partial<ConstructorParameters<typeof SessionCache<SslSession>>[0]> = {}) {
  let clock = Date.now();
  const cache = new SessionCache<SslSession>({ adapter: sslSessionAdapter, now: () => clock, ...options });
  return {
    cache,
    advanceTo: (ms: number) => (clock = ms),
    advance: (ms: number) => (clock += ms),
  };
}

const tls13 = () => inMemorySessions({ version: 'TLSv1.3' });
const tls12 = () => inMemorySessions({ version: 'TLSv1.2' });

describe('what set() reads from a session (one native call)', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('%s: the same values as the getters and X509Certificate', (version) => {
    const session = inMemorySessions({ version })[0]!;
    const meta = describeSslSession(session);
    expect(meta).toEqual({
      protocol: session.getProtocolVersion(),
      time: session.getTime(),
      timeout: session.getTimeout(),
      ticketLifetimeHint: session.getTicketLifetimeHint(),
      hasTicket: session.hasTicket(),
      resumable: session.isResumable(),
      peerNotAfter: Date.parse(new X509Certificate(session.get0Peer()!).validTo),
    });
    session.dispose();
    expect(() => describeSslSession(session)).toThrow(expect.objectContaining({ code: 'ERR_SESSION_DISPOSED' }));
  });

  it('no peer certificate (a server-side session without client auth): peerNotAfter null; a bad buffer is a coded TypeError', () => {
    const { SslContext, SslConnection, handshakeInMemory } = lib;
    const server = new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'meta' });
    const client = new SslContext('client', { maxVersion: 'TLSv1.2' });
    const c = new SslConnection(client);
    const srv = new SslConnection(server);
    handshakeInMemory(c, srv);
    const serverSide = srv.get1Session()!;
    expect(serverSide.get0Peer()).toBeNull();
    expect(describeSslSession(serverSide).peerNotAfter).toBeNull();
    for (const bad of [new Float64Array(6), new Float32Array(7), [], null]) {
      expect(() => serverSide.readCacheMeta(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    }
    serverSide.dispose();
    lib.shutdownInMemory(c, srv);
    c.free();
    srv.free();
  });
});

describe('lent handles and the cache lifetime (child process, --expose-gc)', () => {
  it('a lent handle outlives its cache; the cache is collected once disposed, or once the handle goes', () => {
    const run = runGcChild('cache-gc.ts');
    expect(run.status, run.stderr).toBe(0);
    expect(run.report).toEqual({ disposedCollected: true, droppedAliveWhileHeld: true, lentUsable: true, droppedCollected: true });
  });
});

describe('the default clock', () => {
  it('is read again after 64 reads in a busy loop, and after the event loop turns', async () => {
    const { coarseNow } = await import('../lib/cache/expiry.js');
    let now = 1_000_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5)); // any cached reading expires
      expect(coarseNow()).toBe(1_000_000);
      now += 60_000;
      const seen = Array.from({ length: 64 }, () => coarseNow());
      expect(seen.slice(0, 63).every((t) => t === 1_000_000)).toBe(true); // cached...
      expect(seen[63]).toBe(1_060_000); // ...for at most 64 reads
      now += 60_000;
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(coarseNow()).toBe(1_120_000); // and not across a turn of the event loop
      now += 60_000;
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(coarseNow()).toBe(1_180_000); // every time (the expiry timer is re-armed)
    } finally {
      spy.mockRestore();
    }
  });
});

describe('LRU across peers', () => {
  it('evicts the least recently used peer, where a hit counts as a use', () => {
    const { cache } = engineCache({ maxPeers: 3 });
    const evicted: Array<[string, EvictReason]> = [];
    cache.on('evict', (key, reason) => evicted.push([key, reason]));
    for (const peer of ['a', 'b', 'c']) expect(cache.set(peer, tls12()[0]!)).toBe(true);
    expect(cache.keys()).toEqual(['a', 'b', 'c']);

    const shared = cache.getSync('a'); // a becomes the most recent
    expect(shared).toBeDefined(); // the cache's own handle: not disposed by the caller
    expect(cache.keys()).toEqual(['b', 'c', 'a']);

    cache.set('d', tls12()[0]!); // over maxPeers: b goes, not a (FIFO would drop a)
    expect(cache.keys()).toEqual(['c', 'a', 'd']);
    expect(evicted).toEqual([['b', 'lru']]);
    expect(cache.getSync('b')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ stores: 4, evictions: 1, hits: 1, misses: 1, peers: 3 });
    cache.dispose();
  });

  it('releases the native handles of evicted peers', () => {
    const { cache } = engineCache({ maxPeers: 1 });
    const first = tls12()[0]!;
    const probe = first.upRef(); // a second reference to watch the cache's one go
    cache.set('a', first);
    cache.set('b', tls12()[0]!);
    expect(first.disposed).toBe(true);
    expect(probe.isResumable()).toBe(true); // the session itself lives on through our own reference
    probe.dispose();
    cache.dispose();
  });
});

describe('TLS 1.3 ticket pool', () => {
  it('hands each ticket out once, newest first, and caps the pool at ticketsPerPeer', () => {
    const { cache } = engineCache({ ticketsPerPeer: 3 });
    const handshakes = [tls13(), tls13()]; // 2 tickets each
    const all = handshakes.flat();
    expect(all).toHaveLength(4);
    const watch = all.map((s) => s.upRef());
    for (const ticket of all) expect(cache.set('peer', ticket)).toBe(true);
    expect(cache.peek('peer')).toHaveLength(3);
    expect(cache.stats().evictions).toBe(1); // the oldest ticket overflowed
    expect(all[0]!.disposed).toBe(true);

    const taken = [cache.getSync('peer'), cache.getSync('peer'), cache.getSync('peer')];
    expect(taken.every((s) => s !== undefined)).toBe(true);
    // newest first: the last stored comes out first; and each is a different ticket
    expect(taken[0]!.isSame(watch[3]!)).toBe(true);
    expect(taken[1]!.isSame(watch[2]!)).toBe(true);
    expect(taken[2]!.isSame(watch[1]!)).toBe(true);
    expect(cache.getSync('peer')).toBeUndefined(); // none is handed out twice
    expect(cache.stats()).toMatchObject({ ticketsTaken: 3, hits: 3, misses: 1, sessions: 0, peers: 0 });
    for (const s of [...taken, ...watch]) s!.dispose();
    cache.dispose();
  });

  it('keeps a TLS 1.2 session reusable: every hit returns the cached handle itself (no handle per hit)', () => {
    const { cache } = engineCache();
    const session = tls12()[0]!;
    cache.set('peer', session);
    for (let i = 0; i < 3; i++) expect(cache.getSync('peer')).toBe(session); // the same object: no handle made
    expect(session.disposed).toBe(false);
    expect(cache.stats()).toMatchObject({ hits: 3, ticketsTaken: 0, sessions: 1 });
    cache.dispose();
    expect(session.disposed).toBe(false); // handed out: left to its holder (and GC)
    session.dispose();
  });

  it('a value handed out is never disposed by the cache; one never handed out is released on eviction', () => {
    const { cache } = engineCache({ maxPeers: 1 });
    const lent = tls12()[0]!;
    cache.set('a', lent);
    expect(cache.getSync('a')).toBe(lent);
    const kept = tls12()[0]!;
    cache.set('b', kept); // evicts a (lru): lent, so not disposed
    expect(lent.disposed).toBe(false);
    expect(lent.isResumable()).toBe(true);
    cache.set('c', tls12()[0]!); // evicts b: never handed out, released now
    expect(kept.disposed).toBe(true);
    // The evicted lent handle forgot the cache: disposing it is no event, evictValue finds nothing.
    const events: string[] = [];
    cache.on('evict', (key, reason) => events.push(`${key} ${reason}`));
    expect(cache.evictValue(lent)).toBe(false);
    lent.dispose();
    expect(events).toEqual([]);
    cache.dispose();
  });

  it('disposing a cached handle drops its entry at once (no lookup hands out a disposed handle)', () => {
    const { cache } = engineCache();
    const reasons: EvictReason[] = [];
    cache.on('evict', (_key, reason) => reasons.push(reason));
    cache.set('peer', tls12()[0]!);
    const got = cache.getSync('peer')!;
    got.dispose(); // the old habit: the entry goes, nothing crashes
    expect(reasons).toEqual(['unusable']);
    expect(cache.getSync('peer')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ sessions: 0, peers: 0 });
    cache.dispose();
  });

  it('keeps one protocol per peer: TLS 1.3 tickets replace a TLS 1.2 session, and a newer TLS 1.2 session the older one', () => {
    const { cache } = engineCache();
    const reasons: EvictReason[] = [];
    cache.on('evict', (_key, reason) => reasons.push(reason));
    cache.set('peer', tls12()[0]!);
    cache.set('peer', tls12()[0]!);
    expect(cache.peek('peer')).toHaveLength(1);
    for (const t of tls13()) cache.set('peer', t);
    expect(cache.peek('peer').map((e) => e.protocol)).toEqual(['TLSv1.3', 'TLSv1.3']);
    expect(reasons).toEqual(['replaced', 'replaced']);
    cache.dispose();
  });

  it('refuses duplicates, non-resumable sessions, failed verification, and everything after dispose', () => {
    const { cache } = engineCache();
    const session = tls12()[0]!;
    const again = session.upRef();
    expect(cache.set('peer', session)).toBe(true);
    expect(cache.set('peer', again)).toBe(false); // same SSL_SESSION
    expect(again.disposed).toBe(true); // refused values are released

    const noTicket = inMemorySessions({ version: 'TLSv1.3', server: { numTickets: 0 } });
    expect(noTicket).toHaveLength(0); // no ticket, nothing to resume with

    const failed = tls12()[0]!;
    expect(cache.set('other', failed, { trust: 'failed' })).toBe(false);
    expect(failed.disposed).toBe(true);
    expect(cache.peek('other')).toEqual([]);

    cache.dispose();
    const late = tls12()[0]!;
    expect(cache.set('peer', late)).toBe(false);
    expect(late.disposed).toBe(true);
    expect(cache.getSync('peer')).toBeUndefined();
  });
});

describe('expiry (clock moved, no sleeping)', () => {
  it('the session timeout bounds a TLS 1.2 session', () => {
    const { cache, advanceTo } = engineCache();
    const session = inMemorySessions({ version: 'TLSv1.2', client: { timeout: 600 } })[0]!;
    const time = session.getTime();
    cache.set('peer', session);
    const [entry] = cache.peek('peer');
    expect(entry).toMatchObject({ expiresBy: 'timeout', expiresAt: (time + 600) * 1000 });
    advanceTo(entry!.expiresAt - 1);
    expect(cache.getSync('peer')).toBe(session);
    advanceTo(entry!.expiresAt);
    expect(cache.getSync('peer')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ expirations: 1, sessions: 0 });
    cache.dispose();
  });

  it('the ticket lifetime hint bounds a ticket when it is shorter than the timeout', () => {
    const { cache, advanceTo } = engineCache();
    const [ticket] = inMemorySessions({ version: 'TLSv1.3', server: { timeout: 300 } });
    expect(ticket!.getTicketLifetimeHint()).toBe(300);
    const time = ticket!.getTime();
    cache.set('peer', ticket!);
    expect(cache.peek('peer')[0]).toMatchObject({ expiresBy: 'hint', expiresAt: (time + 300) * 1000 });
    advanceTo((time + 300) * 1000);
    expect(cache.getSync('peer')).toBeUndefined();
    expect(cache.stats().expirations).toBe(1);
    cache.dispose();
  });

  it('caps TLS 1.2 at one day and TLS 1.3 at seven (or maxLifetime)', () => {
    const long = { timeout: 30 * 86_400 };
    const longCert = createSelfSigned({ commonName: 'localhost', days: 60 });
    const { cache } = engineCache({ maxLifetime: { tls13: 3 * 86_400 } });
    const s12 = inMemorySessions({ version: 'TLSv1.2', server: long, client: long, keyPair: longCert })[0]!;
    const t12 = s12.getTime();
    cache.set('tls12', s12);
    expect(cache.peek('tls12')[0]).toMatchObject({ expiresBy: 'cap', expiresAt: (t12 + 86_400) * 1000 });
    const s13 = inMemorySessions({ version: 'TLSv1.3', server: long, client: long, keyPair: longCert })[0]!;
    const t13 = s13.getTime();
    cache.set('tls13', s13);
    expect(cache.peek('tls13')[0]).toMatchObject({ expiresBy: 'cap', expiresAt: (t13 + 3 * 86_400) * 1000 });

    const { cache: defaults } = engineCache();
    const d13 = inMemorySessions({ version: 'TLSv1.3', server: long, client: long, keyPair: longCert })[0]!;
    defaults.set('tls13', d13);
    // OpenSSL caps the TLS 1.3 hint at 7 days itself; either bound gives 7 days
    expect(defaults.peek('tls13')[0]!.expiresAt).toBe((d13.getTime() + 7 * 86_400) * 1000);
    cache.dispose();
    defaults.dispose();
  });

  it("the peer certificate's notAfter bounds a session that would otherwise live longer", async () => {
    const { X509Certificate } = await import('node:crypto');
    const shortCert = createSelfSigned({ commonName: 'localhost', days: 1 });
    const notAfter = Date.parse(new X509Certificate(shortCert.cert).validTo);
    const long = { timeout: 30 * 86_400 };
    const { cache, advanceTo } = engineCache();
    const [ticket] = inMemorySessions({ version: 'TLSv1.3', server: long, client: long, keyPair: shortCert });
    cache.set('peer', ticket!);
    expect(cache.peek('peer')[0]).toMatchObject({ expiresBy: 'notAfter', expiresAt: notAfter });
    advanceTo(notAfter);
    expect(cache.has('peer')).toBe(false);
    expect(cache.getSync('peer')).toBeUndefined();
    cache.dispose();
  });

  it('refuses a session that is already expired, and sweeps expired peers lazily', () => {
    const { cache, advance } = engineCache();
    const reasons: EvictReason[] = [];
    cache.on('evict', (_key, reason) => reasons.push(reason));
    for (const peer of ['a', 'b', 'c']) cache.set(peer, inMemorySessions({ version: 'TLSv1.2', client: { timeout: 60 } })[0]!);
    cache.set('fresh', inMemorySessions({ version: 'TLSv1.2' })[0]!);
    advance(61_000);
    expect(cache.size).toBe(4); // nothing is swept until the cache is used
    expect(cache.getSync('fresh')).toBeDefined(); // a use more than a minute later sweeps everything
    expect(cache.keys()).toEqual(['fresh']);
    expect(reasons).toEqual(['expired', 'expired', 'expired']);
    expect(cache.stats().expirations).toBe(3);

    const stale = inMemorySessions({ version: 'TLSv1.2', client: { timeout: 60 } })[0]!;
    advance(3_600_000);
    expect(cache.set('late', stale)).toBe(false); // expired on arrival (by the cache's clock)
    cache.dispose();
  });
});

describe('stats, events, eviction and dispose', () => {
  it('emits hit/miss with details and counts them', () => {
    const { cache } = engineCache();
    const events: string[] = [];
    cache.on('hit', (key, info) =>
      events.push(`hit ${key} ${info.protocol} single=${info.singleUse} left=${info.remaining} ${info.source}`),
    );
    cache.on('miss', (key) => events.push(`miss ${key}`));
    for (const t of tls13()) cache.set('p', t);
    cache.getSync('p')!.dispose();
    cache.getSync('q');
    expect(events).toEqual(['hit p TLSv1.3 single=true left=1 memory', 'miss q']);
    expect(cache.stats()).toEqual({
      hits: 1,
      misses: 1,
      stores: 2,
      evictions: 0,
      expirations: 0,
      ticketsTaken: 1,
      storeErrors: 0,
      peers: 1,
      sessions: 1,
    });
    cache.dispose();
  });

  it('evictValue() drops the reusable session a failed connection used; evict() drops a peer', () => {
    const { cache } = engineCache();
    cache.set('p', tls12()[0]!);
    const used = cache.getSync('p')!;
    expect(cache.evictValue(used)).toBe(true);
    expect(cache.evictValue(used)).toBe(false);
    expect(cache.has('p')).toBe(false);
    expect(used.disposed).toBe(false); // handed out: the holder still has it
    used.dispose();
    for (const t of tls13()) cache.set('q', t);
    expect(cache.evict('q')).toBe(2);
    expect(cache.stats()).toMatchObject({ evictions: 3, sessions: 0 });
    cache.dispose();
  });

  it('dispose() releases every handle it holds', () => {
    const { cache } = engineCache();
    const held = [...tls13(), ...tls12()];
    cache.set('a', held[0]!);
    cache.set('a', held[1]!);
    cache.set('b', held[2]!);
    expect(held.some((s) => s.disposed)).toBe(false);
    cache.dispose();
    expect(held.every((s) => s.disposed)).toBe(true);
    expect(cache.stats()).toMatchObject({ peers: 0, sessions: 0 });
  });

  it('maxPeers 0 disables the cache', () => {
    const { cache } = engineCache({ maxPeers: 0 });
    const s = tls12()[0]!;
    expect(cache.set('a', s)).toBe(false);
    expect(s.disposed).toBe(true);
    cache.dispose();
  });

  it('keeps TLS 1.2 id-only sessions (no ticket) as reusable entries too', () => {
    const { cache } = engineCache();
    const [idOnly] = inMemorySessions({ version: 'TLSv1.2', server: { options: OP.NO_TICKET } });
    cache.set('p', idOnly!);
    expect(cache.peek('p')).toMatchObject([{ protocol: 'TLSv1.2', hasTicket: false, singleUse: false }]);
    cache.dispose();
  });
});
