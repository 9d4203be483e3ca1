/**
 * SslSession serialization (i2d/d2i, PEM) and introspection (SSL_SESSION_get*), on sessions
 * from real in-memory handshakes. Expected values come from the connection that made the
 * session, from the contexts' settings, or from OpenSSL's documented defaults:
 *  - tls1_default_timeout() (ssl/t1_lib.c) is 60 * 60 * 2 seconds: the SSL_CTX default, and
 *    so the timeout of every session made under a context that did not call setTimeout;
 *  - a server's ticket lifetime hint is its session's timeout (statem_srvr.c
 *    tls_construct_new_session_ticket);
 *  - the client offers a TLS 1.3 ticket only while its age is within the lifetime hint
 *    (extensions_clnt.c tls_construct_ctos_psk); a TLS 1.2 server judges a session by its
 *    own copy: the cached one (id) or the one sealed in the ticket (ssl_get_prev_session).
 */
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  OP,
  OpenSSLError,
  SSL_ERROR,
  SslConnection,
  type SslContext,
  type SslContextOptions,
  SslSession,
  VERSION,
  createSelfSigned,
  drain,
  handshakeInMemory,
  shutdownInMemory,
} from '../lib/index.js';
import { binding } from '../lib/native.js';
import { clientContext, pair, serverContext } from './helpers/fixtures.js';

const TLS12: SslContextOptions = { maxVersion: 'TLSv1.2' };
const TLS12_ID: SslContextOptions = { maxVersion: 'TLSv1.2', options: OP.NO_TICKET };
/** tls1_default_timeout(): 60 * 60 * 2. */
const OPENSSL_DEFAULT_TIMEOUT = 2 * 60 * 60;

// serverResumable: a TLS 1.2 server that sends a ticket keeps a session with neither an id
// nor a ticket (ssl_generate_session_id), which SSL_SESSION_is_resumable() rejects; a TLS 1.3
// server generates an id for each ticket it sends.
const variants = [
  { name: 'TLS 1.3', server: {}, version: VERSION.TLS1_3, ticket: true, serverResumable: true },
  { name: 'TLS 1.2 (ticket)', server: TLS12, version: VERSION.TLS1_2, ticket: true, serverResumable: false },
  { name: 'TLS 1.2 (session id)', server: TLS12_ID, version: VERSION.TLS1_2, ticket: false, serverResumable: true },
];

interface Made {
  client: SslConnection;
  server: SslConnection;
  session: SslSession;
  serverSession: SslSession;
  /** Seconds since the epoch just before and after the handshake. */
  before: number;
  after: number;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** One handshake; the client reads the post-handshake bytes (TLS 1.3 tickets) before the sessions are taken. */
function handshake(serverCtx: SslContext, clientCtx: SslContext, setup?: (client: SslConnection) => void): Made {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  setup?.(client);
  const before = now();
  handshakeInMemory(client, server);
  drain(client, server);
  const after = now();
  const session = client.get1Session();
  const serverSession = server.get1Session();
  if (session === null || serverSession === null) throw new Error('no session');
  return { client, server, session, serverSession, before, after };
}

/** Offers `session` to a new connection and reports whether both sides resumed. */
function resumes(serverCtx: SslContext, clientCtx: SslContext, session: SslSession): boolean {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  client.setSession(session);
  handshakeInMemory(client, server);
  const reused = client.sessionReused();
  expect(server.sessionReused()).toBe(reused);
  shutdownInMemory(client, server);
  client.free();
  server.free();
  return reused;
}

function expectOpenSSLError(fn: () => unknown, code?: RegExp | string): OpenSSLError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(OpenSSLError);
  const error = thrown as OpenSSLError;
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('OpenSSLError');
  expect(error.code).toMatch(/^ERR_OSSL_[A-Z0-9]+_[A-Z0-9_]+$/);
  expect(error.code).not.toBe('ERR_OSSL_NO_ERROR_QUEUED');
  if (code !== undefined) expect(error.code).toMatch(code);
  expect(typeof error.reason).toBe('string');
  expect(error.reason.length).toBeGreaterThan(0);
  expect(error.library.length).toBeGreaterThan(0);
  expect(error.message).toContain(error.reason);
  expect(Array.isArray(error.opensslErrorStack)).toBe(true);
  for (const line of error.opensslErrorStack) expect(typeof line).toBe('string');
  return error;
}

