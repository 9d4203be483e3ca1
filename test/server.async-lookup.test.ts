/**
 * ServerSessionCache in memory (MemoryStore and misbehaving stores): the handshake pauses in the
 * ClientHello callback while the store answers, the get-session callback hands the fetched
 * session over on the retry, and every store failure costs a full handshake, never the
 * connection. OpenSSL facts relied on (3.0, ssl/statem/statem_srvr.c and ssl/ssl_sess.c):
 * SSL_CLIENT_HELLO_RETRY makes the step return SSL_ERROR_WANT_CLIENT_HELLO_CB and the next step
 * re-runs tls_early_post_process_client_hello (calling the callback again) BEFORE
 * ssl_get_prev_session looks the session up; with NO_INTERNAL_LOOKUP that lookup is
 * get_session_cb only; TLS 1.3 stateful tickets (OP.NO_TICKET) are looked up by their 32-byte
 * PSK identity (tls_get_stateful_ticket).
 */
import { createHash } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { clientHelloPending, type ClientHelloInfo } from '../lib/core/client-hello.js';
import {
  createSelfSigned,
  MemoryStore,
  OP,
  pipe,
  SESS_CACHE,
  SSL_ERROR,
  SslConnection,
  SslContext,
  type KeyPair,
  type SessionStore,
  type SslSession,
} from '../lib/index.js';
import { defaultSessionIdContext, ServerSessionCache } from '../lib/server/index.js';
import { connectInMemory, handshakeAsync } from './helpers/server.js';

const pairA = createSelfSigned({ commonName: 'localhost' });
const pairB = createSelfSigned({ commonName: 'vhost-b.test', altNames: ['DNS:vhost-b.test'] });

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

function serverContext(keyPair: KeyPair, options: { tls13?: boolean; stateful?: boolean } = {}): SslContext {
  const context = new SslContext('server', {
    cert: keyPair.cert,
    key: keyPair.key,
    maxVersion: options.tls13 ? 'TLSv1.3' : 'TLSv1.2',
    options: options.stateful === false ? 0 : OP.NO_TICKET,
  });
  open.push(context);
  return context;
}

/**
 * A verifying client that reports its sessions. TLS 1.3-capable by default: towards a TLS 1.2
 * server such a client sends a random 32-byte legacy session id on a first connection
 * (middlebox compatibility), which the server looks up like any other (a miss); `maxVersion`
 * 'TLSv1.2' sends an empty one.
 */
function clientContext(ca: string | string[] = pairA.cert, maxVersion?: 'TLSv1.2'): SslContext {
  const context = new SslContext('client', {
    ca,
    verify: true,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
    ...(maxVersion ? { maxVersion } : {}),
  });
  open.push(context);
  return context;
}

function cacheFor(context: SslContext, store: SessionStore, options: { timeout?: number } = {}): ServerSessionCache {
  const cache = new ServerSessionCache({ context, store, ...options });
  open.push(cache);
  return cache;
}

/** A store whose reads take `delay` ms (or fail, or throw) — everything else passes through. */
class TroubledStore implements SessionStore {
  constructor(
    readonly inner: SessionStore,
    public delay = 0,
    public mode: 'ok' | 'reject' | 'throw' = 'ok',
  ) {}
  async get(key: string): Promise<Buffer | undefined> {
    if (this.mode === 'throw') throw new Error('store exploded');
    if (this.delay > 0) await new Promise((resolve) => setTimeout(resolve, this.delay));
    if (this.mode === 'reject') throw new Error('store unavailable');
    return this.inner.get(key);
  }
  set(key: string, value: Buffer, expiresAt: number): Promise<void> {
    return this.inner.set(key, value, expiresAt);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

/** Records how late a 5 ms interval timer fires while the event loop is being watched. */
function lagProbe(): { stop(): { maxLag: number; ticks: number } } {
  let last = performance.now();
  let maxLag = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - last - 5);
    last = now;
    ticks++;
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return { maxLag, ticks };
    },
  };
}

const newest = (sessions: SslSession[]): SslSession => {
  const session = sessions[sessions.length - 1];
  if (session === undefined) throw new Error('the connection produced no session');
  return session;
};

