'use strict';
/**
 * Child of test/reliability.cross-cache.test.ts (node --expose-gc, raw addon): sessions that
 * belong to another context's cache. OpenSSL links a cached SSL_SESSION into ONE SSL_CTX's
 * list (prev/next/owner inside the session); SSL_CTX_add_session into a second cache while it
 * is still in the first corrupts the first list (a double free, or a flush/free that never
 * returns). Every path by which JS can hand a session to a cache is driven here with sessions
 * cached elsewhere, TLS 1.2 and 1.3, many rounds; then each cache is flushed and checked:
 * the remove callback sees exactly stats().number sessions, each once, and no SSL_SESSION is
 * in two caches. Contexts are then freed by close() and by GC. Prints one JSON line; the test
 * runs it with a timeout (a corrupted list shows up as a hang or a crash).
 */
const h = require('./gc-harness.cjs');

const { VERSION, binding } = h;
const { OP } = binding;

function server(version, tag, extra = 0) {
  const ctx = h.serverContext({ sidCtx: 'shared-store' });
  ctx.setMaxProtoVersion(version);
  ctx.setOptions(OP.NO_TICKET | extra); // stateful: TLS 1.2 ids, TLS 1.3 stateful tickets (ids)
  ctx.tag = tag;
  return ctx;
}

function connectOnce(clientCtx, serverCtx, session) {
  const { client, server: s } = h.connect(clientCtx, serverCtx, session);
  const reused = client.sessionReused();
  h.shutdown(client, s);
  const next = client.get1Session();
  client.free();
  s.free();
  return { reused, next };
}

/** Flushes `ctx` and checks its list: every cached session reported once. */
function audit(ctx, seenElsewhere) {
  const before = ctx.stats().number;
  const removed = [];
  ctx.sessSetRemoveCb((s) => removed.push(s));
  ctx.flushSessions(0);
  ctx.sessSetRemoveCb(null);
  const distinct = removed.every((s, i) => removed.findIndex((o) => o.isSame(s)) === i);
  const shared = removed.filter((s) => seenElsewhere.some((o) => o.isSame(s))).length;
  return { before, removed, distinct, shared, after: ctx.stats().number };
}

function scenario(version) {
  const A = server(version, 'A');
  const B = server(version, 'B');
  const client = h.clientContext();
  client.setMaxProtoVersion(version);
  // One session store shared by both servers (Postfix-style external cache): JS handles of
  // sessions that are ALSO in the internal cache of the server that made them.
  const store = new Map();
  for (const ctx of [A, B]) {
    ctx.sessSetNewCb((s) => store.set(s.getId().toString('hex'), s));
    ctx.sessSetGetCb((id) => store.get(id.toString('hex')) || null);
  }
  const counts = { rounds: 0, reused: 0, added: 0, readded: 0, cbHits: 0 };
  let session = null;
  for (let round = 0; round < 40; round++) {
    const target = round % 2 ? B : A;
    // Resume on the OTHER server than the one that made the session: its internal lookup
    // misses, the get callback returns the other cache's session.
    const r = connectOnce(client, target, session);
    counts.rounds++;
    if (r.reused) counts.reused++;
    if (session) session.dispose();
    session = r.next;
    // addSession of every stored session into the other context, twice (the second time the
    // copy is already there).
    if (round % 5 === 4) {
      for (const s of store.values()) {
        if (!s.isResumable()) continue;
        if (B.addSession(s)) counts.added++;
        if (!B.addSession(s)) counts.readded++;
        A.addSession(s);
      }
    }
  }
  counts.cbHits = A.stats().cbHits + B.stats().cbHits;
  const numbers = { A: A.stats().number, B: B.stats().number };
  const auditA = audit(A, []);
  const auditB = audit(B, auditA.removed);
  const result = {
    version: version === VERSION.TLS1_3 ? 'TLSv1.3' : 'TLSv1.2',
    counts,
    numbers,
    A: { before: auditA.before, removed: auditA.removed.length, distinct: auditA.distinct, after: auditA.after },
    B: { before: auditB.before, removed: auditB.removed.length, distinct: auditB.distinct, shared: auditB.shared, after: auditB.after },
  };
  for (const s of [...auditA.removed, ...auditB.removed]) s.dispose();
  if (session) session.dispose();
  return { result, A, B, client, store };
}

/** Steps 1 and 2 (synchronous, so no local of theirs stays on a suspended async frame). */
function run(out, registry) {
  // 1. TLS 1.2 and 1.3 (stateful tickets): shared get store + addSession across contexts.
  const leftovers = [];
  for (const version of [VERSION.TLS1_2, VERSION.TLS1_3]) {
    const { result, A, B, client, store } = scenario(version);
    out[result.version] = result;
    // Refill both caches across each other, then free one by close() and one by GC.
    const r1 = connectOnce(client, A, null);
    const r2 = connectOnce(client, B, r1.next);
    for (const s of store.values()) if (s.isResumable()) B.addSession(s);
    r1.next.dispose();
    if (r2.next) r2.next.dispose();
    A.close();
    leftovers.push({ B, client, store });
  }
  // 2. A TLS 1.3 server that caches ticket sessions because a remove callback is set (the
  //    configuration the original report saw), sessions handed between two such contexts.
  {
    const A = h.serverContext({ sidCtx: 'tls13-remove-cb' });
    const B = h.serverContext({ sidCtx: 'tls13-remove-cb' });
    const removedA = [];
    const removedB = [];
    A.sessSetRemoveCb((s) => removedA.push(s));
    B.sessSetRemoveCb((s) => removedB.push(s));
    const fromA = [];
    A.sessSetNewCb((s) => fromA.push(s));
    const client = h.clientContext();
    for (let i = 0; i < 10; i++) {
      const r = connectOnce(client, A, null);
      r.next.dispose();
    }
    const added = fromA.map((s) => B.addSession(s));
    const numbers = { A: A.stats().number, B: B.stats().number };
    A.flushSessions(0);
    B.flushSessions(0);
    out.tls13RemoveCb = {
      newSessions: fromA.length,
      added: added.filter(Boolean).length,
      numbers,
      removedA: removedA.length,
      removedB: removedB.length,
      overlap: removedB.filter((s) => removedA.some((o) => o.isSame(s))).length,
    };
    for (const s of [...fromA, ...removedA, ...removedB]) s.dispose();
    A.close();
    B.close();
    client.close();
  }
  // 3. What is left (B of each scenario, with copies of A's sessions in its cache) is left to
  //    the garbage collector: SSL_CTX_free from finalizers must flush a consistent list.
  for (const l of leftovers) {
    registry.register(l.B, 'B');
    for (const s of l.store.values()) s.dispose();
    l.store.clear();
  }
}

async function main() {
  const out = {};
  const started = Date.now();
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  run(out, registry);
  out.gcRounds = await h.gcUntil(() => collected === 2);
  out.ms = Date.now() - started;
  h.report(out);
}

main();
