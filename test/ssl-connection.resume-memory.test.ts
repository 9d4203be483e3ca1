/**
 * Seed 000 (the classic C client: NEW SESSION, then REUSED SESSION x4) run entirely in
 * memory: two SslConnections per round, no sockets, everything else real OpenSSL.
 *
 * The expected counters come from OpenSSL 3.0's source, not from printed output:
 *  - ssl/statem/statem_lib.c: every handshake counts sess_accept (server) / sess_connect
 *    (client) when it starts, and sess_accept_good / sess_connect_good when it finishes;
 *    a client also counts sess_hit for each handshake it resumed (s->hit).
 *  - ssl/ssl_sess.c ssl_get_prev_session(): the server counts sess_hit for EVERY resumed
 *    session (it is the common exit of the id-cache, TLS 1.2 ticket and TLS 1.3 PSK paths).
 *    Only lookup_sess_in_cache() counts sess_miss, and it runs only for TLS <= 1.2 when the
 *    ClientHello carries a session id but no usable ticket (SSL_TICKET_NONE/EMPTY). A ticket
 *    (TLS 1.2) or a PSK with stateless tickets (TLS 1.3) never reaches the internal cache.
 *  - ssl/ssl_sess.c ssl_generate_session_id(): a TLS 1.2 server that will send a ticket gives
 *    the session an empty id, and ssl_update_cache() stores only sessions with an id; TLS 1.3
 *    servers with stateless tickets store nothing either.
 *  - ssl/statem/statem_clnt.c tls_construct_client_hello(): a client that may negotiate TLS
 *    1.3 sends a random 32-byte legacy_session_id in a new ClientHello (middlebox
 *    compatibility, on by default); a TLS 1.2-only client sends an empty one.
 *  - ssl/statem/statem_clnt.c tls_process_new_session_ticket(): the client sets the
 *    session id to SHA-256(ticket).
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  OP,
  SHUTDOWN,
  SSL_ERROR,
  SslConnection,
  type SslContext,
  type SslContextOptions,
  type SslSession,
  VERSION,
  drain,
  handshakeInMemory,
  shutdownInMemory,
  transfer,
} from '../lib/index.js';
import { clientContext, serverContext } from './helpers/fixtures.js';

/** TLS record (5) + handshake header (4) + client_version (2) + random (32): legacy_session_id length. */
function clientHelloSessionIdLength(record: Buffer): number {
  expect(record[0]).toBe(22); // handshake record
  expect(record[5]).toBe(1); // client_hello
  const length = record[43];
  if (length === undefined) throw new Error('short ClientHello');
  return length;
}

interface Round {
  reused: boolean;
  /** SSL_SESSION_is_resumable of the session the loop keeps. */
  resumable: boolean;
  protocol: number;
  /** Length of legacy_session_id in this round's ClientHello. */
  helloSessionIdLength: number;
  id: Buffer;
  ticket: Buffer | null;
  /** The server's own session for this connection (what it cached, if anything). */
  serverId: Buffer;
  /** TLS 1.3: the session as it was before the client processed the post-handshake bytes. */
  beforeDrain?: { resumable: boolean; hasTicket: boolean; ticket: Buffer | null };
}

/**
 * The C client's loop. `session` is what the C code keeps in its `session` variable: it is
 * set on each new connection, then freed and replaced by SSL_get1_session() after the
 * handshake (SSL_SESSION_free before SSL_get1_session, exactly as in the seed), before
 * SSL_shutdown and SSL_free.
 */
