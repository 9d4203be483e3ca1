/**
 * SSL_CTX_set_session_cache_mode: every flag, with the counts OpenSSL 3.0 produces.
 *
 * Expectations come from OpenSSL 3.0's source (read at the 3.0 tag, see the report):
 *  - ssl/ssl_lib.c ssl_update_cache(): a new session is added to the internal cache when
 *    (mode & SERVER|CLIENT for this side) && !NO_INTERNAL_STORE && !hit (TLS 1.2), and handed
 *    to new_session_cb under the same (mode & side) && !hit condition, whatever
 *    NO_INTERNAL_STORE says. The auto flush runs when !NO_AUTO_CLEAR && (mode & side) == side
 *    && (accept_good or connect_good & 0xff) == 0xff.
 *  - ssl/ssl_sess.c lookup_sess_in_cache(): the internal lookup runs unless
 *    NO_INTERNAL_LOOKUP, and only it counts sess_miss; then get_session_cb; a session found
 *    there counts sess_cb_hit and is added to the internal cache unless NO_INTERNAL_STORE.
 *  - ssl/ssl_sess.c ssl_get_prev_session(): sess_hit for every session resumed, from the
 *    internal cache or the callback.
 *  - ssl/statem/statem_lib.c tls_setup_handshake() / tls_finish_handshake(): sess_accept,
 *    sess_connect at the start; sess_accept_good, sess_connect_good (+ client sess_hit) at
 *    the end. ssl/statem/statem_clnt.c tls_process_server_hello(): client sess_miss when it
 *    offered a session id the server did not resume.
 *  - ssl/ssl_sess.c SSL_CTX_add_session(): UPDATE_TIME sets c->time = time(NULL) there, and
 *    only there.
 * TLS 1.2 with OP.NO_TICKET on the server: resumption by session id (RFC 5246), so every
 * resumption is a cache lookup on the server.
 */
import { describe, expect, it } from 'vitest';

import { OP, SESS_CACHE, SslContext, type SslSession } from '../lib/index.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect, now } from './helpers/ssl-context-harness.js';

function tls12Server(mode?: number): SslContext {
  const ctx = serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET });
  if (mode !== undefined) ctx.setSessionCacheMode(mode);
  return ctx;
}

function tls12Client(mode?: number): SslContext {
  const ctx = clientContext({ maxVersion: 'TLSv1.2' });
  if (mode !== undefined) ctx.setSessionCacheMode(mode);
  return ctx;
}

/** Records what the server's session callbacks saw. */
function watch(ctx: SslContext) {
  const seen = { added: [] as SslSession[], removed: [] as SslSession[], gets: 0 };
  ctx.onNewSession((s) => seen.added.push(s));
  ctx.onRemoveSession((s) => seen.removed.push(s));
  return seen;
}

describe('default mode', () => {
  it('is SSL_SESS_CACHE_SERVER on both client and server contexts (SSL_CTX_new_ex)', () => {
    using server = new SslContext('server');
    using client = new SslContext('client');
    expect(server.getSessionCacheMode()).toBe(SESS_CACHE.SERVER);
    expect(client.getSessionCacheMode()).toBe(SESS_CACHE.SERVER);
    // setSessionCacheMode returns the previous mode (SSL_CTRL_SET_SESS_CACHE_MODE).
    expect(server.setSessionCacheMode(SESS_CACHE.OFF)).toBe(SESS_CACHE.SERVER);
    expect(server.getSessionCacheMode()).toBe(SESS_CACHE.OFF);
  });

  it('BOTH is CLIENT | SERVER, NO_INTERNAL is NO_INTERNAL_LOOKUP | NO_INTERNAL_STORE', () => {
    expect(SESS_CACHE.BOTH).toBe(SESS_CACHE.CLIENT | SESS_CACHE.SERVER);
    expect(SESS_CACHE.NO_INTERNAL).toBe(SESS_CACHE.NO_INTERNAL_LOOKUP | SESS_CACHE.NO_INTERNAL_STORE);
  });
});

