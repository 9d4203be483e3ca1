'use strict';
/**
 * Memory-check driver: exercises every native path that owns or hands over OpenSSL memory,
 * against the raw addon (no TS layer), so that valgrind (scripts/memcheck.sh) sees each
 * allocation and free the addon is responsible for.
 *
 *   node --expose-gc test/memcheck/driver.cjs            (plain run: ~1 s, checks only)
 *   npm run test:memcheck                                 (the same under valgrind)
 *
 * $OPENSSL_SESSION_ADDON overrides the addon path (build/Release/openssl_session.node).
 * Every check() that fails is printed and makes the exit code 1; valgrind's verdict is
 * scripts/memcheck.sh's business. Kept deterministic: no sockets, no timers.
 */
const path = require('node:path');
const { Worker, isMainThread, workerData } = require('node:worker_threads');

const addonPath =
  (isMainThread ? process.env.OPENSSL_SESSION_ADDON : workerData && workerData.addonPath) ||
  path.join(__dirname, '..', '..', 'build', 'Release', 'openssl_session.node');
const b = require(addonPath);

if (typeof global.gc !== 'function') {
  console.error('driver.cjs needs --expose-gc');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// Checks

let checks = 0;
let failures = 0;
let section = '';

function check(condition, label) {
  checks++;
  if (!condition) {
    failures++;
    console.error(`FAIL [${section}] ${label}`);
  }
}

/** `fn` must throw; `match` is a code string or a RegExp on code + message. Returns the error. */
function throws(fn, match, label) {
  checks++;
  try {
    fn();
  } catch (error) {
    const text = `${error && error.code} ${error && error.message}`;
    const ok = match === undefined || (typeof match === 'string' ? error && error.code === match : match.test(text));
    if (!ok) {
      failures++;
      console.error(`FAIL [${section}] ${label}: threw the wrong error: ${text}`);
    }
    return error;
  }
  failures++;
  console.error(`FAIL [${section}] ${label}: did not throw`);
  return undefined;
}

async function collect(rounds = 4) {
  // Node-API finalizers of wrapped objects run from a setImmediate after the GC that found them.
  for (let i = 0; i < rounds; i++) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

// Error class and session subclass handed over as lib/ does (exercises both C++ paths).
class OpenSSLError extends Error {}
class JsSession extends b.SslSession {}
b.setClasses({ OpenSSLError, SslSession: JsSession });

const { SSL_ERROR, VERSION, OP, SESS_CACHE, VERIFY } = b;
const counts = typeof b.SslContext.debugSessionCounts === 'function' ? () => b.SslContext.debugSessionCounts() : null;
const countsAtStart = counts && counts();

// ---------------------------------------------------------------------------------------
// Fixtures and the in-memory engine (as lib/engine/memory-pair.ts)

const ec = b.createSelfSigned({ commonName: 'localhost', altNames: 'DNS:localhost,IP:127.0.0.1', days: 1, keyType: 'ec', bits: 256 });
const other = b.createSelfSigned({ commonName: 'other', altNames: 'DNS:other', days: 1, keyType: 'ec', bits: 256 });

function serverCtx({ min, max, noTicket = false, mode, pair = ec } = {}) {
  const ctx = new b.SslContext('server');
  ctx.useCertificateChain(pair.cert);
  ctx.usePrivateKey(pair.key);
  ctx.setSessionIdContext(Buffer.from('memcheck'));
  if (min) ctx.setMinProtoVersion(min);
  if (max) ctx.setMaxProtoVersion(max);
  if (noTicket) ctx.setOptions(OP.NO_TICKET);
  if (mode !== undefined) ctx.setSessionCacheMode(mode);
  return ctx;
}

function clientCtx({ min, max, ca = ec.cert, mode } = {}) {
  const ctx = new b.SslContext('client');
  ctx.addCaCertificates(ca);
  ctx.setVerify(VERIFY.PEER);
  if (min) ctx.setMinProtoVersion(min);
  if (max) ctx.setMaxProtoVersion(max);
  if (mode !== undefined) ctx.setSessionCacheMode(mode);
  return ctx;
}

function pipe(from, to) {
  const out = from.takeOutput();
  if (out === null) return false;
  to.feed(out);
  return true;
}

function handshake(c, s) {
  let cd = false;
  let sd = false;
  for (let i = 0; i < 32; i++) {
    if (!cd) {
      try {
        cd = c.doHandshake() === SSL_ERROR.NONE;
      } finally {
        pipe(c, s);
      }
    }
    if (!sd) {
      try {
        sd = s.doHandshake() === SSL_ERROR.NONE;
      } finally {
        pipe(s, c);
      }
    }
    if (cd && sd) return;
  }
  throw new Error('handshake did not finish');
}

/** One request/response: also makes the client process TLS 1.3 NewSessionTickets. */
function exchange(c, s) {
  c.write(Buffer.from('ping'));
  pipe(c, s);
  const got = s.read();
  s.write(Buffer.from('pong'));
  pipe(s, c);
  const back = c.read();
  pipe(c, s);
  return `${got} ${back}`;
}

function shutdownBoth(c, s) {
  c.shutdown();
  pipe(c, s);
  s.read();
  s.shutdown();
  pipe(s, c);
  c.read();
}

/** One connection: handshake, exchange, close_notify both ways. Returns [client, server] (not freed). */
function connectPair(cctx, sctx, session) {
  const c = new b.SslConnection(cctx);
  const s = new b.SslConnection(sctx);
  c.setTlsextHostName('localhost');
  c.set1Host('localhost');
  if (session) c.setSession(session);
  handshake(c, s);
  check(exchange(c, s) === 'ping pong', 'data crosses');
  return [c, s];
}

// ---------------------------------------------------------------------------------------
// Scenarios

/** Seed 000's loop, freeing things in a different order every round. */
function seedLoop(label, serverOpts, clientOpts, expectVersion) {
  section = `seed loop ${label}`;
  const sctx = serverCtx(serverOpts);
  const cctx = clientCtx(clientOpts);
  let session = null;
  const reused = [];
  for (let round = 0; round < 5; round++) {
    const c = new b.SslConnection(cctx);
    const s = new b.SslConnection(sctx);
    c.setTlsextHostName('localhost');
    if (session) {
      c.setSession(session);
      // OpenSSL holds its own reference now: disposing ours before the handshake is safe.
      if (round === 2) {
        session.dispose();
        session = null;
      }
    }
    handshake(c, s);
    exchange(c, s);
    reused.push(c.sessionReused());
    check(s.sessionReused() === c.sessionReused(), `round ${round}: both sides agree on reuse`);
    const next = c.get1Session();
    check(next !== null && next.getProtocolVersion() === expectVersion, `round ${round}: protocol`);
    check(next instanceof JsSession, `round ${round}: sessions are instances of the registered class`);
    shutdownBoth(c, s);
    switch (round % 4) {
      case 0: // session replaced before the connections go
        if (session) session.dispose();
        c.free();
        s.free();
        break;
      case 1: // connections first, then the old session
        s.free();
        c.free();
        if (session) session.dispose();
        break;
      case 2: // connections left to GC
        if (session) session.dispose();
        break;
      default: // old session left to GC, connections freed
        c.free();
        s.free();
        break;
    }
    session = next;
  }
  check(JSON.stringify(reused) === JSON.stringify([false, true, true, true, true]), `NEW then REUSED x4 (${reused})`);
  sctx.close();
  // The last session outlives both contexts and is still usable.
  check(session.toDER().length > 0, 'session usable after its contexts closed');
  cctx.close();
  check(session.isResumable(), 'still resumable after close');
  session.dispose();
}

function serialization() {
  section = 'serialization';
  const sctx = serverCtx({});
  const cctx = clientCtx({ max: VERSION.TLS1_2 });
  const [c, s] = connectPair(cctx, sctx, null);
  const session = c.get1Session();
  shutdownBoth(c, s); // else SSL_free marks the session not resumable (and dup() copies that)
  c.free();
  s.free();

  const der = session.toDER();
  const pem = session.toPEM();
  check(pem.startsWith('-----BEGIN SSL SESSION PARAMETERS-----'), 'PEM header');
  const fromDer = b.SslSession.fromDER(der);
  const fromPem = b.SslSession.fromPEM(pem);
  check(Buffer.compare(fromDer.toDER(), der) === 0, 'DER round trip');
  check(Buffer.compare(fromPem.toDER(), der) === 0, 'PEM round trip');
  check(fromPem.toPEM() === pem, 'PEM stable');
  check(!fromDer.isSame(session) && !fromPem.isSame(fromDer), 'parsed sessions are new objects');

  // Introspection over every getter (copies out of the session).
  for (const s2 of [session, fromDer, fromPem]) {
    check(s2.getId().length === 32, 'id');
    check(s2.get0IdContext().length === 0, 'client sessions carry no sid_ctx');
    check(s2.get0Cipher() !== null, 'cipher');
    check(s2.getTime() > 0 && s2.getTimeout() > 0, 'time/timeout');
    check(s2.hasTicket() === (s2.get0Ticket() !== null), 'ticket');
    check(s2.getTicketLifetimeHint() >= 0 && s2.getMaxEarlyData() >= 0, 'hint/early data');
    check(s2.get0Hostname() === null || s2.get0Hostname() === 'localhost', 'hostname');
    check(s2.get0AlpnSelected() === null, 'alpn');
    check(s2.get0Peer() !== null && s2.get0Peer().length > 100, 'peer certificate');
  }
  // upRef / dup, disposed in both orders.
  const up = session.upRef();
  check(up.isSame(session), 'upRef is the same SSL_SESSION');
  const dup = session.dup();
  check(!dup.isSame(session) && Buffer.compare(dup.toDER(), der) === 0, 'dup is an equal copy');
  session.dispose();
  check(up.toDER().length === der.length, 'upRef handle survives the original');
  const up2 = up.upRef();
  up2.dispose();
  up.dispose();

  // Resumption with the parsed sessions.
  for (const parsed of [fromDer, fromPem, dup]) {
    const [c2, s3] = connectPair(cctx, sctx, parsed);
    check(c2.sessionReused(), 'parsed session resumes');
    c2.free();
    s3.free();
  }
  fromPem.dispose();
  dup.dispose();
  // An expired session is not resumed (the reuse check above can fail).
  fromDer.setTime(1000);
  fromDer.setTimeout(5);
  check(fromDer.getTime() === 1000 && fromDer.getTimeout() === 5, 'set time/timeout');
  {
    const [c2, s3] = connectPair(cctx, sctx, fromDer);
    check(!c2.sessionReused(), 'expired session is not resumed');
    c2.free();
    s3.free();
  }
  // fromDer is left for GC.

  // Garbage in: every failure path frees what it allocated.
  const garbage = [
    ['empty DER', () => b.SslSession.fromDER(Buffer.alloc(0))],
    ['random DER', () => b.SslSession.fromDER(Buffer.from('30820102deadbeef00112233445566778899', 'hex'))],
    ['truncated DER', () => b.SslSession.fromDER(der.subarray(0, der.length - 7))],
    ['half DER', () => b.SslSession.fromDER(der.subarray(0, der.length >> 1))],
    ['empty PEM', () => b.SslSession.fromPEM('')],
    ['not PEM', () => b.SslSession.fromPEM('hello world')],
    ['certificate PEM', () => b.SslSession.fromPEM(ec.cert)],
    ['truncated PEM', () => b.SslSession.fromPEM(pem.slice(0, pem.length >> 1))],
    ['corrupt base64', () => b.SslSession.fromPEM(pem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!'))],
    [
      'PEM of garbage',
      () =>
        b.SslSession.fromPEM(
          `-----BEGIN SSL SESSION PARAMETERS-----\n${Buffer.from('garbage bytes here').toString('base64')}\n-----END SSL SESSION PARAMETERS-----\n`,
        ),
    ],
  ];
  for (const [label, fn] of garbage) throws(fn, /ERR_|not a|PEM|DER|asn1|ASN1/i, label);
  // Corrupted bytes in the middle may or may not parse: whatever comes out is freed.
  for (let i = 8; i < der.length; i += Math.max(1, der.length >> 4)) {
    const bad = Buffer.from(der);
    bad[i] ^= 0xff;
    try {
      const parsed = b.SslSession.fromDER(bad);
      parsed.toDER();
      if (i % 2) parsed.dispose();
    } catch (error) {
      check(error instanceof OpenSSLError, `corrupt byte ${i}: OpenSSLError`);
    }
  }
  throws(() => b.SslSession.fromDER('not bytes'), 'ERR_INVALID_ARG_TYPE', 'fromDER(string)');
  throws(() => b.SslSession.fromPEM(42), 'ERR_INVALID_ARG_TYPE', 'fromPEM(number)');
  throws(() => new b.SslSession(), 'ERR_ILLEGAL_CONSTRUCTOR', 'new SslSession()');

  // Use after dispose.
  const gone = b.SslSession.fromDER(der);
  gone.dispose();
  check(gone.disposed === true, 'disposed flag');
  throws(() => gone.toDER(), 'ERR_SESSION_DISPOSED', 'toDER after dispose');
  throws(() => gone.dispose(), 'ERR_SESSION_DISPOSED', 'second dispose');
  throws(() => gone.upRef(), 'ERR_SESSION_DISPOSED', 'upRef after dispose');
  const c4 = new b.SslConnection(cctx);
  throws(() => c4.setSession(gone), 'ERR_SESSION_DISPOSED', 'setSession(disposed)');
  throws(() => c4.setSession({}), 'ERR_INVALID_ARG_TYPE', 'setSession(not a session)');
  c4.setSession(null);
  c4.free();
  throws(() => c4.get1Session(), 'ERR_CONNECTION_FREED', 'get1Session after free');
  throws(() => c4.free(), 'ERR_CONNECTION_FREED', 'second free');

  sctx.close();
  cctx.close();
}

/** Sessions, connections and contexts released in every order. */
function disposalOrders() {
  section = 'disposal orders';
  const orders = [
    ['session', 'client', 'server', 'cctx', 'sctx'],
    ['client', 'session', 'server', 'sctx', 'cctx'],
    ['cctx', 'sctx', 'client', 'server', 'session'],
    ['sctx', 'session', 'cctx', 'server', 'client'],
    ['cctx', 'client', 'session', 'sctx', 'server'],
    ['server', 'sctx', 'session', 'cctx', 'client'],
  ];
  for (const [index, order] of orders.entries()) {
    for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
      const things = { sctx: serverCtx({ max: version }), cctx: clientCtx({ max: version }) };
      [things.client, things.server] = connectPair(things.cctx, things.sctx, null);
      things.session = things.client.get1Session();
      for (const [step, name] of order.entries()) {
        // Odd orders leave the last two to GC instead of releasing them explicitly.
        if (index % 2 === 1 && step >= 3) break;
        const it = things[name];
        if (name === 'session') it.dispose();
        else if (name === 'client' || name === 'server') it.free();
        else it.close();
        // What is still open keeps working: a closed context does not free a live SSL.
        if (things.session && !things.session.disposed)
          check(things.session.getProtocolVersion() === version, `${name} released: session intact`);
        if (name !== 'client' && !things.client.freed)
          check(typeof things.client.getVersion() === 'string', `${name} released: connection intact`);
      }
    }
  }
  // A context closed while its connection is mid-handshake: the SSL keeps the SSL_CTX.
  const sctx = serverCtx({});
  const cctx = clientCtx({});
  const c = new b.SslConnection(cctx);
  const s = new b.SslConnection(sctx);
  c.setTlsextHostName('localhost');
  c.doHandshake();
  pipe(c, s);
  sctx.close();
  cctx.close();
  throws(() => new b.SslConnection(sctx), 'ERR_CONTEXT_CLOSED', 'new connection on a closed context');
  throws(() => sctx.close(), 'ERR_CONTEXT_CLOSED', 'second close');
  handshake(c, s);
  check(exchange(c, s) === 'ping pong', 'handshake completes after both contexts closed');
  const late = c.get1Session();
  c.free();
  late.dispose();
  // s is left for GC.
}

/** The raw session callbacks on server and client contexts. */
function callbacks() {
  section = 'callbacks';
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    // Server: external cache only (SERVER | NO_INTERNAL), stateful (no tickets), as seed 001.
    const sctx = serverCtx({ max: version, noTicket: true, mode: SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL });
    const cctx = clientCtx({ max: version });
    const store = new Map();
    const removed = [];
    let gets = 0;
    sctx.sessSetNewCb((session, connection) => {
      check(connection !== null && connection.isServer, 'new_cb gets the server connection');
      store.set(session.getId().toString('hex'), session);
    });
    sctx.sessSetGetCb((id) => {
      gets++;
      return store.get(id.toString('hex')) || null;
    });
    sctx.sessSetRemoveCb((session) => {
      removed.push(session.getId().toString('hex'));
      throws(() => sctx.flushSessions(0), 'ERR_CONTEXT_BUSY', 'flush inside remove_cb');
      session.dispose();
    });
    let session = null;
    for (let round = 0; round < 4; round++) {
      const [c, s] = connectPair(cctx, sctx, session);
      check(c.sessionReused() === round > 0, `${version}: round ${round} reuse through get_cb`);
      if (session) session.dispose();
      session = c.get1Session();
      shutdownBoth(c, s);
      c.free();
      s.free();
    }
    check(gets >= 3, `get_cb consulted (${gets})`);
    check(store.size >= 1, 'new_cb stored sessions');
    // A second handle on a stored session, and the stored one disposed first.
    const first = store.values().next().value;
    const keep = first.upRef();
    first.dispose();
    check(keep.getId().length > 0, 'upRef handle outlives the stored one');
    keep.dispose();

    // get_cb returning wrong things: recorded, rethrown by the handshake step.
    const disposed = b.SslSession.fromDER(session.toDER());
    disposed.dispose();
    for (const [label, result, code] of [
      ['disposed session', disposed, 'ERR_SESSION_DISPOSED'],
      ['not a session', { not: 'a session' }, 'ERR_INVALID_ARG_TYPE'],
    ]) {
      sctx.sessSetGetCb(() => result);
      const c = new b.SslConnection(cctx);
      const s = new b.SslConnection(sctx);
      c.setTlsextHostName('localhost');
      c.setSession(session);
      let error;
      try {
        handshake(c, s);
      } catch (e) {
        error = e;
      }
      check(error !== undefined && error.code === code, `get_cb returning ${label} surfaces ${code} (${error && error.code})`);
      c.free();
      s.free();
    }
    sctx.sessSetGetCb(null);

    // new_cb that throws: rethrown from the step, the session freed once.
    sctx.sessSetNewCb(() => {
      throw new Error('boom in new_cb');
    });
    {
      const c = new b.SslConnection(cctx);
      const s = new b.SslConnection(sctx);
      c.setTlsextHostName('localhost');
      let error;
      try {
        handshake(c, s);
        exchange(c, s);
      } catch (e) {
        error = e;
      }
      check(error !== undefined && /boom in new_cb/.test(error.message), 'new_cb exception rethrown');
      s.free();
      c.free();
    }
    sctx.sessSetNewCb(null);
    sctx.sessSetRemoveCb(null);
    sctx.close();
    cctx.close();
    session.dispose();
    for (const s of store.values()) if (!s.disposed) s.dispose();
  }

  // Server with the internal cache: add/remove/flush/eviction/close all fire remove_cb.
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const sctx = serverCtx({ max: version, noTicket: true });
    const cctx = clientCtx({ max: version });
    sctx.setSessionCacheSize(2);
    const removed = [];
    let kept = null;
    sctx.sessSetRemoveCb((session) => {
      removed.push(session);
      if (removed.length === 1)
        kept = session; // kept alive by JS past the callback
      else if (removed.length % 2) session.dispose(); // the rest: half disposed, half to GC
    });
    const sessions = [];
    for (let i = 0; i < 4; i++) {
      const [c, s] = connectPair(cctx, sctx, null);
      shutdownBoth(c, s);
      sessions.push(c.get1Session());
      c.free();
      s.free();
    }
    check(removed.length >= 2, `cache size 2: eviction fired remove_cb (${removed.length})`);
    const stats = sctx.stats();
    check(stats.number <= 2, 'cache bounded');
    // Server-side sessions back into the cache, then out again.
    const extra = sessions.map((s) => s.dup());
    for (const s of extra) sctx.addSession(s);
    sctx.removeSession(extra[extra.length - 1]);
    extra[0].setTime(1);
    sctx.flushSessions(Math.floor(Date.now() / 1000));
    sctx.close(); // remove_cb for every session still cached
    check(kept !== null && kept.toDER().length > 0, 'session kept from remove_cb outlives the context');
    kept.dispose();
    for (const s of [...sessions, ...extra]) s.dispose();
    cctx.close();
  }

  // Client side: CLIENT | NO_INTERNAL_STORE with new_cb and a per-connection listener.
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const sctx = serverCtx({ max: version });
    const cctx = clientCtx({ max: version, mode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
    const fromCtx = [];
    const fromConn = [];
    cctx.sessSetNewCb((session, connection) => {
      check(connection !== null && !connection.isServer, 'client new_cb gets the client connection');
      fromCtx.push(session.upRef()); // our own handle: the listener below may dispose the one it gets
    });
    let session = null;
    for (let round = 0; round < 3; round++) {
      const c = new b.SslConnection(cctx);
      const s = new b.SslConnection(sctx);
      c.setTlsextHostName('localhost');
      c.setSessionListener((got) => {
        fromConn.push(got);
        if (round === 1) got.dispose(); // disposed inside the callback
      });
      if (session) c.setSession(session);
      handshake(c, s);
      exchange(c, s);
      check(c.sessionReused() === round > 0, `client callbacks ${version}: round ${round}`);
      // Without close_notify, SSL_free marks a client session not resumable (ssl_clear_bad_session).
      shutdownBoth(c, s);
      session = fromCtx[fromCtx.length - 1];
      c.setSessionListener(null);
      if (round === 2) {
        // left for GC with a listener set
        c.setSessionListener(() => {});
      } else {
        c.free();
      }
      s.free();
    }
    // TLS 1.2 resumptions make no new session; TLS 1.3 ones bring a new ticket.
    const expected = version === VERSION.TLS1_3 ? 3 : 1;
    check(
      fromCtx.length >= expected && fromConn.length === fromCtx.length,
      `client new_cb and listener both fired (${fromCtx.length}/${fromConn.length})`,
    );
    check(
      fromCtx.every((s, i) => fromConn[i].disposed || s.isSame(fromConn[i])),
      'both callbacks see the same SSL_SESSION',
    );
    for (const s of fromCtx) s.dispose();
    for (const s of fromConn) if (!s.disposed) s.dispose();
    cctx.sessSetNewCb(null);
    // Context closed with callbacks still set (one of them left to GC).
    if (version === VERSION.TLS1_2) cctx.close();
    sctx.close();
  }
}

/**
 * Key log lines (SSL_CTX_set_keylog_callback) and protocol messages (SSL_set_msg_callback):
 * context callback and connection listeners, the Buffer made per call, a throwing callback, a
 * context closed and a connection freed with theirs still set (one connection left to GC with
 * its listeners).
 */
function keylog() {
  section = 'keylog';
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const sctx = serverCtx({ max: version, min: version });
    const cctx = clientCtx({ max: version, min: version });
    const fromServer = [];
    const fromClient = [];
    sctx.setKeylogCb((line, connection) => {
      check(connection !== null && connection.isServer, 'keylog callback gets the server connection');
      fromServer.push(line.toString('latin1'));
    });
    const [c, s] = (() => {
      const c = new b.SslConnection(cctx);
      const s = new b.SslConnection(sctx);
      c.setTlsextHostName('localhost');
      c.set1Host('localhost');
      c.setKeylogListener((line) => fromClient.push(line.toString('latin1')));
      handshake(c, s);
      return [c, s];
    })();
    // Protocol messages (SSL_set_msg_callback) on the server end: a Buffer per message.
    const messages = [];
    s.setMsgCallback((sent, v, contentType, bytes) => messages.push(`${sent} ${contentType} ${bytes.length}`));
    check(exchange(c, s) === 'ping pong', `${version}: data crosses with a message listener`);
    check(messages.length >= 2, `${version}: record headers reported (${messages.length})`);
    s.setMsgCallback(null);
    const expected = version === VERSION.TLS1_2 ? 1 : 5;
    check(fromClient.length === expected && fromServer.length === expected, `${version}: ${expected} key log lines each side`);
    check(fromClient.sort().join() === fromServer.sort().join(), `${version}: both ends log the same secrets`);
    shutdownBoth(c, s);
    c.free(); // listener still set: free() drops it
    s.free();
    // A throwing callback: the step rethrows it once OpenSSL returned, and nothing leaks.
    sctx.setKeylogCb(() => {
      throw new Error('keylog boom');
    });
    const c2 = new b.SslConnection(cctx);
    const s2 = new b.SslConnection(sctx);
    c2.setKeylogListener(() => {}); // left to GC with its listener
    c2.setMsgCallback(() => {}); // likewise
    throws(() => handshake(c2, s2), /keylog boom/, 'keylog exception rethrown by the step');
    s2.free();
    sctx.close(); // callback still set
    cctx.setKeylogCb(() => {});
    cctx.setKeylogCb(null);
    if (version === VERSION.TLS1_2) cctx.close();
  }
}

/**
 * Server side (issue 5): the client hello callback pausing the handshake (RETRY) and the get
 * callback then handing over a session parsed from DER (ServerSessionCache's flow), ticket
 * key rings (rotation, pruning, export/import, a JS clock, a throwing clock) and the trust
 * digest. No timers: the "pause" is one RETRY answered on the next step.
 */
function serverSide() {
  section = 'server side';
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const sctx = serverCtx({ max: version, noTicket: true, mode: SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL });
    const cctx = clientCtx({ max: version, mode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE });
    const store = new Map(); // session id (hex) -> DER, as a remote store would hold them
    const calls = new Map(); // connection -> client hello callback calls
    const handedOut = [];
    let identities = 0;
    sctx.sessSetNewCb((session) => {
      store.set(session.getId().toString('hex'), session.toDER());
      session.dispose();
    });
    sctx.setClientHelloCb((connection, hello) => {
      check(Buffer.isBuffer(hello.sessionId) && Array.isArray(hello.extensions) && hello.servername === 'localhost', 'client hello info');
      identities += hello.pskIdentities.length;
      const n = (calls.get(connection) || 0) + 1;
      calls.set(connection, n);
      return n === 1 ? -1 : 1; // SSL_CLIENT_HELLO_RETRY once, then SUCCESS
    });
    sctx.sessSetGetCb((id) => {
      const der = store.get(id.toString('hex'));
      if (!der) return null;
      const session = b.SslSession.fromDER(der);
      handedOut.push(session); // OpenSSL takes its own reference; ours goes after the step
      return session;
    });
    let session = null;
    const reused = [];
    for (let round = 0; round < 4; round++) {
      const [c, s] = connectPair(cctx, sctx, session);
      reused.push(c.sessionReused());
      if (session) session.dispose();
      session = c.get1Session();
      shutdownBoth(c, s);
      c.free();
      s.free();
      while (handedOut.length) handedOut.pop().dispose();
    }
    check(JSON.stringify(reused) === '[false,true,true,true]', `${version}: resumed through the paused lookup (${reused})`);
    check(
      [...calls.values()].every((n) => n === 2),
      'each ClientHello: RETRY, then SUCCESS',
    );
    // 3 resumptions, each ClientHello seen twice (RETRY, then SUCCESS), one identity each.
    check(version === VERSION.TLS1_2 || identities === 6, `TLS 1.3 PSK identities read (${identities})`);
    // A throwing client hello callback: the handshake fails with its error, nothing leaks.
    sctx.setClientHelloCb(() => {
      throw new Error('boom in client_hello_cb');
    });
    {
      const c = new b.SslConnection(cctx);
      const s = new b.SslConnection(sctx);
      c.setTlsextHostName('localhost');
      let error;
      try {
        handshake(c, s);
      } catch (e) {
        error = e;
      }
      check(error !== undefined && /boom in client_hello_cb/.test(error.message), 'client hello exception rethrown');
      c.free();
      s.free();
    }
    sctx.setClientHelloCb(null);
    session.dispose();
    if (version === VERSION.TLS1_2) sctx.close(); // the other one closed with its callbacks set... by GC
    cctx.close();
  }

  // Ticket keys: rotation and grace on a JS clock, in the ticket callback itself.
  const TicketKeys = b.SslContext.TicketKeys;
  const HOUR = 3600000;
  let now = Date.UTC(2030, 0, 1);
  const keys = new TicketKeys(HOUR, HOUR, 2, true);
  keys.setClock(() => now);
  keys.maintain(now);
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const start = now;
    const sctx = serverCtx({ max: version });
    sctx.setTicketKeys(keys);
    const cctx = clientCtx({ max: version });
    const round = (offer) => {
      const [c, s] = connectPair(cctx, sctx, offer);
      const result = { reused: c.sessionReused(), session: c.get1Session() };
      shutdownBoth(c, s);
      c.free();
      s.free();
      return result;
    };
    const first = round(null);
    const spare = round(null).session; // a second ticket under the first key
    now = start + HOUR + 1; // rotation inside the callback (Generate)
    const renewed = round(first.session);
    check(renewed.reused, `${version}: old key within grace resumes`);
    now = start + 3 * HOUR; // pruning inside the callback (EraseAt)
    const late = round(spare);
    check(!late.reused, `${version}: old key after grace rejected`);
    for (const r of [first, renewed, late]) r.session.dispose();
    spare.dispose();
    sctx.close();
    cctx.close();
  }
  const stats = keys.stats();
  check(stats.encrypted > 0 && stats.decryptedWithOldKey === 2 && stats.rejected === 2, `ticket stats ${JSON.stringify(stats)}`);
  // Export / import / describe / garbage in.
  const record = keys.export();
  const copy = new TicketKeys(HOUR, HOUR, 2, false);
  check(copy.import(record) && copy.size() === keys.size(), 'import of an export');
  check(JSON.stringify(copy.describe(now)) === JSON.stringify(keys.describe(now)), 'same keys after import');
  check(!copy.import(record.subarray(0, record.length - 1)) && !copy.import(Buffer.from('OSTK')), 'malformed records refused');
  record.fill(0);
  copy.generate(now + HOUR);
  copy.maintain(now + 10 * HOUR);
  // A clock that throws: the handshake fails with that error.
  copy.setClock(() => {
    throw new Error('clock broke');
  });
  {
    const sctx = serverCtx({});
    sctx.setTicketKeys(copy);
    const cctx = clientCtx({});
    const c = new b.SslConnection(cctx);
    const s = new b.SslConnection(sctx);
    c.setTlsextHostName('localhost');
    let error;
    try {
      handshake(c, s);
      exchange(c, s);
    } catch (e) {
      error = e;
    }
    check(error !== undefined && /clock broke/.test(error.message), 'ticket clock exception rethrown');
    c.free();
    s.free();
    cctx.close();
    // sctx left for GC holding `copy`; `copy` cleared first.
    copy.clear();
  }
  // A ring whose JS object is dropped while a context still uses it (shared ownership).
  {
    const sctx = serverCtx({ max: VERSION.TLS1_3 });
    sctx.setTicketKeys(new TicketKeys(HOUR, HOUR, 2, true));
    const cctx = clientCtx({ max: VERSION.TLS1_3 });
    const [c, s] = connectPair(cctx, sctx, null);
    const ticket = c.get1Session();
    shutdownBoth(c, s);
    c.free();
    s.free();
    sctx.setTicketKeys(null);
    const [c2, s2] = connectPair(cctx, sctx, ticket);
    check(!c2.sessionReused(), 'keys removed: their tickets no longer resume');
    shutdownBoth(c2, s2);
    ticket.dispose();
    c2.free();
    s2.free();
    sctx.close();
    cctx.close();
  }
  // Trust digest over a chain and a CA store.
  const d1 = serverCtx({}).trustDigest();
  const withCa = serverCtx({});
  withCa.addCaCertificates(other.cert);
  withCa.setVerify(VERIFY.PEER);
  const d2 = withCa.trustDigest();
  check(d1.length === 32 && !d1.equals(d2), 'trust digest covers the CA store');
  withCa.close();
  keys.clear();
}

