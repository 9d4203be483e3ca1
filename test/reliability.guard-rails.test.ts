/**
 * Guard-rail warnings (lib/guard-rails.ts): each is emitted when the mistake happens, once
 * per object or call site, and not when it does not; each can be turned off. The mistakes
 * are real: the tests also show what each one costs (a failed resumption, a poisoned session).
 * The garbage-collection path runs in a child process (node --expose-gc).
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import { WARNING_CODES, configureWarnings } from '../lib/guard-rails.js';
import {
  SHUTDOWN,
  SslConnection,
  SslContext,
  type SslSession,
  createSelfSigned,
  drain,
  handshakeInMemory,
  shutdownInMemory,
  transfer,
} from '../lib/index.js';
import { clientContext, pair, serverContext } from './helpers/fixtures.js';
import { runGcChild } from './helpers/gc-child.js';

interface Seen {
  code: string;
  message: string;
}

const seen: Seen[] = [];
const onWarning = (warning: Error & { code?: string }) => {
  if (warning.name === 'OpenSSLSessionWarning') seen.push({ code: warning.code ?? '', message: warning.message });
};

beforeAll(() => {
  configureWarnings(true);
  process.on('warning', onWarning);
});
afterAll(() => {
  process.off('warning', onWarning);
});
afterEach(() => {
  configureWarnings(true);
});

/** Warnings are emitted on process.nextTick: collect what arrived after `fn`. */
async function warningsOf(fn: () => void | Promise<void>): Promise<Seen[]> {
  const from = seen.length;
  await fn();
  await new Promise((resolve) => setImmediate(resolve));
  return seen.slice(from);
}

const codes = (list: Seen[]) => list.map((w) => w.code);

function connectPair(clientCtx: SslContext, serverCtx: SslContext, session?: SslSession | null) {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  if (session) client.setSession(session);
  handshakeInMemory(client, server);
  return { client, server };
}

function closeCleanly(client: SslConnection, server: SslConnection): void {
  drain(client, server);
  shutdownInMemory(client, server);
  client.free();
  server.free();
}