describe('SERVER', () => {
  it('stores each new session and resumes it by id from the internal cache', () => {
    using server = tls12Server(SESS_CACHE.SERVER);
    using client = tls12Client();
    const seen = watch(server);

    const first = connect(client, server);
    expect(first.reused).toBe(false);
    // ssl_update_cache: added to the cache and handed to new_session_cb, once.
    expect(server.stats()).toMatchObject({ number: 1, accept: 1, acceptGood: 1, hits: 0, misses: 0, cbHits: 0 });
    expect(seen.added).toHaveLength(1);
    expect(seen.added[0]!.isSame(first.serverSession!)).toBe(true);

    const second = connect(client, server, { session: first.session });
    expect(second.reused).toBe(true);
    expect(second.serverReused).toBe(true);
    // ssl_get_prev_session: sess_hit; ssl_update_cache skips a hit (no add, no callback).
    expect(server.stats()).toMatchObject({ number: 1, accept: 2, acceptGood: 2, hits: 1, misses: 0, cbHits: 0, timeouts: 0 });
    expect(seen.added).toHaveLength(1);
    expect(seen.removed).toHaveLength(0);
  });

  it('a client that offers an unknown id is a miss (sess_miss on both sides)', () => {
    using serverA = tls12Server();
    using serverB = tls12Server();
    using client = tls12Client();
    const fromA = connect(client, serverA);
    const atB = connect(client, serverB, { session: fromA.session });
    expect(atB.reused).toBe(false);
    expect(serverB.stats()).toMatchObject({ number: 1, hits: 0, misses: 1 });
    // tls_process_server_hello: the client offered an id the server did not echo.
    expect(client.stats()).toMatchObject({ misses: 1, hits: 0, connect: 2, connectGood: 2 });
  });
});

describe('OFF', () => {
  it('stores nothing, calls no new-session callback, and hands out no session id', () => {
    using server = tls12Server(SESS_CACHE.OFF);
    using client = tls12Client();
    const seen = watch(server);
    const first = connect(client, server);
    expect(server.stats().number).toBe(0);
    expect(seen.added).toHaveLength(0); // (mode & SERVER) == 0: ssl_update_cache does nothing
    // tls_construct_server_hello: "if (!(s->ctx->session_cache_mode & SSL_SESS_CACHE_SERVER)
    // && !s->hit) s->session->session_id_length = 0": an empty id, so (without tickets) the
    // client's session is not resumable (SSL_SESSION_is_resumable needs an id or a ticket).
    expect(first.session!.getId()).toHaveLength(0);
    expect(first.session!.isResumable()).toBe(false);
    const second = connect(client, server, { session: first.session });
    expect(second.reused).toBe(false);
    expect(server.stats()).toMatchObject({ number: 0, hits: 0, misses: 0, acceptGood: 2 });
  });
});

describe('NO_INTERNAL_LOOKUP', () => {
  it('stores sessions but never looks them up: resumption only through onGetSession (cbHits)', () => {
    using server = tls12Server(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_LOOKUP);
    using client = tls12Client();
    const seen = watch(server);

    const first = connect(client, server);
    expect(server.stats().number).toBe(1); // stored
    expect(seen.added).toHaveLength(1);

    const second = connect(client, server, { session: first.session });
    expect(second.reused).toBe(false); // in the cache, not looked up
    // The miss counter lives inside the internal-lookup branch: no miss either.
    expect(server.stats()).toMatchObject({ number: 2, hits: 0, misses: 0, cbHits: 0 });

    const stored = seen.added[0]!;
    let asked: Buffer | null = null;
    server.onGetSession((id) => {
      asked = id;
      return id.equals(stored.getId()) ? stored : null;
    });
    const third = connect(client, server, { session: first.session });
    expect(third.reused).toBe(true);
    expect(asked).toEqual(first.session!.getId());
    // sess_cb_hit and sess_hit both count it; SSL_CTX_add_session finds it already cached.
    expect(server.stats()).toMatchObject({ number: 2, hits: 1, misses: 0, cbHits: 1 });
  });
});

