/**
 * Session cache controls of SslContext: session id context, timeout, cache size and
 * eviction, flushSessions(time), addSession/removeSession, stats().
 *
 * Expectations from OpenSSL 3.0 source:
 *  - ssl/ssl_lib.c SSL_CTX_new_ex(): session_timeout = meth->get_timeout() (ssl/t1_lib.c
 *    tls1_default_timeout(): 7200), session_cache_size = SSL_SESSION_CACHE_MAX_SIZE_DEFAULT
 *    (1024 * 20, include/openssl/ssl.h).
 *  - ssl/ssl_sess.c ssl_get_new_session(): a new session's timeout is the context's.
 *  - ssl/ssl_sess.c SSL_CTX_add_session(): when sess_number >= cache size, remove the list
 *    TAIL (remove_session_lock(ctx, ctx->session_cache_tail, 0)) and count sess_cache_full.
 *    SSL_SESSION_list_add() keeps the list sorted by expiry (calc_timeout), latest first,
 *    so the tail is the session that expires first (with equal timeouts: the oldest).
 *  - ssl/ssl_sess.c remove_session_lock(): calls remove_session_cb whenever the session has
 *    an id, in the cache or not, marks it not_resumable, returns 1 only if it was cached.
 *  - ssl/ssl_sess.c SSL_CTX_flush_sessions(): from the tail, remove while t == 0 or
 *    sess_timedout(t, s) (t > time + timeout).
 *  - ssl/ssl_sess.c ssl_get_prev_session(): sid_ctx mismatch is treated as a miss without a
 *    counter; an expired session counts sess_timeout and, when it came from the cache, is
 *    removed (SSL_CTX_remove_session).
 */
import { describe, expect, it } from 'vitest';

import { MAX_SID_CTX_LENGTH, OP, SESS_CACHE, SslContext, type SslSession } from '../lib/index.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect, now } from './helpers/ssl-context-harness.js';

const tls12Server = (sessionIdContext = 'openssl-session-tests') =>
  serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET, sessionIdContext });
const tls12Client = () => clientContext({ maxVersion: 'TLSv1.2' });

function removals(ctx: SslContext): SslSession[] {
  const removed: SslSession[] = [];
  ctx.onRemoveSession((s) => removed.push(s));
  return removed;
}