function seedLoop(client: SslContext, server: SslContext, { tls13 = false, count = 5 } = {}): Round[] {
  let session: SslSession | null = null;
  const rounds: Round[] = [];
  for (let i = 0; i < count; i++) {
    const ssl = new SslConnection(client);
    const peer = new SslConnection(server);
    // "If we have a stored session set it as the ssl's session so it will be reused."
    if (session !== null) ssl.setSession(session);

    // SSL_connect, with the first flight intercepted to read its legacy_session_id.
    expect(ssl.doHandshake()).toBe(SSL_ERROR.WANT_READ);
    const hello = ssl.takeOutput();
    if (hello === null) throw new Error('no ClientHello');
    const helloSessionIdLength = clientHelloSessionIdLength(hello);
    peer.feed(hello);
    handshakeInMemory(ssl, peer);

    let beforeDrain: Round['beforeDrain'];
    if (tls13) {
      // The NewSessionTickets were written to the client's input, but SSL_connect returned
      // before they arrived: the session is not resumable until the client reads them.
      const early = ssl.get1Session();
      if (early === null) throw new Error('no session after the handshake');
      beforeDrain = { resumable: early.isResumable(), hasTicket: early.hasTicket(), ticket: early.get0Ticket() };
      early.dispose();
      drain(ssl, peer);
    }

    const reused = ssl.sessionReused();
    // "if (session != NULL) SSL_SESSION_free(session); session = SSL_get1_session(ssl);"
    if (session !== null) session.dispose();
    session = ssl.get1Session();
    if (session === null) throw new Error('SSL_get1_session returned NULL');

    const serverSession = peer.get1Session();
    if (serverSession === null) throw new Error('no server session');
    rounds.push({
      reused,
      resumable: session.isResumable(),
      protocol: session.getProtocolVersion(),
      helloSessionIdLength,
      id: session.getId(),
      ticket: session.get0Ticket(),
      serverId: serverSession.getId(),
      ...(beforeDrain ? { beforeDrain } : {}),
    });
    serverSession.dispose();

    // SSL_shutdown(ssl); SSL_free(ssl); — and the server's side of the same.
    shutdownInMemory(ssl, peer);
    ssl.free();
    peer.free();
  }
  session?.dispose(); // cleanup: SSL_SESSION_free(session)
  return rounds;
}

const TLS12_ONLY: SslContextOptions = { maxVersion: 'TLSv1.2' };

// A TLS 1.2 connection can be forced from either side; which side matters for sess_miss,
// because only a client that may negotiate TLS 1.3 sends a legacy session id in a new hello.
const caps = [
  { cap: 'server' as const, helloId: 32 },
  { cap: 'client' as const, helloId: 0 },
];

describe.each(caps)('TLS 1.2, capped on the $cap side', ({ cap, helloId }) => {
  const sides = (server: SslContextOptions) => ({
    server: serverContext({ ...server, ...(cap === 'server' ? TLS12_ONLY : {}) }),
    client: clientContext(cap === 'client' ? TLS12_ONLY : {}),
  });

  it('resumes by session ticket (default): NEW SESSION, then REUSED SESSION x4', () => {
    const { server, client } = sides({});
    const rounds = seedLoop(client, server);

    expect(rounds.map((r) => r.reused)).toEqual([false, true, true, true, true]);
    for (const r of rounds) {
      expect(r.protocol).toBe(VERSION.TLS1_2);
      expect(r.ticket).not.toBeNull();
      // The client names a ticket session after the ticket's SHA-256.
      expect(r.id).toEqual(
        createHash('sha256')
          .update(r.ticket ?? Buffer.alloc(0))
          .digest(),
      );
    }
    // A server that sends a ticket gives the session no id, so it has nothing to cache.
    expect(rounds[0]?.serverId.length).toBe(0);
    // TLS 1.2 ticket resumption keeps the client's session (no new ticket is issued): each
    // round hands back the session that was offered.
    for (let i = 1; i < rounds.length; i++) {
      expect(rounds[i]?.ticket).toEqual(rounds[0]?.ticket);
      expect(rounds[i]?.id).toEqual(rounds[0]?.id);
    }
    expect(rounds[0]?.helloSessionIdLength).toBe(helloId);
    // Resumed hellos carry the session's own id (SHA-256 of the ticket).
    for (const r of rounds.slice(1)) expect(r.helloSessionIdLength).toBe(32);

    expect(server.stats()).toMatchObject({
      accept: 5,
      acceptGood: 5,
      hits: 4, // every resumption, tickets included (ssl_get_prev_session)
      // Round 0 offers an empty ticket; with a legacy session id the server looks that id up
      // in its cache and misses. Later rounds present a ticket: no cache lookup at all.
      misses: helloId > 0 ? 1 : 0,
      cbHits: 0,
      timeouts: 0,
      number: 0,
    });
    expect(client.stats()).toMatchObject({ connect: 5, connectGood: 5, hits: 4, number: 0 });
  });

  it('resumes by session id with OP.NO_TICKET on the server; hits count the cache lookups', () => {
    const { server, client } = sides({ options: OP.NO_TICKET });
    const rounds = seedLoop(client, server);

    expect(rounds.map((r) => r.reused)).toEqual([false, true, true, true, true]);
    for (const r of rounds) {
      expect(r.protocol).toBe(VERSION.TLS1_2);
      expect(r.ticket).toBeNull();
      expect(r.id.length).toBeGreaterThan(0);
      // Session-id resumption: the client holds the very id the server cached.
      expect(r.id).toEqual(r.serverId);
      expect(r.id).toEqual(rounds[0]?.id);
    }
    expect(rounds[0]?.helloSessionIdLength).toBe(helloId);
    for (const r of rounds.slice(1)) expect(r.helloSessionIdLength).toBe(r.id.length);

    expect(server.stats()).toMatchObject({
      accept: 5,
      acceptGood: 5,
      hits: 4, // four lookups found the session in the internal cache
      misses: helloId > 0 ? 1 : 0, // round 0's random legacy id, if one was sent
      cbHits: 0,
      timeouts: 0,
      number: 1, // one session, stored by the first handshake, reused four times
    });
    expect(client.stats()).toMatchObject({ connect: 5, connectGood: 5, hits: 4, number: 0 });
  });
});

