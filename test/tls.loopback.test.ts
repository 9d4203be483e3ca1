/**
 * lib/tls over real sockets on 127.0.0.1: our createServer() against our connect().
 * Seed 000's loop (NEW then REUSED x4) for TLS 1.2 tickets, TLS 1.2 session ids and TLS 1.3;
 * data both ways with backpressure; peers that hang up or talk garbage; timeouts; the event
 * loop staying free; certificate and host name verification.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';

import { afterEach, describe, expect, it } from 'vitest';

import {
  OP,
  OpenSSLError,
  SESS_CACHE,
  SslConnection,
  SslContext,
  type SslContextOptions,
  type SslSession,
  type TlsServer,
  type TlsSocket,
  connect,
  createServer,
} from '../lib/index.js';
import { clientContext, pair, serverContext } from './helpers/fixtures.js';

const GREETING = Buffer.from('hello from the server\n');
const HOST = '127.0.0.1';

// ----- cleanup ---------------------------------------------------------------------------

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends SslContext>(context: T): T {
  cleanups.push(() => context[Symbol.dispose]());
  return context;
}

type ServerSetup = {
  server: TlsServer;
  port: number;
  context: SslContext;
  /** Every connection the server saw finish its handshake. */
  accepted: TlsSocket[];
  /** Every 'tlsClientError'. */
  clientErrors: Array<{ error: Error & { code?: string }; socket: TlsSocket | null }>;
};

/** Our server: writes GREETING after each handshake and reads (or echoes) what the client sends. */
async function startServer(
  contextOptions: SslContextOptions = {},
  options: { echo?: boolean; read?: boolean; handshakeTimeout?: number } = {},
): Promise<ServerSetup> {
  const context = track(serverContext(contextOptions));
  const accepted: TlsSocket[] = [];
  const clientErrors: ServerSetup['clientErrors'] = [];
  const server = createServer(
    { context, ...(options.handshakeTimeout !== undefined ? { handshakeTimeout: options.handshakeTimeout } : {}) },
    (socket) => {
      accepted.push(socket);
      socket.on('error', () => {}); // a client that resets is not this test's failure
      if (options.echo) {
        socket.pipe(socket);
        return;
      }
      socket.write(GREETING);
      if (options.read !== false) socket.resume();
    },
  );
  server.on('tlsClientError', (error: Error, socket: TlsSocket | null) => clientErrors.push({ error, socket }));
  const { port } = await server.listen(0, HOST);
  cleanups.push(() => server.close());
  return { server, port, context, accepted, clientErrors };
}

/** A plain TCP server (no TLS) doing something rude with each connection. */
async function startRawServer(onConnection: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

function connectTo(
  port: number,
  context: SslContext,
  session: SslSession | null = null,
  extra: Partial<Parameters<typeof connect>[0]> = {},
) {
  return connect({ host: HOST, port, servername: 'localhost', context, session, ...extra }).then((client) => {
    cleanups.push(() => {
      client.destroy();
      client.free();
    });
    return client;
  });
}

/** The TLS record content types in a chunk of ciphertext (20 CCS, 21 alert, 22 handshake, 23 data). */
function recordTypes(chunk: Buffer): number[] {
  const types: number[] = [];
  for (let i = 0; i + 5 <= chunk.length; i += 5 + chunk.readUInt16BE(i + 3)) types.push(chunk[i]!);
  return types;
}

/** Reads exactly `n` bytes (the stream stays readable afterwards). */
function readBytes(stream: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= n) {
        done();
        resolve(Buffer.concat(chunks));
      }
    };
    const onEnd = () => {
      done();
      reject(new Error(`stream ended after ${length} of ${n} bytes`));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const done = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.resume(); // after a previous readBytes() paused it
  });
}

/** SSL_shutdown (close_notify) and close the socket, as seed 000 does; resolves on 'close'. */
async function endClient(client: TlsSocket): Promise<void> {
  const closed = once(client, 'close');
  client.end();
  client.resume();
  await closed;
}

/**
 * Seed 000's client: five connections, each offering the session SSL_get1_session took from
 * the previous one (which is then freed). Returns what SSL_session_reused said each time.
 */