describe('setSessionIdContext', () => {
  it('accepts up to 32 bytes and rejects 33 with a RangeError naming the parameter', () => {
    using ctx = new SslContext('server');
    expect(MAX_SID_CTX_LENGTH).toBe(32);
    ctx.setSessionIdContext(new Uint8Array(32));
    ctx.setSessionIdContext('');
    expect(() => ctx.setSessionIdContext(new Uint8Array(33))).toThrow(RangeError);
    expect(() => ctx.setSessionIdContext('x'.repeat(33))).toThrow(/sidCtx/);
    // 32 UTF-8 characters that are 64 bytes: counted in bytes.
    expect(() => ctx.setSessionIdContext('é'.repeat(17))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('is stamped on the sessions the server makes (ssl_get_new_session copies s->sid_ctx)', () => {
    using server = tls12Server('app-one');
    using client = tls12Client();
    const { session, serverSession } = connect(client, server);
    expect(serverSession!.get0IdContext().toString()).toBe('app-one');
    // Local, never sent: the client's session carries the client's own (empty) context.
    expect(session!.get0IdContext()).toHaveLength(0);
  });

  it('a session from another id context is not resumed, even when it is in the cache', () => {
    using serverA = tls12Server('app-one');
    using serverB = tls12Server('app-two');
    using client = tls12Client();
    const fromA = connect(client, serverA);
    // Put A's session into B's cache so B's lookup finds it; the sid_ctx check rejects it.
    // (It is also cached in A, so B gets a copy: see "a session cached in another context".)
    expect(serverB.addSession(fromA.serverSession!)).toBe(true);
    const atB = connect(client, serverB, { session: fromA.session });
    expect(atB.reused).toBe(false);
    // "treat like cache miss": found, so no sess_miss; rejected, so no sess_hit.
    expect(serverB.stats()).toMatchObject({ hits: 0, misses: 0, number: 2 });
  });
});

describe('setTimeout / getTimeout', () => {
  it('defaults to 7200 s (tls1_default_timeout) and new sessions take the context timeout', () => {
    using server = tls12Server();
    using client = tls12Client();
    expect(server.getTimeout()).toBe(7200);
    expect(client.getTimeout()).toBe(7200);
    expect(server.setTimeout(300)).toBe(7200); // returns the previous value
    expect(server.getTimeout()).toBe(300);
    const { session, serverSession } = connect(client, server);
    expect(serverSession!.getTimeout()).toBe(300);
    expect(session!.getTimeout()).toBe(7200); // the client's session uses the client's context
    expect(() => server.setTimeout(-1)).toThrow(RangeError);
  });
});

describe('setSessionCacheSize / getSessionCacheSize', () => {
  it('defaults to 20480 (SSL_SESSION_CACHE_MAX_SIZE_DEFAULT); set returns the previous size', () => {
    using ctx = new SslContext('server');
    expect(ctx.getSessionCacheSize()).toBe(20480);
    expect(ctx.setSessionCacheSize(2)).toBe(20480);
    expect(ctx.getSessionCacheSize()).toBe(2);
    expect(() => ctx.setSessionCacheSize(-1)).toThrow(RangeError);
  });

  it('when full, evicts the session that expires first: cacheFull + remove callback', () => {
    using server = tls12Server();
    using client = tls12Client();
    server.setSessionCacheSize(3);
    const removed: SslSession[] = [];
    const busy: string[] = [];
    server.onRemoveSession((s) => {
      removed.push(s);
      // Eviction runs remove_cb with the cache lock held (remove_session_lock(.., 0)).
      try {
        server.flushSessions();
      } catch (error) {
        busy.push((error as { code: string }).code);
      }
    });
    const first = connect(client, server);
    connect(client, server);
    expect(server.stats()).toMatchObject({ number: 2, cacheFull: 0 });
    const third = connect(client, server);
    // SSL_CTX_add_session inserts into the hash, THEN evicts while number >= size: a cache
    // of size n holds n - 1 sessions once full (see the next test).
    expect(server.stats()).toMatchObject({ number: 2, cacheFull: 1 });
    expect(removed).toHaveLength(1);
    expect(removed[0]!.isSame(first.serverSession!)).toBe(true);
    expect(busy).toEqual(['ERR_CONTEXT_BUSY']);
    // remove_session_lock marks it not_resumable; the client's copy is still offered and misses.
    expect(first.serverSession!.isResumable()).toBe(false);
    expect(connect(client, server, { session: first.session }).reused).toBe(false);
    expect(connect(client, server, { session: third.session }).reused).toBe(true);
  });

  it('holds size - 1 sessions (OpenSSL 3.0 counts the new one before evicting), 1 for size 1', () => {
    using client = tls12Client();
    for (const [size, held] of [
      [1, 1],
      [2, 1],
      [4, 3],
    ] as const) {
      using server = tls12Server();
      server.setSessionCacheSize(size);
      for (let i = 0; i < 6; i++) connect(client, server);
      expect(server.stats()).toMatchObject({ number: held, cacheFull: 6 - held });
    }
  });

  it('eviction follows expiry, not insertion: a session made to live longer is kept', () => {
    using server = tls12Server();
    using client = tls12Client();
    server.setSessionCacheSize(3);
    const removed = removals(server);
    const first = connect(client, server);
    const second = connect(client, server);
    first.serverSession!.setTime(now() + 3600); // re-sorted under the lock (SSL_SESSION_set_time)
    connect(client, server);
    expect(removed).toHaveLength(1);
    expect(removed[0]!.isSame(second.serverSession!)).toBe(true);
    expect(connect(client, server, { session: first.session }).reused).toBe(true);
  });

  it('0 means no limit', () => {
    using server = tls12Server();
    using client = tls12Client();
    server.setSessionCacheSize(0);
    for (let i = 0; i < 5; i++) connect(client, server);
    expect(server.stats()).toMatchObject({ number: 5, cacheFull: 0 });
  });
});

describe('flushSessions(time)', () => {
  it('removes exactly the sessions expired at `time`, oldest first; 0 removes all', () => {
    using server = tls12Server();
    using client = tls12Client();
    const removed = removals(server);
    const t = now();
    const a = connect(client, server).serverSession!;
    const b = connect(client, server).serverSession!;
    const c = connect(client, server).serverSession!;
    a.setTime(t - 8000); // expired at t (timeout 7200)
    b.setTime(t - 100); // expires at t + 7100
    c.setTime(t); // expires at t + 7200
    server.flushSessions(t); // sess_timedout(t, s): t > time + timeout
    expect(removed.map((s) => s.getTime())).toEqual([t - 8000]);
    expect(server.stats().number).toBe(2);
    server.flushSessions(t + 7150);
    expect(removed).toHaveLength(2);
    expect(removed[1]!.isSame(b)).toBe(true);
    server.flushSessions(0);
    expect(removed).toHaveLength(3);
    expect(removed[2]!.isSame(c)).toBe(true);
    expect(server.stats().number).toBe(0);
    // Flushed sessions are marked not_resumable (SSL_CTX_flush_sessions).
    expect([a, b, c].map((s) => s.isResumable())).toEqual([false, false, false]);
  });

  it('defaults to now', () => {
    using server = tls12Server();
    using client = tls12Client();
    const s = connect(client, server).serverSession!;
    connect(client, server);
    s.setTime(now() - 7201 - 5);
    server.flushSessions();
    expect(server.stats().number).toBe(1);
  });

  it('a lookup that finds an expired session counts a timeout and removes it', () => {
    using server = tls12Server();
    using client = tls12Client();
    const removed = removals(server);
    const first = connect(client, server);
    first.serverSession!.setTime(now() - 8000);
    const again = connect(client, server, { session: first.session });
    expect(again.reused).toBe(false);
    expect(removed).toHaveLength(1);
    expect(removed[0]!.isSame(first.serverSession!)).toBe(true);
    // One removed, the new full handshake's session added.
    expect(server.stats()).toMatchObject({ timeouts: 1, hits: 0, misses: 0, number: 1 });
  });
});

describe('addSession / removeSession', () => {
  /** A server whose sessions are in no cache (NO_INTERNAL_STORE): free to add elsewhere. */
  const uncachedOrigin = () =>
    serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET, sessionCacheMode: SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_STORE });

  it('follow SSL_CTX_add_session / SSL_CTX_remove_session return values and callbacks', () => {
    using origin = uncachedOrigin();
    using server = tls12Server();
    using client = tls12Client();
    const removed = removals(server);
    const made = connect(client, origin);
    const session = made.serverSession!;

    expect(server.addSession(session)).toBe(true);
    expect(server.addSession(session)).toBe(false); // already cached: a no-op returning 0
    expect(server.stats().number).toBe(1);
    expect(connect(client, server, { session: made.session }).reused).toBe(true);

    expect(server.removeSession(session)).toBe(true);
    expect(removed).toHaveLength(1);
    expect(removed[0]!.isSame(session)).toBe(true);
    expect(server.stats().number).toBe(0);
    // Not cached any more: returns false, yet remove_cb still fires (remove_session_lock;
    // sslapitest execute_test_session: "This shouldn't be in the cache so should fail",
    // remove_called == 1).
    expect(server.removeSession(session)).toBe(false);
    expect(removed).toHaveLength(2);
    expect(session.isResumable()).toBe(false);
  });

  it('a different object with the same id replaces the cached one (returns true)', () => {
    using origin = uncachedOrigin();
    using server = tls12Server();
    using client = tls12Client();
    const removed = removals(server);
    const session = connect(client, origin).serverSession!;
    const twin = session.dup();
    expect(server.addSession(session)).toBe(true);
    // SSL_CTX_add_session: "s != NULL && s != c": the old one is unlinked and freed without
    // the remove callback ("pretend the other session did not exist in cache").
    expect(server.addSession(twin)).toBe(true);
    expect(server.stats().number).toBe(1);
    expect(removed).toHaveLength(0);
    expect(server.removeSession(twin)).toBe(true);
  });

  it('a session cached in another context is added as a copy (one list per SSL_SESSION)', () => {
    // The expiry list is intrusive (SSL_SESSION prev/next/owner): linking A's session into
    // B would corrupt A's list and free it twice at A's flush. The binding adds a copy.
    using serverA = tls12Server();
    using serverB = tls12Server();
    using client = tls12Client();
    const removedA = removals(serverA);
    const removedB = removals(serverB);
    const made = connect(client, serverA);
    const session = made.serverSession!;
    expect(serverB.addSession(session)).toBe(true);
    expect(serverB.addSession(session)).toBe(false); // the copy is already there
    expect(connect(client, serverB, { session: made.session }).reused).toBe(true);
    serverB.flushSessions(0);
    expect(removedB).toHaveLength(1);
    expect(removedB[0]!.isSame(session)).toBe(false);
    expect(removedB[0]!.getId()).toEqual(session.getId());
    serverA.flushSessions(0); // A's list is intact
    expect(removedA.map((s) => s.isSame(session))).toEqual([true]);
  });

  it('a session without an id is neither added to a lookup nor reported on removal', () => {
    using server = serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET, sessionCacheMode: SESS_CACHE.OFF });
    using other = tls12Server();
    using client = tls12Client();
    const removed = removals(other);
    const idless = connect(client, server).session!; // OFF: the server sent an empty id
    expect(idless.getId()).toHaveLength(0);
    expect(other.removeSession(idless)).toBe(false);
    expect(removed).toHaveLength(0); // remove_session_lock needs session_id_length != 0
  });

  it('addSession evicts when the cache is full', () => {
    using origin = uncachedOrigin();
    using server = tls12Server();
    using client = tls12Client();
    server.setSessionCacheSize(1);
    const removed = removals(server);
    const one = connect(client, origin).serverSession!;
    const two = connect(client, origin).serverSession!;
    expect(server.addSession(one)).toBe(true);
    expect(server.addSession(two)).toBe(true);
    expect(server.stats()).toMatchObject({ number: 1, cacheFull: 1 });
    expect(removed.map((s) => s.isSame(one))).toEqual([true]);
  });

  it('reject non-sessions with a TypeError', () => {
    using server = tls12Server();
    expect(() => server.addSession({} as SslSession)).toThrow(TypeError);
    expect(() => server.removeSession(null as unknown as SslSession)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('stats()', () => {
  it('returns every SSL_CTX_sess_* counter', () => {
    using server = tls12Server();
    using client = tls12Client();
    const keys = [
      'number',
      'connect',
      'connectGood',
      'connectRenegotiate',
      'accept',
      'acceptGood',
      'acceptRenegotiate',
      'hits',
      'cbHits',
      'misses',
      'timeouts',
      'cacheFull',
    ];
    expect(Object.keys(server.stats()).sort()).toEqual([...keys].sort());
    const first = connect(client, server);
    connect(client, server, { session: first.session });
    expect(server.stats()).toEqual({
      number: 1,
      connect: 0,
      connectGood: 0,
      connectRenegotiate: 0,
      accept: 2,
      acceptGood: 2,
      acceptRenegotiate: 0, // no renegotiation is ever started here
      hits: 1,
      cbHits: 0,
      misses: 0,
      timeouts: 0,
      cacheFull: 0,
    });
    expect(client.stats()).toEqual({
      number: 0, // client context in the default mode (SERVER): no client caching
      connect: 2,
      connectGood: 2,
      connectRenegotiate: 0,
      accept: 0,
      acceptGood: 0,
      acceptRenegotiate: 0,
      hits: 1,
      cbHits: 0,
      misses: 0,
      timeouts: 0,
      cacheFull: 0,
    });
  });

  it('a failed handshake counts accept/connect but not the *Good counters', () => {
    using server = serverContext({ minVersion: 'TLSv1.3' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    expect(() => connect(client, server)).toThrow();
    expect(server.stats()).toMatchObject({ accept: 1, acceptGood: 0, number: 0 });
    expect(client.stats()).toMatchObject({ connect: 1, connectGood: 0 });
  });
});