/** Handshake failures and garbage on the wire: errors surface, everything is freed. */
function failures_() {
  section = 'failures';
  const sctx = serverCtx({});
  const wrongCa = clientCtx({ ca: other.cert });
  const c = new b.SslConnection(wrongCa);
  const s = new b.SslConnection(sctx);
  c.setTlsextHostName('localhost');
  let error;
  try {
    handshake(c, s);
  } catch (e) {
    error = e;
  }
  check(
    error instanceof OpenSSLError && /certificate/i.test(error.message),
    `verify failure is an OpenSSLError (${error && error.message})`,
  );
  check(c.getVerifyResult() !== 0, 'verify result recorded');
  c.free();
  s.free();

  const s2 = new b.SslConnection(sctx);
  s2.feed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  throws(() => s2.doHandshake(), /ERR_SSL|http/i, 'plaintext HTTP into a TLS server');
  check(s2.takeOutput() !== null || true, 'alert taken');
  s2.free();

  const c2 = new b.SslConnection(clientCtx({}));
  c2.doHandshake();
  c2.takeOutput();
  c2.feedEOF();
  throws(() => c2.doHandshake(), undefined, 'EOF during the handshake');
  // c2 and its context left for GC.
  wrongCa.close();
  sctx.close();
}

// ---------------------------------------------------------------------------------------
// Reliability (issue 8): sessions cached elsewhere, contexts closed and connections freed from
// inside their own callbacks, and a deterministic slice of fuzz inputs (mutated sessions and
// handshake flights, as fuzz/ makes them), so valgrind sees those paths too.