describe('NO_INTERNAL_STORE', () => {
  it('stores nothing but still calls the new-session callback; lookup misses', () => {
    using server = tls12Server(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_STORE);
    using client = tls12Client();
    const seen = watch(server);
    const first = connect(client, server);
    expect(server.stats().number).toBe(0);
    expect(seen.added).toHaveLength(1);

    const second = connect(client, server, { session: first.session });
    expect(second.reused).toBe(false);
    expect(server.stats()).toMatchObject({ number: 0, misses: 1, hits: 0 });

    const external = seen.added[0]!;
    server.onGetSession((id) => (id.equals(external.getId()) ? external : null));
    const third = connect(client, server, { session: first.session });
    expect(third.reused).toBe(true);
    // Found by the callback: not added to the internal cache (NO_INTERNAL_STORE); the
    // internal lookup ran first and missed again.
    expect(server.stats()).toMatchObject({ number: 0, misses: 2, hits: 1, cbHits: 1 });
  });
});

describe('NO_INTERNAL', () => {
  it('neither stores nor looks up: the callbacks are the whole cache', () => {
    using server = tls12Server(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL);
    using client = tls12Client();
    const seen = watch(server);
    const first = connect(client, server);
    expect(seen.added).toHaveLength(1);
    expect(connect(client, server, { session: first.session }).reused).toBe(false);
    expect(server.stats()).toMatchObject({ number: 0, misses: 0, hits: 0, cbHits: 0 });

    const external = seen.added[0]!;
    server.onGetSession((id) => (id.equals(external.getId()) ? external : null));
    expect(connect(client, server, { session: first.session }).reused).toBe(true);
    expect(server.stats()).toMatchObject({ number: 0, misses: 0, hits: 1, cbHits: 1 });
  });
});

describe('CLIENT', () => {
  it('without CLIENT a client context never calls its new-session callback', () => {
    using server = tls12Server();
    using client = tls12Client(); // default mode: SERVER
    const added: SslSession[] = [];
    client.onNewSession((s) => added.push(s));
    connect(client, server);
    expect(added).toHaveLength(0);
    expect(client.stats().number).toBe(0);
  });

  it('CLIENT calls the callback once per full TLS 1.2 handshake and fills the client cache', () => {
    using server = tls12Server();
    using client = tls12Client(SESS_CACHE.CLIENT);
    const added: SslSession[] = [];
    client.onNewSession((s) => added.push(s));

    const first = connect(client, server);
    expect(added).toHaveLength(1);
    expect(added[0]!.isSame(first.session!)).toBe(true);
    expect(client.stats()).toMatchObject({ number: 1, connect: 1, connectGood: 1, hits: 0 });

    const second = connect(client, server, { session: first.session });
    expect(second.reused).toBe(true);
    // tls_finish_handshake counts the client's hit; ssl_update_cache skips a hit.
    expect(client.stats()).toMatchObject({ number: 1, connect: 2, connectGood: 2, hits: 1 });
    expect(added).toHaveLength(1);

    // The client cache is never consulted by OpenSSL (SSL_CTX_set_session_cache_mode(3):
    // "the application must select the session to be reused by using SSL_set_session"):
    const third = connect(client, server);
    expect(third.reused).toBe(false);
    expect(client.stats().number).toBe(2);
  });

  it('CLIENT | NO_INTERNAL_STORE calls the callback and keeps the client cache empty', () => {
    using server = tls12Server();
    using client = tls12Client(SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE);
    const added: SslSession[] = [];
    client.onNewSession((s) => added.push(s));
    const first = connect(client, server);
    connect(client, server, { session: first.session });
    expect(added).toHaveLength(1);
    expect(client.stats().number).toBe(0);
  });

  it('BOTH on one context caches as a client and as a server', () => {
    using server = tls12Server(SESS_CACHE.BOTH);
    using client = tls12Client(SESS_CACHE.BOTH);
    connect(client, server);
    expect(client.stats().number).toBe(1);
    expect(server.stats().number).toBe(1);
  });
});

