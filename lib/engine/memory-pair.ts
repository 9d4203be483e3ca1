/**
 * Two SslConnections driven against each other in memory (no sockets): the bytes one
 * writes into its output BIO are fed to the other. Used by tests, the cache-mode lab and
 * the benchmarks; everything OpenSSL does is real, only the wire is a function call.
 */
import { SSL_ERROR } from '../constants.js';
import { SslConnection } from '../core/ssl-connection.js';
import { invalidArgType } from '../errors.js';

function connections(a: unknown, b: unknown): void {
  if (!(a instanceof SslConnection)) throw invalidArgType('client', 'an SslConnection', a);
  if (!(b instanceof SslConnection)) throw invalidArgType('server', 'an SslConnection', b);
}

/** Moves pending ciphertext from `from` to `to`. Returns whether anything moved. */
export function pipe(from: SslConnection, to: SslConnection): boolean {
  if (!(from instanceof SslConnection)) throw invalidArgType('from', 'an SslConnection', from);
  return from.pipeTo(to) > 0; // native BIO to BIO: no Buffer in between (pipeTo checks `to`)
}

/**
 * Runs both handshakes to completion, alternating steps and moving bytes between them.
 * Throws the OpenSSLError of the side that failed (after giving the other side the alert).
 */
export function handshakeInMemory(client: SslConnection, server: SslConnection, maxRounds = 32): void {
  connections(client, server);
  let clientDone = false;
  let serverDone = false;
  for (let round = 0; round < maxRounds; round++) {
    if (!clientDone) clientDone = step(client, server);
    if (!serverDone) serverDone = step(server, client);
    if (clientDone && serverDone) {
      pipe(server, client); // TLS 1.3 tickets and anything else the server sent last
      return;
    }
  }
  throw new Error(`handshake did not finish in ${maxRounds} rounds`);
}

function step(self: SslConnection, peer: SslConnection): boolean {
  try {
    return self.doHandshake() === SSL_ERROR.NONE;
  } finally {
    pipe(self, peer); // also delivers alerts when the step threw
  }
}

/**
 * Sends `data` from one side and reads it on the other (which also processes any TLS 1.3
 * NewSessionTicket queued before it). Returns what arrived.
 */
export function transfer(from: SslConnection, to: SslConnection, data: Uint8Array): Buffer {
  connections(from, to);
  from.write(data);
  pipe(from, to);
  const got = to.read();
  pipe(to, from);
  return got ?? Buffer.alloc(0);
}

/** Lets `conn` process what it has received (e.g. tickets) without expecting data. */
export function drain(conn: SslConnection, peer: SslConnection): Buffer | null {
  const got = conn.read();
  pipe(conn, peer);
  return got;
}

/** Both sides send close_notify; returns the shutdown results [client, server]. */
export function shutdownInMemory(client: SslConnection, server: SslConnection): [number, number] {
  client.shutdown();
  pipe(client, server);
  server.read(); // sees close_notify
  const s = server.shutdown();
  pipe(server, client);
  client.read();
  const c = client.shutdown();
  return [c, s];
}