describe('resumption through the store', () => {
  for (const [label, tls13] of [
    ['TLS 1.2 session ids', false],
    ['TLS 1.3 stateful tickets (OP.NO_TICKET)', true],
  ] as const) {
    it(`${label}: three servers, one store; every connection after the first resumes, after one pause each`, async () => {
      const store = new MemoryStore();
      const servers = [0, 1, 2].map(() => serverContext(pairA, { tls13 }));
      const caches = servers.map((context) => cacheFor(context, store));
      const client = clientContext();
      const pattern: string[] = [];
      let offer: SslSession | null = null;
      for (let i = 0; i < 6; i++) {
        const result = await connectInMemory(client, servers[i % 3]!, offer);
        await caches[i % 3]!.flush();
        pattern.push(`${result.reused ? 'R' : 'N'}${result.pauses}`);
        expect(result.version).toBe(tls13 ? 'TLSv1.3' : 'TLSv1.2');
        if (result.sessions.length > 0) offer = newest(result.sessions);
      }
      // The first ClientHello offers nothing under TLS 1.3 (no PSK), but towards a TLS 1.2
      // server it carries the TLS 1.3 client's random legacy session id, which OpenSSL looks up
      // like a real one (get_session_cb): one pause, one miss.
      expect(pattern).toEqual([tls13 ? 'N0' : 'N1', 'R1', 'R1', 'R1', 'R1', 'R1']);
      const totals = caches
        .map((c) => c.stats())
        .reduce((a, s) => ({ hits: a.hits + s.hits, misses: a.misses + s.misses, lookups: a.lookups + s.lookups }), {
          hits: 0,
          misses: 0,
          lookups: 0,
        });
      expect(totals).toEqual(tls13 ? { hits: 5, misses: 0, lookups: 5 } : { hits: 5, misses: 1, lookups: 6 });
      // OpenSSL counted each as a callback hit (SSL_CTX_sess_cb_hits), never an internal one.
      expect(servers.reduce((n, s) => n + s.stats().cbHits, 0)).toBe(5);
      expect(servers.reduce((n, s) => n + s.stats().hits, 0)).toBe(5);
      // What was written: TLS 1.2, one session (resumptions make none); TLS 1.3, numTickets (2)
      // after the full handshake and 1 after each resumption.
      expect(caches.reduce((n, c) => n + c.stats().stored, 0)).toBe(tls13 ? 2 + 5 : 1);
      expect(store.size).toBe(tls13 ? 7 : 1);
      for (const key of store.keys()) expect(key.startsWith(`tls-server:${caches[0]!.sessionIdContext.toString('hex')}:`)).toBe(true);
    });
  }

  it('stateless tickets never touch the store (TLS 1.3 without NO_TICKET, TLS 1.2 tickets)', async () => {
    for (const tls13 of [true, false]) {
      const store = new MemoryStore();
      const server = serverContext(pairA, { tls13, stateful: false });
      const cache = cacheFor(server, store);
      const client = clientContext();
      const first = await connectInMemory(client, server);
      await cache.flush();
      const second = await connectInMemory(client, server, newest(first.sessions));
      expect(second.reused).toBe(true);
      expect(second.pauses).toBe(0);
      expect(store.size).toBe(0);
      // TLS 1.2: a TLS 1.3-capable client's random legacy session id IS looked up (OpenSSL
      // does too: an empty session_ticket extension means SSL_TICKET_EMPTY, then the session
      // id cache); TLS 1.3 never looks up anything without NO_TICKET.
      expect(cache.stats()).toMatchObject({ stored: 0, hits: 0, lookups: tls13 ? 0 : 1 });
    }
  });

  it('hands OpenSSL exactly what the ClientHello offered: the TLS 1.3 PSK identity is the stateful session id', async () => {
    const store = new MemoryStore();
    const server = serverContext(pairA, { tls13: true });
    const cache = cacheFor(server, store);
    const client = clientContext();
    const first = await connectInMemory(client, server);
    await cache.flush();
    const offer = newest(first.sessions);
    // Observe the ClientHello in place of the cache's callback (pausing as it would).
    const seen: ClientHelloInfo[] = [];
    server.onClientHello((_connection, hello) => {
      seen.push(hello);
      return new Promise<void>((resolve) => setImmediate(resolve));
    });
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    c.setTlsextHostName('example.test');
    c.setSession(offer);
    await handshakeAsync(c, s);
    expect(seen).toHaveLength(1);
    const hello = seen[0]!;
    expect(hello.pskIdentities).toHaveLength(1);
    expect(hello.pskIdentities[0]!.length).toBe(32);
    // A stateful ticket is the server-side session id (construct_stateful_ticket); the
    // client files the session under SHA-256 of the ticket instead (tls_process_new_session_ticket).
    expect(hello.pskIdentities[0]!.equals(offer.get0Ticket()!)).toBe(true);
    expect(offer.getId().equals(createHash('sha256').update(offer.get0Ticket()!).digest())).toBe(true);
    expect(store.keys()).toContain(cache.keyFor(hello.pskIdentities[0]!));
    expect(hello.supportedVersions).toContain(0x0304);
    expect(hello.servername).toBe('example.test');
    expect(hello.extensions).toContain(41); // pre_shared_key
    expect(hello.extensions[hello.extensions.length - 1]).toBe(41); // always last (RFC 8446 4.2.11)
    expect(hello.hasTicket).toBe(false);
    // Without the cache's callback nothing was fetched: OpenSSL's get callback found nothing.
    expect(c.sessionReused()).toBe(false);
    c.free();
    s.free();
  });
});

