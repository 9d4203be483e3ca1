/**
 * Seed 003: the Postfix-style external client cache, end to end (examples/postfix-external-
 * cache.ts), and the same pattern spelled out for TLS 1.2.
 *
 * OpenSSL 3.0 facts relied on: ssl/ssl_lib.c ssl_update_cache() calls new_session_cb when
 * (mode & CLIENT) whatever NO_INTERNAL_STORE says, and adds nothing to the internal cache
 * with NO_INTERNAL_STORE; so the client context's sess_number stays 0 and, with nothing in
 * the internal cache, SSL_CTX_free/close() has nothing to report to a remove callback.
 * TLS 1.3 (statem_clnt.c tls_process_new_session_ticket): one callback per ticket, 2 tickets
 * per full handshake by default, 1 after a resumption (sslapitest execute_test_session).
 */
import { describe, expect, it } from 'vitest';

import { main } from '../examples/postfix-external-cache.js';
import { OP, SESS_CACHE, SslSession } from '../lib/index.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect } from './helpers/ssl-context-harness.js';

describe('examples/postfix-external-cache.ts', () => {
  it('resumes every reconnect from DER in a Map keyed host:port; OpenSSL stores nothing', () => {
    const lines: string[] = [];
    const result = main((line) => lines.push(line));
    expect(result.connections.map((c) => [c.peer, c.reused])).toEqual([
      ['mx1.example.net:25', false],
      ['mx1.example.net:25', true],
      ['mx2.example.net:25', false],
      ['mx1.example.net:25', true],
      ['mx2.example.net:25', true],
    ]);
    expect(result.connections.every((c) => c.protocol === 'TLSv1.3')).toBe(true);
    // 2 tickets per full handshake (2 of them), 1 per resumption (3 of them).
    expect(result.newSessionCalls).toBe(2 * 2 + 3 * 1);
    expect([...result.cache.keys()].sort()).toEqual(['mx1.example.net:25', 'mx2.example.net:25']);
    expect(result.clientCacheNumber).toBe(0);
    expect(lines.filter((l) => l.includes('REUSED SESSION'))).toHaveLength(3);
    // What the Map holds is a resumable session for that peer.
    const mx2 = SslSession.fromDER(result.cache.get('mx2.example.net:25')!);
    expect(mx2.isResumable()).toBe(true);
  });
});

describe('the same pattern with TLS 1.2 session ids', () => {
  it('one callback per full handshake, none on resumption, no removals, number 0', () => {
    using server = serverContext({ maxVersion: 'TLSv1.2', options: OP.NO_TICKET });
    using client = clientContext({ maxVersion: 'TLSv1.2', sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
    const cache = new Map<string, Buffer>();
    let added = 0;
    let removed = 0;
    client.onNewSession((s) => {
      added++;
      cache.set('localhost:443', s.toDER());
    });
    client.onRemoveSession(() => removed++);
    const runs = [];
    for (let i = 0; i < 4; i++) {
      const der = cache.get('localhost:443');
      runs.push(connect(client, server, { session: der ? SslSession.fromDER(der) : null }).reused);
    }
    expect(runs).toEqual([false, true, true, true]);
    expect(added).toBe(1);
    expect(client.stats()).toMatchObject({ number: 0, hits: 3 });
    client.close();
    expect(removed).toBe(0);
  });
});
