/**
 * In-memory connection helpers for the test/ssl-context.* files: one real OpenSSL handshake
 * per call, both sides driven by lib/engine/memory-pair.ts, no sockets.
 */
import { SslConnection, type SslContext, type SslSession } from '../../lib/index.js';
import { drain, handshakeInMemory, pipe, shutdownInMemory, transfer } from '../../lib/engine/memory-pair.js';

export interface ConnectOptions {
  /** Session the client offers (SSL_set_session). */
  session?: SslSession | null;
  /**
   * After the handshake, the server sends one byte and the client reads it (so a TLS 1.3
   * client processes the NewSessionTickets queued before it). Default true.
   */
  exchange?: boolean;
  /** 'both': close_notify both ways before freeing (default). 'none': free at once. */
  shutdown?: 'both' | 'none';
  /** Keep the connections open (the caller frees them). Default false. */
  keep?: boolean;
  /** Called with both new connections before the handshake (to set listeners on them). */
  prepare?: (client: SslConnection, server: SslConnection) => void;
}

export interface Connected {
  client: SslConnection;
  server: SslConnection;
  /** SSL_session_reused on the client. */
  reused: boolean;
  /** SSL_session_reused on the server. */
  serverReused: boolean;
  /** The client's session (SSL_get1_session) after the exchange, before shutdown. */
  session: SslSession | null;
  /** The server's session (SSL_get1_session): for TLS 1.2 the very object OpenSSL cached. */
  serverSession: SslSession | null;
}

/** One full connection: handshake, optional byte exchange, polite shutdown, free. */
export function connect(clientCtx: SslContext, serverCtx: SslContext, options: ConnectOptions = {}): Connected {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  options.prepare?.(client, server);
  if (options.session) client.setSession(options.session);
  handshakeInMemory(client, server);
  if (options.exchange ?? true) {
    transfer(server, client, Buffer.from('s'));
    transfer(client, server, Buffer.from('c'));
  }
  const result: Connected = {
    client,
    server,
    reused: client.sessionReused(),
    serverReused: server.sessionReused(),
    session: client.get1Session(),
    serverSession: server.get1Session(),
  };
  if (!options.keep) {
    if ((options.shutdown ?? 'both') === 'both') shutdownInMemory(client, server);
    client.free();
    server.free();
  }
  return result;
}

/** Lets the client process whatever the server sent last (TLS 1.3 tickets). */
export function clientDrain(client: SslConnection, server: SslConnection): void {
  pipe(server, client);
  drain(client, server);
}

/** Seconds since the epoch, as OpenSSL's time(NULL). */
export function now(): number {
  return Math.floor(Date.now() / 1000);
}
