/**
 * Sessions cross between node:tls and openssl-session as DER: both run the OpenSSL inside
 * node. For TLS 1.2 and TLS 1.3, against a node:tls server and against our server:
 *  (a) node:tls client session -> fromNodeSession / SslSession.fromDER -> resumes through our connect();
 *  (b) our client session -> toNodeSession -> resumes through tls.connect({ session }).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  SslContext,
  SslSession,
  type TlsServer,
  type TlsSocket,
  VERSION,
  connect,
  createServer,
  fromNodeSession,
  toNodeSession,
} from '../lib/index.js';
import { clientContext, pair, serverContext } from './helpers/fixtures.js';

const HOST = '127.0.0.1';
const GREETING = 'hello\n';
type Version = 'TLSv1.2' | 'TLSv1.3';

// ----- servers: one instance each for the whole file (resumption needs the same keys) -------

let nodeServer: tls.Server;
let nodePort: number;
const nodeSockets = new Set<tls.TLSSocket>();
let ourServer: TlsServer;
let ourContext: SslContext;
let ourPort: number;

beforeAll(async () => {
  // node:tls server: writes a greeting after the handshake (TLS 1.3 tickets precede it).
  nodeServer = tls.createServer({ key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' }, (socket) => {
    nodeSockets.add(socket);
    socket.on('close', () => nodeSockets.delete(socket));
    socket.on('error', () => {});
    socket.write(GREETING);
    socket.resume();
  });
  nodeServer.listen(0, HOST);
  await once(nodeServer, 'listening');
  nodePort = (nodeServer.address() as net.AddressInfo).port;

  ourContext = serverContext({ minVersion: 'TLSv1.2' });
  ourServer = createServer({ context: ourContext }, (socket) => {
    socket.on('error', () => {});
    socket.write(GREETING);
    socket.resume();
  });
  ourPort = (await ourServer.listen(0, HOST)).port;
});

afterAll(async () => {
  for (const socket of nodeSockets) socket.destroy();
  await new Promise((resolve) => nodeServer.close(resolve));
  await ourServer.close();
  ourContext.close();
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SERVERS = [
  { name: 'a node:tls server', port: () => nodePort },
  { name: 'our server', port: () => ourPort },
] as const;
const VERSIONS: readonly Version[] = ['TLSv1.2', 'TLSv1.3'];
const CASES = SERVERS.flatMap((server) => VERSIONS.map((version) => ({ server: server.name, port: server.port, version })));

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ----- node:tls client -------------------------------------------------------------------

interface NodeResult {
  reused: boolean;
  protocol: string | null;
  /** DER from the first 'session' event (TLS 1.3: a ticket). */
  eventSession: Buffer | undefined;
  /** socket.getSession() once the greeting arrived. */
  gotSession: Buffer | undefined;
}

/** tls.connect, read the greeting (so TLS 1.3 tickets have arrived), close cleanly. */
async function nodeConnect(port: number, version: Version, session?: Buffer): Promise<NodeResult> {
  const socket = tls.connect({
    host: HOST,
    port,
    servername: 'localhost',
    ca: pair.cert,
    minVersion: version,
    maxVersion: version,
    ...(session ? { session } : {}),
  });
  cleanups.push(() => socket.destroy());
  let eventSession: Buffer | undefined;
  const firstSession = new Promise<void>((resolve) =>
    socket.on('session', (der: Buffer) => {
      eventSession ??= der;
      resolve();
    }),
  );
  await once(socket, 'secureConnect');
  const [data] = (await once(socket, 'data')) as [Buffer];
  expect(data.toString()).toBe(GREETING);
  // node:tls may deliver a TLS 1.3 ticket after the first application bytes.
  if (!session) await within(firstSession, 2000, "node:tls 'session' event");
  const result = {
    reused: socket.isSessionReused(),
    protocol: socket.getProtocol(),
    eventSession,
    gotSession: socket.getSession(),
  };
  const closed = once(socket, 'close');
  socket.end();
  await closed;
  return result;
}

// ----- our client ------------------------------------------------------------------------

