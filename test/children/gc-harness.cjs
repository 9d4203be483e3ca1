'use strict';
/**
 * Shared by the GC child scripts (run as `node --expose-gc <script>`): the raw addon, a test
 * certificate, an in-memory handshake over the raw native classes, and GC helpers.
 * The raw classes have the TS layer's method names; errors are plain Errors with a `code`.
 */
const path = require('node:path');

const binding = require(path.join(__dirname, '..', '..', 'build', 'Release', 'openssl_session.node'));

if (typeof global.gc !== 'function') {
  process.stderr.write('run with --expose-gc\n');
  process.exit(2);
}

const { SslContext, SslConnection, SslSession, SSL_ERROR, OP, VERSION, VERIFY, SHUTDOWN } = binding;

const pair = binding.createSelfSigned({ commonName: 'localhost', altNames: 'DNS:localhost', days: 1, keyType: 'ec', bits: 2048 });

function serverContext({ tls12 = false, noTicket = false, sidCtx = 'gc-child' } = {}) {
  const ctx = new SslContext('server');
  ctx.useCertificateChain(pair.cert);
  ctx.usePrivateKey(pair.key);
  ctx.setSessionIdContext(Buffer.from(sidCtx));
  if (tls12) ctx.setMaxProtoVersion(VERSION.TLS1_2);
  if (noTicket) ctx.setOptions(OP.NO_TICKET);
  return ctx;
}

function clientContext() {
  const ctx = new SslContext('client');
  ctx.addCaCertificates(pair.cert);
  ctx.setVerify(VERIFY.PEER);
  return ctx;
}

function pipe(from, to) {
  const out = from.takeOutput();
  if (out !== null) to.feed(out);
}

/** Both handshakes to completion, then the client reads what came last (TLS 1.3 tickets). */
function handshake(client, server) {
  let clientDone = false;
  let serverDone = false;
  for (let i = 0; i < 32 && !(clientDone && serverDone); i++) {
    if (!clientDone) {
      clientDone = client.doHandshake() === SSL_ERROR.NONE;
      pipe(client, server);
    }
    if (!serverDone) {
      serverDone = server.doHandshake() === SSL_ERROR.NONE;
      pipe(server, client);
    }
  }
  if (!(clientDone && serverDone)) throw new Error('handshake did not finish');
  client.read();
  pipe(client, server);
}

/** close_notify both ways. */
function shutdown(client, server) {
  client.shutdown();
  pipe(client, server);
  server.read();
  server.shutdown();
  pipe(server, client);
  client.read();
}

/** Connects, optionally resuming `session`; returns both connections (not freed). */
function connect(clientCtx, serverCtx, session) {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  if (session) client.setSession(session);
  handshake(client, server);
  return { client, server };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * gc() then a turn of the event loop (Node-API finalizers and FinalizationRegistry callbacks
 * run there), until `done()` or `max` rounds. Returns the rounds used, or -1.
 */
async function gcUntil(done, max = 40) {
  for (let i = 1; i <= max; i++) {
    global.gc();
    await tick();
    await tick();
    if (done()) return i;
  }
  return -1;
}

/** Counts, per tag, the registered objects that were garbage-collected. */
function tracker() {
  const created = {};
  const collected = {};
  const registry = new FinalizationRegistry((tag) => {
    collected[tag] = (collected[tag] || 0) + 1;
  });
  return {
    created,
    collected,
    track(object, tag) {
      created[tag] = (created[tag] || 0) + 1;
      registry.register(object, tag);
      return object;
    },
    all() {
      return Object.keys(created).every((tag) => collected[tag] === created[tag]);
    },
  };
}

/** What a thrown value looks like, for the JSON report. */
function thrown(fn) {
  try {
    fn();
    return null;
  } catch (error) {
    return { name: error.name, code: error.code };
  }
}

function report(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

module.exports = {
  binding,
  SslContext,
  SslConnection,
  SslSession,
  SHUTDOWN,
  VERSION,
  pair,
  serverContext,
  clientContext,
  pipe,
  handshake,
  shutdown,
  connect,
  tick,
  gcUntil,
  tracker,
  thrown,
  report,
};