function expectArgTypeError(fn: () => unknown, param: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TypeError);
  expect(thrown).not.toBeInstanceOf(OpenSSLError);
  expect((thrown as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
  expect((thrown as Error).message).toContain(`"${param}"`);
}

describe.each(variants)('$name', ({ server: serverOptions, version, ticket, serverResumable }) => {
  it('DER round trip is byte-identical, for the client and the server session', () => {
    const made = handshake(serverContext(serverOptions), clientContext());
    for (const session of [made.session, made.serverSession]) {
      const der = session.toDER();
      expect(der.length).toBeGreaterThan(0);
      const restored = SslSession.fromDER(der);
      expect(restored).toBeInstanceOf(SslSession);
      expect(restored.isSame(session)).toBe(false); // a new SSL_SESSION
      expect(restored.toDER().equals(der)).toBe(true);
      // A view at an offset into a larger buffer, and a plain Uint8Array, parse the same.
      const padded = Buffer.concat([Buffer.alloc(13, 0xa5), der, Buffer.alloc(5, 0x5a)]);
      expect(
        SslSession.fromDER(padded.subarray(13, 13 + der.length))
          .toDER()
          .equals(der),
      ).toBe(true);
      expect(SslSession.fromDER(new Uint8Array(der)).toDER().equals(der)).toBe(true);
      restored.dispose();
    }
  });

  it('PEM is the DER in base64 under the SSL SESSION PARAMETERS label, and reads back', () => {
    const { session } = handshake(serverContext(serverOptions), clientContext());
    const der = session.toDER();
    const pem = session.toPEM();
    const lines = pem.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN SSL SESSION PARAMETERS-----');
    expect(lines.at(-1)).toBe('-----END SSL SESSION PARAMETERS-----');
    const body = lines.slice(1, -1);
    for (const line of body.slice(0, -1)) expect(line.length).toBe(64);
    expect(Buffer.from(body.join(''), 'base64').equals(der)).toBe(true);

    expect(SslSession.fromPEM(pem).toDER().equals(der)).toBe(true);
    expect(SslSession.fromPEM(Buffer.from(pem)).toDER().equals(der)).toBe(true);
    // Text around the block is skipped, as PEM readers do.
    expect(SslSession.fromPEM(`a note\n${pem}trailer\n`).toDER().equals(der)).toBe(true);
  });

  it('a session restored from DER or PEM resumes in a new handshake', () => {
    const serverCtx = serverContext(serverOptions);
    const clientCtx = clientContext();
    const made = handshake(serverCtx, clientCtx);
    shutdownInMemory(made.client, made.server);
    const der = made.session.toDER();
    const pem = made.session.toPEM();
    made.session.dispose(); // only the serialized forms remain

    const fromDer = SslSession.fromDER(der);
    expect(fromDer.isResumable()).toBe(true);
    expect(resumes(serverCtx, clientCtx, fromDer)).toBe(true);
    const fromPem = SslSession.fromPEM(pem);
    expect(resumes(serverCtx, clientCtx, fromPem)).toBe(true);
    expect(serverCtx.stats().hits).toBe(2);
  });

  it('getters describe the connection that made the session', () => {
    const serverCtx = serverContext({ ...serverOptions, alpnProtocols: ['h2', 'http/1.1'] });
    const clientCtx = clientContext({ alpnProtocols: ['http/1.1', 'h2'] });
    const { client, server, session, serverSession, before, after } = handshake(serverCtx, clientCtx);

    for (const [s, conn] of [
      [session, client],
      [serverSession, server],
    ] as const) {
      expect(s.getProtocolVersion()).toBe(version);
      expect(s.getProtocolVersion()).toBe(conn.version());
      expect(s.get0Cipher()).toBe(conn.getCipherName());
      expect(s.get0Cipher()).not.toBeNull();
      // Server preference among what both offer.
      expect(conn.get0AlpnSelected()).toBe('h2');
      expect(s.get0AlpnSelected()).toBe(conn.get0AlpnSelected());
      expect(s.getTime()).toBeGreaterThanOrEqual(before);
      expect(s.getTime()).toBeLessThanOrEqual(after);
      expect(s.isResumable()).toBe(s === session || serverResumable);
      expect(s.getMaxEarlyData()).toBe(0); // no early data configured
    }
    // The client's session holds the server certificate; no client certificate was sent.
    expect(session.get0Peer()).toEqual(new X509Certificate(pair.cert).raw);
    expect(session.get0Peer()).toEqual(client.get1PeerCertificate());
    expect(serverSession.get0Peer()).toBeNull();
    expect(session.get0IdContext().length).toBe(0); // the client context has none
    expect(serverSession.get0IdContext().toString()).toBe('openssl-session-tests');

    expect(session.hasTicket()).toBe(ticket);
    if (ticket) {
      const bytes = session.get0Ticket();
      expect(bytes).not.toBeNull();
      expect(bytes?.length).toBeGreaterThan(0);
      expect(session.getTicketLifetimeHint()).toBe(OPENSSL_DEFAULT_TIMEOUT);
    } else {
      expect(session.get0Ticket()).toBeNull();
      expect(session.getTicketLifetimeHint()).toBe(0);
      expect(session.getId().length).toBeGreaterThan(0);
      expect(session.getId()).toEqual(serverSession.getId());
    }
    // A server never holds a ticket itself.
    expect(serverSession.hasTicket()).toBe(false);
  });

  it('getTimeout: the default is tls1_default_timeout(); a context setTimeout is what its sessions get', () => {
    const defaults = handshake(serverContext(serverOptions), clientContext());
    expect(defaults.session.getTimeout()).toBe(OPENSSL_DEFAULT_TIMEOUT);
    expect(defaults.serverSession.getTimeout()).toBe(OPENSSL_DEFAULT_TIMEOUT);

    const serverCtx = serverContext(serverOptions);
    expect(serverCtx.getTimeout()).toBe(OPENSSL_DEFAULT_TIMEOUT);
    expect(serverCtx.setTimeout(600)).toBe(OPENSSL_DEFAULT_TIMEOUT); // returns the previous value
    const clientCtx = clientContext({ timeout: 900 });
    const made = handshake(serverCtx, clientCtx);
    expect(made.serverSession.getTimeout()).toBe(600);
    expect(made.session.getTimeout()).toBe(900); // the client's own context decides its copy
    // What the server tells the client about its tickets is its own timeout.
    expect(made.session.getTicketLifetimeHint()).toBe(ticket ? 600 : 0);
  });

  it('describe() reports the same fields as the getters', () => {
    const { session, serverSession } = handshake(
      serverContext({ ...serverOptions, alpnProtocols: ['h2'] }),
      clientContext({ alpnProtocols: ['h2'] }),
    );
    for (const s of [session, serverSession]) {
      const info = s.describe();
      expect(info).toEqual({
        id: s.getId().toString('hex'),
        idContext: s.get0IdContext().toString('latin1'),
        protocol: version === VERSION.TLS1_3 ? 'TLSv1.3' : 'TLSv1.2',
        cipher: s.get0Cipher(),
        time: s.getTime(),
        timeout: s.getTimeout(),
        hasTicket: s.hasTicket(),
        ticketLength: s.get0Ticket()?.length ?? 0,
        ticketLifetimeHint: s.getTicketLifetimeHint(),
        resumable: s === session || serverResumable,
        maxEarlyData: 0,
        hostname: s.get0Hostname(),
        alpn: 'h2',
      });
      // No secrets in the summary.
      expect(JSON.stringify(info)).not.toContain(s.toDER().toString('hex').slice(0, 64));
    }
    expect(serverSession.describe().idContext).toBe('openssl-session-tests');
  });
});

describe('describe() idContext', () => {
  it('is hex when the session id context is not printable', () => {
    const sidCtx = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x41]);
    const { serverSession } = handshake(serverContext({ sessionIdContext: sidCtx }), clientContext());
    expect(serverSession.get0IdContext()).toEqual(sidCtx);
    expect(serverSession.describe().idContext).toBe(sidCtx.toString('hex'));
  });
});

