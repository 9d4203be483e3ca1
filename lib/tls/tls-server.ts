/** createServer(): TLS over net.Server, each connection driven by our engine. */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';

import { SslConnection } from '../core/ssl-connection.js';
import { SslContext } from '../core/ssl-context.js';
import { invalidArgType } from '../errors.js';
import { TlsSocket } from './tls-socket.js';

export interface ServerOptions {
  /** Server SslContext (certificate, key, cache mode, session id context...). */
  context: SslContext;
  /** Handshake timeout, ms (default 120000). */
  handshakeTimeout?: number;
  /**
   * TCP_NODELAY on accepted sockets (default true): TLS already writes whole records, and with
   * Nagle on, the first application bytes after the handshake wait ~40 ms for a delayed ACK.
   */
  noDelay?: boolean;
  /** Called with each new SslConnection before its handshake (e.g. setShutdown, setQuietShutdown). */
  prepare?: (connection: SslConnection) => void;
}

/**
 * Events: 'secureConnection' (TlsSocket, handshake done; emitted synchronously, so listeners
 * attached there see every later event), 'tlsClientError' (error, TlsSocket | null: a handshake
 * that failed, timed out or was hung up on; the server keeps serving), 'keylog' (line, TlsSocket:
 * each secret of each handshake in NSS key log format, as node:tls' server emits it; connections
 * accepted while a 'keylog' listener is attached report theirs), 'listening', 'close', 'error'.
 * Server-side connections are freed when their socket closes, so what OpenSSL does to the
 * session cache at SSL_free happens at a predictable time: a connection the client closed with
 * close_notify keeps its session cached; one that failed or was cut off loses it.
 */
export class TlsServer extends EventEmitter {
  readonly context: SslContext;
  /** The underlying TCP server. */
  readonly server: net.Server;
  readonly #sockets = new Set<TlsSocket>();
  readonly #options: ServerOptions;

  constructor(options: ServerOptions, onSecureConnection?: (socket: TlsSocket) => void) {
    super();
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    if (!(options.context instanceof SslContext) || !options.context.isServer) {
      throw invalidArgType('options.context', "a 'server' SslContext", options.context);
    }
    this.context = options.context;
    this.#options = options;
    if (onSecureConnection) this.on('secureConnection', onSecureConnection);
    this.server = net.createServer((socket) => this.#accept(socket));
    this.server.on('error', (error) => this.emit('error', error));
    this.server.on('close', () => this.emit('close'));
  }

  #accept(socket: net.Socket): void {
    if (this.#options.noDelay ?? true) socket.setNoDelay(true);
    let connection: SslConnection;
    try {
      connection = new SslConnection(this.context);
      this.#options.prepare?.(connection);
    } catch (error) {
      socket.destroy();
      this.emit('tlsClientError', error, null);
      return;
    }
    const tls = new TlsSocket(socket, connection, {
      freeOnClose: true,
      ...(this.#options.handshakeTimeout !== undefined ? { handshakeTimeout: this.#options.handshakeTimeout } : {}),
    });
    this.#sockets.add(tls);
    if (this.listenerCount('keylog') > 0) tls.on('keylog', (line: Buffer) => this.emit('keylog', line, tls));
    tls.on('close', () => this.#sockets.delete(tls));
    // 'secureConnection' is emitted synchronously from 'secure' (not from a promise): an error
    // found in the same step (e.g. an alert right behind the client's Finished) is emitted on
    // the next tick, which runs before promise callbacks, and must find the user's listener.
    tls.waitSecure().catch((error: Error) => {
      if (this.listenerCount('tlsClientError') > 0) this.emit('tlsClientError', error, tls);
    });
    tls.once('secure', () => this.emit('secureConnection', tls)); // after waitSecure's own listener
  }

  /** Starts listening (default 127.0.0.1 and a free port); resolves with the address. */
  listen(port = 0, host = '127.0.0.1'): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.emit('listening');
        resolve(this.address());
      });
    });
  }

  address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  /** Stops accepting; with `destroyConnections`, also closes open connections. Resolves when closed. */
  close(destroyConnections = true): Promise<void> {
    if (destroyConnections) for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
  }
}

/** Creates a TlsServer; `onSecureConnection` gets each connection after its handshake. */
export function createServer(options: ServerOptions, onSecureConnection?: (socket: TlsSocket) => void): TlsServer {
  return new TlsServer(options, onSecureConnection);
}