describe('the handshake pauses without blocking the event loop', () => {
  it('a slow store (200 ms): the timer keeps firing, another handshake completes meanwhile, then it resumes', async () => {
    const store = new TroubledStore(new MemoryStore());
    const server = serverContext(pairA);
    const cache = cacheFor(server, store, { timeout: 2000 });
    const client = clientContext(pairA.cert, 'TLSv1.2'); // no random session id: only real lookups
    const first = await connectInMemory(client, server);
    await cache.flush();

    store.delay = 200;
    const probe = lagProbe();
    let otherDoneAt = 0;
    let pausedDoneAt = 0;
    const paused = connectInMemory(client, server, newest(first.sessions)).then((r) => {
      pausedDoneAt = performance.now();
      return r;
    });
    // A second client without a session: no lookup, so it completes while the first waits.
    const other = connectInMemory(client, server).then((r) => {
      otherDoneAt = performance.now();
      return r;
    });
    const [resumed, full] = await Promise.all([paused, other]);
    const { maxLag, ticks } = probe.stop();

    expect(resumed.reused).toBe(true);
    expect(resumed.pauses).toBe(1);
    expect(resumed.pausedMs).toBeGreaterThanOrEqual(190);
    expect(full.reused).toBe(false);
    expect(full.pauses).toBe(0);
    expect(otherDoneAt).toBeGreaterThan(0);
    expect(otherDoneAt).toBeLessThan(pausedDoneAt - 100); // finished long before the paused one
    // ~40 ticks in 200 ms on an idle machine; a loop blocked for the store's 200 ms gives 1 or
    // 2 and a lag of 200 ms. Bounds leave room for a busy machine running other test files.
    expect(ticks).toBeGreaterThan(8);
    expect(maxLag).toBeLessThan(150);
    expect(cache.stats()).toMatchObject({ lookups: 1, hits: 1, timeouts: 0 });
  });

  it('stepping again while paused is harmless; clientHelloPending is null when nothing waits', async () => {
    const server = serverContext(pairA);
    let release!: () => void;
    server.onClientHello(() => new Promise<void>((resolve) => (release = resolve)));
    const client = clientContext();
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    expect(clientHelloPending(s)).toBeNull();
    c.doHandshake();
    pipe(c, s);
    expect(s.doHandshake()).toBe(SSL_ERROR.WANT_CLIENT_HELLO_CB);
    expect(s.doHandshake()).toBe(SSL_ERROR.WANT_CLIENT_HELLO_CB); // still waiting
    expect(s.pendingOutput()).toBe(0); // nothing sent while paused
    const wait = clientHelloPending(s);
    expect(wait).toBeInstanceOf(Promise);
    release();
    await wait;
    expect(s.doHandshake()).toBe(SSL_ERROR.WANT_READ); // ServerHello..ServerHelloDone written
    expect(s.pendingOutput()).toBeGreaterThan(0);
    expect(clientHelloPending(s)).toBeNull();
    pipe(s, c);
    expect(await handshakeAsync(c, s)).toEqual({ pauses: 0, pausedMs: 0 }); // the callback ran once
    expect(c.isInitFinished() && s.isInitFinished()).toBe(true);
    c.free();
    s.free();
  });

  it('a rejected (or throwing) client hello callback fails that handshake with its error and an alert', async () => {
    for (const kind of ['reject', 'throw'] as const) {
      const server = serverContext(pairA);
      const boom = new Error(`no certificate for you (${kind})`);
      server.onClientHello(() => {
        if (kind === 'throw') throw boom;
        return Promise.reject(boom);
      });
      const c = new SslConnection(clientContext());
      const s = new SslConnection(server);
      c.doHandshake();
      pipe(c, s);
      let thrown: unknown;
      try {
        if (s.doHandshake() === SSL_ERROR.WANT_CLIENT_HELLO_CB) {
          await clientHelloPending(s);
          s.doHandshake();
        }
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBe(boom);
      pipe(s, c);
      expect(() => c.doHandshake()).toThrow(/alert/i);
      c.free();
      s.free();
    }
  });
});

describe('store trouble costs a full handshake, never the connection', () => {
  it('timeout (default 50 ms): the handshake waits no longer, then goes on in full', async () => {
    const store = new TroubledStore(new MemoryStore());
    const server = serverContext(pairA);
    const cache = cacheFor(server, store); // timeout 50
    const client = clientContext(pairA.cert, 'TLSv1.2');
    const first = await connectInMemory(client, server);
    await cache.flush();
    store.delay = 400;
    const start = performance.now();
    const result = await connectInMemory(client, server, newest(first.sessions));
    const elapsed = performance.now() - start;
    expect(result.reused).toBe(false);
    expect(result.pauses).toBe(1);
    expect(result.pausedMs).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(300);
    expect(cache.stats()).toMatchObject({ lookups: 1, timeouts: 1, hits: 0 });
  });

  it('a store that rejects, throws, or returns garbage: full handshakes, counted as storeErrors', async () => {
    const inner = new MemoryStore();
    const store = new TroubledStore(inner);
    const server = serverContext(pairA);
    const cache = cacheFor(server, store);
    const errors: string[] = [];
    cache.on('storeError', (error: Error, op: string) => errors.push(`${op}: ${error.message}`));
    const client = clientContext(pairA.cert, 'TLSv1.2');
    const first = await connectInMemory(client, server);
    await cache.flush();
    const offer = newest(first.sessions);

    store.mode = 'reject';
    expect((await connectInMemory(client, server, offer)).reused).toBe(false);
    store.mode = 'throw';
    expect((await connectInMemory(client, server, offer)).reused).toBe(false);
    store.mode = 'ok';
    await inner.set(cache.keyFor(offer.getId()), Buffer.from('not a session'), Date.now() + 60_000);
    expect((await connectInMemory(client, server, offer)).reused).toBe(false);
    expect(cache.stats()).toMatchObject({ lookups: 3, hits: 0, storeErrors: 3 });
    expect(errors).toEqual(['get: store unavailable', 'get: store exploded', expect.stringMatching(/^get: /)]);
  });

  it("a connection freed without close_notify: OpenSSL's remove callback deletes the session from the store", async () => {
    const store = new MemoryStore();
    const server = serverContext(pairA);
    const cache = cacheFor(server, store);
    const c = new SslConnection(clientContext());
    const s = new SslConnection(server);
    await handshakeAsync(c, s);
    await cache.flush();
    expect(store.size).toBe(1);
    s.free(); // no shutdown: ssl_clear_bad_session -> SSL_CTX_remove_session -> remove_cb
    c.free();
    await cache.flush();
    expect(store.size).toBe(0);
    expect(cache.stats()).toMatchObject({ stored: 1, removed: 1 });
  });
});

describe('session id context', () => {
  it('defaults to a digest of the certificate and trust settings; settable explicitly', () => {
    const a1 = serverContext(pairA);
    const a2 = serverContext(pairA);
    const b = serverContext(pairB);
    const verifying = serverContext(pairA);
    verifying.setVerify(0x01 | 0x02);
    verifying.addCaCertificates(pairB.cert);
    const ids = [a1, a2, b, verifying].map((context) => defaultSessionIdContext(context));
    expect(ids[0]!.length).toBe(32);
    expect(ids[0]!.equals(ids[1]!)).toBe(true); // same certificate: the fleet agrees
    expect(ids[0]!.equals(ids[2]!)).toBe(false); // another certificate
    expect(ids[0]!.equals(ids[3]!)).toBe(false); // same certificate, client certificates required
    expect(defaultSessionIdContext(a1, 'other-namespace').equals(ids[0]!)).toBe(false);
    const explicit = cacheFor(a2, new MemoryStore());
    expect(explicit.sessionIdContext.equals(ids[1]!)).toBe(true);
    const named = new ServerSessionCache({ context: serverContext(pairA), store: new MemoryStore(), sessionIdContext: 'imap-fleet' });
    open.push(named);
    expect(named.sessionIdContext.toString()).toBe('imap-fleet');
    expect(
      () => new ServerSessionCache({ context: serverContext(pairA), store: new MemoryStore(), sessionIdContext: Buffer.alloc(33) }),
    ).toThrow(RangeError);
    expect(() => new ServerSessionCache({ context: clientContext(), store: new MemoryStore() })).toThrow(TypeError);
  });

  it("two server contexts with different certificates never resume each other's sessions, even through one store", async () => {
    for (const tls13 of [false, true]) {
      const store = new MemoryStore();
      const a = serverContext(pairA, { tls13 });
      const b = serverContext(pairB, { tls13 });
      const cacheA = cacheFor(a, store);
      const cacheB = cacheFor(b, store);
      const client = clientContext([pairA.cert, pairB.cert]);
      const first = await connectInMemory(client, a);
      await cacheA.flush();
      const offer = newest(first.sessions);
      expect((await connectInMemory(client, a, offer)).reused).toBe(true); // the control: A resumes it
      // TLS 1.3 tickets are used once: B gets A's other ticket.
      const onB = await connectInMemory(client, b, tls13 ? first.sessions[0]! : offer);
      expect(onB.reused).toBe(false);
      // B looked under its own session id context: a miss, never A's record.
      expect(cacheB.stats()).toMatchObject({ lookups: 1, misses: 1, hits: 0 });
    }
  });

  it("even a store that hands B the record of A's session: OpenSSL refuses it (sid_ctx mismatch)", async () => {
    const inner = new MemoryStore();
    const a = serverContext(pairA);
    const b = serverContext(pairB);
    const cacheA = cacheFor(a, inner);
    // B's store ignores the key and answers with whatever A stored last.
    const leak: { record?: Buffer } = {};
    const leaky: SessionStore = {
      get: async () => leak.record && Buffer.from(leak.record),
      set: async (key, value, expiresAt) => inner.set(key, value, expiresAt),
      delete: async (key) => inner.delete(key),
    };
    const cacheB = cacheFor(b, leaky);
    const client = clientContext([pairA.cert, pairB.cert]);
    const first = await connectInMemory(client, a);
    await cacheA.flush();
    leak.record = await inner.get(inner.keys()[0]!);
    expect(leak.record).toBeDefined();
    const onB = await connectInMemory(client, b, newest(first.sessions));
    expect(onB.reused).toBe(false);
    expect(cacheB.stats()).toMatchObject({ lookups: 1, hits: 1 }); // handed over...
    expect(b.stats()).toMatchObject({ hits: 0, cbHits: 1 }); // ...and refused by ssl_get_prev_session
  });
});