describe('setTime / setTimeout', () => {
  it('set what the getters read back', () => {
    const { session } = handshake(serverContext(), clientContext());
    session.setTime(1_000_000_000);
    expect(session.getTime()).toBe(1_000_000_000);
    session.setTimeout(42);
    expect(session.getTimeout()).toBe(42);
    // Serialized and restored, they stay.
    const restored = SslSession.fromDER(session.toDER());
    expect(restored.getTime()).toBe(1_000_000_000);
    expect(restored.getTimeout()).toBe(42);
  });

  it('TLS 1.3: a client session set in the past is not offered, so the handshake is a full one', () => {
    const serverCtx = serverContext();
    const clientCtx = clientContext();
    const { session } = handshake(serverCtx, clientCtx);
    const aged = session.dup();
    aged.setTime(now() - aged.getTicketLifetimeHint() - 60); // older than the ticket may live
    expect(resumes(serverCtx, clientCtx, aged)).toBe(false);
    // The server never saw it: no hit, and no timeout counted either.
    expect(serverCtx.stats()).toMatchObject({ hits: 0, timeouts: 0 });
    // Control: the same ticket with its real time resumes.
    expect(resumes(serverCtx, clientCtx, session)).toBe(true);
    expect(serverCtx.stats().hits).toBe(1);
  });

  it("TLS 1.2 by id: the server's cached session set in the past times out (sess_timeout), and is dropped", () => {
    const serverCtx = serverContext(TLS12_ID);
    const clientCtx = clientContext();
    const removed: Buffer[] = [];
    serverCtx.onRemoveSession((s) => removed.push(s.getId()));
    const made = handshake(serverCtx, clientCtx);
    shutdownInMemory(made.client, made.server);
    // The server connection's session is the very object in the server cache.
    made.serverSession.setTime(now() - made.serverSession.getTimeout() - 60);
    expect(resumes(serverCtx, clientCtx, made.session)).toBe(false);
    expect(serverCtx.stats()).toMatchObject({ hits: 0, timeouts: 1, number: 1 });
    expect(removed).toEqual([made.session.getId()]);
  });

  it.each([
    { name: 'by id (the cached copy decides)', server: TLS12_ID },
    { name: 'by ticket (the copy sealed in the ticket decides)', server: TLS12 },
  ])("TLS 1.2 $name: the client's setTime is not consulted, the session still resumes", ({ server }) => {
    const serverCtx = serverContext(server);
    const clientCtx = clientContext();
    const made = handshake(serverCtx, clientCtx);
    shutdownInMemory(made.client, made.server);
    made.session.setTime(now() - 10 * made.session.getTimeout());
    expect(resumes(serverCtx, clientCtx, made.session)).toBe(true);
    expect(serverCtx.stats()).toMatchObject({ hits: 1, timeouts: 0 });
  });
});