describe('TLS 1.3', () => {
  it('needs the post-handshake tickets before the session resumes; then REUSED SESSION x4', () => {
    const server = serverContext();
    const client = clientContext();
    const rounds = seedLoop(client, server, { tls13: true });

    expect(rounds.map((r) => r.reused)).toEqual([false, true, true, true, true]);
    // Taken after drain(): every kept session is resumable.
    expect(rounds.map((r) => r.resumable)).toEqual([true, true, true, true, true]);
    // Taken right after SSL_connect (where the C code takes it), the first session has no
    // ticket yet and cannot be offered: the C loop would print NEW SESSION every time.
    expect(rounds[0]?.beforeDrain).toEqual({ resumable: false, hasTicket: false, ticket: null });
    for (const r of rounds) {
      expect(r.protocol).toBe(VERSION.TLS1_3);
      expect(r.ticket).not.toBeNull();
      expect(r.id).toEqual(
        createHash('sha256')
          .update(r.ticket ?? Buffer.alloc(0))
          .digest(),
      );
      // A TLS 1.3-capable client always sends a 32-byte legacy session id.
      expect(r.helloSessionIdLength).toBe(32);
      // Not resumption by id: the server generated its own id for the ticket it sent.
      expect(r.serverId).not.toEqual(r.id);
    }
    // Each handshake, resumed or not, brings fresh single-use tickets (RFC 8446 C.4): the
    // session the loop keeps is a new one every round.
    const tickets = new Set(rounds.map((r) => r.ticket?.toString('hex')));
    expect(tickets.size).toBe(rounds.length);

    expect(server.stats()).toMatchObject({
      accept: 5,
      acceptGood: 5,
      hits: 4, // PSK resumptions also end in ssl_get_prev_session's sess_hit
      misses: 0, // stateless tickets: the internal cache is never consulted
      cbHits: 0,
      timeouts: 0,
      number: 0,
    });
    expect(client.stats()).toMatchObject({ connect: 5, connectGood: 5, hits: 4, number: 0 });
  });

  it('a session taken before the tickets were read resumes nothing (the seed loop, taken too early)', () => {
    const server = serverContext();
    const client = clientContext();
    let session: SslSession | null = null;
    const reused: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const ssl = new SslConnection(client);
      const peer = new SslConnection(server);
      if (session !== null) ssl.setSession(session);
      handshakeInMemory(ssl, peer);
      reused.push(ssl.sessionReused());
      session?.dispose();
      session = ssl.get1Session(); // before the client read the NewSessionTickets
      expect(session?.isResumable()).toBe(false);
      ssl.free();
      peer.free();
    }
    session?.dispose();
    expect(reused).toEqual([false, false, false]);
    expect(server.stats()).toMatchObject({ accept: 3, acceptGood: 3, hits: 0, misses: 0 });
  });

  it('data sent by the server also delivers the tickets (transfer instead of drain)', () => {
    const server = serverContext();
    const client = clientContext();
    const ssl = new SslConnection(client);
    const peer = new SslConnection(server);
    handshakeInMemory(ssl, peer);
    expect(transfer(peer, ssl, Buffer.from('hello')).toString()).toBe('hello');
    const session = ssl.get1Session();
    expect(session?.isResumable()).toBe(true);
    shutdownInMemory(ssl, peer);

    const again = new SslConnection(client);
    const peer2 = new SslConnection(server);
    if (session) again.setSession(session);
    handshakeInMemory(again, peer2);
    expect(again.sessionReused()).toBe(true);
    expect(peer2.sessionReused()).toBe(true);
    session?.dispose();
  });
});