async function seedLoop(
  port: number,
  context: SslContext,
): Promise<{ results: string[]; sessions: Array<ReturnType<SslSession['describe']>> }> {
  const results: string[] = [];
  const sessions: Array<ReturnType<SslSession['describe']>> = [];
  let session: SslSession | null = null;
  try {
    for (let i = 0; i < 5; i++) {
      const client = await connectTo(port, context, session);
      results.push(client.isSessionReused() ? 'REUSED SESSION' : 'NEW SESSION');
      // TLS 1.3 tickets arrive after the handshake, before the server's first bytes.
      expect(await readBytes(client, GREETING.length)).toEqual(GREETING);
      session?.dispose(); // SSL_SESSION_free(session)
      session = client.get1Session(); // session = SSL_get1_session(ssl)
      expect(session).not.toBeNull();
      sessions.push(session!.describe());
      await endClient(client); // SSL_shutdown(ssl); close(fd)
      expect(client.closeNotifyReceived).toBe(true); // the server answered our close_notify
      client.free(); // SSL_free(ssl)
      expect(client.connection.freed).toBe(true);
    }
  } finally {
    session?.dispose();
  }
  return { results, sessions };
}

const SEED_OUTPUT = ['NEW SESSION', 'REUSED SESSION', 'REUSED SESSION', 'REUSED SESSION', 'REUSED SESSION'];

// ----- seed 000 --------------------------------------------------------------------------

describe('seed 000 over 127.0.0.1: NEW SESSION then REUSED SESSION x4', () => {
  it('TLS 1.2 with session tickets', async () => {
    const { port, context } = await startServer();
    const client = track(clientContext({ maxVersion: 'TLSv1.2' }));
    const { results, sessions } = await seedLoop(port, client);
    expect(results).toEqual(SEED_OUTPUT);
    for (const info of sessions) {
      expect(info.protocol).toBe('TLSv1.2');
      expect(info.hasTicket).toBe(true);
      expect(info.resumable).toBe(true);
    }
    expect(context.stats().acceptGood).toBe(5);
  });

  it('TLS 1.2 with session ids from the server cache (OP.NO_TICKET)', async () => {
    const { port, context } = await startServer({ options: OP.NO_TICKET });
    const client = track(clientContext({ maxVersion: 'TLSv1.2' }));
    const { results, sessions } = await seedLoop(port, client);
    expect(results).toEqual(SEED_OUTPUT);
    for (const info of sessions) {
      expect(info.hasTicket).toBe(false);
      expect(info.id).toMatch(/^[0-9a-f]{64}$/);
    }
    // One session, resumed four times: the same id every round.
    expect(new Set(sessions.map((s) => s.id)).size).toBe(1);
    const stats = context.stats();
    expect(stats.hits).toBe(4);
    expect(stats.misses).toBe(0);
    expect(stats.number).toBe(1);
  });

  it('TLS 1.2 session ids survive a server that never reads (clean close_notify keeps the session cached)', async () => {
    // The server application never consumes its side, so it never ends its writable half:
    // the TlsSocket must still answer the client's close_notify before SSL_free, or OpenSSL
    // would drop the session from the cache (ssl_clear_bad_session).
    const { port, context, accepted } = await startServer({ options: OP.NO_TICKET }, { read: false });
    const client = track(clientContext({ maxVersion: 'TLSv1.2' }));
    const { results } = await seedLoop(port, client);
    expect(results).toEqual(SEED_OUTPUT);
    expect(context.stats().hits).toBe(4);
    expect(accepted.every((s) => s.connection.freed)).toBe(true);
  });

  it('TLS 1.3 (tickets, read after the first server bytes)', async () => {
    const { port } = await startServer();
    const client = track(clientContext({ minVersion: 'TLSv1.3' }));
    const { results, sessions } = await seedLoop(port, client);
    expect(results).toEqual(SEED_OUTPUT);
    for (const info of sessions) {
      expect(info.protocol).toBe('TLSv1.3');
      expect(info.hasTicket).toBe(true);
      expect(info.resumable).toBe(true);
    }
  });

  it("TLS 1.3: the client's 'session' event fires once per ticket (CLIENT | NO_INTERNAL_STORE)", async () => {
    const { port } = await startServer({ numTickets: 3 });
    const context = track(clientContext({ minVersion: 'TLSv1.3', sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE }));
    const early: SslSession[] = [];
    const late: SslSession[] = [];
    const client = await connectTo(port, context, null, { onSession: (s) => early.push(s) });
    client.on('session', (s: SslSession) => late.push(s)); // attached after connect() resolved: still in time
    await readBytes(client, GREETING.length);
    expect(early.length).toBe(3);
    expect(late).toEqual(early); // the same handles, in the same order
    expect(new Set(early.map((s) => s.get0Ticket()!.toString('hex'))).size).toBe(3);
    for (const s of early) {
      expect(s.getProtocolVersion()).toBe(0x0304);
      expect(s.isResumable()).toBe(true);
    }
    await endClient(client);
    expect(early.length).toBe(3); // nothing more after the close

    // Each ticket resumes once.
    const resumed = await connectTo(port, context, early[1]!);
    expect(resumed.isSessionReused()).toBe(true);
    await endClient(resumed);
    for (const s of early) s.dispose();
  });

  it("TLS 1.3: a first 'session' listener added after connect() resolved still gets the tickets (installed at the next engine step)", async () => {
    const { port } = await startServer({ numTickets: 2 });
    const context = track(clientContext({ minVersion: 'TLSv1.3', sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE }));
    const late: SslSession[] = [];
    const first = await connectTo(port, context, null);
    first.on('session', (s: SslSession) => late.push(s));
    await readBytes(first, GREETING.length);
    await endClient(first);
    expect(late.length).toBe(2);
    expect(late.every((s) => s.isResumable())).toBe(true);
    for (const s of late) s.dispose();
  });

  it("TLS 1.3: disposing a 'session' event's handle leaves the context's onNewSession handle alive", async () => {
    const { port } = await startServer({ numTickets: 2 });
    const context = track(clientContext({ minVersion: 'TLSv1.3', sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE }));
    const kept: SslSession[] = [];
    context.onNewSession((session) => kept.push(session)); // e.g. a client session cache
    const seen: SslSession[] = [];
    const client = await connectTo(port, context, null, {
      onSession: (session) => {
        seen.push(session);
        session.dispose(); // done with it, as lib/cli/demo.ts does
      },
    });
    await readBytes(client, GREETING.length);
    await endClient(client);
    expect(seen.length).toBe(2);
    expect(kept.length).toBe(2);
    for (let i = 0; i < 2; i++) {
      expect(seen[i]!.disposed).toBe(true);
      expect(kept[i]!.disposed).toBe(false);
      expect(kept[i]!.isResumable()).toBe(true);
    }
    const resumed = await connectTo(port, context, kept[0]!);
    expect(resumed.isSessionReused()).toBe(true);
    await endClient(resumed);
    for (const s of kept) s.dispose();
  });

  it("TLS 1.3: no 'session' event when the client context caches nothing (SESS_CACHE.OFF)", async () => {
    const { port } = await startServer({ numTickets: 3 });
    const context = track(clientContext({ minVersion: 'TLSv1.3' }));
    const got: SslSession[] = [];
    const client = await connectTo(port, context, null, { onSession: (s) => got.push(s) });
    await readBytes(client, GREETING.length);
    await endClient(client);
    expect(got.length).toBe(0);
    // ...but the session is still there for SSL_get1_session.
    const session = client.get1Session();
    expect(session?.isResumable()).toBe(true);
    session?.dispose();
  });
});

