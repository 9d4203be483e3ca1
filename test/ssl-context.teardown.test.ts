/**
 * Context teardown as OpenSSL does it.
 *
 * ssl/ssl_lib.c SSL_CTX_free(): when the last reference goes, "if (a->sessions != NULL)
 * SSL_CTX_flush_sessions(a, 0)" (remove_session_cb for every cached session, oldest first,
 * inside the cache lock), then frees the cache. SSL_new() takes a reference (s->ctx and
 * s->session_ctx), SSL_free() drops it, so live connections keep an SSL_CTX alive.
 * SslContext.close() does that flush now, delivering the remove callbacks to JS, then unsets
 * the callbacks and drops the context's own reference; a context that is only garbage
 * collected unsets its callbacks first, so SSL_CTX_free's flush never reaches JS.
 */
import { describe, expect, it } from 'vitest';

import { OP, SslConnection, type SslSession } from '../lib/index.js';
import { handshakeInMemory } from '../lib/engine/memory-pair.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { runChild } from './helpers/ssl-context-child.js';
import { connect } from './helpers/ssl-context-harness.js';

const tls12Server = () => serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET });
const tls12Client = () => clientContext({ maxVersion: 'TLSv1.2' });

describe('close()', () => {
  it('fires the remove callback for every cached session, synchronously, oldest first', () => {
    const server = tls12Server();
    using client = tls12Client();
    const made = Array.from({ length: 5 }, () => connect(client, server).serverSession!);
    expect(server.stats().number).toBe(5);
    const removed: SslSession[] = [];
    let closedDuringCallback: boolean | undefined;
    server.onRemoveSession((s) => {
      removed.push(s);
      closedDuringCallback = server.closed;
    });
    server.close();
    expect(removed).toHaveLength(5); // all delivered before close() returned
    expect(closedDuringCallback).toBe(false);
    expect(removed.map((s, i) => s.isSame(made[i]!))).toEqual([true, true, true, true, true]);
    // Valid after close; flushed sessions are not resumable (SSL_CTX_flush_sessions).
    expect(removed.every((s) => s.getId().length === 32 && !s.isResumable())).toBe(true);
    expect(server.closed).toBe(true);
  });

  it('an empty cache: close() calls nothing', () => {
    const server = tls12Server();
    let calls = 0;
    server.onRemoveSession(() => calls++);
    server.close();
    expect(calls).toBe(0);
  });

  it('without a remove callback close() just frees', () => {
    const server = tls12Server();
    using client = tls12Client();
    connect(client, server);
    server.close();
    expect(server.closed).toBe(true);
  });

  it('live connections keep the SSL_CTX; what they do after close() is never cached', () => {
    const server = tls12Server();
    using client = tls12Client();
    const removed: SslSession[] = [];
    server.onRemoveSession((s) => removed.push(s));
    const first = connect(client, server);
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    c.setSession(first.session);
    server.close();
    expect(removed).toHaveLength(1);
    handshakeInMemory(c, s); // the session was flushed (not_resumable on the server)
    expect(c.sessionReused()).toBe(false);
    expect(s.isInitFinished()).toBe(true);
    c.free();
    s.free(); // SSL_CTX_free of the last reference: its cache is empty (NO_INTERNAL_STORE)
    expect(removed).toHaveLength(1);
  });
});

describe('garbage collection (child process, --expose-gc)', () => {
  it('a context that is only collected frees its cache without calling JS, without crashing', () => {
    const { result } = runChild<{
      number: number;
      collected: boolean;
      removeCalls: number;
      before: { live: number };
      end: { created: number; freed: number; live: number };
    }>(`
      let removeCalls = 0, collected = false, number, before;
      const reg = new FinalizationRegistry(() => { collected = true; });
      (() => {
        const s = server();
        s.sessSetRemoveCb(() => removeCalls++);
        const c = client();
        for (let i = 0; i < 4; i++) connect(c, s);
        number = s.stats().number;
        reg.register(s, 0);
      })();
      before = counts();
      await settle(() => collected);
      await settle();
      report({ number, collected, removeCalls, before, end: counts() });
    `);
    expect(result.number).toBe(4);
    expect(result.before.live).toBeGreaterThanOrEqual(4); // the cached sessions
    expect(result.collected).toBe(true);
    expect(result.removeCalls).toBe(0); // SSL_CTX_free's flush stayed in C
    expect(result.end.live).toBe(0); // ... and freed every cached session
    expect(result.end.freed).toBe(result.end.created);
  });

  it('a connection collected without free(): SSL_free still drops a bad session, silently', () => {
    const { result } = runChild<{ before: number; after: number; removeCalls: number; end: { live: number } }>(`
      let removeCalls = 0, before, after;
      const s = server();
      s.sessSetRemoveCb(() => removeCalls++);
      const c = client();
      (() => { open(c, s); })(); // handshake + data, then both connections dropped, never shut down
      before = s.stats().number;
      await settle();
      after = s.stats().number;
      s.close(); c.close();
      await settle();
      report({ before, after, removeCalls, end: counts() });
    `);
    expect(result.before).toBe(1);
    // The finalizer's SSL_free ran ssl_clear_bad_session: removed from the cache...
    expect(result.after).toBe(0);
    // ... with the remove callback kept on the C side (FinalizingScope), and close() found
    // nothing left to report.
    expect(result.removeCalls).toBe(0);
    expect(result.end.live).toBe(0);
  });

  it('a closed context whose connections are collected later leaks nothing', () => {
    const { result } = runChild<{ reused: boolean; end: { created: number; freed: number; live: number } }>(`
      let reused;
      (() => {
        const s = server(), c = client();
        const first = connect(c, s, { keepSession: true });
        const { c: cc, s: ss } = open(c, s, first.session);
        reused = cc.sessionReused();
        s.close(); c.close(); // cc/ss still hold both SSL_CTXs
        cc.write(Buffer.from('after close')); pipe(cc, ss); ss.read();
      })();
      await settle();
      report({ reused, end: counts() });
    `);
    expect(result.reused).toBe(true);
    expect(result.end.live).toBe(0);
    expect(result.end.freed).toBe(result.end.created);
  });
});