describe('session id context', () => {
  // TLS 1.2 by session id. The session must be FOUND by server B for the sid_ctx check in
  // ssl_get_prev_session() to be what refuses it, so B gets a copy of A's cached session
  // (SSL_SESSION_dup: one SSL_SESSION may only sit in one SSL_CTX's cache).
  const tls12id: SslContextOptions = { ...TLS12_ONLY, options: OP.NO_TICKET };

  function sessionFromA() {
    const a = serverContext({ ...tls12id, sessionIdContext: 'context-A' });
    const client = clientContext();
    const ssl = new SslConnection(client);
    const peer = new SslConnection(a);
    handshakeInMemory(ssl, peer);
    const clientSession = ssl.get1Session();
    const cached = peer.get1Session();
    if (clientSession === null || cached === null) throw new Error('no session');
    shutdownInMemory(ssl, peer);
    ssl.free();
    peer.free();
    expect(cached.get0IdContext().toString()).toBe('context-A');
    expect(a.stats().number).toBe(1);
    return { client, clientSession, cached };
  }

  function resumeOn(serverCtx: SslContext, client: SslContext, session: SslSession): { reused: boolean; serverReused: boolean } {
    const ssl = new SslConnection(client);
    const peer = new SslConnection(serverCtx);
    ssl.setSession(session);
    handshakeInMemory(ssl, peer);
    const result = { reused: ssl.sessionReused(), serverReused: peer.sessionReused() };
    shutdownInMemory(ssl, peer);
    ssl.free();
    peer.free();
    return result;
  }

  it('a session from server context A does not resume on B (same certificate, other sessionIdContext)', () => {
    const { client, clientSession, cached } = sessionFromA();
    const b = serverContext({ ...tls12id, sessionIdContext: 'context-B' });
    const copy = cached.dup();
    expect(b.addSession(copy)).toBe(true);
    expect(b.stats().number).toBe(1);

    expect(resumeOn(b, client, clientSession)).toEqual({ reused: false, serverReused: false });
    // Found in the cache (no miss), refused for its context (no hit): "treat like cache miss".
    expect(b.stats()).toMatchObject({ accept: 1, acceptGood: 1, hits: 0, misses: 0, number: 2 });
    // The client offered an id the server did not take (statem_clnt.c: client sess_miss).
    expect(client.stats()).toMatchObject({ hits: 0, misses: 1 });
    for (const s of [clientSession, cached, copy]) s.dispose();
  });

  it('control: the same copy resumes on a context with the same sessionIdContext', () => {
    const { client, clientSession, cached } = sessionFromA();
    const c = serverContext({ ...tls12id, sessionIdContext: 'context-A' });
    const copy = cached.dup();
    expect(c.addSession(copy)).toBe(true);

    expect(resumeOn(c, client, clientSession)).toEqual({ reused: true, serverReused: true });
    expect(c.stats()).toMatchObject({ hits: 1, misses: 0, number: 1 });
    for (const s of [clientSession, cached, copy]) s.dispose();
  });

  it('without a copy in its cache B just misses (a different cache, not the context check)', () => {
    const { client, clientSession, cached } = sessionFromA();
    const b = serverContext({ ...tls12id, sessionIdContext: 'context-B' });
    expect(resumeOn(b, client, clientSession)).toEqual({ reused: false, serverReused: false });
    expect(b.stats()).toMatchObject({ hits: 0, misses: 1, number: 1 });
    clientSession.dispose();
    cached.dispose();
  });
});

