/**
 * One server of examples/fleet.ts: TLS on a 127.0.0.1 port, its session cache in a Redis every
 * server shares (ServerSessionCache + RedisStore), and ticket keys shared through the same Redis
 * (TicketKeys.fromStore). Each connection gets one line, "server <pid> <port>: resumed=yes|no",
 * then close_notify.
 *
 * Run as a child process (`fork` with `--import tsx`) it is driven over IPC:
 *   parent -> { type: 'start', options }      child -> { type: 'listening', port, pid }
 *   parent -> { type: 'stats' }               child -> { type: 'stats', stats }
 *   parent -> { type: 'stop' }                child exits
 *
 * The socket driver below is deliberately small: it is what TlsSocket does, plus the one thing
 * an async session lookup needs — when a handshake step reports SSL_ERROR.WANT_CLIENT_HELLO_CB,
 * wait for clientHelloPending(connection) and step again. Once TlsSocket does that too
 * (lib/tls), `createServer({ context })` replaces acceptTls().
 */
import * as net from 'node:net';

import { clientHelloPending } from '../lib/core/client-hello.js';
import { OP, SSL_ERROR, SslConnection, SslContext, type KeyPair } from '../lib/index.js';
import { ServerSessionCache, TicketKeys, type ServerSessionCacheStats, type TicketKeysStats } from '../lib/server/index.js';
import { RedisStore, type RedisStoreStats } from '../lib/stores/redis-store.js';

/** How sessions resume across the fleet. */
export type FleetMode = 'tls12-ids' | 'tls13-stateful' | 'tls13-tickets' | 'tls12-tickets';

export const FLEET_MODES: Record<FleetMode, string> = {
  'tls12-ids': 'TLS 1.2 session ids, sessions in Redis (OP.NO_TICKET)',
  'tls13-stateful': 'TLS 1.3 stateful tickets (the PSK identity is a session id in Redis; OP.NO_TICKET)',
  'tls13-tickets': 'TLS 1.3 stateless tickets, ticket keys shared through Redis',
  'tls12-tickets': 'TLS 1.2 session tickets, ticket keys shared through Redis',
};

export interface FleetServerOptions {
  mode: FleetMode;
  keyPair: KeyPair;
  redisUrl: string;
  /** Prefix of every Redis key (default 'fleet'). */
  namespace?: string;
  /** Store lookup timeout, ms (default 50). */
  timeout?: number;
  port?: number;
}

export interface FleetServerStats {
  cache: ServerSessionCacheStats;
  tickets: TicketKeysStats;
  redis: RedisStoreStats;
  handshakes: number;
  resumed: number;
  failed: number;
}

export interface FleetServer {
  port: number;
  /** Counters, once the store writes in flight have settled. */
  stats(): Promise<FleetServerStats>;
  close(): Promise<void>;
}

/**
 * Drives one accepted connection: handshake (pausing for the store), greeting, close_notify.
 * `greeting` may be async: the greeting (and close_notify) go out once it resolves.
 */
export function acceptTls(
  socket: net.Socket,
  connection: SslConnection,
  greeting: (connection: SslConnection) => string | Promise<string>,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let secure = false;
    let waiting = false;
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      if (!connection.freed) connection.free();
      if (error !== undefined) {
        socket.destroy();
        reject(error);
      } else {
        socket.end();
        resolve(true);
      }
    };
    const flush = () => {
      const out = connection.freed ? null : connection.takeOutput();
      if (out !== null && socket.writable) socket.write(out);
    };
    const drive = () => {
      if (finished || waiting) return;
      try {
        if (!secure) {
          const status = connection.doHandshake();
          flush();
          if (status === SSL_ERROR.WANT_CLIENT_HELLO_CB) {
            // The ClientHello callback is waiting for the store: come back when it answered.
            waiting = true;
            void clientHelloPending(connection)!.then(() => {
              waiting = false;
              drive();
            });
            return;
          }
          if (status !== SSL_ERROR.NONE) return; // needs more bytes
          secure = true;
          void Promise.resolve(greeting(connection)).then((text) => {
            if (finished) return;
            try {
              connection.write(Buffer.from(text));
              connection.shutdown(); // close_notify right behind the greeting
              flush();
            } catch (error) {
              finish(error);
            }
          });
        }
        // After the handshake: wait for the client's close_notify.
        for (;;) {
          const data = connection.read();
          flush();
          if (data === null) return finish(); // close_notify: the session stays cached
          if (data.length === 0) return;
        }
      } catch (error) {
        flush();
        finish(error);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (finished) return;
      connection.feed(chunk);
      drive();
    });
    socket.on('end', () => finish(secure ? undefined : new Error('client hung up during the handshake')));
    socket.on('error', (error) => finish(error));
  });
}

