/**
 * TLS 1.3 tickets (seed 004): how many, when the client learns about them, what they carry.
 *
 * OpenSSL 3.0 facts relied on:
 *  - ssl/ssl_lib.c SSL_CTX_new_ex(): num_tickets = 2; session_timeout = meth->get_timeout(),
 *    i.e. ssl/t1_lib.c tls1_default_timeout() = 60 * 60 * 2.
 *  - ssl/statem/statem_srvr.c tls_construct_new_session_ticket(): one session per ticket,
 *    ssl_update_cache(SERVER) per ticket; create_ticket_prequel(): the TLS 1.3 lifetime hint
 *    IS the session timeout (the context's, from ssl_get_new_session), capped at
 *    ONE_WEEK_SEC = 7 * 24 * 60 * 60.
 *  - ssl/statem/statem_clnt.c tls_process_new_session_ticket(): NewSessionTicket is a
 *    post-handshake message; the client dups its session, stores ticket + hint, sets the
 *    session id to SHA-256(ticket), then ssl_update_cache(CLIENT): one new-session callback
 *    per ticket, during SSL_read (SSL_do_handshake returns at once once init finished).
 *  - ssl/ssl_sess.c SSL_SESSION_is_resumable(): !not_resumable && (id || ticket); the TLS 1.3
 *    client session has neither before the first ticket (tls_process_server_hello keeps no id
 *    for TLS 1.3).
 *  - ssl/statem/statem_lib.c tls_finish_handshake(): a TLS 1.3 client in CLIENT mode removes
 *    the ticket it just used from its cache ("only use TLSv1.3 tickets once").
 *  - test/sslapitest.c execute_test_session (TLS 1.3): 2 new-session calls on a full
 *    handshake, 1 new + 1 remove on a resumption.
 */
import { describe, expect, it } from 'vitest';

import { SESS_CACHE, SslConnection, type SslSession } from '../lib/index.js';
import { drain, handshakeInMemory, pipe } from '../lib/engine/memory-pair.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect } from './helpers/ssl-context-harness.js';

function externalCacheClient() {
  const client = clientContext({ sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
  const added: SslSession[] = [];
  const removed: SslSession[] = [];
  client.onNewSession((s) => added.push(s));
  client.onRemoveSession((s) => removed.push(s));
  return { client, added, removed };
}

describe('TLS 1.3 tickets', () => {
  it('default: 2 tickets, timeout and lifetime hint 7200 s', () => {
    using server = serverContext();
    const { client, added } = externalCacheClient();
    using _client = client;
    expect(server.getNumTickets()).toBe(2);
    expect(server.getTimeout()).toBe(7200);
    connect(client, server);
    expect(added).toHaveLength(2);
    for (const s of added) {
      expect(s.getProtocolVersion()).toBe(0x0304);
      expect(s.hasTicket()).toBe(true);
      expect(s.get0Ticket()!.length).toBeGreaterThan(0);
      expect(s.getTicketLifetimeHint()).toBe(7200);
      expect(s.isResumable()).toBe(true);
    }
    expect(added[0]!.isSame(added[1]!)).toBe(false);
    expect(added[0]!.get0Ticket()).not.toEqual(added[1]!.get0Ticket());
  });

  it.each([0, 1, 3])('setNumTickets(%i): the client callback fires that often, in read(), not in the handshake', (n) => {
    using server = serverContext({ numTickets: n });
    const serverAdded: SslSession[] = [];
    server.onNewSession((s) => serverAdded.push(s));
    const { client, added } = externalCacheClient();
    using _client = client;
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    handshakeInMemory(c, s);
    // The server wrote its tickets (and called its own callback per ticket) inside its
    // handshake; the client has the bytes but has not processed them.
    expect(serverAdded).toHaveLength(n);
    expect(added).toHaveLength(0);
    expect(c.doHandshake()).toBe(0); // init finished: SSL_do_handshake reads nothing
    expect(added).toHaveLength(0);
    const early = c.get1Session()!;
    expect(early.isResumable()).toBe(false); // no id, no ticket yet
    expect(early.hasTicket()).toBe(false);
    expect(drain(c, s)!.length).toBe(0); // no application data, just the tickets
    expect(added).toHaveLength(n);
    const late = c.get1Session()!;
    expect(late.isResumable()).toBe(n > 0);
    if (n > 0) expect(late.isSame(added[n - 1]!)).toBe(true); // the newest ticket's session
    c.free();
    s.free();
  });

  it.each([
    [600, 600],
    [8 * 24 * 3600, 7 * 24 * 3600],
  ])('server timeout %i s → lifetime hint %i s (capped at one week)', (timeout, hint) => {
    using server = serverContext({ timeout });
    const { client, added } = externalCacheClient();
    using _client = client;
    connect(client, server);
    expect(added.map((s) => s.getTicketLifetimeHint())).toEqual([hint, hint]);
    // The client's own session timeout stays the client context's (7200).
    expect(added[0]!.getTimeout()).toBe(7200);
  });

  it('resumption: 1 new ticket and the used one removed (execute_test_session, TLS 1.3)', () => {
    using server = serverContext();
    const { client, added, removed } = externalCacheClient();
    using _client = client;
    connect(client, server);
    expect([added.length, removed.length]).toEqual([2, 0]);
    const ticket = added[1]!;
    const again = connect(client, server, { session: ticket });
    expect(again.reused).toBe(true);
    expect([added.length, removed.length]).toEqual([3, 1]);
    expect(removed[0]!.getId()).toEqual(ticket.getId());
  });

  it('the ticket is processed by whatever read() comes first, even one that returns data', () => {
    using server = serverContext({ numTickets: 1 });
    const { client, added } = externalCacheClient();
    using _client = client;
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    handshakeInMemory(c, s);
    s.write(Buffer.from('hello'));
    pipe(s, c);
    expect(c.read()!.toString()).toBe('hello');
    expect(added).toHaveLength(1);
    c.free();
    s.free();
  });
});