describe(`${WARNING_CODES.noSessionIdContext}: a server verifying peers without a session id context`, () => {
  const clientPair = createSelfSigned({ commonName: 'client', altNames: ['DNS:client'] });
  const verifyingServer = (sid: boolean) =>
    new SslContext('server', {
      cert: pair.cert,
      key: pair.key,
      verify: true,
      ca: clientPair.cert,
      maxVersion: 'TLSv1.2', // with session tickets: OpenSSL's check runs when a ticket decrypts
      ...(sid ? { sessionIdContext: 'guard-rails' } : {}),
    });
  const client = () => clientContext({ cert: clientPair.cert, key: clientPair.key, maxVersion: 'TLSv1.2' });

  it('is emitted at the first completed handshake, once per context, and the mistake really breaks resumption', async () => {
    using server = verifyingServer(false);
    using cctx = client();
    let session: SslSession | null = null;
    const warnings = await warningsOf(() => {
      for (let i = 0; i < 3; i++) {
        const { client: c, server: s } = connectPair(cctx, server);
        session?.dispose();
        session = c.get1Session();
        closeCleanly(c, s);
      }
    });
    expect(codes(warnings)).toEqual([WARNING_CODES.noSessionIdContext]);
    expect(warnings[0]!.message).toMatch(/no session id context/);
    // What it costs: OpenSSL cached nothing, and a client offering its ticket is refused outright.
    expect(server.stats().number).toBe(0);
    const c = new SslConnection(cctx);
    const s = new SslConnection(server);
    c.setSession(session!);
    expect(() => handshakeInMemory(c, s)).toThrow(expect.objectContaining({ code: 'ERR_SSL_SESSION_ID_CONTEXT_UNINITIALIZED' }));
    c.free();
    s.free();
    (session as SslSession | null)?.dispose();
  });

  it('is not emitted with a session id context, nor by a server that does not verify', async () => {
    using withSid = verifyingServer(true);
    using notVerifying = serverContext({ sessionIdContext: undefined });
    using cctx = client();
    const reused: boolean[] = [];
    const warnings = await warningsOf(() => {
      for (const server of [withSid, notVerifying]) {
        const first = connectPair(cctx, server);
        const session = first.client.get1Session()!;
        closeCleanly(first.client, first.server);
        const second = connectPair(cctx, server, session);
        reused.push(second.client.sessionReused());
        closeCleanly(second.client, second.server);
        session.dispose();
      }
    });
    expect(warnings).toEqual([]);
    expect(reused).toEqual([true, true]); // and both resume
  });

  it('is emitted when setVerify() turns verification on after handshakes without it', async () => {
    // Not verifying is remembered per context (no native call per handshake) until setVerify().
    using server = new SslContext('server', { cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.2' });
    using cctx = client();
    const before = await warningsOf(() => {
      for (let i = 0; i < 2; i++) {
        const { client: c, server: s } = connectPair(cctx, server);
        closeCleanly(c, s);
      }
    });
    expect(before).toEqual([]);
    server.addCaCertificates(clientPair.cert);
    server.setVerify(1); // VERIFY.PEER
    const after = await warningsOf(() => {
      for (let i = 0; i < 2; i++) {
        const { client: c, server: s } = connectPair(cctx, server);
        closeCleanly(c, s);
      }
    });
    expect(codes(after)).toEqual([WARNING_CODES.noSessionIdContext]);
  });
});

describe(`${WARNING_CODES.notResumableYet}: get1Session() before the TLS 1.3 ticket`, () => {
  it('is emitted when such a session is offered, once per get1Session() call site; it never resumes', async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const reused: boolean[] = [];
    const warnings = await warningsOf(() => {
      for (let i = 0; i < 3; i++) {
        const { client, server } = connectPair(cctx, sctx);
        const early = client.get1Session()!; // handshake done, ticket not read yet
        expect(early.isResumable()).toBe(false);
        closeCleanly(client, server);
        const next = connectPair(cctx, sctx, early);
        reused.push(next.client.sessionReused());
        closeCleanly(next.client, next.server);
        early.dispose();
      }
    });
    expect(reused).toEqual([false, false, false]);
    expect(codes(warnings)).toEqual([WARNING_CODES.notResumableYet]);
    expect(warnings[0]!.message).toMatch(/offered with setSession\(\).*reliability\.guard-rails\.test\.ts/);
  });

  it('is emitted when such a session goes into a SessionCache (which refuses it)', async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const cache = new SslSessionCache();
    const { client, server } = connectPair(cctx, sctx);
    const warnings = await warningsOf(() => {
      expect(cache.set('localhost:443|sni=localhost|cfg=x', client.get1Session()!)).toBe(false);
    });
    expect(codes(warnings)).toEqual([WARNING_CODES.notResumableYet]);
    expect(warnings[0]!.message).toMatch(/stored in a SessionCache/);
    closeCleanly(client, server);
    cache.dispose();
  });

  it('is not emitted for a session taken after the ticket arrived, nor for TLS 1.2', async () => {
    using sctx = serverContext();
    using tls13 = clientContext();
    using tls12 = clientContext({ maxVersion: 'TLSv1.2' });
    const reused: boolean[] = [];
    const warnings = await warningsOf(() => {
      for (const cctx of [tls13, tls12]) {
        const { client, server } = connectPair(cctx, sctx);
        drain(client, server); // the ticket
        const session = client.get1Session()!;
        closeCleanly(client, server);
        const next = connectPair(cctx, sctx, session);
        reused.push(next.client.sessionReused());
        closeCleanly(next.client, next.server);
        session.dispose();
      }
    });
    expect(reused).toEqual([true, true]);
    expect(warnings).toEqual([]);
  });
});