const opensslCli = (() => {
  try {
    return /^OpenSSL [13]\./.test(execFileSync('openssl', ['version'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
})();

describe('get0Hostname', () => {
  // The client stores the SNI in its session only when the server acknowledges it
  // (statem/extensions_clnt.c tls_parse_stoc_server_name), and a server acknowledges and
  // stores it only when its servername callback returns SSL_TLSEXT_ERR_OK (extensions.c
  // final_server_name starts from SSL_TLSEXT_ERR_NOACK). `openssl s_server -servername`
  // acknowledges a matching name.
  async function sessionFromOpensslServer(version: 'tls1_2' | 'tls1_3', servername: string): Promise<SslSession> {
    const dir = mkdtempSync(join(tmpdir(), 'oss-sni-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, pair.cert);
    writeFileSync(key, pair.key, { mode: 0o600 });
    // -cert2/-key2: the context s_server switches to when the name matches (the same pair).
    const args = ['s_server', '-accept', '127.0.0.1:0', '-cert', cert, '-key', key, '-cert2', cert, '-key2', key];
    const server = spawn('openssl', [...args, '-servername', 'localhost', '-naccept', '1', `-${version}`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const conn = new SslConnection(clientContext());
    let socket: net.Socket | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        server.once('error', reject);
        server.once('exit', (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)));
      });
      conn.setTlsextHostName(servername);
      const sock = net.connect(port, '127.0.0.1');
      socket = sock;
      const flush = (): void => {
        const out = conn.takeOutput();
        if (out !== null) sock.write(out);
      };
      const session = await new Promise<SslSession>((resolve, reject) => {
        const step = (): void => {
          try {
            if (!conn.isInitFinished() && conn.doHandshake() !== SSL_ERROR.NONE) return flush();
            conn.read(); // TLS 1.3: the tickets follow the handshake
            flush();
            const current = conn.get1Session();
            if (current?.hasTicket()) resolve(current);
            else current?.dispose();
          } catch (error) {
            reject(error as Error);
          }
        };
        sock.on('data', (chunk: Buffer) => {
          conn.feed(chunk);
          step();
        });
        sock.once('connect', step);
        sock.once('error', reject);
        sock.once('close', () => reject(new Error('closed before a ticket arrived')));
      });
      // close_notify before SSL_free, or OpenSSL marks the session not resumable.
      conn.shutdown();
      flush();
      return session;
    } finally {
      socket?.destroy();
      conn.free();
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it.skipIf(!opensslCli).each(['tls1_3', 'tls1_2'] as const)(
    '%s: equals the SNI the client set with setTlsextHostName, when the server acknowledged it (openssl s_server)',
    async (version) => {
      const session = await sessionFromOpensslServer(version, 'localhost');
      expect(session.isResumable()).toBe(true);
      expect(session.getProtocolVersion()).toBe(version === 'tls1_3' ? VERSION.TLS1_3 : VERSION.TLS1_2);
      expect(session.get0Hostname()).toBe('localhost');
      expect(session.describe().hostname).toBe('localhost');
      // It survives serialization.
      expect(SslSession.fromDER(session.toDER()).get0Hostname()).toBe('localhost');
    },
  );

  it('is null with an SslContext server: it reads the SNI but installs no servername callback', () => {
    const { session, server, serverSession } = handshake(serverContext(), clientContext(), (c) => c.setTlsextHostName('localhost'));
    expect(server.getServername()).toBe('localhost');
    expect(session.get0Hostname()).toBeNull();
    expect(serverSession.get0Hostname()).toBeNull();
  });

  it('is null when no SNI was sent', () => {
    const { session } = handshake(serverContext(), clientContext());
    expect(session.get0Hostname()).toBeNull();
  });
});

describe('the openssl CLI reads what we write', () => {
  it.skipIf(!opensslCli)('openssl sess_id: same DER, same fields', () => {
    const serverCtx = serverContext({ timeout: 600 });
    const { session } = handshake(serverCtx, clientContext());
    const pem = session.toPEM();
    expect(execFileSync('openssl', ['sess_id', '-outform', 'DER'], { input: pem }).equals(session.toDER())).toBe(true);
    const text = execFileSync('openssl', ['sess_id', '-noout', '-text'], { input: pem, encoding: 'utf8' });
    const field = (name: string): string | undefined => new RegExp(`^\\s*${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
    expect(field('Protocol')).toBe('TLSv1.3');
    expect(field('Cipher')).toBe(session.get0Cipher());
    expect(field('Session-ID')).toBe(session.getId().toString('hex').toUpperCase());
    expect(field('Start Time')).toBe(String(session.getTime()));
    expect(field('Timeout')).toBe(`${session.getTimeout()} (sec)`);
    expect(field('TLS session ticket lifetime hint')).toBe('600 (seconds)');
  });
});

describe('bad input', () => {
  const made = handshake(serverContext(), clientContext());
  const clientDer = made.session.toDER();
  const serverDer = made.serverSession.toDER();

  it('garbage, truncated and empty DER throw an OpenSSLError from the ASN.1 decoder', () => {
    expectOpenSSLError(() => SslSession.fromDER(Buffer.from('definitely not an SSL_SESSION')), /^ERR_OSSL_ASN1_/);
    expectOpenSSLError(() => SslSession.fromDER(clientDer.subarray(0, clientDer.length >> 1)), /^ERR_OSSL_ASN1_/);
    expectOpenSSLError(() => SslSession.fromDER(Buffer.alloc(0)), /^ERR_OSSL_ASN1_/);
    expectOpenSSLError(() => SslSession.fromDER(new Uint8Array(64)), /^ERR_OSSL_ASN1_/);
    // A well-formed DER object that is not a session (a certificate).
    expectOpenSSLError(() => SslSession.fromDER(new X509Certificate(pair.cert).raw), /^ERR_OSSL_ASN1_/);
  });

  it('every proper prefix of a session fails cleanly', () => {
    for (const der of [serverDer, clientDer]) {
      for (let length = 0; length < der.length; length++) {
        expect(() => SslSession.fromDER(der.subarray(0, length))).toThrow(OpenSSLError);
      }
    }
    // ... and the error queue was left clean: a good parse right after still works.
    expect(SslSession.fromDER(clientDer).toDER().equals(clientDer)).toBe(true);
  });

  it('a corrupted byte anywhere either parses or throws an OpenSSLError, never anything else', () => {
    let failures = 0;
    for (let i = 0; i < serverDer.length; i++) {
      const corrupted = Buffer.from(serverDer);
      corrupted[i] = (corrupted[i] ?? 0) ^ 0xff;
      try {
        const s = SslSession.fromDER(corrupted);
        s.toDER();
        s.describe();
        s.dispose();
      } catch (error) {
        expect(error).toBeInstanceOf(OpenSSLError);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(0);
  });

  it('garbage, empty and mislabeled PEM throw an OpenSSLError from the PEM reader', () => {
    expectOpenSSLError(() => SslSession.fromPEM('not PEM at all'), 'ERR_OSSL_PEM_NO_START_LINE');
    expectOpenSSLError(() => SslSession.fromPEM(''), 'ERR_OSSL_PEM_NO_START_LINE');
    expectOpenSSLError(() => SslSession.fromPEM(Buffer.alloc(0)), 'ERR_OSSL_PEM_NO_START_LINE');
    // Another PEM type is skipped, so no SSL SESSION PARAMETERS block is found.
    expectOpenSSLError(() => SslSession.fromPEM(pair.cert), 'ERR_OSSL_PEM_NO_START_LINE');
    expectOpenSSLError(
      () => SslSession.fromPEM('-----BEGIN SSL SESSION PARAMETERS-----\n!!!!\n-----END SSL SESSION PARAMETERS-----\n'),
      'ERR_OSSL_PEM_BAD_BASE64_DECODE',
    );
    // Right label, truncated content: decoding fails in ASN.1, below the PEM layer.
    const pem = made.session.toPEM();
    const truncated = `-----BEGIN SSL SESSION PARAMETERS-----\n${clientDer.subarray(0, 100).toString('base64')}\n-----END SSL SESSION PARAMETERS-----\n`;
    expect(pem).not.toBe(truncated);
    const error = expectOpenSSLError(() => SslSession.fromPEM(truncated), /^ERR_OSSL_ASN1_/);
    expect(error.opensslErrorStack.join('\n')).toMatch(/PEM routines/);
  });

  it('wrong argument types give TypeError ERR_INVALID_ARG_TYPE naming the parameter', () => {
    const fromDER = SslSession.fromDER as (v: unknown) => SslSession;
    const fromPEM = SslSession.fromPEM as (v: unknown) => SslSession;
    for (const value of [123, 'a string', null, undefined, {}, [1, 2, 3], new ArrayBuffer(8)]) {
      expectArgTypeError(() => fromDER(value), 'der');
    }
    for (const value of [123, null, undefined, {}, ['-----BEGIN']]) {
      expectArgTypeError(() => fromPEM(value), 'pem');
    }
    // The native layer checks again (memory safety) with the same code.
    const native = binding.SslSession as unknown as { fromDER(v: unknown): unknown; fromPEM(v: unknown): unknown };
    for (const value of [123, 'a string', null, {}, new ArrayBuffer(8)]) expectArgTypeError(() => native.fromDER(value), 'der');
    for (const value of [123, null, {}, Buffer.from('x')]) expectArgTypeError(() => native.fromPEM(value), 'pem');
  });

  it('an unrelated self-signed certificate in DER is still not a session', () => {
    const other = createSelfSigned({ commonName: 'other' });
    expectOpenSSLError(() => SslSession.fromDER(new X509Certificate(other.cert).raw));
  });
});
