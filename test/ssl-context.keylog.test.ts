/**
 * onKeylog / setKeylogListener (SSL_CTX_set_keylog_callback), in memory: the lines OpenSSL
 * logs, the same secret on both ends, what a resumed handshake logs, per-connection delivery,
 * exceptions and bad arguments.
 *
 * OpenSSL 3.0 facts relied on (ssl/ssl_lib.c ssl_log_secret / ssl_log_rsa_client_key_exchange,
 * ssl/tls13_enc.c): TLS 1.2 logs `CLIENT_RANDOM <client random> <master secret>` once per
 * handshake, also a resumed one (the master secret is the session's); TLS 1.3 logs the client
 * and server handshake and application traffic secrets and EXPORTER_SECRET, each labelled
 * with the client random.
 */
import { describe, expect, it } from 'vitest';

import { OP, SslConnection, type SslContext } from '../lib/index.js';
import { handshakeInMemory, shutdownInMemory, transfer } from '../lib/engine/memory-pair.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect } from './helpers/ssl-context-harness.js';

interface Logged {
  line: string;
  connection: SslConnection | null;
}

/** Records every line a context logs, as text, with the connection it came with. */
function record(ctx: SslContext): Logged[] {
  const logged: Logged[] = [];
  ctx.onKeylog((line, connection) => {
    expect(Buffer.isBuffer(line)).toBe(true);
    logged.push({ line: line.toString('latin1'), connection });
  });
  return logged;
}

const CLIENT_RANDOM = /^CLIENT_RANDOM ([0-9a-f]{64}) ([0-9a-f]{96})\n$/;
const TLS13_LABELS = [
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'CLIENT_TRAFFIC_SECRET_0',
  'EXPORTER_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_TRAFFIC_SECRET_0',
];

describe('onKeylog, TLS 1.2', () => {
  it('logs one CLIENT_RANDOM line per handshake, the same on both ends, with the connection', () => {
    using server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const serverLines = record(server);
    const clientLines = record(client);
    const { client: c, server: s } = connect(client, server);
    expect(clientLines).toHaveLength(1);
    expect(serverLines).toHaveLength(1);
    expect(clientLines[0]!.line).toMatch(CLIENT_RANDOM);
    expect(serverLines[0]!.line).toBe(clientLines[0]!.line);
    expect(clientLines[0]!.connection).toBe(c);
    expect(serverLines[0]!.connection).toBe(s);
  });

  it.each([
    ['session id', OP.NO_TICKET],
    ['ticket', 0],
  ])('a resumed handshake (%s) logs a new client random with the original master secret', (_name, options) => {
    using server = serverContext({ maxVersion: 'TLSv1.2', options });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const lines = record(client);
    const first = connect(client, server);
    const resumed = connect(client, server, { session: first.session });
    const full = connect(client, server);
    expect([first.reused, resumed.reused, full.reused]).toEqual([false, true, false]);
    const [a, b, c] = lines.map(({ line }) => CLIENT_RANDOM.exec(line)!);
    expect(lines).toHaveLength(3);
    expect(b![1]).not.toBe(a![1]); // every handshake has its own client random...
    expect(b![2]).toBe(a![2]); // ...the resumption reuses the session's master secret...
    expect(c![2]).not.toBe(a![2]); // ...a full handshake makes a new one
    for (const r of [first, resumed, full]) r.session?.dispose();
  });
});

describe('onKeylog, TLS 1.3', () => {
  it('logs the five secrets of a handshake, the same on both ends, full and resumed', () => {
    using server = serverContext({ minVersion: 'TLSv1.3' });
    using client = clientContext({ minVersion: 'TLSv1.3' });
    const serverLines = record(server);
    const clientLines = record(client);
    const first = connect(client, server);
    const resumed = connect(client, server, { session: first.session });
    expect(resumed.reused).toBe(true);
    for (const lines of [clientLines, serverLines]) {
      expect(lines).toHaveLength(10);
      for (const handshake of [lines.slice(0, 5), lines.slice(5)]) {
        expect(handshake.map(({ line }) => line.split(' ')[0]).sort()).toEqual(TLS13_LABELS);
        for (const { line } of handshake) expect(line).toMatch(/^[A-Z_0]+ [0-9a-f]{64} [0-9a-f]{64,96}\n$/);
        expect(new Set(handshake.map(({ line }) => line.split(' ')[1])).size).toBe(1); // one client random
      }
    }
    const sorted = (lines: Logged[]) => lines.map(({ line }) => line).sort();
    expect(sorted(serverLines)).toEqual(sorted(clientLines));
    first.session?.dispose();
    resumed.session?.dispose();
  });
});

