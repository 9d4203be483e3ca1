/**
 * Child of test/reliability.lifetimes.test.ts: `node --expose-gc --import tsx lifetimes.ts <mode>`.
 *
 * orders     every order (4! = 24) of releasing a session handle, a connection pair, its two
 *            contexts and an SslSessionCache holding the session, each released explicitly
 *            (dispose / free / close / cache.dispose) or by garbage collection (2^4 = 16):
 *            384 scenarios, TLS 1.2 and 1.3 alternating. What is still alive keeps working
 *            after each step; at the end everything was collected and every SSL_SESSION the
 *            child created was freed (SslContext.debugSessionCounts()).
 * callbacks  callbacks that throw, dispose the session they were given, close their own
 *            context, free their own connection, dispose the cache; key log callbacks in a
 *            cycle with their connection and context.
 *
 * Prints one JSON line.
 */
import { SslSessionCache } from '../../lib/cache/index.js';
import {
  OP,
  SslConnection,
  SslContext,
  type SslContextOptions,
  type SslSession,
  createSelfSigned,
  drain,
  handshakeInMemory,
  shutdownInMemory,
  transfer,
} from '../../lib/index.js';

const gc = (globalThis as { gc?: () => void }).gc!;
if (typeof gc !== 'function') throw new Error('run with --expose-gc');

const pair = createSelfSigned({ commonName: 'localhost' });
const tick = () => new Promise((resolve) => setImmediate(resolve));

function contexts(version: 'TLSv1.2' | 'TLSv1.3', server: SslContextOptions = {}) {
  return {
    sctx: new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'lifetimes', maxVersion: version, ...server }),
    cctx: new SslContext('client', { ca: pair.cert, verify: true, maxVersion: version }),
  };
}

function connectPair(cctx: SslContext, sctx: SslContext, session?: SslSession | null) {
  const client = new SslConnection(cctx);
  const server = new SslConnection(sctx);
  if (session) client.setSession(session);
  handshakeInMemory(client, server);
  drain(client, server);
  return { client, server };
}

function thrown(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (error) {
    return `${(error as Error).name}:${(error as { code?: string }).code ?? (error as Error).message}`;
  }
}

// ----- orders ----------------------------------------------------------------------------

type Part = 'session' | 'connections' | 'contexts' | 'cache';
const PARTS: Part[] = ['session', 'connections', 'contexts', 'cache'];

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

