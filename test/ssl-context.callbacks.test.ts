/**
 * onNewSession / onRemoveSession / onGetSession: when OpenSSL calls them, what they receive,
 * unsetting with null, exceptions, the lock rule (ERR_CONTEXT_BUSY) and use after close.
 *
 * OpenSSL 3.0 facts relied on:
 *  - ssl/ssl_lib.c ssl_update_cache(): TLS 1.3 servers add their (stateless-ticket)
 *    sessions to the internal cache only with early data, SSL_OP_NO_TICKET, or "the
 *    application has set a remove_session_cb"; new_session_cb is called in any case.
 *  - ssl/ssl_sess.c lookup_sess_in_cache(): get_session_cb runs only after an internal miss
 *    (or with NO_INTERNAL_LOOKUP); with *copy = 1 OpenSSL takes its own reference.
 *  - ssl/ssl_sess.c SSL_CTX_flush_sessions() calls remove_session_cb inside the write lock;
 *    remove_session_lock(.., 1) (SSL_CTX_remove_session) after unlocking.
 *  - ssl/ssl_sess.c SSL_set_session() → ssl_clear_bad_session(): a client that replaces the
 *    session of a connection it never shut down removes the old one (sslapitest.c
 *    execute_test_session: "This should clear sess2 from the cache because it is a bad
 *    session").
 */
import { describe, expect, it } from 'vitest';

import { OP, SESS_CACHE, SslConnection, SslSession } from '../lib/index.js';
import { handshakeInMemory } from '../lib/engine/memory-pair.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect } from './helpers/ssl-context-harness.js';

const tls12Server = () => serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET });
const tls12Client = (mode?: number) => {
  const ctx = clientContext({ maxVersion: 'TLSv1.2' });
  if (mode !== undefined) ctx.setSessionCacheMode(mode);
  return ctx;
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  return undefined;
}

