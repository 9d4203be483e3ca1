'use strict';
/**
 * node --expose-gc gc-lifetimes.cjs <scenario>
 *
 * Drops native objects without dispose()/free()/close() in various orders, lets the garbage
 * collector and the Node-API finalizers run, uses whatever is still referenced, and prints
 * one line of JSON. Driven by test/ssl-session.refcount.test.ts, which asserts on it; a
 * crash shows up there as a signal / non-zero exit.
 */
const {
  binding,
  SslConnection,
  SslSession,
  serverContext,
  clientContext,
  pipe,
  shutdown,
  connect,
  gcUntil,
  tracker,
  thrown,
  report,
} = require('./gc-harness.cjs');

const now = () => Math.floor(Date.now() / 1000);

/** A session callback that only keeps what it receives. */
function collector() {
  const list = [];
  return { list, push: (session) => void list.push(session) };
}

const scenarios = {
  /** Many contexts, connections (finished, unfinished, never shut down) and sessions, all dropped. */
  async churn() {
    const t = tracker();
    let illegal = null;
    (() => {
      for (let i = 0; i < 30; i++) {
        const serverCtx = t.track(serverContext({ tls12: i % 2 === 0, noTicket: i % 4 === 0 }), 'context');
        const clientCtx = t.track(clientContext(), 'context');
        let session = null;
        for (let j = 0; j < 3; j++) {
          const { client, server } = connect(clientCtx, serverCtx, session);
          t.track(client, 'connection');
          t.track(server, 'connection');
          if (j === 0) shutdown(client, server); // the others are dropped mid-connection
          session = t.track(client.get1Session(), 'session');
          t.track(server.get1Session(), 'session');
          t.track(session.upRef(), 'session');
          t.track(session.dup(), 'session');
          t.track(SslSession.fromDER(session.toDER()), 'session');
        }
        const unfinished = t.track(new SslConnection(clientCtx), 'connection');
        unfinished.doHandshake(); // ClientHello written, never answered
      }
      for (let i = 0; i < 100; i++) illegal = thrown(() => new SslSession());
    })();
    const rounds = await gcUntil(() => t.all());
    report({ created: t.created, collected: t.collected, rounds, illegal });
  },

  /** Connections collected while their contexts live on; the contexts keep working. */
  async connectionsFirst() {
    const serverCtx = serverContext({ tls12: true, noTicket: true });
    const clientCtx = clientContext();
    let removeCalls = 0;
    serverCtx.sessSetRemoveCb(() => {
      removeCalls++;
    });
    const t = tracker();
    const clientSessions = [];
    (() => {
      for (let i = 0; i < 10; i++) {
        // Never shut down: SSL_free (here: the finalizer) calls ssl_clear_bad_session().
        const { client, server } = connect(clientCtx, serverCtx);
        t.track(client, 'connection');
        t.track(server, 'connection');
        clientSessions.push(client.get1Session());
      }
    })();
    const cachedBefore = serverCtx.stats().number;
    const resumableBefore = clientSessions.filter((s) => s.isResumable()).length;
    const rounds = await gcUntil(() => t.all());
    const cachedAfter = serverCtx.stats().number;
    const resumableAfter = clientSessions.filter((s) => s.isResumable()).length;
    const removeCallsDuringGc = removeCalls;

    // Both contexts still work: a fresh session, then its resumption.
    const first = connect(clientCtx, serverCtx);
    shutdown(first.client, first.server);
    const fresh = first.client.get1Session();
    first.client.free();
    first.server.free();
    const second = connect(clientCtx, serverCtx, fresh);
    const reused = second.client.sessionReused();
    shutdown(second.client, second.server);
    report({
      created: t.created,
      collected: t.collected,
      rounds,
      cachedBefore,
      cachedAfter,
      resumableBefore,
      resumableAfter,
      removeCallsDuringGc,
      reused,
      stats: serverCtx.stats(),
    });
  },

  /** The contexts (and connections) are collected while sessions they made are still held. */
  async sessionOutlivesContext() {
    const t = tracker();
    let clientSession = null;
    let serverSession = null;
    (() => {
      const serverCtx = t.track(serverContext({ tls12: true, noTicket: true }), 'context');
      const clientCtx = t.track(clientContext(), 'context');
      const { client, server } = connect(clientCtx, serverCtx);
      t.track(client, 'connection');
      t.track(server, 'connection');
      shutdown(client, server);
      clientSession = client.get1Session();
      serverSession = server.get1Session(); // the object in serverCtx's internal cache
    })();
    const rounds = await gcUntil(() => t.all());

    // The server session left a cache that no longer exists; these touch its cache links.
    const time = now();
    serverSession.setTime(time);
    serverSession.setTimeout(300);
    const der = clientSession.toDER();
    const fields = {
      time: serverSession.getTime() === time,
      timeout: serverSession.getTimeout(),
      sameId: serverSession.getId().equals(clientSession.getId()),
      derRoundTrip: SslSession.fromDER(der).toDER().equals(der),
      clientResumable: clientSession.isResumable(),
    };
    // A new server (same certificate and id context) gets a copy of the orphaned session in
    // its cache: the client's session resumes there.
    const serverCtx2 = serverContext({ tls12: true, noTicket: true });
    const added = serverCtx2.addSession(serverSession.dup());
    const { client, server } = connect(clientContext(), serverCtx2, clientSession);
    const reused = client.sessionReused();
    shutdown(client, server);
    report({ created: t.created, collected: t.collected, rounds, fields, added, reused, hits: serverCtx2.stats().hits });
  },

  /** Sessions handed to JS by callbacks, then the contexts closed while a connection is live. */
  async closeWithSessionsOut() {
    const t = tracker();
    // Synchronous, so that no session lingers in the async function's saved frame.
    const result = (() => {
      const serverCtx = serverContext({ tls12: true, noTicket: true });
      const clientCtx = clientContext();
      // Client side through the callback only (node:tls does the same): nothing in the
      // client's internal cache for close() to flush.
      clientCtx.setSessionCacheMode(binding.SESS_CACHE.CLIENT | binding.SESS_CACHE.NO_INTERNAL_STORE);
      // The callbacks close over their list only, not over this function's variables (the
      // contexts among them): see callbackCycles for what a callback reaching its own
      // context does to garbage collection.
      const serverNew = collector();
      const serverRemoved = collector();
      const clientNew = collector();
      serverCtx.sessSetNewCb(serverNew.push);
      serverCtx.sessSetRemoveCb(serverRemoved.push);
      clientCtx.sessSetNewCb(clientNew.push);
      for (let i = 0; i < 5; i++) {
        const { client, server } = connect(clientCtx, serverCtx);
        shutdown(client, server);
        client.free();
        server.free();
      }
      const live = connect(clientCtx, serverCtx);
      const cachedBeforeClose = serverCtx.stats().number;
      serverCtx.close();
      clientCtx.close();

      // The live connection keeps its SSL_CTX reference in OpenSSL and keeps working.
      live.server.write(Buffer.from('after close'));
      pipe(live.server, live.client);
      const received = live.client.read().toString();
      const liveSession = live.client.get1Session();
      shutdown(live.client, live.server);
      live.client.free();
      live.server.free();

      const all = [...serverNew.list, ...serverRemoved.list, ...clientNew.list, liveSession];
      const usable = all.every((s) => {
        const der = s.toDER();
        return der.length > 0 && SslSession.fromDER(der).toDER().equals(der) && s.getId().length > 0;
      });
      const sameAsNew = serverRemoved.list.filter((r) => serverNew.list.some((n) => n.isSame(r))).length;
      const closedErrors = {
        stats: thrown(() => serverCtx.stats()),
        connection: thrown(() => new SslConnection(serverCtx)),
        close: thrown(() => serverCtx.close()),
      };
      // Client sessions handed out by the callback resume against a server that has them.
      const serverCtx2 = serverContext({ tls12: true, noTicket: true });
      for (const s of serverNew.list) serverCtx2.addSession(s.dup());
      const resumed = clientNew.list.map((s) => {
        const { client, server } = connect(clientContext(), serverCtx2, s);
        const reused = client.sessionReused();
        shutdown(client, server);
        return reused;
      });
      for (const s of all) t.track(s, 'session');
      return {
        counts: { serverNew: serverNew.list.length, serverRemoved: serverRemoved.list.length, clientNew: clientNew.list.length },
        cachedBeforeClose,
        received,
        usable,
        sameAsNew,
        closedErrors,
        resumed,
      };
    })();
    // Everything handed out is dropped now and must be collected like anything else.
    const rounds = await gcUntil(() => t.all());
    report({ ...result, handedOut: t.created.session, collected: t.collected.session, rounds });
  },

  /**
   * Callbacks and listeners that close over their own owner, nothing closed or freed; and
   * the same closed/freed. Each case in its own function: closures of one function share one
   * V8 context, so one leaked closure would keep every sibling's variables alive.
   */
  async callbackCycles() {
    const t = tracker();
    const cases = {
      contextNewCbOwnContext() {
        const ctx = t.track(serverContext(), 'contextNewCbOwnContext');
        ctx.sessSetNewCb(() => ctx.stats());
      },
      contextRemoveCbOwnContext() {
        const ctx = t.track(serverContext(), 'contextRemoveCbOwnContext');
        ctx.sessSetRemoveCb(() => ctx.stats());
      },
      contextCbNoCycle() {
        const ctx = t.track(serverContext(), 'contextCbNoCycle');
        ctx.sessSetNewCb(() => 1);
      },
      contextCycleClosed() {
        const ctx = t.track(serverContext(), 'contextCycleClosed');
        ctx.sessSetNewCb(() => ctx.stats());
        ctx.close();
      },
      contextCycleUnset() {
        const ctx = t.track(serverContext(), 'contextCycleUnset');
        ctx.sessSetNewCb(() => ctx.stats());
        ctx.sessSetNewCb(null);
      },
      connectionListenerOwnConnection() {
        const conn = t.track(new SslConnection(clientContext()), 'connectionListenerOwnConnection');
        conn.setSessionListener(() => conn.freed);
      },
      connectionCycleFreed() {
        const conn = t.track(new SslConnection(clientContext()), 'connectionCycleFreed');
        conn.setSessionListener(() => conn.freed);
        conn.free();
      },
    };
    for (const run of Object.values(cases)) run();
    const rounds = await gcUntil(() => t.all(), 25);
    const collected = {};
    for (const tag of Object.keys(t.created)) collected[tag] = t.collected[tag] === t.created[tag];
    report({ collected, rounds });
  },

  /** Leaves live objects of every kind behind and lets the process exit (env teardown). */
  async exitWithLiveObjects() {
    const serverCtx = serverContext({ tls12: true, noTicket: true });
    const clientCtx = clientContext();
    serverCtx.sessSetRemoveCb(() => {
      throw new Error('remove callback must not run during teardown');
    });
    serverCtx.sessSetNewCb(() => undefined);
    const done = connect(clientCtx, serverCtx); // finished, never shut down
    const session = done.client.get1Session();
    const unfinished = new SslConnection(clientCtx);
    unfinished.doHandshake();
    globalThis.keep = { serverCtx, clientCtx, done, session, unfinished, copy: session.dup() };
    report({ cached: serverCtx.stats().number, resumable: session.isResumable() });
  },
};

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  process.stderr.write(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(', ')}\n`);
  process.exit(2);
}
scenario().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