describe(`${WARNING_CODES.noShutdown}: a connection freed after its handshake without shutdown()`, () => {
  it('is emitted for a client freed without shutdown, once per context; its session is poisoned', async () => {
    using sctx = serverContext({ maxVersion: 'TLSv1.2' });
    using cctx = clientContext();
    const sessions: SslSession[] = [];
    const warnings = await warningsOf(() => {
      for (let i = 0; i < 2; i++) {
        const { client, server } = connectPair(cctx, sctx);
        sessions.push(client.get1Session()!);
        expect(sessions.at(-1)!.isResumable()).toBe(true);
        client.free(); // no shutdown()
        server.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED);
        server.free();
      }
    });
    expect(codes(warnings)).toEqual([WARNING_CODES.noShutdown]);
    expect(warnings[0]!.message).toMatch(/client\) was freed/);
    // What it costs: SSL_free marked the session the caller holds not resumable.
    expect(sessions.map((s) => s.isResumable())).toEqual([false, false]);
    for (const s of sessions) s.dispose();
  });

  it('is not emitted after shutdown() or setShutdown(SENT), for a failed connection, for an unfinished handshake, nor for servers freed explicitly', async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const warnings = await warningsOf(() => {
      const a = connectPair(cctx, sctx);
      closeCleanly(a.client, a.server); // shutdown() both ways
      const b = connectPair(cctx, sctx);
      b.client.setShutdown(SHUTDOWN.SENT);
      b.client.free();
      b.server.free(); // a server: TlsServer frees after peers that hang up, not the app's fault
      const c = connectPair(cctx, sctx);
      c.client.feed(Buffer.from([23, 3, 3, 0, 20, ...Buffer.alloc(20)])); // a bogus record: fatal
      expect(() => c.client.read()).toThrow(expect.objectContaining({ name: 'OpenSSLError' }));
      c.client.free();
      c.server.free();
      const d = new SslConnection(cctx);
      d.doHandshake(); // ClientHello only
      d.free();
    });
    expect(warnings).toEqual([]);
  });

  it('is emitted when such connections are garbage-collected (client and server), not when they were shut down (child process)', () => {
    const run = runGcChild<{ dropped: string[]; clean: string[]; freed: string[]; disabled: string[]; collected: boolean }>(
      'guard-rails-gc.ts',
    );
    const report = run.report;
    if (report === undefined) throw new Error(`no report (status ${run.status}, signal ${run.signal})\n${run.stdout}\n${run.stderr}`);
    expect(run.status).toBe(0);
    expect(report.collected).toBe(true);
    expect(report.dropped).toEqual([
      `${WARNING_CODES.noShutdown}: an SslConnection (client) was garbage-collected`,
      `${WARNING_CODES.noShutdown}: an SslConnection (server) was garbage-collected`,
    ]);
    expect(report.clean).toEqual([]);
    expect(report.freed).toEqual([]); // a server connection freed on purpose is not "garbage-collected"
    expect(report.disabled).toEqual([]); // OPENSSL_SESSION_NO_WARNINGS in a second child
  });
});

describe(`${WARNING_CODES.cacheMixedTrust}: one SessionCache across trust configurations`, () => {
  async function storeUnder(cache: SslSessionCache, contexts: SslContext[], port: number): Promise<void> {
    using sctx = serverContext({ maxVersion: 'TLSv1.2' });
    for (const cctx of contexts) {
      const { client, server } = connectPair(cctx, sctx);
      const key = cache.keyFor({ host: '127.0.0.1', port, context: cctx });
      cache.set(key, client.get1Session()!);
      closeCleanly(client, server);
    }
  }

  it('is emitted once per cache and host:port when a second configuration stores sessions', async () => {
    const cache = new SslSessionCache();
    const verifying = cache.createContext({ ca: pair.cert });
    const trusting = cache.createContext({ verify: false });
    const third = cache.createContext({ ca: pair.cert, alpnProtocols: ['h2'] });
    const warnings = await warningsOf(() => storeUnder(cache, [verifying, trusting, third, verifying], 4433));
    expect(codes(warnings)).toEqual([WARNING_CODES.cacheMixedTrust]);
    expect(warnings[0]!.message).toMatch(/127\.0\.0\.1:4433 under 2 different configurations/);
    expect(cache.stats().peers).toBe(3); // three keys: nothing crossed configurations
    cache.dispose();
    for (const c of [verifying, trusting, third]) c.close();
  });

  it('is not emitted for one configuration, for different ports, nor when disabled', async () => {
    const cache = new SslSessionCache();
    const a = cache.createContext({ ca: pair.cert });
    const b = cache.createContext({ verify: false });
    const warnings = await warningsOf(async () => {
      await storeUnder(cache, [a, a], 1);
      await storeUnder(cache, [b], 2);
      configureWarnings({ disable: [WARNING_CODES.cacheMixedTrust] });
      await storeUnder(cache, [a, b], 3);
    });
    expect(warnings).toEqual([]);
    cache.dispose();
    a.close();
    b.close();
  });
});

describe('switching warnings off', () => {
  it('configureWarnings(false) silences every guard-rail; true brings them back', async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    configureWarnings(false);
    const off = await warningsOf(() => {
      const { client, server } = connectPair(cctx, sctx);
      const early = client.get1Session()!;
      transfer(server, client, Buffer.from('x'));
      client.free(); // no shutdown
      server.free();
      new SslConnection(cctx).setSession(early);
      early.dispose();
    });
    expect(off).toEqual([]);
    configureWarnings(true);
    using cctx2 = clientContext();
    const on = await warningsOf(() => {
      const { client, server } = connectPair(cctx2, sctx);
      client.free();
      server.free();
    });
    expect(codes(on)).toEqual([WARNING_CODES.noShutdown]);
  });

  it('rejects options that are neither a boolean nor an object', () => {
    expect(() => configureWarnings('no' as unknown as boolean)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});
