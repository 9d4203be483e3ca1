/**
 * A worker_thread body for test/reliability.workers.test.ts, over the PUBLIC lib (loaded
 * with tsx): in-memory handshakes with resumption and session callbacks on contexts of its
 * own, then (on request) a session DER from another worker is offered to this worker's server.
 */
import { parentPort, workerData } from 'node:worker_threads';

import {
  OP,
  OpenSSLError,
  SslConnection,
  SslContext,
  SslSession,
  createSelfSigned,
  drain,
  handshakeInMemory,
  shutdownInMemory,
} from '../../lib/index.js';

const { id } = workerData as { id: number };
const pair = createSelfSigned({ commonName: 'localhost' });
const server = new SslContext('server', {
  cert: pair.cert,
  key: pair.key,
  sessionIdContext: `worker-${id}`,
  maxVersion: 'TLSv1.2',
  options: OP.NO_TICKET,
});
const client = new SslContext('client', { ca: pair.cert, verify: true });
let newSessions = 0;
let removed = 0;
server.onNewSession((s) => {
  newSessions++;
  s.dispose();
});
server.onRemoveSession(() => removed++);

function connect(session: SslSession | null) {
  const c = new SslConnection(client);
  const s = new SslConnection(server);
  if (session) c.setSession(session);
  handshakeInMemory(c, s);
  drain(c, s);
  shutdownInMemory(c, s);
  const reused = c.sessionReused();
  const next = c.get1Session();
  c.free();
  s.free();
  return { reused, next };
}

let session: SslSession | null = null;
let reused = 0;
for (let i = 0; i < 25; i++) {
  const r = connect(session);
  if (r.reused) reused++;
  session?.dispose();
  session = r.next;
}
let errorClass = 'none';
try {
  SslSession.fromDER(Buffer.from('garbage'));
} catch (error) {
  errorClass = error instanceof OpenSSLError ? 'OpenSSLError (this worker)' : (error as Error).constructor.name;
}
parentPort!.postMessage({ id, reused, newSessions, hits: server.stats().hits, errorClass, der: session!.toDER() });
parentPort!.on('message', (m: { der?: Buffer; close?: boolean }) => {
  if (m.der) {
    // A session another worker made: parses here, but this worker's server never cached it.
    const foreign = SslSession.fromDER(m.der);
    const r = connect(foreign);
    foreign.dispose();
    r.next?.dispose();
    parentPort!.postMessage({ id, foreignReused: r.reused, hitsAfter: server.stats().hits });
  }
  if (m.close) {
    session?.dispose();
    server.close();
    client.close();
    parentPort!.postMessage({ id, removed });
    parentPort!.close();
  }
});
