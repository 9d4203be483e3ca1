/**
 * Faults over real 127.0.0.1 sockets with our TlsSocket / connect() / createServer(): peers
 * that reset mid-handshake and mid-record, half-closed and silent peers, a slow-loris peer
 * against handshakeTimeout, 1,000 concurrent connections to one server in this process, and
 * session stores that throw, reject, hang or return garbage. Every failure must be a clear
 * error (an 'error'/'tlsClientError' event or a rejection with a code) and nothing may
 * escape: this file traps 'unhandledRejection' and 'uncaughtException' and requires none.
 */
import * as net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import { SslConnection, SslContext, type TlsServer, type TlsSocket, connect, createServer } from '../lib/index.js';
import type { SessionStore } from '../lib/stores/index.js';
import { clientContext, pair } from './helpers/fixtures.js';

const escaped: unknown[] = [];
const trap = (error: unknown) => escaped.push(error);
beforeAll(() => {
  process.on('unhandledRejection', trap);
  process.on('uncaughtException', trap);
});
afterAll(() => {
  process.off('unhandledRejection', trap);
  process.off('uncaughtException', trap);
  expect(escaped).toEqual([]);
});

interface Harness {
  server: TlsServer;
  port: number;
  clientErrors: { code: string | undefined; message: string }[];
  secure: TlsSocket[];
}

async function echoServer(handshakeTimeout = 5000, context?: SslContext): Promise<Harness> {
  const ctx = context ?? new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'faults' });
  const h: Harness = { server: createServer({ context: ctx, handshakeTimeout }), port: 0, clientErrors: [], secure: [] };
  h.server.on('tlsClientError', (error: Error & { code?: string }) => h.clientErrors.push({ code: error.code, message: error.message }));
  h.server.on('secureConnection', (socket: TlsSocket) => {
    h.secure.push(socket);
    socket.on('error', () => {}); // post-handshake errors are asserted through the events below
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => h.server.server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, resolve));
  h.port = h.server.address().port;
  return h;
}

async function stop(h: Harness): Promise<void> {
  await h.server.close();
  h.server.context.close();
}

const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A real ClientHello, from an SslConnection (what a TLS client sends first). */
function clientHello(): Buffer {
  using ctx = clientContext();
  const c = new SslConnection(ctx);
  c.setTlsextHostName('localhost');
  c.doHandshake();
  const hello = c.takeOutput()!;
  c.free();
  return hello;
}

function rawClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
    s.resume(); // read (and drop) whatever comes, so the peer's FIN is seen
  });
}

/** One good round trip through `h`: the server still serves. */
async function stillServes(h: Harness): Promise<void> {
  using ctx = clientContext();
  const c = await connect({ host: '127.0.0.1', port: h.port, context: ctx, servername: 'localhost', checkHost: 'localhost' });
  const echoed = new Promise<string>((resolve) => c.once('data', (d: Buffer) => resolve(d.toString())));
  c.write('still there?');
  expect(await echoed).toBe('still there?');
  c.end();
  await new Promise((r) => c.once('close', r));
  c.free();
}