async function orders() {
  SslContext.debugSessionCounts(); // starts the counter
  await tick();
  const before = SslContext.debugSessionCounts();
  let registered = 0;
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const track = <T extends object>(o: T): T => {
    registered++;
    registry.register(o, null);
    return o;
  };
  let scenarios = 0;
  let checks = 0;
  let droppedForGc = 0;
  let collectedInScenario = 0;
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    checks++;
    if (!ok && problems.length < 20) problems.push(what);
  };

  type World = Partial<{
    sctx: SslContext;
    cctx: SslContext;
    client: SslConnection;
    server: SslConnection;
    session: SslSession;
    cache: SslSessionCache;
  }>;
  const key = 'peer:443|sni=-|cfg=x';
  let gcMs = 0;
  let gcCalls = 0;
  const fullGc = () => {
    const t0 = performance.now();
    // A full gc(). gc({ type: 'major' | 'minor' }) is cheaper but, in node 20, clears no
    // WeakRef (checked): collectedInScenario would show that it did not collect.
    gc();
    gcCalls++;
    gcMs += performance.now() - t0;
  };

  // The 16 release modes of one order run side by side ("lockstep"): step k releases part k
  // in every world (explicitly, or by dropping it), then ONE gc() runs before step k + 1. Same
  // ordering guarantee as one world at a time, at 1/16th of the full collections (~13 ms each).
  // One async function per order: once it returns, nothing of it stays on a suspended frame.
  const runOrder = async (p: number, order: Part[]): Promise<void> => {
    const worlds: { w: World; mask: number; label: string; refs: Record<Part, WeakRef<object>[]>; dropped: WeakRef<object>[] }[] = [];
    for (let mask = 0; mask < 16; mask++) {
      const version = (p + mask) % 2 ? 'TLSv1.2' : 'TLSv1.3';
      const label = `${order.join('>')} gc=${mask.toString(2).padStart(4, '0')} ${version}`;
      // Everything lives in `w`; "released by GC" = deleted from it, then gc().
      const w: World = {};
      const { sctx, cctx } = contexts(version);
      const { client, server } = connectPair(cctx, sctx);
      w.sctx = track(sctx);
      w.cctx = track(cctx);
      w.client = track(client);
      w.server = track(server);
      w.session = track(client.get1Session()!);
      w.cache = track(new SslSessionCache());
      check(w.cache.set(key, w.session.upRef()), `${label}: cached`);
      // WeakRefs are cleared by the GC itself (no finalizer task to wait for): they show the
      // objects dropped in a GC step really went while the scenario ran.
      const refs = {
        session: [new WeakRef(w.session)],
        connections: [new WeakRef(w.client), new WeakRef(w.server)],
        contexts: [new WeakRef(w.sctx), new WeakRef(w.cctx)],
        cache: [new WeakRef(w.cache)],
      };
      worlds.push({ w, mask, label, refs, dropped: [] });
    }
    await tick(); // a new job: the WeakRefs above no longer keep their targets alive
    for (const [step, part] of order.entries()) {
      let dropped = false;
      for (const { w, mask, label, refs, dropped: droppedRefs } of worlds) {
        if ((mask >> PARTS.indexOf(part)) & 1) {
          if (part === 'session') delete w.session;
          else if (part === 'connections') {
            delete w.client;
            delete w.server;
          } else if (part === 'contexts') {
            delete w.sctx;
            delete w.cctx;
          } else delete w.cache;
          droppedForGc += part === 'session' || part === 'cache' ? 1 : 2;
          droppedRefs.push(...refs[part]);
          dropped = true;
        } else {
          const error = thrown(() => {
            if (part === 'session') w.session!.dispose();
            else if (part === 'connections') {
              if (step % 2) shutdownInMemory(w.client!, w.server!);
              w.client!.free();
              w.server!.free();
            } else if (part === 'contexts') {
              w.sctx!.close();
              w.cctx!.close();
            } else w.cache!.dispose();
          });
          check(error === null, `${label}: releasing ${part} threw ${error}`);
        }
      }
      if (dropped) {
        fullGc();
        await tick();
      }
      // What is still alive (and not released) keeps working, in every world.
      const done = new Set(order.slice(0, step + 1));
      for (const { w, label } of worlds) {
        if (!done.has('session')) check(w.session!.toDER().length > 0, `${label}: session after ${part}`);
        if (!done.has('connections'))
          check(transfer(w.client!, w.server!, Buffer.from('ping')).toString() === 'ping', `${label}: connection after ${part}`);
        if (!done.has('contexts')) check(w.sctx!.stats().acceptGood === 1, `${label}: context after ${part}`);
        if (!done.has('cache')) {
          const got = w.cache!.getSync(key);
          check(got === undefined || got.toDER().length > 0, `${label}: cache after ${part}`); // the cache's own handle: not disposed
        }
      }
    }
    fullGc();
    for (const { dropped } of worlds) collectedInScenario += dropped.filter((r) => r.deref() === undefined).length;
    scenarios += worlds.length;
  };
  const started = performance.now();
  for (const [p, order] of permutations(PARTS).entries()) await runOrder(p, order);

  for (let i = 0; i < 50 && collected < registered; i++) {
    gc();
    await tick();
  }
  const after = SslContext.debugSessionCounts();
  const ms = Math.round(performance.now() - started);
  return {
    scenarios,
    checks,
    problems,
    registered,
    collected,
    sessionsCreated: after.created - before.created,
    sessionsLeft: after.live - before.live,
    droppedForGc,
    collectedInScenario,
    ms,
    gcCalls,
    gcMs: Math.round(gcMs),
  };
}

// ----- callbacks --------------------------------------------------------------------------

class Boom extends Error {}

const TLS12_ID: SslContextOptions = { options: OP.NO_TICKET };