/** Deterministic PRNG for the fuzz slice (a run is the same every time). */
function prng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function mutateBytes(bytes, rnd) {
  let out = Buffer.from(bytes);
  for (let k = 1 + rnd(4); k > 0; k--) {
    const at = rnd(out.length + 1);
    switch (rnd(5)) {
      case 0:
        if (at < out.length) out[at] ^= 1 << rnd(8);
        break;
      case 1:
        if (at < out.length) out[at] = [0, 0xff, 0x7f, 0x80, 1][rnd(5)];
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), Buffer.alloc(1 + rnd(16), rnd(256)), out.subarray(at)]);
        break;
      case 3:
        out = out.subarray(0, at);
        break;
      default:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rnd(8))]);
    }
  }
  return out;
}

function reliability() {
  section = 'sessions cached elsewhere';
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const A = serverCtx({ max: version, noTicket: true });
    const B = serverCtx({ max: version, noTicket: true });
    const cctx = clientCtx({ max: version });
    const store = new Map();
    for (const ctx of [A, B]) {
      ctx.sessSetNewCb((s) => store.set(s.getId().toString('hex'), s));
      ctx.sessSetGetCb((id) => store.get(id.toString('hex')) || null);
    }
    let session = null;
    let reused = 0;
    for (let round = 0; round < 6; round++) {
      const [c, s] = connectPair(cctx, round % 2 ? B : A, session);
      if (c.sessionReused()) reused++;
      shutdownBoth(c, s);
      if (session) session.dispose();
      session = c.get1Session();
      c.free();
      s.free();
    }
    for (const s of store.values()) if (s.isResumable()) B.addSession(s);
    check(reused === 5, `${version}: resumed across the two contexts (${reused})`);
    for (const ctx of [A, B]) {
      const before = ctx.stats().number;
      const removed = [];
      ctx.sessSetRemoveCb((s) => removed.push(s));
      ctx.flushSessions(0);
      ctx.sessSetRemoveCb(null);
      check(removed.length === before && before > 0, `${version}: flush reports every cached session once (${removed.length}/${before})`);
      for (const r of removed) r.dispose();
    }
    for (const s of store.values()) s.dispose();
    session.dispose();
    A.close();
    cctx.close();
    // B is left to GC with its callbacks set.
  }

  section = 'callbacks closing their context / freeing their connection';
  for (const where of ['new', 'get']) {
    const sctx = serverCtx({
      max: VERSION.TLS1_2,
      noTicket: true,
      mode: where === 'get' ? SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL : undefined,
    });
    const cctx = clientCtx({ max: VERSION.TLS1_2 });
    const [c0, s0] = connectPair(cctx, sctx, null);
    shutdownBoth(c0, s0);
    const session = c0.get1Session();
    const serverSession = s0.get1Session();
    c0.free();
    s0.free();
    if (where === 'new') sctx.sessSetNewCb(() => sctx.close());
    else
      sctx.sessSetGetCb(() => {
        sctx.close();
        return serverSession;
      });
    const [c, s] = connectPair(cctx, sctx, where === 'get' ? session : null);
    check(sctx.closed, `closed inside its own ${where} callback`);
    check(where === 'new' || c.sessionReused(), 'the session returned after close() resumes');
    c.free();
    s.free();
    session.dispose();
    serverSession.dispose();
    cctx.close();
  }
  {
    const sctx = serverCtx({ max: VERSION.TLS1_2, noTicket: true });
    const cctx = clientCtx({ max: VERSION.TLS1_2 });
    let inside = null;
    sctx.sessSetNewCb((_s, conn) => {
      try {
        conn.free();
      } catch (e) {
        inside = e.code;
      }
    });
    const [c, s] = connectPair(cctx, sctx, null);
    check(inside === 'ERR_CONNECTION_BUSY', `free() inside its own callback refused (${inside})`);
    shutdownBoth(c, s);
    sctx.sessSetRemoveCb(() => throws(() => sctx.close(), 'ERR_CONTEXT_BUSY', 'close() inside remove_cb'));
    c.free();
    s.free();
    sctx.flushSessions(0);
    sctx.close();
    cctx.close();
  }

  section = 'fuzz slice';
  const rnd = prng(8);
  const sctx = serverCtx({});
  const sctx12 = serverCtx({ max: VERSION.TLS1_2 });
  const cctx = clientCtx({});
  // Real flights to mutate: a ClientHello, a TLS 1.2 server flight, a session.
  const hello = (() => {
    const c = new b.SslConnection(cctx);
    c.setTlsextHostName('localhost');
    c.doHandshake();
    const out = c.takeOutput();
    c.free();
    return out;
  })();
  const [c12, s12] = [new b.SslConnection(clientCtx({ max: VERSION.TLS1_2 })), new b.SslConnection(sctx12)];
  c12.doHandshake();
  s12.feed(c12.takeOutput());
  s12.doHandshake();
  const serverFlight = s12.takeOutput();
  c12.free();
  s12.free();
  const [cs, ss] = connectPair(cctx, sctx, null);
  const der = cs.get1Session().toDER();
  shutdownBoth(cs, ss);
  cs.free();
  ss.free();
  let rejected = 0;
  let inputs = 0;
  for (let i = 0; i < 150; i++) {
    inputs++;
    const s = new b.SslConnection(i % 2 ? sctx : sctx12);
    try {
      s.feed(mutateBytes(hello, rnd));
      s.doHandshake();
      s.takeOutput();
    } catch (e) {
      rejected++;
      check(e instanceof OpenSSLError, `mutated ClientHello: OpenSSLError (${e && e.message})`);
    }
    s.free();
  }
  for (let i = 0; i < 100; i++) {
    inputs++;
    const c = new b.SslConnection(clientCtx({ max: VERSION.TLS1_2 }));
    c.doHandshake();
    c.takeOutput();
    try {
      c.feed(mutateBytes(serverFlight, rnd));
      c.doHandshake();
    } catch (e) {
      rejected++;
      check(e instanceof OpenSSLError, `mutated server flight: OpenSSLError (${e && e.message})`);
    }
    if (i % 3) c.free();
  }
  let parsed = 0;
  for (let i = 0; i < 200; i++) {
    inputs++;
    try {
      const s = b.SslSession.fromDER(mutateBytes(der, rnd));
      parsed++;
      s.toDER();
      s.toPEM();
      s.dup().dispose();
      if (i % 4 === 0) {
        const c = new b.SslConnection(cctx);
        c.setSession(s);
        const srv = new b.SslConnection(sctx);
        try {
          handshake(c, srv);
        } catch (e) {
          check(e instanceof OpenSSLError, `offering a mutated session: OpenSSLError (${e && e.message})`);
        }
        c.free();
        srv.free();
      }
      if (i % 2) s.dispose();
    } catch (e) {
      rejected++;
      check(e instanceof OpenSSLError, `mutated session: OpenSSLError (${e && e.message})`);
    }
  }
  check(rejected > 100 && parsed > 5, `fuzz slice: ${inputs} inputs, ${rejected} rejected, ${parsed} sessions parsed`);
  sctx.close();
  sctx12.close();
  cctx.close();
}

