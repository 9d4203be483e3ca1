'use strict';
/**
 * Child of test/reliability.workers.test.ts (plain node): worker_threads terminated in the
 * middle of handshakes. Each round starts 4 workers over the raw addon ($OPENSSL_SESSION_ADDON
 * or build/Release); each runs in-memory handshakes in a loop with new/remove/get callbacks,
 * resumption, sessions kept and dropped, and one also a handshake over a real socket to a
 * peer that never answers; the main thread terminates each at a random moment once it runs.
 * A worker that crashes takes this whole process down (that is what the test looks for).
 * Prints one JSON line.
 */
const path = require('node:path');
const net = require('node:net');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const addon = process.env.OPENSSL_SESSION_ADDON || path.join(__dirname, '..', '..', 'build', 'Release', 'openssl_session.node');

function workerMain() {
  const b = require(workerData.addon);
  const pair = b.createSelfSigned({ commonName: 'localhost', altNames: 'DNS:localhost', days: 1, keyType: 'ec', bits: 256 });
  const server = new b.SslContext('server');
  server.useCertificateChain(pair.cert);
  server.usePrivateKey(pair.key);
  server.setSessionIdContext(Buffer.from(`w${workerData.id}`));
  if (workerData.id % 2) server.setMaxProtoVersion(b.VERSION.TLS1_2);
  const client = new b.SslContext('client');
  client.setSessionCacheMode(b.SESS_CACHE.CLIENT | b.SESS_CACHE.NO_INTERNAL_STORE);
  const kept = [];
  server.sessSetNewCb((s) => kept.push(s));
  server.sessSetRemoveCb((s) => s.dispose());
  client.sessSetNewCb((s) => {
    if (kept.length < 50) kept.push(s);
  });
  const pipe = (a, c) => {
    const o = a.takeOutput();
    if (o) c.feed(o);
  };
  if (workerData.socketPort) {
    // A handshake over a socket whose peer never answers: pending when terminated.
    const conn = new b.SslConnection(client);
    const socket = net.connect(workerData.socketPort, '127.0.0.1', () => {
      conn.doHandshake();
      socket.write(conn.takeOutput());
    });
    socket.on('data', (d) => conn.feed(d));
    socket.on('error', () => {});
  }
  let session = null;
  let n = 0;
  for (;;) {
    const c = new b.SslConnection(client);
    const s = new b.SslConnection(server);
    if (session && n % 3) c.setSession(session);
    let cd = false;
    let sd = false;
    for (let r = 0; r < 16 && !(cd && sd); r++) {
      if (!cd) cd = c.doHandshake() === 0;
      pipe(c, s);
      if (!sd) sd = s.doHandshake() === 0;
      pipe(s, c);
    }
    c.read();
    if (n % 2) {
      c.shutdown();
      pipe(c, s);
      s.read();
      s.shutdown();
    }
    const next = c.get1Session();
    if (session && n % 4) session.dispose();
    session = next;
    if (n % 5) {
      c.free();
      s.free();
    }
    if (kept.length > 40) for (const k of kept.splice(0, 20)) k.dispose();
    if (n % 50 === 49) server.flushSessions(0);
    if (++n === 3) parentPort.postMessage('running');
  }
}

async function main() {
  const rounds = Number(process.argv[2] || 6);
  // A TCP peer that accepts and never says anything.
  const silent = net.createServer((socket) => socket.on('error', () => {}));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const socketPort = silent.address().port;
  const codes = [];
  let started = 0;
  const delays = [];
  for (let round = 0; round < rounds; round++) {
    const workers = [0, 1, 2, 3].map((id) => {
      const w = new Worker(__filename, { workerData: { id, addon, socketPort: id === 0 ? socketPort : 0 } });
      w.on('error', (e) => codes.push(`error ${e && e.message}`));
      return w;
    });
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once('message', () => {
              started++;
              const delay = Math.floor(Math.random() * 25);
              delays.push(delay);
              setTimeout(() => w.terminate().then((code) => (codes.push(code), resolve())), delay);
            });
            w.once('exit', () => resolve());
          }),
      ),
    );
  }
  silent.close();
  process.stdout.write(`${JSON.stringify({ rounds, started, codes, maxDelay: Math.max(...delays) })}\n`);
}

if (isMainThread) main();
else workerMain();