async function callbacks() {
  const r: Record<string, unknown> = {};

  {
    // onNewSession throws: the step rethrows that very error; OpenSSL saw a normal return
    // (the session is cached), and driving the handshake on finishes it.
    const { sctx, cctx } = contexts('TLSv1.2', TLS12_ID);
    const boom = new Boom('new');
    sctx.onNewSession(() => {
      throw boom;
    });
    const client = new SslConnection(cctx);
    const server = new SslConnection(sctx);
    let caught: unknown;
    try {
      handshakeInMemory(client, server);
    } catch (error) {
      caught = error;
    }
    handshakeInMemory(client, server); // resumes stepping
    const session = client.get1Session()!;
    shutdownInMemory(client, server);
    const again = connectPair(cctx, sctx, session);
    r.newThrows = { same: caught === boom, cached: sctx.stats().number, resumed: again.client.sessionReused() };
    sctx.onNewSession(null);
    for (const x of [client, server, again.client, again.server]) x.free();
    session.dispose();
    sctx.close();
    cctx.close();
  }
  {
    // onRemoveSession throws: flushSessions and close rethrow it after doing their work.
    const { sctx, cctx } = contexts('TLSv1.2', TLS12_ID);
    for (let i = 0; i < 3; i++) {
      const { client, server } = connectPair(cctx, sctx);
      shutdownInMemory(client, server);
      client.free();
      server.free();
    }
    let removed = 0;
    sctx.onRemoveSession(() => {
      removed++;
      throw new Boom('remove');
    });
    const first = sctx.stats().number;
    const flushError = thrown(() => sctx.flushSessions(0));
    const afterFlush = sctx.stats().number;
    const { client, server } = connectPair(cctx, sctx);
    shutdownInMemory(client, server);
    client.free();
    server.free();
    const closeError = thrown(() => sctx.close());
    r.removeThrows = { first, afterFlush, removed, flushError, closeError, closed: sctx.closed };
    cctx.close();
  }
  {
    // onGetSession throws: a miss (full handshake) once stepping goes on.
    const { sctx, cctx } = contexts('TLSv1.2', { ...TLS12_ID, sessionCacheMode: 0x0302 /* SERVER | NO_INTERNAL */ });
    const made = connectPair(cctx, sctx);
    const session = made.client.get1Session()!;
    shutdownInMemory(made.client, made.server);
    sctx.onGetSession(() => {
      throw new Boom('get');
    });
    const client = new SslConnection(cctx);
    const server = new SslConnection(sctx);
    client.setSession(session);
    let caught: unknown;
    try {
      handshakeInMemory(client, server);
    } catch (error) {
      caught = error;
    }
    handshakeInMemory(client, server);
    r.getThrows = { boom: caught instanceof Boom, reused: client.sessionReused(), misses: sctx.stats().misses };
    for (const x of [client, server, made.client, made.server]) x.free();
    session.dispose();
    sctx.close();
    cctx.close();
  }
  {
    // Callbacks that dispose the session they were given: each handle is the callback's own.
    const { sctx, cctx } = contexts('TLSv1.3', { ...TLS12_ID });
    cctx.setSessionCacheMode(0x0001); // CLIENT: onNewSession and the listener fire on the client
    const kept: SslSession[] = [];
    sctx.onNewSession((s) => s.dispose());
    sctx.onRemoveSession((s) => s.dispose());
    cctx.onNewSession((s) => kept.push(s));
    const client = new SslConnection(cctx);
    client.setSessionListener((s) => s.dispose()); // disposes its own handle only
    const server = new SslConnection(sctx);
    handshakeInMemory(client, server);
    drain(client, server);
    shutdownInMemory(client, server);
    const resumed = connectPair(cctx, sctx, kept.at(-1));
    const flushed = thrown(() => sctx.flushSessions(0));
    r.disposeGiven = {
      kept: kept.length,
      allUsable: kept.every((s) => !s.disposed && s.toDER().length > 0),
      resumed: resumed.client.sessionReused(),
      flushed,
    };
    for (const x of [client, server, resumed.client, resumed.server]) x.free();
    for (const s of kept) s.dispose();
    sctx.close();
    cctx.close();
  }
  {
    // A context closed from inside its own onNewSession / onGetSession: allowed; the
    // connection finishes and keeps working on OpenSSL's SSL_CTX reference.
    const results: Record<string, unknown> = {};
    for (const where of ['new', 'get-null', 'get-session'] as const) {
      const { sctx, cctx } = contexts('TLSv1.2', { ...TLS12_ID, ...(where === 'new' ? {} : { sessionCacheMode: 0x0302 }) });
      const made = connectPair(cctx, sctx);
      const session = made.client.get1Session()!;
      shutdownInMemory(made.client, made.server);
      const serverSession = made.server.get1Session()!;
      if (where === 'new') sctx.onNewSession(() => sctx.close());
      else
        sctx.onGetSession(() => {
          sctx.close();
          return where === 'get-session' ? serverSession : null;
        });
      const client = new SslConnection(cctx);
      const server = new SslConnection(sctx);
      if (where !== 'new') client.setSession(session);
      const error = thrown(() => handshakeInMemory(client, server));
      results[where] = {
        error,
        closed: sctx.closed,
        reused: client.sessionReused(),
        works: transfer(client, server, Buffer.from('still')).toString() === 'still',
        stats: thrown(() => sctx.stats()),
      };
      for (const x of [client, server, made.client, made.server]) x.free();
      session.dispose();
      serverSession.dispose();
      cctx.close();
    }
    // ... and from inside onRemoveSession: refused (the cache lock may be held), rethrown by the flush.
    const { sctx, cctx } = contexts('TLSv1.2', TLS12_ID);
    const made = connectPair(cctx, sctx);
    shutdownInMemory(made.client, made.server);
    let inside: string | null = null;
    sctx.onRemoveSession(() => {
      inside = thrown(() => sctx.close());
    });
    const flush = thrown(() => sctx.flushSessions(0));
    results.remove = { inside, flush, closedAfter: thrown(() => sctx.close()), closed: sctx.closed };
    made.client.free();
    made.server.free();
    cctx.close();
    r.closeInOwnCallback = results;
  }
  {
    // A connection freed from inside a callback of its own step: ERR_CONNECTION_BUSY there,
    // rethrown by the step; the connection stays usable and frees normally afterwards. Another
    // connection of the same context may be freed there.
    const { sctx, cctx } = contexts('TLSv1.2', TLS12_ID);
    const other = new SslConnection(sctx);
    let inside: string | null = null;
    let otherFreed: string | null = 'not run';
    sctx.onNewSession((_s, connection) => {
      inside = thrown(() => connection?.free());
      otherFreed = thrown(() => other.free());
    });
    const client = new SslConnection(cctx);
    const server = new SslConnection(sctx);
    const step = thrown(() => handshakeInMemory(client, server));
    handshakeInMemory(client, server);
    const listenerFree: string[] = [];
    const c2 = new SslConnection(cctx);
    cctx.setSessionCacheMode(0x0001);
    c2.setSessionListener(() => {
      listenerFree.push(thrown(() => c2.free()) ?? 'freed');
    });
    const s2 = new SslConnection(sctx);
    sctx.onNewSession(null);
    thrown(() => handshakeInMemory(c2, s2));
    r.freeInOwnCallback = {
      inside,
      step,
      otherFreed,
      works: transfer(client, server, Buffer.from('ok')).toString() === 'ok',
      freeAfter: thrown(() => server.free()),
      listenerFree,
      c2Alive: !c2.freed,
    };
    for (const x of [client, c2, s2]) x.free();
    sctx.close();
    cctx.close();
  }
  {
    // SslSessionCache disposed from inside its own 'evict' listener, in the middle of set().
    const { sctx, cctx } = contexts('TLSv1.2');
    const cache = new SslSessionCache({ maxPeers: 1 });
    const sessions = [0, 1, 2].map(() => {
      const { client, server } = connectPair(cctx, sctx);
      shutdownInMemory(client, server);
      const s = client.get1Session()!;
      client.free();
      server.free();
      return s;
    });
    let evictions = 0;
    cache.on('evict', () => {
      evictions++;
      cache.dispose();
    });
    const sets = sessions.map((s, i) => thrown(() => cache.set(`peer${i}:443|sni=-|cfg=x`, s.upRef())));
    r.cacheDisposeInEvict = {
      sets,
      evictions,
      disposed: cache.disposed,
      getAfter: cache.getSync('peer2:443|sni=-|cfg=x') === undefined,
      setAfter: cache.set('peer9:443|sni=-|cfg=x', sessions[0]!.upRef()),
      stats: cache.stats().sessions,
    };
    for (const s of sessions) s.dispose();
    sctx.close();
    cctx.close();
  }
  {
    // Key log callbacks closing over their own connection and context (a cycle GC must see
    // through: the native side keeps them as plain properties), all dropped unreleased; and a
    // context closed from inside its own keylog callback, mid-handshake.
    const refs = await (async () => {
      const { sctx, cctx } = contexts('TLSv1.3');
      let lines = 0;
      sctx.onKeylog(() => void (lines += sctx.closed ? 0 : 1));
      const client = new SslConnection(cctx);
      client.setKeylogListener(() => void (lines += client.freed ? 0 : 1));
      const server = new SslConnection(sctx);
      handshakeInMemory(client, server);
      return { lines, refs: [sctx, cctx, client, server].map((x) => new WeakRef(x)) };
    })();
    for (let i = 0; i < 5; i++) {
      gc();
      await tick();
    }
    const { sctx, cctx } = contexts('TLSv1.2');
    let calls = 0;
    cctx.onKeylog(() => {
      calls++;
      cctx.close();
    });
    const client = new SslConnection(cctx);
    const server = new SslConnection(sctx);
    handshakeInMemory(client, server);
    r.keylog = {
      lines: refs.lines,
      collected: refs.refs.every((ref) => ref.deref() === undefined),
      closedInside: { calls, closed: cctx.closed, works: transfer(client, server, Buffer.from('ok')).toString() },
    };
    shutdownInMemory(client, server);
    client.free();
    server.free();
    sctx.close();
  }
  for (let i = 0; i < 5; i++) {
    gc();
    await tick();
  }
  return r;
}

const mode = process.argv[2];
const result = mode === 'orders' ? await orders() : mode === 'callbacks' ? await callbacks() : { error: `unknown mode ${mode}` };
process.stdout.write(`${JSON.stringify(result)}\n`);