/** Starts one fleet server in this process. */
export async function startFleetServer(options: FleetServerOptions): Promise<FleetServer> {
  const { mode, keyPair } = options;
  const namespace = options.namespace ?? 'fleet';
  const stateful = mode === 'tls12-ids' || mode === 'tls13-stateful';
  const context = new SslContext('server', {
    cert: keyPair.cert,
    key: keyPair.key,
    minVersion: mode.startsWith('tls13') ? 'TLSv1.3' : 'TLSv1.2',
    maxVersion: mode.startsWith('tls13') ? 'TLSv1.3' : 'TLSv1.2',
    options: stateful ? OP.NO_TICKET : 0,
  });
  const store = new RedisStore({ url: options.redisUrl, namespace });
  await store.ready();
  const cache = new ServerSessionCache({ context, store, timeout: options.timeout ?? 50 });
  const tickets = await TicketKeys.fromStore(store, { name: `${namespace}:ticket-keys` });
  context.setTicketKeys(tickets);
  const counts = { handshakes: 0, resumed: 0, failed: 0 };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const connection = new SslConnection(context);
    acceptTls(socket, connection, async (c) => {
      counts.handshakes++;
      const resumed = c.sessionReused();
      if (resumed) counts.resumed++;
      const line = `server ${process.pid} ${port}: resumed=${resumed ? 'yes' : 'no'} ${c.getVersion()}\n`;
      // Answer once the session this handshake made is in Redis: a client that reconnects
      // (to another server) as soon as it has our answer then always finds it. Without this,
      // a client faster than one Redis write gets a full handshake instead.
      await cache.flush();
      return line;
    }).catch(() => {
      counts.failed++;
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async stats() {
      await cache.flush();
      return { cache: cache.stats(), tickets: tickets.stats(), redis: store.stats(), ...counts };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cache.close();
      tickets.close();
      context.close();
      await store.close();
    },
  };
}

/** Messages of the IPC protocol (see the module comment). */
export type FleetRequest =
  { type: 'start'; id: number; options: FleetServerOptions } | { type: 'stats'; id: number; port: number } | { type: 'stop' };
export type FleetReply =
  | { type: 'listening'; id: number; port: number; pid: number }
  | { type: 'stats'; id: number; stats: FleetServerStats | null }
  | { type: 'error'; id: number; message: string };

// Child-process mode (forked by examples/fleet.ts and the tests): any number of servers.
if (process.send !== undefined && process.env.OPENSSL_SESSION_FLEET_CHILD === '1') {
  const servers = new Map<number, FleetServer>();
  const reply = (message: FleetReply) => process.send!(message);
  process.on('message', (message: FleetRequest) => {
    if (message.type === 'start') {
      startFleetServer(message.options).then(
        (server) => {
          servers.set(server.port, server);
          reply({ type: 'listening', id: message.id, port: server.port, pid: process.pid });
        },
        (error: Error) => reply({ type: 'error', id: message.id, message: error.stack ?? error.message }),
      );
    } else if (message.type === 'stats') {
      const server = servers.get(message.port);
      void (server?.stats() ?? Promise.resolve(null)).then((stats) => reply({ type: 'stats', id: message.id, stats }));
    } else if (message.type === 'stop') {
      void Promise.allSettled([...servers.values()].map((s) => s.close())).finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