describe('how a connection ends decides whether its session stays resumable', () => {
  // ssl/ssl_lib.c ssl_clear_bad_session(), called by SSL_free: a finished connection whose
  // SSL_SENT_SHUTDOWN flag is not set calls SSL_CTX_remove_session() on its session, which
  // drops it from that side's cache AND marks it not_resumable (ssl_sess.c
  // remove_session_lock), whether or not it was cached.
  const tls12id: SslContextOptions = { ...TLS12_ONLY, options: OP.NO_TICKET };

  const serverEnds = [
    { name: 'frees without close_notify', end: (_s: SslConnection) => undefined, kept: false },
    {
      name: 'calls setShutdown(SENT | RECEIVED), as the seed server does',
      end: (s: SslConnection) => s.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED),
      kept: true,
    },
    { name: 'sends its own close_notify', end: (s: SslConnection) => void s.shutdown(), kept: true },
  ];

  it.each(serverEnds)('server $name', ({ end, kept }) => {
    const server = serverContext(tls12id);
    const client = clientContext();
    const removed: Buffer[] = [];
    server.onRemoveSession((s) => removed.push(s.getId()));

    const ssl = new SslConnection(client);
    const peer = new SslConnection(server);
    handshakeInMemory(ssl, peer);
    const session = ssl.get1Session();
    if (session === null) throw new Error('no session');
    expect(server.stats().number).toBe(1);
    // The client closes politely; the server never reads that close_notify.
    ssl.shutdown();
    ssl.free();
    expect(session.isResumable()).toBe(true);
    end(peer);
    peer.free();

    expect(server.stats().number).toBe(kept ? 1 : 0);
    expect(removed).toEqual(kept ? [] : [session.getId()]);

    const again = new SslConnection(client);
    const peer2 = new SslConnection(server);
    again.setSession(session);
    handshakeInMemory(again, peer2);
    expect(again.sessionReused()).toBe(kept);
    expect(server.stats().hits).toBe(kept ? 1 : 0);
    shutdownInMemory(again, peer2);
    session.dispose();
  });

  it('a client freed without close_notify makes its own session unresumable (why the seed calls SSL_shutdown)', () => {
    const server = serverContext(tls12id);
    const client = clientContext();
    const ssl = new SslConnection(client);
    const peer = new SslConnection(server);
    handshakeInMemory(ssl, peer);
    const session = ssl.get1Session();
    if (session === null) throw new Error('no session');
    const copy = session.dup(); // taken before: a separate SSL_SESSION, not marked
    expect(session.isResumable()).toBe(true);
    ssl.free();
    // SSL_get1_session returned OpenSSL's own object: the mark reaches every handle to it.
    expect(session.isResumable()).toBe(false);
    expect(copy.isResumable()).toBe(true);
    peer.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED);
    peer.free();
    expect(server.stats().number).toBe(1);

    const results: boolean[] = [];
    const offerable: boolean[] = [];
    for (const offered of [session, copy]) {
      const again = new SslConnection(client);
      const peer2 = new SslConnection(server);
      offerable.push(again.setSession(offered)); // setSession says whether the hello will offer it
      handshakeInMemory(again, peer2);
      results.push(again.sessionReused());
      shutdownInMemory(again, peer2);
    }
    // The marked session is not even offered (a fresh hello); the copy resumes.
    expect(offerable).toEqual([false, true]);
    expect(results).toEqual([false, true]);
    const cleared = new SslConnection(client);
    expect(cleared.setSession(null)).toBe(false);
    cleared.free();
    session.dispose();
    copy.dispose();
  });
});