describe('UPDATE_TIME', () => {
  // SSL_CTX_add_session: "if (ctx->session_cache_mode & SSL_SESS_CACHE_UPDATE_TIME)
  // c->time = time(NULL)". sslapitest.c test_session_timeout checks it through add_session.
  it.each([
    [true, 'refreshes'],
    [false, 'keeps'],
  ])('UPDATE_TIME=%s: a resumption through onGetSession %s the session time', (update) => {
    const mode = SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_LOOKUP | (update ? SESS_CACHE.UPDATE_TIME : 0);
    using server = tls12Server(mode);
    using client = tls12Client();
    const seen = watch(server);
    const first = connect(client, server);
    const cached = seen.added[0]!;
    const past = now() - 100;
    cached.setTime(past);
    server.onGetSession((id) => (id.equals(cached.getId()) ? cached : null));
    const before = now();
    expect(connect(client, server, { session: first.session }).reused).toBe(true);
    // lookup_sess_in_cache re-adds the callback's session (already cached: add returns 0,
    // but the UPDATE_TIME branch runs first).
    if (update) expect(cached.getTime()).toBeGreaterThanOrEqual(before);
    else expect(cached.getTime()).toBe(past);
  });

  it('does NOT refresh a TLS 1.2 session resumed from the internal cache (no add on a hit)', () => {
    // ssl_update_cache: the add (and so the UPDATE_TIME branch) is skipped when s->hit for
    // TLS 1.2; nothing else in 3.0 writes c->time on lookup. The man page's "updates the
    // timestamp of the session when it is used" holds only for sessions that go through
    // SSL_CTX_add_session (addSession, onGetSession results, TLS 1.3 server tickets).
    using server = tls12Server(SESS_CACHE.SERVER | SESS_CACHE.UPDATE_TIME);
    using client = tls12Client();
    const first = connect(client, server);
    const cached = first.serverSession!;
    const past = now() - 100;
    cached.setTime(past);
    expect(connect(client, server, { session: first.session }).reused).toBe(true);
    expect(server.stats().hits).toBe(1);
    expect(cached.getTime()).toBe(past);
  });

  it('addSession of a cached session refreshes its time only with UPDATE_TIME', () => {
    using server = tls12Server();
    using client = tls12Client();
    const cached = connect(client, server).serverSession!;
    const past = now() - 100;
    cached.setTime(past);
    expect(server.addSession(cached)).toBe(false); // already there: SSL_CTX_add_session returns 0
    expect(cached.getTime()).toBe(past);
    server.setSessionCacheMode(SESS_CACHE.SERVER | SESS_CACHE.UPDATE_TIME);
    const before = now();
    expect(server.addSession(cached)).toBe(false);
    expect(cached.getTime()).toBeGreaterThanOrEqual(before);
  });
});

describe('NO_AUTO_CLEAR', () => {
  // ssl_update_cache: "auto flush every 255 connections": when accept_good & 0xff == 0xff
  // at the time of the update (accept_good is incremented right after it, in
  // tls_finish_handshake), so the flush runs inside the 256th handshake, with time(NULL).
  // It runs for resumed handshakes too (the flush check is outside the !hit branch), which
  // keeps this test cheap: 2 full handshakes and 254 abbreviated ones.
  it.each([
    [false, 'flushes the expired session in the 256th handshake'],
    [true, 'keeps it'],
  ])('NO_AUTO_CLEAR=%s %s', (noAutoClear) => {
    using server = tls12Server(SESS_CACHE.SERVER | (noAutoClear ? SESS_CACHE.NO_AUTO_CLEAR : 0));
    using client = tls12Client();
    const removed: SslSession[] = [];
    server.onRemoveSession((s) => removed.push(s));

    const stale = connect(client, server).serverSession!;
    const live = connect(client, server);
    stale.setTime(now() - 10 * 7200); // long expired; no sleeping
    expect(server.stats()).toMatchObject({ number: 2, acceptGood: 2 });

    for (let i = 3; i <= 255; i++) {
      expect(connect(client, server, { session: live.session, exchange: false }).reused).toBe(true);
    }
    expect(server.stats()).toMatchObject({ number: 2, acceptGood: 255, hits: 253 });
    expect(removed).toHaveLength(0);

    connect(client, server, { session: live.session, exchange: false }); // the 256th
    expect(server.stats().acceptGood).toBe(256);
    if (noAutoClear) {
      expect(server.stats().number).toBe(2);
      expect(removed).toHaveLength(0);
    } else {
      expect(server.stats().number).toBe(1);
      expect(removed).toHaveLength(1);
      expect(removed[0]!.isSame(stale)).toBe(true);
    }
  });
});