/** A worker that loads the addon, leaves objects open, and exits (env cleanup frees them). */
function worker() {
  section = 'worker';
  return new Promise((resolve) => {
    const w = new Worker(__filename, { workerData: { role: 'worker', addonPath } });
    w.on('message', (m) => check(m === 'ok', `worker reported ${m}`));
    w.on('error', (e) => check(false, `worker error ${e && e.stack}`));
    w.on('exit', (code) => {
      check(code === 0, `worker exit code ${code}`);
      resolve();
    });
  });
}

function workerBody() {
  const { parentPort } = require('node:worker_threads');
  const sctx = serverCtx({ noTicket: true });
  const cctx = clientCtx({});
  sctx.sessSetRemoveCb(() => {});
  sctx.sessSetNewCb(() => {});
  const [c, s] = connectPair(cctx, sctx, null);
  const session = c.get1Session();
  const [c2] = connectPair(cctx, sctx, session);
  global.leftOpen = [c, s, c2, session, sctx, cctx, b.SslSession.fromDER(session.toDER())];
  parentPort.postMessage(failures === 0 ? 'ok' : `${failures} failures`);
}

// ---------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  seedLoop('TLS 1.2 tickets', { max: VERSION.TLS1_2 }, { max: VERSION.TLS1_2 }, VERSION.TLS1_2);
  seedLoop('TLS 1.2 session ids', { max: VERSION.TLS1_2, noTicket: true }, { max: VERSION.TLS1_2 }, VERSION.TLS1_2);
  seedLoop('TLS 1.3 tickets', { min: VERSION.TLS1_3 }, { min: VERSION.TLS1_3 }, VERSION.TLS1_3);
  seedLoop('TLS 1.3 stateful', { min: VERSION.TLS1_3, noTicket: true }, {}, VERSION.TLS1_3);
  await collect();
  serialization();
  await collect();
  disposalOrders();
  await collect();
  callbacks();
  await collect();
  keylog();
  await collect();
  serverSide();
  await collect();
  failures_();
  await collect();
  reliability();
  await collect();
  await worker();
  await collect(6);

  section = 'totals';
  if (counts) {
    // Every SSL_SESSION created after the counter started must be gone by now: all handles
    // were disposed or collected and every context closed or collected.
    const now = counts();
    check(now.created - countsAtStart.created > 50, `sessions were counted (${now.created})`);
    check(now.live - countsAtStart.live === 0, `no SSL_SESSION left alive (created ${now.created}, freed ${now.freed})`);
  }
  console.log(
    `driver: ${checks - failures}/${checks} checks passed in ${Date.now() - started} ms${counts ? '' : ' (no session counter in this build)'}`,
  );
  if (failures > 0) process.exitCode = 1;
}

if (isMainThread) {
  main().catch((error) => {
    console.error(`driver crashed in [${section}]:`, error);
    process.exitCode = 1;
  });
} else {
  workerBody();
}