let ctx12: SslContext;
let ctx13: SslContext;
beforeAll(() => {
  ctx12 = clientContext({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  ctx13 = clientContext({ minVersion: 'TLSv1.3' });
});
afterAll(() => {
  ctx12.close();
  ctx13.close();
});

/** Our connect(), read the greeting, take SSL_get1_session, close cleanly. */
async function ourConnectWith(context: SslContext, port: number, session: SslSession | null = null) {
  const client = await connect({ host: HOST, port, servername: 'localhost', context, session });
  cleanups.push(() => {
    client.destroy();
    client.free();
  });
  const [data] = (await once(client, 'data')) as [Buffer];
  expect(data.toString()).toBe(GREETING);
  const result = { reused: client.isSessionReused(), protocol: client.getProtocol(), session: client.get1Session() };
  const closed = once(client, 'close');
  client.end();
  client.resume();
  await closed;
  return result;
}

// ----- (a) node:tls -> openssl-session ----------------------------------------------------

describe('(a) a node:tls session resumes through our connect()', () => {
  it.each(CASES)('$version, $server', async ({ port, version }) => {
    const first = await nodeConnect(port(), version);
    expect(first.reused).toBe(false);
    expect(first.protocol).toBe(version);
    expect(first.eventSession).toBeInstanceOf(Buffer);
    expect(first.gotSession).toBeInstanceOf(Buffer);

    for (const [how, der] of [
      ['fromNodeSession', first.eventSession!],
      ['SslSession.fromDER', first.gotSession!],
    ] as const) {
      const session = how === 'fromNodeSession' ? fromNodeSession(der) : SslSession.fromDER(der);
      cleanups.push(() => session[Symbol.dispose]());
      expect(session).toBeInstanceOf(SslSession);
      expect(session.getProtocolVersion()).toBe(version === 'TLSv1.3' ? VERSION.TLS1_3 : VERSION.TLS1_2);
      expect(session.isResumable()).toBe(true);
      // The DER round-trips byte for byte.
      expect(toNodeSession(session).equals(der)).toBe(true);

      const context = version === 'TLSv1.3' ? ctx13 : ctx12;
      const resumed = await ourConnectWith(context, port(), session);
      expect(resumed.reused, how).toBe(true);
      expect(resumed.protocol).toBe(version);
      resumed.session?.dispose();
    }
  });
});

// ----- (b) openssl-session -> node:tls ----------------------------------------------------

describe('(b) our session resumes through tls.connect({ session })', () => {
  it.each(CASES)('$version, $server', async ({ port, version }) => {
    const context = version === 'TLSv1.3' ? ctx13 : ctx12;
    const first = await ourConnectWith(context, port());
    expect(first.reused).toBe(false);
    const session = first.session!;
    cleanups.push(() => session[Symbol.dispose]());
    expect(session.isResumable()).toBe(true);

    const der = toNodeSession(session);
    expect(der).toBeInstanceOf(Buffer);
    expect(der.equals(session.toDER())).toBe(true);

    const resumed = await nodeConnect(port(), version, der);
    expect(resumed.reused).toBe(true);
    expect(resumed.protocol).toBe(version);
  });

  it('a session node:tls cannot use is not resumed (control: a fresh context has other ticket keys)', async () => {
    // Same certificate, different server (new SSL_CTX, new ticket keys, empty cache): the
    // session is offered and refused, so the assertions above are not vacuous.
    const otherContext = serverContext({ minVersion: 'TLSv1.2' });
    const other = createServer({ context: otherContext }, (socket: TlsSocket) => {
      socket.on('error', () => {});
      socket.write(GREETING);
      socket.resume();
    });
    const { port } = await other.listen(0, HOST);
    cleanups.push(async () => {
      await other.close();
      otherContext.close();
    });
    const first = await ourConnectWith(ctx12, ourPort);
    cleanups.push(() => first.session?.dispose());
    const resumed = await nodeConnect(port, 'TLSv1.2', toNodeSession(first.session!));
    expect(resumed.reused).toBe(false);
  });
});
