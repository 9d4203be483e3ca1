/**
 * Seed 000's closing paragraph: a TLS 1.2 session-id server and a client that goes away
 * without SSL_shutdown. Whether the server keeps the session depends on the SERVER's own
 * shutdown state when it frees the connection.
 *
 * OpenSSL 3.0 facts relied on:
 *  - ssl/ssl_lib.c SSL_free(): "if (s->session != NULL) { ssl_clear_bad_session(s); ..."
 *  - ssl/ssl_sess.c ssl_clear_bad_session(): SSL_CTX_remove_session(s->session_ctx,
 *    s->session) when the handshake finished and !(s->shutdown & SSL_SENT_SHUTDOWN).
 *    remove_session_lock() also marks that session not_resumable, on either side.
 *  - ssl/s3_lib.c ssl3_shutdown(): with quiet_shutdown, SSL_shutdown only sets
 *    shutdown = SENT | RECEIVED and returns 1, sending nothing.
 *  - ssl/record/rec_layer_s3.c: an EOF without close_notify is fatal
 *    (SSL_R_UNEXPECTED_EOF_WHILE_READING) unless SSL_OP_IGNORE_UNEXPECTED_EOF, which sets
 *    RECEIVED_SHUTDOWN instead; ssl/s3_msg.c ssl3_send_alert(): a fatal alert removes the
 *    session from the cache ("If a fatal one, remove from cache").
 */
import { describe, expect, it } from 'vitest';

import { OP, SHUTDOWN, SslConnection, type SslContext, type SslSession } from '../lib/index.js';
import { handshakeInMemory, transfer } from '../lib/engine/memory-pair.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect } from './helpers/ssl-context-harness.js';

/** Handshake + data both ways; then the client vanishes: SSL_free without SSL_shutdown. */
function rudeClient(client: SslContext, server: SslContext) {
  const c = new SslConnection(client);
  const s = new SslConnection(server);
  handshakeInMemory(c, s);
  transfer(s, c, Buffer.from('220 ready'));
  transfer(c, s, Buffer.from('QUIT'));
  const session = c.get1Session()!;
  // The client's own object is about to be marked not_resumable by its rude SSL_free;
  // a copy taken now is what a client cache would hold (seed 000 stores it before).
  const saved = session.dup();
  c.free();
  return { s, session, saved };
}

function setup(options = 0) {
  const server = serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET | options });
  const client = clientContext({ maxVersion: 'TLSv1.2' });
  const removed: SslSession[] = [];
  server.onRemoveSession((x) => removed.push(x));
  return { server, client, removed };
}

describe('a client that frees its connection without SSL_shutdown', () => {
  it('marks its own session not resumable (ssl_clear_bad_session runs on the client too)', () => {
    const { server, client } = setup();
    using _s = server;
    using _c = client;
    const { s, session, saved } = rudeClient(client, server);
    expect(session.isResumable()).toBe(false);
    expect(saved.isResumable()).toBe(true);
    s.free();
  });

  it('(a) the server frees its side as is: the session is removed → next connect is NEW', () => {
    const { server, client, removed } = setup();
    using _s = server;
    using _c = client;
    const { s, saved } = rudeClient(client, server);
    expect(server.stats().number).toBe(1);
    const cached = s.get1Session()!;
    s.free(); // SSL_free → ssl_clear_bad_session → SSL_CTX_remove_session
    expect(removed).toHaveLength(1);
    expect(removed[0]!.isSame(cached)).toBe(true);
    expect(server.stats().number).toBe(0);
    const next = connect(client, server, { session: saved });
    expect(next.reused).toBe(false);
    expect(server.stats()).toMatchObject({ misses: 1, hits: 0 });
  });

  it('(b) the server marks the connection closed (setShutdown SENT|RECEIVED): REUSED', () => {
    const { server, client, removed } = setup();
    using _s = server;
    using _c = client;
    const { s, saved } = rudeClient(client, server);
    s.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED);
    expect(s.getShutdown()).toBe(SHUTDOWN.SENT | SHUTDOWN.RECEIVED);
    s.free();
    expect(removed).toHaveLength(0);
    expect(server.stats().number).toBe(1);
    expect(connect(client, server, { session: saved }).reused).toBe(true);
    expect(server.stats()).toMatchObject({ hits: 1 });
  });

  it('(b) SHUTDOWN.SENT alone is what counts; RECEIVED alone is not enough', () => {
    for (const [flags, kept] of [
      [SHUTDOWN.SENT, true],
      [SHUTDOWN.RECEIVED, false],
    ] as const) {
      const { server, client } = setup();
      using _s = server;
      using _c = client;
      const { s, saved } = rudeClient(client, server);
      s.setShutdown(flags);
      s.free();
      expect(connect(client, server, { session: saved }).reused).toBe(kept);
    }
  });

  it('(b) setQuietShutdown(true) + shutdown(): nothing sent, session kept: REUSED', () => {
    const { server, client, removed } = setup();
    using _s = server;
    using _c = client;
    const { s, saved } = rudeClient(client, server);
    s.setQuietShutdown(true);
    expect(s.getQuietShutdown()).toBe(true);
    expect(s.shutdown()).toBe(1);
    expect(s.pendingOutput()).toBe(0); // no close_notify written
    expect(s.getShutdown()).toBe(SHUTDOWN.SENT | SHUTDOWN.RECEIVED);
    s.free();
    expect(removed).toHaveLength(0);
    expect(connect(client, server, { session: saved }).reused).toBe(true);
  });

  it('a server that READS the EOF loses the session at once (fatal alert), unless IGNORE_UNEXPECTED_EOF', () => {
    {
      const { server, client, removed } = setup();
      using _s = server;
      using _c = client;
      const { s, saved } = rudeClient(client, server);
      s.feedEOF();
      expect(() => s.read()).toThrow();
      expect(removed).toHaveLength(1); // during read(), before any free
      s.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED); // too late
      s.free();
      expect(connect(client, server, { session: saved }).reused).toBe(false);
    }
    {
      const { server, client, removed } = setup(OP.IGNORE_UNEXPECTED_EOF);
      using _s = server;
      using _c = client;
      const { s, saved } = rudeClient(client, server);
      s.feedEOF();
      expect(s.read()).toBeNull(); // treated like close_notify: RECEIVED_SHUTDOWN
      expect(s.getShutdown()).toBe(SHUTDOWN.RECEIVED);
      expect(removed).toHaveLength(0);
      s.shutdown(); // sets SENT (its close_notify goes nowhere)
      s.free();
      expect(removed).toHaveLength(0);
      expect(connect(client, server, { session: saved }).reused).toBe(true);
    }
  });
});