describe('peers that go away', () => {
  it('a client that resets mid-handshake: tlsClientError ECONNRESET, the server serves on', async () => {
    const h = await echoServer();
    const raw = await rawClient(h.port);
    const hello = clientHello();
    raw.write(hello.subarray(0, hello.length >> 1));
    await new Promise((r) => setTimeout(r, 20));
    raw.resetAndDestroy();
    await until(() => h.clientErrors.length === 1);
    expect(h.clientErrors[0]).toMatchObject({ code: 'ECONNRESET' });
    await stillServes(h);
    await stop(h);
  });

  it('a server that resets mid-handshake: connect() rejects with ECONNRESET', async () => {
    const resetter = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
    using ctx = clientContext();
    const port = (resetter.address() as net.AddressInfo).port;
    await expect(connect({ host: '127.0.0.1', port, context: ctx })).rejects.toMatchObject({ code: 'ECONNRESET' });
    resetter.close();
  });

  it('a client that resets mid-record after the handshake: the server socket errors (ECONNRESET) and closes; the server serves on', async () => {
    const h = await echoServer();
    using ctx = clientContext();
    const c = await connect({ host: '127.0.0.1', port: h.port, context: ctx, servername: 'localhost' });
    await until(() => h.secure.length === 1);
    const serverSide = h.secure[0]!;
    const serverError = new Promise<Error & { code?: string }>((r) => serverSide.once('error', r));
    const closed = new Promise((r) => serverSide.once('close', r));
    // Half of an application-data record, then RST.
    c.connection.write(Buffer.alloc(2000, 0x61));
    const record = c.connection.takeOutput()!;
    (c.socket as net.Socket).write(record.subarray(0, 700));
    await new Promise((r) => setTimeout(r, 20));
    (c.socket as net.Socket).resetAndDestroy();
    expect((await serverError).code).toBe('ECONNRESET');
    await closed;
    c.destroy();
    c.free();
    await stillServes(h);
    await stop(h);
  });

  it('a server that resets mid-record: the client socket errors with ECONNRESET', async () => {
    const context = new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'faults' });
    const server = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      socket.connection.write(Buffer.alloc(3000, 0x62));
      const record = socket.connection.takeOutput()!;
      (socket.socket as net.Socket).write(record.subarray(0, 1000), () =>
        setTimeout(() => (socket.socket as net.Socket).resetAndDestroy(), 20),
      );
    });
    const { port } = await server.listen();
    using ctx = clientContext();
    const c = await connect({ host: '127.0.0.1', port, context: ctx, servername: 'localhost' });
    const error = await new Promise<Error & { code?: string }>((r) => c.once('error', r));
    expect(error.code).toBe('ECONNRESET');
    c.free();
    await server.close();
    context.close();
  });

  it('a client that half-closes (FIN) mid-handshake: a hang-up error, not a hang', async () => {
    const h = await echoServer();
    const raw = await rawClient(h.port);
    raw.end(clientHello()); // the ClientHello, then FIN: the peer will never answer the server
    await until(() => h.clientErrors.length === 1);
    expect(h.clientErrors[0]).toMatchObject({ code: 'ECONNRESET' });
    expect(h.clientErrors[0]!.message).toMatch(/closed the connection before the handshake finished/);
    raw.destroy();
    await stop(h);
  });

  it('a client that half-closes after the handshake without close_notify: the server sees end and closes cleanly, no error', async () => {
    const h = await echoServer();
    using ctx = clientContext();
    const c = await connect({ host: '127.0.0.1', port: h.port, context: ctx, servername: 'localhost' });
    await until(() => h.secure.length === 1);
    const serverSide = h.secure[0]!;
    const events: string[] = [];
    serverSide.on('end', () => events.push('end'));
    serverSide.on('error', (e: Error) => events.push(`error ${e.message}`));
    const closed = new Promise((r) => serverSide.once('close', r));
    (c.socket as net.Socket).end(); // TCP FIN, no TLS close_notify
    await closed;
    expect(events).toEqual(['end']);
    expect(serverSide.closeNotifyReceived).toBe(false);
    c.destroy();
    c.free();
    await stop(h);
  });
});

describe('slow peers', () => {
  it('a slow-loris client (1 byte every 40 ms) is cut off by handshakeTimeout while others are served', async () => {
    const h = await echoServer(400);
    const raw = await rawClient(h.port);
    raw.on('error', () => {});
    const rawClosed = new Promise((r) => raw.once('close', r));
    const hello = clientHello();
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < hello.length && !raw.destroyed) raw.write(hello.subarray(sent, ++sent));
    }, 40);
    const started = Date.now();
    await stillServes(h); // a normal client in the meantime
    await until(() => h.clientErrors.length === 1, 3000);
    const took = Date.now() - started;
    clearInterval(drip);
    expect(h.clientErrors[0]).toMatchObject({ code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
    expect(sent).toBeLessThan(hello.length); // cut off before it finished its ClientHello
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(2000);
    await rawClosed; // the server closed the TCP connection
    await stop(h);
  });

  it('a client whose server never answers: connect() rejects with ERR_TLS_HANDSHAKE_TIMEOUT', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}).resume()); // reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    using ctx = clientContext();
    const port = (silent.address() as net.AddressInfo).port;
    await expect(connect({ host: '127.0.0.1', port, context: ctx, handshakeTimeout: 200 })).rejects.toMatchObject({
      code: 'ERR_TLS_HANDSHAKE_TIMEOUT',
    });
    await new Promise((r) => silent.close(r));
  });
});

