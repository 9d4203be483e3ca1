/**
 * worker_threads: the addon keeps per-environment state in Napi::Addon instance data, so
 * every worker gets its own classes, error class and callback bookkeeping.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/native.js';

const addonPath = join(packageRoot, 'build', 'Release', 'openssl_session.node');

// CommonJS run inside each worker: 30 in-memory handshakes with resumption and a
// new-session callback, on contexts of its own.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const n = require(workerData.addon);
const { cert, key } = n.createSelfSigned({ commonName: 'localhost', altNames: 'DNS:localhost', days: 1, keyType: 'ec', bits: 2048 });
const server = new n.SslContext('server');
server.useCertificateChain(cert); server.usePrivateKey(key);
server.setSessionIdContext(Buffer.from('w' + workerData.id));
server.setOptions(n.OP.NO_TICKET);
const client = new n.SslContext('client');
client.setMaxProtoVersion(n.VERSION.TLS1_2);
let newSessions = 0;
server.sessSetNewCb(() => { newSessions++; });
function pipe(a, b) { const o = a.takeOutput(); if (o) b.feed(o); }
let session = null, reused = 0;
for (let i = 0; i < 30; i++) {
  const c = new n.SslConnection(client), s = new n.SslConnection(server);
  if (session) c.setSession(session);
  let cd = false, sd = false;
  for (let r = 0; r < 10 && !(cd && sd); r++) {
    if (!cd) { cd = c.doHandshake() === 0; pipe(c, s); }
    if (!sd) { sd = s.doHandshake() === 0; pipe(s, c); }
  }
  if (c.sessionReused()) reused++;
  if (session) session.dispose();
  session = c.get1Session();
  // As seed 000's server does: mark the server side shut down, or SSL_free drops the
  // session from the cache (ssl_clear_bad_session) and the next connect is NEW.
  // The client shuts down too (as the C client does): an SSL freed without it marks its
  // session not resumable, which would poison the handle get1Session() just returned.
  s.setShutdown(n.SHUTDOWN.SENT | n.SHUTDOWN.RECEIVED);
  c.shutdown();
  c.free(); s.free();
}
let errorName = null;
try { n.SslSession.fromDER(Buffer.from('nope')); } catch (e) { errorName = e.constructor.name; }
parentPort.postMessage({ id: workerData.id, reused, newSessions, hits: server.stats().hits, errorName });
if (workerData.leaveOpen) { setInterval(() => {}, 1000); } else { session.dispose(); server.close(); client.close(); }
`;

function runWorker(id: number, leaveOpen = false): { worker: Worker; result: Promise<Record<string, unknown>> } {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { id, addon: addonPath, leaveOpen } });
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, result };
}

describe('worker_threads', () => {
  it('loads in 4 workers at once, each with independent handshakes, callbacks and caches', async () => {
    const workers = [0, 1, 2, 3].map((id) => runWorker(id));
    const results = await Promise.all(workers.map((w) => w.result));
    for (const [id, r] of results.entries()) {
      expect(r.id).toBe(id);
      expect(r.reused).toBe(29); // NEW then REUSED x29, by session id
      expect(r.hits).toBe(29); // each worker's server cache counted only its own hits
      expect(r.newSessions).toBe(1); // one full handshake made one new session
      expect(r.errorName).toBe('Error'); // no OpenSSLError class registered in a raw worker
    }
    await Promise.all(workers.map((w) => w.worker.terminate()));
  });

  it('survives workers terminated with live contexts, connections and sessions', async () => {
    const workers = [0, 1, 2, 3].map((id) => runWorker(id, true));
    await Promise.all(workers.map((w) => w.result));
    const codes = await Promise.all(workers.map((w) => w.worker.terminate()));
    expect(codes).toEqual([1, 1, 1, 1]); // terminated, not crashed; env cleanup freed the rest
  });
});
