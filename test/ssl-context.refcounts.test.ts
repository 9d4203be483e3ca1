/**
 * Exact reference counts of the session callbacks (the contract at the top of
 * native/ssl_context.cc), proven in child processes with --expose-gc:
 *  - FinalizationRegistry counts the JS SslSession handles that were collected, and
 *  - SslContext.debugSessionCounts() counts the SSL_SESSION objects OpenSSL really created
 *    and really freed (an ex_data index's new/free hooks: ssl/ssl_sess.c SSL_SESSION_new,
 *    ssl_session_dup_intern, SSL_SESSION_free when the count reaches 0).
 * "Freed once" = created === freed at the end (a leaked reference leaves live > 0; a double
 * free makes freed exceed created, or crashes the child, which fails the test).
 *
 * OpenSSL 3.0 facts: ssl_update_cache() up-refs before new_session_cb and frees only if it
 * returns 0; remove_session_lock()/SSL_CTX_flush_sessions() free the cache's reference
 * after remove_cb; lookup_sess_in_cache() up-refs a get_session_cb result when *copy is 1.
 */
import { describe, expect, it } from 'vitest';

import { runChild } from './helpers/ssl-context-child.js';

interface Counts {
  created: number;
  freed: number;
  live: number;
}

describe('session callback refcounts (child process, --expose-gc)', () => {
  it('every session handed to JS and not kept is freed exactly once', () => {
    const { result } = runChild<{ handles: number; finalized: number; reused: boolean[]; end: Counts; afterClose: Counts }>(`
      let handles = 0, finalized = 0;
      const reg = new FinalizationRegistry(() => finalized++);
      const seen = (s) => { handles++; reg.register(s, 0); };
      const reused = [];
      (() => {
        const s = server();
        const c = client(B.SESS_CACHE.CLIENT); // client internal cache too
        s.sessSetNewCb(seen); s.sessSetRemoveCb(seen);
        c.sessSetNewCb(seen); c.sessSetRemoveCb(seen);
        let first = null;
        for (let i = 0; i < 8; i++) {
          const r = connect(c, s, { session: first, keepSession: first === null });
          if (first === null) first = r.session; else reused.push(r.reused);
        }
        s.close(); c.close(); // remove_cb for every cached session, delivered to JS
      })();
      await settle(() => finalized === handles);
      report({ handles, finalized, reused, end: counts() });
    `);
    expect(result.reused).toEqual(Array(7).fill(true));
    // Server: 1 new (full handshake) + 1 remove at close. Client: 1 new + 1 remove at close.
    expect(result.handles).toBe(4);
    expect(result.finalized).toBe(result.handles);
    expect(result.end.created).toBeGreaterThan(0);
    expect(result.end.freed).toBe(result.end.created);
    expect(result.end.live).toBe(0);
  });

  it('sessions kept from callbacks outlive the context; each keeps exactly its own reference', () => {
    const { result } = runChild<{ afterClose: Counts; der: number[]; afterDispose: Counts; end: Counts; removedSame: boolean[] }>(`
      const kept = [], removed = [];
      (() => {
        const s = server();
        s.sessSetNewCb((x) => kept.push(x));
        s.sessSetRemoveCb((x) => removed.push(x));
        const c = client();
        for (let i = 0; i < 3; i++) connect(c, s);
        s.close(); c.close();
      })();
      await settle();
      const afterClose = counts();
      const der = kept.map((x) => x.toDER().length);
      const removedSame = removed.map((x, i) => x.isSame(kept[i]));
      // Two handles (new + remove) per SSL_SESSION: disposing one handle frees nothing.
      kept.forEach((x) => x.dispose());
      const afterDispose = counts();
      removed.forEach((x) => x.dispose());
      report({ afterClose, der, afterDispose, removedSame, end: counts() });
    `);
    expect(result.der.every((n) => n > 0)).toBe(true);
    expect(result.removedSame).toEqual([true, true, true]);
    expect(result.afterClose.live).toBe(3); // the 3 server sessions JS holds, nothing else
    expect(result.afterDispose.live).toBe(3);
    expect(result.end.live).toBe(0);
    expect(result.end.freed).toBe(result.end.created);
  });

  it('onGetSession (*copy = 1): the returned handle may be disposed at once, nothing leaks', () => {
    const { result } = runChild<{ reused: boolean; cbHits: number; end: Counts; duringHandshake: number }>(`
      let reused, cbHits, duringHandshake;
      (() => {
        const s = server(B.SESS_CACHE.SERVER | B.SESS_CACHE.NO_INTERNAL_STORE);
        let der = null;
        s.sessSetNewCb((x) => { der = x.toDER(); x.dispose(); });
        const c = client();
        const first = connect(c, s, { keepSession: true });
        let handed = null;
        s.sessSetGetCb(() => (handed = B.SslSession.fromDER(der)));
        const cc = new B.SslConnection(c), ss = new B.SslConnection(s);
        cc.setSession(first.session);
        first.session.dispose();
        cc.doHandshake(); pipe(cc, ss);
        ss.doHandshake(); // ClientHello: get callback; OpenSSL up-refs the result
        handed.dispose(); // JS's reference gone
        duringHandshake = counts().live; // s->session (server), the client's session
        pipe(ss, cc);
        handshake(cc, ss);
        reused = cc.sessionReused();
        cbHits = s.stats().cbHits;
        cc.free(); ss.free(); s.close(); c.close();
      })();
      await settle();
      report({ reused, cbHits, duringHandshake, end: counts() });
    `);
    expect(result.reused).toBe(true);
    expect(result.cbHits).toBe(1);
    expect(result.duringHandshake).toBe(2);
    expect(result.end.live).toBe(0);
    expect(result.end.freed).toBe(result.end.created);
  });

  it('a callback that throws leaks nothing', () => {
    const { result } = runChild<{ errors: string[]; end: Counts }>(`
      const errors = [];
      (() => {
        const s = server(), c = client(B.SESS_CACHE.CLIENT);
        s.sessSetNewCb(() => { throw new Error('new'); });
        c.sessSetNewCb(() => { throw new Error('client new'); });
        s.sessSetRemoveCb(() => { throw new Error('remove'); });
        for (let i = 0; i < 3; i++) { try { connect(c, s); } catch (e) { errors.push(e.message); } }
        try { s.close(); } catch (e) { errors.push(e.message); }
        c.close();
      })();
      await settle();
      report({ errors, end: counts() });
    `);
    // A full TLS 1.2 handshake: the server finishes first (it sends its Finished last),
    // so its throwing callback aborts each connect() before the client's runs; close()
    // runs all 3 remove callbacks and rethrows the first.
    expect(result.errors).toEqual(['new', 'new', 'new', 'remove']);
    expect(result.end.live).toBe(0);
    expect(result.end.freed).toBe(result.end.created);
  });
});