describe('load', () => {
  it('1,000 concurrent connections to one server, in one process: all served, bounded time and event-loop lag', async () => {
    const h = await echoServer(20_000);
    using ctx = clientContext();
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const started = Date.now();
    const N = 1000;
    const results = await Promise.allSettled(
      Array.from({ length: N }, async (_, i) => {
        const c = await connect({ host: '127.0.0.1', port: h.port, context: ctx, servername: 'localhost', handshakeTimeout: 20_000 });
        const echoed = new Promise<string>((resolve) => c.once('data', (d: Buffer) => resolve(d.toString())));
        c.write(`ping ${i}`);
        const reply = await echoed;
        c.end();
        await new Promise((r) => c.once('close', r));
        c.free();
        return reply === `ping ${i}`;
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    lag.disable();
    const maxLagMs = lag.max / 1e6;
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    console.log(
      `1000 concurrent TLS 1.3 connections: ${seconds.toFixed(2)} s, max event-loop lag ${maxLagMs.toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms`,
    );
    expect(failed).toEqual([]);
    expect(results.every((r) => r.status === 'fulfilled' && r.value)).toBe(true);
    expect(h.server.context.stats().acceptGood).toBe(N);
    expect(h.clientErrors).toEqual([]);
    expect(seconds).toBeLessThan(15);
    expect(maxLagMs).toBeLessThan(1500);
    await stop(h);
  }, 20_000);
});

describe('session stores that fail', () => {
  const failing = (how: 'throw' | 'reject' | 'hang' | 'garbage'): SessionStore & { calls: number } => {
    const store = {
      calls: 0,
      async get(): Promise<Buffer | undefined> {
        store.calls++;
        if (how === 'throw') throw new Error('store get threw');
        if (how === 'reject') return Promise.reject(new Error('store get rejected'));
        if (how === 'hang') return new Promise<never>(() => {});
        return Buffer.from('not a session record');
      },
      set(): Promise<void> {
        store.calls++;
        if (how === 'throw') throw new Error('store set threw');
        if (how === 'hang') return new Promise<never>(() => {});
        return Promise.reject(new Error('store set rejected'));
      },
      delete(): Promise<void> {
        store.calls++;
        if (how === 'hang') return new Promise<never>(() => {});
        throw new Error('store delete threw');
      },
    };
    return store;
  };

  it.each(['throw', 'reject', 'hang', 'garbage'] as const)(
    'a store that %ss: every connection succeeds, memory still resumes, errors are reported, nothing escapes',
    async (how) => {
      const h = await echoServer();
      const store = failing(how);
      const cache = new SslSessionCache({ store, storeTimeout: 100 });
      const storeErrors: { message: string; code?: string; operation: string }[] = [];
      cache.on('storeError', (error: Error & { code?: string }, operation) =>
        storeErrors.push({ message: error.message, code: error.code, operation }),
      );
      const context = cache.createContext({ ca: pair.cert });
      const reused: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await cache.connect({ host: '127.0.0.1', port: h.port, context, servername: 'localhost' });
        reused.push(c.isSessionReused());
        c.write('x');
        await new Promise((r) => c.once('data', r));
        c.end();
        await new Promise((r) => c.once('close', r));
        c.free();
      }
      await cache.flush();
      await new Promise((r) => setTimeout(r, 150)); // hung writes time out
      expect(reused).toEqual([false, true, true]); // the memory tier carried on
      expect(store.calls).toBeGreaterThan(0);
      expect(storeErrors.length).toBeGreaterThan(0);
      expect(cache.stats().storeErrors).toBe(storeErrors.length);
      const expected = {
        throw: /store (get|set) threw/,
        reject: /store (get|set) rejected/,
        hang: /did not finish within 100 ms/,
        garbage: /./,
      }[how];
      expect(storeErrors.every((e) => expected.test(e.message))).toBe(true);
      if (how === 'hang') expect(storeErrors.every((e) => e.code === 'ERR_SESSION_STORE_TIMEOUT')).toBe(true);
      cache.dispose();
      context.close();
      await stop(h);
    },
  );
});