// ----- data ------------------------------------------------------------------------------

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('data both ways', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('%s: echoes small messages and a 1 MB payload', async (version) => {
    const { port } = await startServer({}, { echo: true });
    const context = track(clientContext({ minVersion: version, maxVersion: version }));
    const client = await connectTo(port, context);
    expect(client.getProtocol()).toBe(version);

    client.write('ping');
    expect((await readBytes(client, 4)).toString()).toBe('ping');

    const payload = randomBytes(1024 * 1024);
    const received = readBytes(client, payload.length);
    // One big write and many small ones: both must arrive intact and in order.
    client.write(payload.subarray(0, 512 * 1024));
    for (let offset = 512 * 1024; offset < payload.length; offset += 1000) client.write(payload.subarray(offset, offset + 1000));
    const echoed = await received;
    expect(echoed.length).toBe(payload.length);
    expect(sha256(echoed)).toBe(sha256(payload));
    await endClient(client);
  });

  it("resumed TLS 1.2: the client's Finished and its first write share a segment; so do the reply and close_notify", async () => {
    const context = track(serverContext({ maxVersion: 'TLSv1.2' }));
    const serverChunks: number[][][] = []; // per accepted connection
    const server = createServer({ context }, (socket) => {
      socket.once('data', () => socket.end(GREETING)); // reply, then close
      socket.on('error', () => {});
    });
    server.server.on('connection', (raw: net.Socket) => {
      const chunks: number[][] = [];
      serverChunks.push(chunks);
      raw.on('data', (chunk: Buffer) => chunks.push(recordTypes(chunk)));
    });
    const { port } = await server.listen(0, HOST);
    cleanups.push(() => server.close());
    const clientCtx = track(clientContext({ maxVersion: 'TLSv1.2' }));
    const roundTrip = async (session: SslSession | null) => {
      const client = await connectTo(port, clientCtx, session);
      const chunks: number[][] = [];
      client.socket.on('data', (chunk: Buffer) => chunks.push(recordTypes(chunk)));
      client.write('ping'); // right after `await connect()`
      client.resume();
      await once(client, 'end');
      return { client, chunks };
    };
    const first = await roundTrip(null);
    const session = first.client.get1Session();
    const second = await roundTrip(session);
    expect(second.client.isSessionReused()).toBe(true);
    // Server side: ClientHello, then [ChangeCipherSpec, Finished, application data] in one read.
    expect(serverChunks[1]!.slice(0, 2)).toEqual([[22], [20, 22, 23]]);
    // Client side, after connect() resolved: [application data (reply), alert (close_notify)].
    expect(second.chunks).toEqual([[23, 21]]);
    session?.dispose();
  });

  it('each flight is one transport write of one Buffer, and the transport is never corked', async () => {
    const context = track(serverContext({ maxVersion: 'TLSv1.2' }));
    const server = createServer({ context }, (socket) => {
      socket.once('data', () => socket.end(GREETING)); // reply and close_notify: one flight
      socket.on('error', () => {});
    });
    const writes: number[][][] = []; // per accepted connection: the record types of each write()
    server.server.on('connection', (raw: net.Socket) => {
      const perWrite: number[][] = [];
      writes.push(perWrite);
      const write = raw.write.bind(raw) as (chunk: Buffer) => boolean;
      raw.write = ((chunk: Buffer) => {
        perWrite.push(recordTypes(chunk));
        return write(chunk);
      }) as typeof raw.write;
      raw.cork = () => {
        throw new Error('the transport was corked');
      };
    });
    const { port } = await server.listen(0, HOST);
    cleanups.push(() => server.close());
    const clientCtx = track(clientContext({ maxVersion: 'TLSv1.2' }));
    const roundTrip = async (session: SslSession | null) => {
      const client = await connectTo(port, clientCtx, session);
      client.write('ping');
      client.resume();
      await once(client, 'end');
      return client;
    };
    const first = await roundTrip(null);
    const session = first.get1Session();
    const second = await roundTrip(session);
    expect(second.isSessionReused()).toBe(true);
    // Resumed: [ServerHello, ChangeCipherSpec, Finished], then [reply, close_notify].
    expect(writes[1]).toEqual([
      [22, 20, 22],
      [23, 21],
    ]);
    session?.dispose();
  });

  it("end(): 'finish' follows the transport's; a transport destroyed first leaves no error behind", async () => {
    const { port, accepted } = await startServer({}, { read: true });
    const context = track(clientContext());
    const order: string[] = [];
    const client = await connectTo(port, context);
    client.socket.once('finish', () => order.push('transport finish'));
    client.once('finish', () => order.push('tls finish'));
    await readBytes(client, GREETING.length);
    client.end();
    await once(client, 'finish');
    expect(order).toEqual(['transport finish', 'tls finish']);

    // The server side ends first here: its transport is destroyed before it finished, which
    // used to hand an end() callback an ERR_STREAM_DESTROYED (a stack trace for nobody).
    const second = await connectTo(port, context);
    await readBytes(second, GREETING.length);
    const peer = accepted[accepted.length - 1]!;
    const transport = peer.socket as net.Socket;
    const endArgs: unknown[][] = [];
    const end = transport.end.bind(transport);
    transport.end = ((...args: unknown[]) => {
      endArgs.push(args);
      return end(...(args as []));
    }) as typeof transport.end;
    peer.end();
    for (let i = 0; i < 100 && endArgs.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    peer.destroy();
    expect(endArgs).toHaveLength(1); // _final ended the transport...
    expect(endArgs[0]!.some((a) => typeof a === 'function')).toBe(false); // ...without a callback to fail
    expect(peer.errored).toBeNull();
  });

  it('applies backpressure: a client that stops reading stalls the writer, then gets every byte', async () => {
    const payload = randomBytes(16 * 1024 * 1024); // more than loopback socket buffers hold
    const context = track(serverContext());
    let serverSocket: TlsSocket | undefined;
    let accepted = 0; // bytes the server's write() took so far
    const server = createServer({ context }, async (socket) => {
      serverSocket = socket;
      socket.on('error', () => {});
      // A well-behaved writer: 64 KB at a time, waiting for 'drain' when write() says so.
      for (let offset = 0; offset < payload.length; offset += 65536) {
        accepted += Math.min(65536, payload.length - offset);
        if (!socket.write(payload.subarray(offset, offset + 65536))) await once(socket, 'drain');
        if (socket.destroyed) return;
      }
      socket.end();
    });
    const { port } = await server.listen(0, HOST);
    cleanups.push(() => server.close());

    const client = await connectTo(port, track(clientContext()));
    // Not reading: the plaintext buffered on our side stays bounded (the TCP socket is paused
    // once the readable buffer is full), so the kernel buffers fill and the server stalls.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.readableLength).toBeGreaterThan(0);
    expect(client.readableLength).toBeLessThan(512 * 1024);
    expect((client.socket as net.Socket).isPaused()).toBe(true);
    expect(accepted).toBeLessThan(payload.length / 2);
    expect(serverSocket?.writableNeedDrain).toBe(true);

    const all = await readBytes(client, payload.length);
    expect(all.length).toBe(payload.length);
    expect(sha256(all)).toBe(sha256(payload));
    expect(accepted).toBe(payload.length);
    await endClient(client);
  });
});

