/**
 * Helpers for the server-side cache tests: in-memory handshakes that honour a paused
 * ClientHello (SSL_ERROR.WANT_CLIENT_HELLO_CB), as a TLS driver must.
 */
import { clientHelloPending } from '../../lib/core/client-hello.js';
import { drain, pipe, shutdownInMemory, SSL_ERROR, SslConnection, type SslContext, type SslSession } from '../../lib/index.js';

export interface AsyncHandshakeResult {
  /** Times the server's handshake paused for its client hello callback. */
  pauses: number;
  /** Time spent paused, ms. */
  pausedMs: number;
}

/**
 * Runs both handshakes to completion in memory; whenever the server's step reports
 * WANT_CLIENT_HELLO_CB it waits for clientHelloPending() (the event loop keeps running) and
 * steps again, exactly what TlsSocket must do.
 */
export async function handshakeAsync(client: SslConnection, server: SslConnection, maxRounds = 32): Promise<AsyncHandshakeResult> {
  let clientDone = false;
  let serverDone = false;
  let pauses = 0;
  let pausedMs = 0;
  for (let round = 0; round < maxRounds; round++) {
    if (!clientDone) {
      try {
        clientDone = client.doHandshake() === SSL_ERROR.NONE;
      } finally {
        pipe(client, server);
      }
    }
    if (!serverDone) {
      let status: number;
      try {
        status = server.doHandshake();
      } finally {
        pipe(server, client);
      }
      while (status === SSL_ERROR.WANT_CLIENT_HELLO_CB) {
        const wait = clientHelloPending(server);
        if (wait === null) throw new Error('WANT_CLIENT_HELLO_CB without a pending client hello');
        pauses++;
        const start = performance.now();
        await wait;
        pausedMs += performance.now() - start;
        try {
          status = server.doHandshake();
        } finally {
          pipe(server, client);
        }
      }
      serverDone = status === SSL_ERROR.NONE;
    }
    if (clientDone && serverDone) {
      pipe(server, client);
      return { pauses, pausedMs };
    }
  }
  throw new Error(`handshake did not finish in ${maxRounds} rounds`);
}

export interface ConnectResult extends AsyncHandshakeResult {
  reused: boolean;
  version: string;
  /** Client sessions from this connection's new-session callback (TLS 1.2: the session; TLS 1.3: the tickets), newest last. */
  sessions: SslSession[];
  /**
   * SSL_get1_session at the end: also a TLS 1.2 session whose ticket the server renewed during a
   * resumption (OpenSSL's client calls no new-session callback for a resumed TLS 1.2 handshake).
   */
  final: SslSession | null;
}

/**
 * One complete connection in memory: handshake (honouring pauses), one exchange (TLS 1.3
 * tickets arrive), clean shutdown on both sides, both freed. The client context needs
 * SESS_CACHE.CLIENT for `sessions` to fill.
 */
export async function connectInMemory(clientCtx: SslContext, serverCtx: SslContext, offer?: SslSession | null): Promise<ConnectResult> {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  const sessions: SslSession[] = [];
  client.setSessionListener((s) => sessions.push(s));
  client.setTlsextHostName('localhost');
  if (offer) client.setSession(offer);
  try {
    const result = await handshakeAsync(client, server);
    server.write(Buffer.from('hello'));
    pipe(server, client);
    drain(client, server);
    shutdownInMemory(client, server);
    return { ...result, reused: client.sessionReused(), version: client.getVersion(), sessions, final: client.get1Session() };
  } finally {
    client.setSessionListener(null);
    client.free();
    server.free();
  }
}