describe('onKeylog, unset', () => {
  it('null stops the lines; a context without a callback logs none', () => {
    using server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const lines = record(client);
    connect(client, server).session?.dispose();
    client.onKeylog(null);
    connect(client, server).session?.dispose();
    expect(lines).toHaveLength(1);
  });
});

describe('setKeylogListener', () => {
  it("gets its own connection's lines only, alongside the context callback", () => {
    using server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const contextLines = record(server);
    const mine: string[] = [];
    const listened = new SslConnection(server);
    listened.setKeylogListener((line) => mine.push(line.toString('latin1')));
    const other = new SslConnection(server); // same context, no listener
    for (const s of [listened, other]) {
      const c = new SslConnection(client);
      handshakeInMemory(c, s);
      shutdownInMemory(c, s);
      c.free();
      s.free();
    }
    expect(mine).toHaveLength(1);
    expect(contextLines.map(({ line }) => line)).toEqual([mine[0], expect.stringMatching(CLIENT_RANDOM)]);
    expect(contextLines[1]!.line).not.toBe(mine[0]);
  });

  it('works without a context callback, and null stops it', () => {
    using server = serverContext({ minVersion: 'TLSv1.3' });
    using client = clientContext({ minVersion: 'TLSv1.3' });
    const lines: Buffer[] = [];
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    c.setKeylogListener((line) => lines.push(line));
    handshakeInMemory(c, s);
    expect(lines.map((l) => l.toString('latin1').split(' ')[0]).sort()).toEqual(TLS13_LABELS);
    c.setKeylogListener(null);
    shutdownInMemory(c, s);
    c.free();
    s.free();
    // A later connection of the same context: the callback OpenSSL keeps calls nobody.
    const again = connect(client, server);
    again.session?.dispose();
    expect(lines).toHaveLength(5);
  });

  it('rejects a non-function, and throws ERR_CONNECTION_FREED after free()', () => {
    using client = clientContext();
    const c = new SslConnection(client);
    expect(() => c.setKeylogListener('x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    c.free();
    expect(() => c.setKeylogListener(() => {})).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_FREED' }));
  });
});

describe('onKeylog errors', () => {
  it("rejects a non-function; a closed context's onKeylog throws ERR_CONTEXT_CLOSED", () => {
    const client = clientContext();
    expect(() => client.onKeylog(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    client.close();
    expect(() => client.onKeylog(() => {})).toThrow(expect.objectContaining({ code: 'ERR_CONTEXT_CLOSED' }));
  });

  it("a callback's exception is thrown by the step that logged, after both listeners ran", () => {
    using server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const boom = new Error('keylog listener failed');
    server.onKeylog(() => {
      throw boom;
    });
    const s = new SslConnection(server);
    const heard: string[] = [];
    s.setKeylogListener((line) => heard.push(line.toString('latin1')));
    const c = new SslConnection(client);
    expect(() => handshakeInMemory(c, s)).toThrow(boom);
    expect(heard).toHaveLength(1); // the connection listener still got the line
    c.free();
    s.free();
  });

  it('a context closed while its connection is mid-handshake logs nothing more, and nothing breaks', () => {
    const server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const lines = record(server);
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    c.doHandshake();
    server.close(); // the SSL keeps its SSL_CTX; our callback is gone
    handshakeInMemory(c, s);
    expect(lines).toHaveLength(0);
    expect(transfer(c, s, Buffer.from('still works')).toString()).toBe('still works');
    shutdownInMemory(c, s);
    c.free();
    s.free();
  });
});