// ----- peers that misbehave ----------------------------------------------------------------

/** A real ClientHello, made by our engine. */
function clientHelloBytes(): Buffer {
  const context = new SslContext('client');
  const connection = new SslConnection(context);
  connection.setTlsextHostName('localhost');
  connection.doHandshake();
  const hello = connection.takeOutput()!;
  connection.free();
  context.close();
  return hello;
}

describe('client: a peer that fails the handshake', () => {
  it('rejects with ECONNRESET when the server hangs up at once, and frees the connection', async () => {
    const port = await startRawServer((socket) => socket.destroy());
    let connection: SslConnection | undefined;
    const context = track(clientContext());
    const error = await connectTo(port, context, null, { prepare: (c) => (connection = c) }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.code).toBe('ECONNRESET');
    expect(error!.message).toMatch(/peer closed the connection before the handshake finished/);
    expect(connection).toBeDefined();
    expect(connection!.freed).toBe(true);
  });

  it('rejects with ECONNRESET when the server reads the ClientHello, then closes', async () => {
    const port = await startRawServer((socket) => socket.once('data', () => socket.end()));
    let connection: SslConnection | undefined;
    const error = await connectTo(port, track(clientContext()), null, { prepare: (c) => (connection = c) }).then(
      () => null,
      (e: Error & { code?: string; cause?: unknown }) => e,
    );
    expect(error?.code).toBe('ECONNRESET');
    // OpenSSL's own view of the EOF travels along as the cause.
    expect(error?.cause).toBeInstanceOf(OpenSSLError);
    expect((error?.cause as OpenSSLError).code).toBe('ERR_SSL_UNEXPECTED_EOF_WHILE_READING');
    expect(connection!.freed).toBe(true);
  });

  it('rejects with an OpenSSLError when the server answers with garbage', async () => {
    const port = await startRawServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    let connection: SslConnection | undefined;
    const error = await connectTo(port, track(clientContext()), null, { prepare: (c) => (connection = c) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenSSLError);
    expect((error as OpenSSLError).code).toBe('ERR_SSL_WRONG_VERSION_NUMBER');
    expect((error as OpenSSLError).message).toMatch(/wrong version number/);
    expect(connection!.freed).toBe(true);
  });

  it('rejects with ECONNREFUSED when nothing listens, and frees the connection', async () => {
    const probe = net.createServer().listen(0, HOST);
    await once(probe, 'listening');
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    let connection: SslConnection | undefined;
    const error = await connectTo(port, track(clientContext()), null, { prepare: (c) => (connection = c) }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(error?.code).toBe('ECONNREFUSED');
    expect(connection!.freed).toBe(true);
  });

  it('rejects with ERR_TLS_HANDSHAKE_TIMEOUT when the server never answers', async () => {
    const port = await startRawServer(() => {}); // accepts, reads nothing, says nothing
    let connection: SslConnection | undefined;
    const started = Date.now();
    const error = await connectTo(port, track(clientContext()), null, {
      handshakeTimeout: 150,
      prepare: (c) => (connection = c),
    }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    const elapsed = Date.now() - started;
    expect(error?.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(error?.message).toMatch(/timed out after 150 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(5000);
    expect(connection!.freed).toBe(true);
  });
});

describe('server: clients that fail the handshake', () => {
  async function rawClient(port: number, send: (socket: net.Socket) => void): Promise<void> {
    const socket = net.connect({ host: HOST, port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    send(socket);
    socket.resume();
    await once(socket, 'close');
  }

  async function nextClientError(setup: ServerSetup) {
    while (setup.clientErrors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    return setup.clientErrors.shift()!;
  }

  it("half a ClientHello, then a hang-up: 'tlsClientError', and the server keeps serving", async () => {
    const setup = await startServer();
    const hello = clientHelloBytes();
    await rawClient(setup.port, (socket) => socket.end(hello.subarray(0, hello.length >> 1)));
    const { error, socket } = await nextClientError(setup);
    expect(error.code).toBe('ECONNRESET');
    expect(error.message).toMatch(/before the handshake finished/);
    expect(socket?.connection.freed).toBe(true);

    const client = await connectTo(setup.port, track(clientContext()));
    expect(await readBytes(client, GREETING.length)).toEqual(GREETING);
    await endClient(client);
    expect(setup.accepted.length).toBe(1);
  });

  it("an HTTP request: 'tlsClientError' with ERR_SSL_HTTP_REQUEST", async () => {
    const setup = await startServer();
    await rawClient(setup.port, (socket) => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    const { error } = await nextClientError(setup);
    expect(error).toBeInstanceOf(OpenSSLError);
    expect(error.code).toBe('ERR_SSL_HTTP_REQUEST');
  });

  it("a silent client: 'tlsClientError' with ERR_TLS_HANDSHAKE_TIMEOUT (handshakeTimeout)", async () => {
    const setup = await startServer({}, { handshakeTimeout: 100 });
    const started = Date.now();
    await rawClient(setup.port, () => {}); // resolves when the server closed it
    const { error } = await nextClientError(setup);
    expect(error.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('an error right behind the handshake (same read step)', () => {
  // A bogus application-data record: the peer cannot decrypt it (bad record mac).
  const BOGUS_RECORD = Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(0x20, 0xab)]);

  /** Drives `connection` over `socket` by hand; the `flight`-th output gets BOGUS_RECORD appended. */
  function driveRaw(connection: SslConnection, socket: net.Socket, flight: number): void {
    let flights = 0;
    const send = () => {
      let out = connection.takeOutput();
      if (out === null) return;
      if (++flights === flight) out = Buffer.concat([out, BOGUS_RECORD]);
      socket.write(out);
    };
    socket.on('data', (chunk: Buffer) => {
      if (connection.freed) return;
      connection.feed(chunk);
      try {
        connection.doHandshake();
      } catch {
        // the peer's alert
      }
      send();
    });
    socket.on('error', () => {});
    if (!connection.isServer) {
      connection.doHandshake();
      send();
    }
  }

  it("server: the error reaches the listener attached in 'secureConnection'", async () => {
    const context = track(serverContext());
    const errors: Error[] = [];
    const server = createServer({ context }, (socket) => socket.on('error', (e) => errors.push(e)));
    const { port } = await server.listen(0, HOST);
    cleanups.push(() => server.close());
    const secured = once(server, 'secureConnection');

    const clientCtx = track(clientContext({ minVersion: 'TLSv1.3' }));
    const connection = new SslConnection(clientCtx);
    cleanups.push(() => connection[Symbol.dispose]());
    const socket = net.connect({ host: HOST, port });
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    driveRaw(connection, socket, 2); // flight 2 = the client's Finished
    const [tlsSocket] = (await secured) as [TlsSocket];
    if (!tlsSocket.closed) await once(tlsSocket, 'close');
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(OpenSSLError);
    expect((errors[0] as OpenSSLError).code).toMatch(/^ERR_SSL_(DECRYPTION_FAILED_OR_)?BAD_RECORD_MAC$/);
  });

  it('client: connect() resolves with the handshake done, and the error is kept on the client (not unhandled)', async () => {
    const context = track(serverContext());
    const port = await startRawServer((socket) => {
      const connection = new SslConnection(context);
      socket.on('close', () => connection[Symbol.dispose]());
      driveRaw(connection, socket, 1); // flight 1 = ServerHello ... server Finished (TLS 1.3)
    });
    const client = await connectTo(port, track(clientContext({ minVersion: 'TLSv1.3' })));
    expect(client.secure).toBe(true);
    if (!client.closed) await once(client, 'close');
    expect(client.errored).toBeInstanceOf(OpenSSLError);
    expect((client.errored as OpenSSLError).code).toMatch(/BAD_RECORD_MAC$/);
  });
});

// ----- the event loop --------------------------------------------------------------------

describe('the event loop', () => {
  it('keeps ticking during 20 handshakes', async () => {
    const { port } = await startServer();
    const context = track(clientContext());
    let ticks = 0;
    let maxLag = 0;
    let last = performance.now();
    const interval = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last);
      last = now;
      ticks++;
    }, 2);
    cleanups.push(() => clearInterval(interval));
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const client = await connectTo(port, context);
      await readBytes(client, GREETING.length);
      await endClient(client);
      client.free();
    }
    const elapsed = performance.now() - started;
    clearInterval(interval);
    // The timer ran all along (each handshake yields between network round trips).
    expect(ticks).toBeGreaterThanOrEqual(Math.min(20, Math.floor(elapsed / 20)));
    expect(maxLag).toBeLessThan(250);
  });

  it('sends the first bytes after the handshake without waiting for a delayed ACK (TCP_NODELAY)', async () => {
    // With Nagle on, the server's greeting (a small write after its unacknowledged last
    // handshake flight) waits ~40 ms for the client's delayed ACK on every connection.
    const { port } = await startServer();
    const context = track(clientContext({ maxVersion: 'TLSv1.2' }));
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const client = await connectTo(port, context);
      const started = performance.now();
      await readBytes(client, GREETING.length);
      latencies.push(performance.now() - started);
      await endClient(client);
    }
    latencies.sort((a, b) => a - b);
    expect(latencies[2]).toBeLessThan(25);
  });
});

// ----- verification ------------------------------------------------------------------------

describe('certificate verification', () => {
  it("succeeds with verify: true, ca = the server's certificate, host 'localhost'", async () => {
    const { port } = await startServer();
    const client = await connect({ host: HOST, port, servername: 'localhost', context: track(clientContext()) });
    cleanups.push(() => client.destroy());
    expect(client.connection.getVerifyResult()).toBe(0);
    expect(client.connection.verifyResultString()).toBe('ok');
    expect(client.getPeerCertificate()?.length).toBeGreaterThan(0);
    await endClient(client);
    client.free();
  });

  it("fails with checkHost 'wrong.example': ERR_SSL_CERTIFICATE_VERIFY_FAILED, hostname mismatch", async () => {
    const setup = await startServer();
    let connection: SslConnection | undefined;
    const error = await connectTo(setup.port, track(clientContext()), null, {
      checkHost: 'wrong.example',
      prepare: (c) => (connection = c),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenSSLError);
    expect((error as OpenSSLError).code).toBe('ERR_SSL_CERTIFICATE_VERIFY_FAILED');
    expect((error as OpenSSLError).verifyError).toBe('hostname mismatch');
    expect((error as OpenSSLError).message).toMatch(/hostname mismatch/);
    expect(connection!.freed).toBe(true);
    // The server hears about it as an alert.
    while (setup.clientErrors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(setup.clientErrors[0]!.error.code).toBe('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE');
    expect(setup.accepted.length).toBe(0);
  });

  it('fails for a certificate nobody trusts (no ca): self-signed certificate', async () => {
    const { port } = await startServer();
    const context = track(new SslContext('client', { verify: true }));
    const error = await connectTo(port, context).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as OpenSSLError).code).toBe('ERR_SSL_CERTIFICATE_VERIFY_FAILED');
    expect((error as OpenSSLError).verifyError).toMatch(/self.signed certificate/);
  });

  it('the fixture certificate is the one the client saw', async () => {
    const { port } = await startServer();
    const client = await connectTo(port, track(clientContext()));
    const der = client.getPeerCertificate()!;
    const pemBody = pair.cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    expect(der.toString('base64')).toBe(pemBody);
    await endClient(client);
  });
});