describe('onNewSession', () => {
  it('receives the session and the connection; null unsets', () => {
    using server = tls12Server();
    using client = tls12Client();
    const calls: Array<[SslSession, SslConnection | null]> = [];
    server.onNewSession((session, connection) => calls.push([session, connection]));
    const first = connect(client, server);
    expect(calls).toHaveLength(1);
    expect(calls[0]![1]).toBe(first.server);
    expect(calls[0]![0].isSame(first.serverSession!)).toBe(true);
    server.onNewSession(null);
    connect(client, server);
    expect(calls).toHaveLength(1);
    expect(server.stats().number).toBe(2); // unsetting the callback changes nothing else
  });

  it('rejects a non-function with a TypeError', () => {
    using server = tls12Server();
    expect(codeOf(() => server.onNewSession('x' as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => server.onRemoveSession({} as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => server.onGetSession(1 as never))).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('a session kept from the callback stays valid after the context is closed', () => {
    using server = tls12Server();
    for (const mode of [SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE, SESS_CACHE.CLIENT]) {
      const client = tls12Client(mode);
      const kept: SslSession[] = [];
      client.onNewSession((s) => kept.push(s));
      connect(client, server);
      client.close();
      expect(client.closed).toBe(true);
      const [session] = kept;
      expect(session!.getId()).toHaveLength(32);
      expect(session!.toDER().length).toBeGreaterThan(0);
      using client2 = tls12Client();
      if (mode & SESS_CACHE.NO_INTERNAL_STORE) {
        // Never in the client's cache: untouched by close(), still resumes.
        expect(session!.isResumable()).toBe(true);
        expect(connect(client2, server, { session }).reused).toBe(true);
      } else {
        // It was in the client's cache: close() flushes it like SSL_CTX_free would, and
        // SSL_CTX_flush_sessions marks every flushed session not_resumable. The handle is
        // valid, OpenSSL just will not offer it. Its DER form carries no such flag.
        expect(session!.isResumable()).toBe(false);
        expect(connect(client2, server, { session }).reused).toBe(false);
        expect(connect(client2, server, { session: SslSession.fromDER(session!.toDER()) }).reused).toBe(true);
      }
    }
  });

  it('a throwing callback: the step that triggered it throws, OpenSSL carries on', () => {
    using server = tls12Server();
    using client = tls12Client();
    const boom = new Error('new-session boom');
    server.onNewSession(() => {
      throw boom;
    });
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    expect(() => handshakeInMemory(c, s)).toThrow(boom);
    // ssl_update_cache added the session before calling the callback, and the server's
    // handshake had finished: the connection is usable.
    expect(server.stats()).toMatchObject({ number: 1, acceptGood: 1 });
    expect(s.isInitFinished()).toBe(true);
    s.write(Buffer.from('still fine'));
    c.feed(s.takeOutput()!);
    expect(c.read()!.toString()).toBe('still fine');
    // Later calls are not haunted by the old exception.
    server.onNewSession(null);
    expect(connect(client, server).reused).toBe(false);
    c.free();
    s.free();
  });
});

describe('onNewSession and a connection session listener', () => {
  it('both run even when the context callback throws; its exception surfaces', () => {
    using server = serverContext();
    using client = clientContext({ sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
    let thrown = 0;
    client.onNewSession(() => {
      thrown++;
      throw new Error(`context listener ${thrown}`);
    });
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    const perConnection: SslSession[] = [];
    c.setSessionListener((x) => perConnection.push(x));
    handshakeInMemory(c, s);
    // read() drains both tickets in one call; each callback threw, the first is rethrown.
    expect(() => c.read()).toThrow('context listener 1');
    expect(thrown).toBe(2);
    expect(perConnection).toHaveLength(2);
    expect(perConnection.every((x) => x.hasTicket())).toBe(true);
    expect(c.read()).toEqual(Buffer.alloc(0)); // nothing pending, no stale exception
    c.free();
    s.free();
  });

  it('each gets a handle with a reference of its own: disposing one leaves the other usable', () => {
    using server = serverContext();
    using client = clientContext({ sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
    const kept: SslSession[] = [];
    client.onNewSession((session) => kept.push(session));
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    let disposedByListener = 0;
    c.setSessionListener((session) => {
      session.dispose();
      disposedByListener++;
    });
    handshakeInMemory(c, s);
    c.read(); // both TLS 1.3 tickets
    expect(disposedByListener).toBe(2);
    expect(kept).toHaveLength(2);
    for (const session of kept) {
      expect(session.disposed).toBe(false);
      expect(session.isResumable()).toBe(true);
    }
    // and the kept one still resumes
    const again = new SslConnection(client);
    const s2 = new SslConnection(server);
    again.setSession(kept[0]!);
    handshakeInMemory(again, s2);
    expect(again.sessionReused()).toBe(true);
    for (const x of [c, s, again, s2]) x.free();
    for (const x of kept) x.dispose();
  });

  it('free() of a connection from inside its own callback is refused (ERR_CONNECTION_BUSY), not a use-after-free', () => {
    using server = serverContext();
    using client = clientContext({ sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    c.setSessionListener((session) => {
      session.dispose();
      c.free();
    });
    handshakeInMemory(c, s);
    expect(() => c.read()).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_BUSY' }));
    expect(c.freed).toBe(false);
    c.setSessionListener(null);
    c.free(); // after the step: fine
    s.free();
  });
});

describe('onRemoveSession', () => {
  it('TLS 1.3: setting it makes the server cache its ticket sessions; null undoes that', () => {
    using server = serverContext(); // TLS 1.3, stateless tickets, 2 per handshake
    using client = clientContext();
    connect(client, server);
    expect(server.stats().number).toBe(0);
    const removed: SslSession[] = [];
    server.onRemoveSession((s) => removed.push(s));
    connect(client, server);
    expect(server.stats().number).toBe(2); // one session per ticket sent
    server.onRemoveSession(null);
    connect(client, server);
    expect(server.stats().number).toBe(2);
    server.flushSessions(0);
    expect(removed).toHaveLength(0); // unset: not delivered
    expect(server.stats().number).toBe(0);
  });

  it('fires on the client when a connection that was not shut down is freed', () => {
    // SSL_free → ssl_clear_bad_session → SSL_CTX_remove_session, even with the session in
    // no internal cache (CLIENT | NO_INTERNAL_STORE); remove_session_lock calls remove_cb
    // whenever the session has an id (cf. execute_test_session's SSL_set_session case).
    using server = tls12Server();
    using client = tls12Client(SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE);
    const removed: SslSession[] = [];
    client.onRemoveSession((s) => removed.push(s));
    const polite = connect(client, server);
    expect(removed).toHaveLength(0);
    expect(polite.session!.isResumable()).toBe(true);
    const rude = connect(client, server, { shutdown: 'none' });
    expect(removed).toHaveLength(1);
    expect(removed[0]!.isSame(rude.session!)).toBe(true);
    expect(rude.session!.isResumable()).toBe(false); // remove_session_lock: not_resumable = 1
  });

  it('inside the callback, methods that take the cache lock throw ERR_CONTEXT_BUSY', () => {
    using server = tls12Server();
    using client = tls12Client();
    const other = connect(client, server).serverSession!;
    connect(client, server);
    const seen: Record<string, string | undefined> = {};
    let conn: SslConnection | undefined;
    server.onRemoveSession(() => {
      if (Object.keys(seen).length > 0) return;
      seen.flush = codeOf(() => server.flushSessions());
      seen.add = codeOf(() => server.addSession(other));
      seen.remove = codeOf(() => server.removeSession(other));
      seen.close = codeOf(() => server.close());
      conn = new SslConnection(server); // creating one is fine (SSL_new takes no cache lock)
      seen.drive = codeOf(() => conn!.doHandshake());
      seen.stats = codeOf(() => server.stats());
      seen.timeout = codeOf(() => server.setTimeout(100));
    });
    server.flushSessions(0); // remove_cb inside the write lock
    expect(seen).toEqual({
      flush: 'ERR_CONTEXT_BUSY',
      add: 'ERR_CONTEXT_BUSY',
      remove: 'ERR_CONTEXT_BUSY',
      close: 'ERR_CONTEXT_BUSY',
      drive: 'ERR_CONTEXT_BUSY',
      stats: undefined,
      timeout: undefined,
    });
    expect(server.closed).toBe(false);
    expect(server.stats().number).toBe(0);
    // Outside the callback everything works again.
    expect(server.addSession(other)).toBe(true);
    conn!.free();
  });

  it('a throwing callback: removeSession and close() throw after doing their work', () => {
    const server = tls12Server();
    using client = tls12Client();
    const a = connect(client, server).serverSession!;
    connect(client, server);
    connect(client, server);
    let calls = 0;
    server.onRemoveSession(() => {
      calls++;
      throw new Error(`remove ${calls}`);
    });
    expect(() => server.removeSession(a)).toThrow('remove 1');
    expect(server.stats().number).toBe(2);
    // close(): every remove callback still runs; the first exception is rethrown after the
    // context is closed.
    expect(() => server.close()).toThrow('remove 2');
    expect(calls).toBe(3);
    expect(server.closed).toBe(true);
  });
});

describe('onGetSession', () => {
  it('is asked only after an internal miss, with the id the client offered', () => {
    using server = tls12Server();
    using client = tls12Client();
    const asked: Buffer[] = [];
    server.onGetSession((id) => {
      asked.push(id);
      return null;
    });
    const first = connect(client, server);
    expect(connect(client, server, { session: first.session }).reused).toBe(true); // internal hit
    expect(asked).toHaveLength(0);
    server.flushSessions(0);
    expect(connect(client, server, { session: first.session }).reused).toBe(false);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toEqual(first.session!.getId());
    expect(server.stats()).toMatchObject({ misses: 1, cbHits: 0 });
    server.onGetSession(null);
    connect(client, server, { session: first.session });
    expect(asked).toHaveLength(1);
  });

  it('*copy = 1: JS may dispose the handle it returned; OpenSSL keeps its own reference', () => {
    using server = serverContext({
      maxVersion: 'TLSv1.2',
      options: OP.NO_TICKET,
      sessionCacheMode: SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_STORE,
    });
    using client = tls12Client();
    let stored: SslSession | null = null;
    server.onNewSession((s) => {
      stored = s;
    });
    const first = connect(client, server);
    const der = stored!.toDER();
    server.onNewSession(null);
    let returned: SslSession | null = null;
    server.onGetSession(() => {
      returned = SslSession.fromDER(der);
      return returned;
    });
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    c.setSession(first.session);
    c.doHandshake();
    s.feed(c.takeOutput()!);
    s.doHandshake(); // ClientHello: the get callback runs here
    returned!.dispose(); // our reference gone; OpenSSL's own remains (s->session)
    c.feed(s.takeOutput()!);
    handshakeInMemory(c, s);
    expect(c.sessionReused()).toBe(true);
    const inUse = s.get1Session()!;
    expect(inUse.getId()).toEqual(first.session!.getId());
    expect(inUse.toDER().length).toBeGreaterThan(0);
    expect(server.stats()).toMatchObject({ cbHits: 1, number: 0 });
    c.free();
    s.free();
  });

  it('a not-resumable result is ignored by OpenSSL (no cbHit, full handshake)', () => {
    using server = tls12Server();
    using client = tls12Client();
    const first = connect(client, server);
    const cached = first.serverSession!;
    server.removeSession(cached); // marks it not_resumable
    server.onGetSession(() => cached);
    expect(connect(client, server, { session: first.session }).reused).toBe(false);
    expect(server.stats()).toMatchObject({ cbHits: 0, hits: 0 });
  });

  it('a throwing callback or a wrong return type: the step throws, OpenSSL saw a miss', () => {
    using server = tls12Server();
    using client = tls12Client();
    const first = connect(client, server);
    server.flushSessions(0);
    for (const bad of [
      () => {
        throw new RangeError('get boom');
      },
      () => ({ not: 'a session' }) as unknown as SslSession,
    ]) {
      server.onGetSession(bad);
      const c = new SslConnection(client);
      const s = new SslConnection(server);
      c.setSession(first.session);
      let error: unknown;
      try {
        handshakeInMemory(c, s);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
      expect(['get boom', 'ERR_INVALID_ARG_TYPE']).toContain((error as { code?: string }).code ?? (error as Error).message);
      // Keep driving: the handshake completes as a full one.
      server.onGetSession(null);
      handshakeInMemory(c, s);
      expect(c.sessionReused()).toBe(false);
      c.free();
      s.free();
    }
  });
});

describe('use after close', () => {
  it('every method throws ERR_CONTEXT_CLOSED (a TypeError); close() twice too; dispose does not', () => {
    const ctx = tls12Server();
    ctx.close();
    const calls: Array<() => unknown> = [
      () => ctx.close(),
      () => ctx.stats(),
      () => ctx.flushSessions(0),
      () => ctx.setTimeout(1),
      () => ctx.getTimeout(),
      () => ctx.setSessionCacheMode(0),
      () => ctx.getSessionCacheSize(),
      () => ctx.onNewSession(null),
      () => ctx.onRemoveSession(null),
      () => ctx.onGetSession(null),
      () => ctx.setSessionIdContext('x'),
      () => new SslConnection(ctx),
    ];
    for (const call of calls) {
      expect(call).toThrow(TypeError);
      expect(codeOf(call)).toBe('ERR_CONTEXT_CLOSED');
    }
    expect(() => ctx[Symbol.dispose]()).not.toThrow();
    expect(ctx.closed).toBe(true);
  });

  it('a connection created before close() still completes its handshake, without callbacks', () => {
    const server = tls12Server();
    using client = tls12Client();
    const added: SslSession[] = [];
    server.onNewSession((s) => added.push(s));
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    server.close();
    handshakeInMemory(c, s);
    expect(s.isInitFinished()).toBe(true);
    expect(added).toHaveLength(0);
    c.free();
    s.free();
  });
});
