/**
 * Cache scenarios: short scripted experiments, each showing one OpenSSL rule with real
 * in-memory handshakes. Every result carries the raw observations (typed fields) and a
 * readable `log` of what was done and seen. Time is moved with SSL_SESSION_set_time, never
 * by sleeping.
 */
import { SESS_CACHE, SHUTDOWN } from '../constants.js';
import type { SslContext } from '../core/ssl-context.js';
import type { SslSession } from '../core/ssl-session.js';
import {
  cacheCounters,
  type CacheCounters,
  connectOnce,
  countCallbacks,
  type Counter,
  DerStore,
  ExternalStore,
  labClient,
  labServer,
  openConnection,
  sessionKey,
} from './harness.js';

/** Fields every scenario result has. */
export interface ScenarioBase {
  name: ScenarioName;
  summary: string;
  /** What was done and what OpenSSL did, one line per step. */
  log: string[];
}

const now = (): number => Math.floor(Date.now() / 1000);
const yn = (b: boolean): string => (b ? 'yes' : 'no');

/** A TLS 1.2 session-id server (NO_TICKET) whose new sessions are kept by id, with counting callbacks. */
function idServer(
  mode: number,
  extra: { sessionIdContext?: string } = {},
): {
  ctx: SslContext;
  counter: Counter;
  kept: ExternalStore;
} {
  const ctx = labServer({ version: 'TLSv1.2', mode, tickets: false, ...extra });
  const kept = new ExternalStore();
  const counter = countCallbacks(ctx, {
    onNew: (session) => {
      kept.put(session);
      return true;
    },
  });
  return { ctx, counter, kept };
}

function release(...things: Array<SslContext | ExternalStore | DerStore | Counter | SslSession | null | undefined>): void {
  for (const thing of things) {
    if (thing === null || thing === undefined) continue;
    if (thing instanceof ExternalStore || thing instanceof DerStore) thing.clear();
    else if ('detach' in thing) thing.detach();
    else if ('close' in thing) {
      if (!thing.closed) thing.close();
    } else if (!thing.disposed) thing.dispose();
  }
}

// ---------------------------------------------------------------------------------------

/** Result of {@link timeoutThenFlush}. */
export interface TimeoutFlushResult extends ScenarioBase {
  name: 'timeout-flush';
  /** SSL_CTX_set_timeout of the server, seconds. */
  timeout: number;
  /** Sessions cached after three full handshakes (S1 oldest, S3 newest). */
  cachedAtStart: number;
  /** S1 (still cached, expired) offered again. */
  offerExpiredCached: { reused: boolean; timeouts: number; misses: number; removedS1: boolean; numberAfter: number };
  /** SSL_CTX_flush_sessions(now) with S3 expired too. */
  flush: { numberBefore: number; numberAfter: number; removeCallbacks: number; removedS3: boolean };
  /** S3 (flushed) offered again: gone from the cache, so a miss rather than a timeout. */
  offerFlushed: { reused: boolean; timeouts: number; misses: number };
  /** S2, never expired: the control. */
  offerValid: { reused: boolean };
}

/**
 * Timeout expiry, then flush. Three clients get sessions S1..S3 from a TLS 1.2 session-id
 * server. S1 and S3 are moved into the past on the server (SslSession.setTime). Offering S1
 * finds it in the cache, expired: full handshake, `timeouts` +1 and the remove callback (the
 * server drops it). flushSessions(now) then removes S3 (the newest-created, but expired) and
 * `number` drops. Offering S3 afterwards is a plain miss. S2 still resumes.
 */
export function timeoutThenFlush(): TimeoutFlushResult {
  const log: string[] = [];
  const server = idServer(SESS_CACHE.SERVER);
  const client = labClient('TLSv1.2', undefined);
  const offers: Array<SslSession | null> = [];
  try {
    const timeout = server.ctx.getTimeout();
    for (let i = 0; i < 3; i++) offers.push(connectOnce(client, server.ctx).session);
    const ids = offers.map((s) => (s === null ? '' : sessionKey(s)));
    const cachedAtStart = server.ctx.stats().number;
    log.push(`3 full handshakes: server caches ${cachedAtStart} sessions (S1..S3), timeout ${timeout} s`);

    const past = now() - timeout - 60;
    for (const i of [0, 2]) server.kept.get(Buffer.from(ids[i] ?? '', 'hex'))?.setTime(past);
    log.push(`S1 and S3 set to time = now - ${timeout + 60} s on the server (SSL_SESSION_set_time)`);

    let removedBefore = server.counter.removed.length;
    const a = connectOnce(client, server.ctx, offers[0] ?? null);
    a.session?.dispose();
    let stats = server.ctx.stats();
    const offerExpiredCached = {
      reused: a.reused,
      timeouts: stats.timeouts,
      misses: stats.misses,
      removedS1: server.counter.removed.slice(removedBefore).includes(ids[0] ?? ''),
      numberAfter: stats.number,
    };
    log.push(
      `offer S1: reused ${yn(a.reused)}, timeouts ${stats.timeouts}, misses ${stats.misses}, ` +
        `remove callback for S1 ${yn(offerExpiredCached.removedS1)}, number ${stats.number}`,
    );

    const numberBefore = stats.number;
    removedBefore = server.counter.removed.length;
    server.ctx.flushSessions(now());
    const flushed = server.counter.removed.slice(removedBefore);
    stats = server.ctx.stats();
    const flush = { numberBefore, numberAfter: stats.number, removeCallbacks: flushed.length, removedS3: flushed.includes(ids[2] ?? '') };
    log.push(
      `flushSessions(now): ${flushed.length} remove callback(s) (S3: ${yn(flush.removedS3)}), number ${numberBefore} -> ${stats.number}`,
    );

    const b = connectOnce(client, server.ctx, offers[2] ?? null);
    b.session?.dispose();
    stats = server.ctx.stats();
    const offerFlushed = { reused: b.reused, timeouts: stats.timeouts, misses: stats.misses };
    log.push(`offer S3: reused ${yn(b.reused)}, timeouts ${stats.timeouts}, misses ${stats.misses}`);

    const c = connectOnce(client, server.ctx, offers[1] ?? null);
    c.session?.dispose();
    log.push(`offer S2 (never expired): reused ${yn(c.reused)}`);
    return {
      name: 'timeout-flush',
      summary: SCENARIOS['timeout-flush'].summary,
      log,
      timeout,
      cachedAtStart,
      offerExpiredCached,
      flush,
      offerFlushed,
      offerValid: { reused: c.reused },
    };
  } finally {
    release(server.counter, server.ctx, server.kept, client, ...offers);
  }
}

// ---------------------------------------------------------------------------------------

/** Result of {@link cacheSizeEviction}. */
export interface CacheSizeResult extends ScenarioBase {
  name: 'cache-size';
  cacheSize: number;
  /** Full handshakes made (each a new session). */
  sessions: number;
  numberAfter: number;
  cacheFull: number;
  /** Session ids in the order they were created / removed. */
  created: string[];
  removed: string[];
  /** Offering the newest session (still cached) and the oldest (evicted). */
  offerNewest: { reused: boolean };
  offerOldest: { reused: boolean; misses: number };
}

/**
 * Cache-size limit eviction: setSessionCacheSize(cacheSize) (default 2), then `sessions` (default 4)
 * new sessions. Adds beyond the limit evict the oldest entries first (remove callback,
 * `cacheFull` +1 each). SSL_CTX_add_session counts the session being added before it evicts,
 * so a size-n cache (n >= 2) ends up holding n-1 sessions. The newest still resumes; the
 * oldest is a miss.
 */
export function cacheSizeEviction(cacheSize = 2, sessions = 4): CacheSizeResult {
  const log: string[] = [];
  const server = idServer(SESS_CACHE.SERVER);
  server.ctx.setSessionCacheSize(cacheSize);
  const client = labClient('TLSv1.2', undefined);
  const offers: Array<SslSession | null> = [];
  try {
    for (let i = 0; i < sessions; i++) offers.push(connectOnce(client, server.ctx).session);
    const stats = server.ctx.stats();
    const created = [...server.counter.added];
    const removed = [...server.counter.removed];
    log.push(
      `cache size ${cacheSize}, ${sessions} full handshakes: number ${stats.number}, cacheFull ${stats.cacheFull}, ` +
        `${removed.length} remove callback(s), evicted = created[${removed.map((id) => created.indexOf(id)).join(', ')}]`,
    );
    const newest = connectOnce(client, server.ctx, offers[sessions - 1] ?? null);
    newest.session?.dispose();
    log.push(`offer the newest session: reused ${yn(newest.reused)}`);
    const oldest = connectOnce(client, server.ctx, offers[0] ?? null);
    oldest.session?.dispose();
    const misses = server.ctx.stats().misses;
    log.push(`offer the oldest (evicted) session: reused ${yn(oldest.reused)}, misses ${misses}`);
    return {
      name: 'cache-size',
      summary: SCENARIOS['cache-size'].summary,
      log,
      cacheSize,
      sessions,
      numberAfter: stats.number,
      cacheFull: stats.cacheFull,
      created,
      removed,
      offerNewest: { reused: newest.reused },
      offerOldest: { reused: oldest.reused, misses },
    };
  } finally {
    release(server.counter, server.ctx, server.kept, client, ...offers);
  }
}

// ---------------------------------------------------------------------------------------

/** What one server of {@link sidCtxMismatch} did with the offered session. */
export interface SidCtxServerResult {
  sessionIdContext: string;
  reused: boolean;
  getCallbacks: number;
  stats: CacheCounters;
}

/** Result of {@link sidCtxMismatch}. */
export interface SidCtxResult extends ScenarioBase {
  name: 'sid-ctx-mismatch';
  /** The context that issued the session. */
  issuer: string;
  /** A server with another session id context, serving lookups from the issuer's store. */
  other: SidCtxServerResult;
  /** A server with the issuer's session id context and the same store (control). */
  same: SidCtxServerResult;
}

/**
 * Session id context mismatch between two server contexts. Server A ('app-a') issues a
 * TLS 1.2 session; its onNewSession puts the DER form into a store that servers B ('app-b')
 * and C ('app-a') both serve from onGetSession. Offered to B the session is found (cbHits +1)
 * but rejected for its id context: full handshake (NEW). Offered to C it resumes. The store
 * hands out a fresh SSL_SESSION per lookup because one SSL_SESSION must not sit in two
 * SSL_CTX caches (see {@link DerStore}).
 */
export function sidCtxMismatch(): SidCtxResult {
  const log: string[] = [];
  const store = new DerStore();
  const issuer = labServer({ version: 'TLSv1.2', mode: SESS_CACHE.SERVER, tickets: false, sessionIdContext: 'app-a' });
  const issuerCounter = countCallbacks(issuer, {
    onNew: (session) => {
      store.put(session);
      return false;
    },
  });
  const client = labClient('TLSv1.2', undefined);
  const servers: Array<{ ctx: SslContext; counter: Counter }> = [];
  let session: SslSession | null = null;
  try {
    session = connectOnce(client, issuer).session;
    log.push(
      `server A (sid_ctx 'app-a') issued session ${session === null ? '-' : sessionKey(session).slice(0, 16)}...; the store keeps its DER`,
    );
    const run = (sidCtx: string): SidCtxServerResult => {
      const ctx = labServer({ version: 'TLSv1.2', mode: SESS_CACHE.SERVER, tickets: false, sessionIdContext: sidCtx });
      const counter = countCallbacks(ctx, { lookup: (id) => store.get(id) });
      servers.push({ ctx, counter });
      const r = connectOnce(client, ctx, session);
      r.session?.dispose();
      const stats = cacheCounters(ctx.stats());
      log.push(
        `offer it to a server with sid_ctx '${sidCtx}': reused ${yn(r.reused)}, get callbacks ${counter.counts.get}, ` +
          `cbHits ${stats.cbHits}, hits ${stats.hits}, misses ${stats.misses}, number ${stats.number}`,
      );
      return { sessionIdContext: sidCtx, reused: r.reused, getCallbacks: counter.counts.get, stats };
    };
    const other = run('app-b');
    const same = run('app-a');
    return { name: 'sid-ctx-mismatch', summary: SCENARIOS['sid-ctx-mismatch'].summary, log, issuer: 'app-a', other, same };
  } finally {
    for (const s of servers) release(s.counter, s.ctx);
    release(issuerCounter, issuer, client, session, store);
  }
}

// ---------------------------------------------------------------------------------------

/** How the server side ends the connection in {@link clientWithoutShutdown}. */
export type ServerEnding = 'free' | 'setShutdown' | 'quietShutdown';

/** One variant of {@link clientWithoutShutdown}. */
export interface NoShutdownVariant {
  serverEnding: ServerEnding;
  /** Server remove callbacks when its SSL was freed. */
  serverRemoveCallbacks: number;
  /** Server sess_number after both SSL objects were freed. */
  serverNumberAfter: number;
  /** Is the client's own session handle (SSL_get1_session) still resumable after its SSL_free? */
  clientHandleResumable: boolean;
  /** Reconnect offering a copy (dup) the client made before freeing. */
  reusedWithCopy: boolean;
  /** Reconnect offering the client's own handle. */
  reusedWithHandle: boolean;
}

/** Result of {@link clientWithoutShutdown}. */
export interface NoShutdownResult extends ScenarioBase {
  name: 'client-no-shutdown';
  variants: NoShutdownVariant[];
}

/**
 * Client without SSL_shutdown (seed 000's closing paragraph), TLS 1.2 session ids. The client
 * never sends close_notify; both SSL objects are freed. Server ending 'free': SSL_free of a
 * connection not marked shut down drops its session (remove callback, number 0), so the
 * client cannot resume. 'setShutdown' (SSL_set_shutdown(SENT|RECEIVED) first) and
 * 'quietShutdown' (SSL_set_quiet_shutdown + SSL_shutdown) keep it. The client's own SSL_free
 * also marks ITS session not resumable, so only a copy taken before the free (dup/DER) can
 * be offered again.
 */
export function clientWithoutShutdown(): NoShutdownResult {
  const log: string[] = [];
  const variants: NoShutdownVariant[] = [];
  for (const ending of ['free', 'setShutdown', 'quietShutdown'] as const) {
    const server = idServer(SESS_CACHE.SERVER);
    const client = labClient('TLSv1.2', undefined);
    let handle: SslSession | null = null;
    let copy: SslSession | null = null;
    try {
      const conn = openConnection(client, server.ctx);
      handle = conn.client.get1Session();
      copy = handle?.dup() ?? null;
      if (ending === 'setShutdown') conn.server.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED);
      if (ending === 'quietShutdown') {
        conn.server.setQuietShutdown(true);
        conn.server.shutdown();
      }
      conn.client.free(); // no SSL_shutdown: the client just goes away
      conn.server.free();
      const serverRemoveCallbacks = server.counter.counts.remove;
      const serverNumberAfter = server.ctx.stats().number;
      const clientHandleResumable = handle?.isResumable() ?? false;
      const withCopy = connectOnce(client, server.ctx, copy);
      withCopy.session?.dispose();
      const withHandle = connectOnce(client, server.ctx, handle);
      withHandle.session?.dispose();
      variants.push({
        serverEnding: ending,
        serverRemoveCallbacks,
        serverNumberAfter,
        clientHandleResumable,
        reusedWithCopy: withCopy.reused,
        reusedWithHandle: withHandle.reused,
      });
      log.push(
        `server ${ending === 'free' ? 'SSL_free only' : ending === 'setShutdown' ? 'SSL_set_shutdown(SENT|RECEIVED) + SSL_free' : 'SSL_set_quiet_shutdown(1) + SSL_shutdown + SSL_free'}: ` +
          `remove callbacks ${serverRemoveCallbacks}, number ${serverNumberAfter}; client handle resumable ${yn(clientHandleResumable)}; ` +
          `reconnect with a copy: reused ${yn(withCopy.reused)}, with the handle: reused ${yn(withHandle.reused)}`,
      );
    } finally {
      release(server.counter, server.ctx, server.kept, client, handle, copy);
    }
  }
  return { name: 'client-no-shutdown', summary: SCENARIOS['client-no-shutdown'].summary, log, variants };
}

// ---------------------------------------------------------------------------------------

/** One side of {@link closeWithSessions}. */
export interface CloseSide {
  mode: string;
  numberBeforeClose: number;
  removeCallbacksOnClose: number;
  /** Each removed session's isResumable() inside the remove callback. */
  removedResumable: boolean[];
  /** The removed ids are exactly the ids the new-session callback saw. */
  removedAllAdded: boolean;
}

/** Result of {@link closeWithSessions}. */
export interface CloseResult extends ScenarioBase {
  name: 'close';
  server: CloseSide;
  client: CloseSide;
}

/**
 * SSL_CTX close with sessions cached (seed 003): a SERVER-mode server and a CLIENT-mode client
 * cache 3 TLS 1.2 sessions each; close() fires the remove callback once per cached session
 * (count = sess_number before close), on both sides.
 */
export function closeWithSessions(): CloseResult {
  const log: string[] = [];
  const sides: CloseSide[] = [];
  const server = labServer({ version: 'TLSv1.2', mode: SESS_CACHE.SERVER, tickets: false });
  const client = labClient('TLSv1.2', SESS_CACHE.CLIENT);
  const resumable = new Map<SslContext, boolean[]>([
    [server, []],
    [client, []],
  ]);
  const counters = [server, client].map((ctx) => countCallbacks(ctx, { onRemove: (s) => resumable.get(ctx)?.push(s.isResumable()) }));
  try {
    for (let i = 0; i < 3; i++) connectOnce(client, server).session?.dispose();
    for (const [i, ctx] of [server, client].entries()) {
      const counter = counters[i];
      if (counter === undefined) continue;
      const numberBeforeClose = ctx.stats().number;
      const before = counter.counts.remove;
      ctx.close();
      const removed = counter.removed.slice(before);
      const side: CloseSide = {
        mode: ctx.isServer ? 'SERVER' : 'CLIENT',
        numberBeforeClose,
        removeCallbacksOnClose: counter.counts.remove - before,
        removedResumable: resumable.get(ctx) ?? [],
        removedAllAdded: removed.length === counter.added.length && counter.added.every((id) => removed.includes(id)),
      };
      sides.push(side);
      log.push(
        `${ctx.isServer ? 'server' : 'client'} (${side.mode}): number ${numberBeforeClose} before close(); ` +
          `close() fired ${side.removeCallbacksOnClose} remove callback(s), removed sessions resumable: ${side.removedResumable.map(yn).join(',') || '-'}`,
      );
    }
    const [serverSide, clientSide] = sides as [CloseSide, CloseSide];
    return { name: 'close', summary: SCENARIOS.close.summary, log, server: serverSide, client: clientSide };
  } finally {
    release(server, client);
  }
}

// ---------------------------------------------------------------------------------------

/** One mode of {@link updateTime}. */
export interface UpdateTimeVariant {
  mode: string;
  /** The expired time set on the cached session. */
  timeSet: number;
  /** Its time after SSL_CTX_add_session (of the session already cached). */
  timeAfterAdd: number;
  /** SSL_CTX_add_session's result (false: it was already cached). */
  addReturned: boolean;
  /** Offering it afterwards. */
  reused: boolean;
  timeouts: number;
}

/** Result of {@link updateTime}. */
export interface UpdateTimeResult extends ScenarioBase {
  name: 'update-time';
  variants: UpdateTimeVariant[];
}

/**
 * SSL_SESS_CACHE_UPDATE_TIME: a cached session is moved past its timeout, then handed to
 * SSL_CTX_add_session again. With UPDATE_TIME the add stamps it with the current time, so the
 * next offer resumes; with plain SERVER its time stays, and the offer times out.
 */
export function updateTime(): UpdateTimeResult {
  const log: string[] = [];
  const variants: UpdateTimeVariant[] = [];
  for (const [name, mode] of [
    ['SERVER', SESS_CACHE.SERVER],
    ['SERVER|UPDATE_TIME', SESS_CACHE.SERVER | SESS_CACHE.UPDATE_TIME],
  ] as const) {
    const server = idServer(mode);
    const client = labClient('TLSv1.2', undefined);
    let offer: SslSession | null = null;
    try {
      offer = connectOnce(client, server.ctx).session;
      const cached = offer === null ? null : server.kept.get(offer.getId());
      const timeSet = now() - server.ctx.getTimeout() - 60;
      cached?.setTime(timeSet);
      const addReturned = cached === null ? false : server.ctx.addSession(cached);
      const timeAfterAdd = cached?.getTime() ?? 0;
      const r = connectOnce(client, server.ctx, offer);
      r.session?.dispose();
      const timeouts = server.ctx.stats().timeouts;
      variants.push({ mode: name, timeSet, timeAfterAdd, addReturned, reused: r.reused, timeouts });
      log.push(
        `${name}: cached session set to now-${server.ctx.getTimeout() + 60} s, addSession() -> ${addReturned}, ` +
          `time now-${now() - timeAfterAdd} s; offered: reused ${yn(r.reused)}, timeouts ${timeouts}`,
      );
    } finally {
      release(server.counter, server.ctx, server.kept, client, offer);
    }
  }
  return { name: 'update-time', summary: SCENARIOS['update-time'].summary, log, variants };
}

// ---------------------------------------------------------------------------------------

/** One mode of {@link autoClear}. */
export interface AutoClearVariant {
  mode: string;
  /** Connections accepted by the server context in all. */
  connections: number;
  /** 1-based connection during which the expired session was flushed, or null. */
  flushedAtConnection: number | null;
  numberAfter: number;
}

/** Result of {@link autoClear}. */
export interface AutoClearResult extends ScenarioBase {
  name: 'auto-clear';
  variants: AutoClearVariant[];
}

/**
 * SSL_SESS_CACHE_NO_AUTO_CLEAR: OpenSSL flushes expired sessions by itself once every 255
 * accepted connections. A server caches a valid session V and a session E moved past its
 * timeout; then connections resuming V follow. Without NO_AUTO_CLEAR, E's remove callback
 * fires during connection 256; with it, never.
 */
export function autoClear(connections = 260): AutoClearResult {
  const log: string[] = [];
  const variants: AutoClearVariant[] = [];
  for (const [name, mode] of [
    ['SERVER', SESS_CACHE.SERVER],
    ['SERVER|NO_AUTO_CLEAR', SESS_CACHE.SERVER | SESS_CACHE.NO_AUTO_CLEAR],
  ] as const) {
    const server = idServer(mode);
    const client = labClient('TLSv1.2', undefined);
    let valid: SslSession | null = null;
    try {
      valid = connectOnce(client, server.ctx).session; // connection 1: V
      const e = connectOnce(client, server.ctx); // connection 2: E
      const expiredId = e.session === null ? '' : sessionKey(e.session);
      e.session?.dispose();
      server.kept.get(Buffer.from(expiredId, 'hex'))?.setTime(now() - server.ctx.getTimeout() - 60);
      let flushedAtConnection: number | null = null;
      for (let n = 3; n <= connections; n++) {
        connectOnce(client, server.ctx, valid).session?.dispose();
        if (flushedAtConnection === null && server.counter.removed.includes(expiredId)) flushedAtConnection = n;
      }
      const numberAfter = server.ctx.stats().number;
      variants.push({ mode: name, connections, flushedAtConnection, numberAfter });
      log.push(
        `${name}: ${connections} connections; expired session flushed during connection ${flushedAtConnection ?? 'never'}, number ${numberAfter}`,
      );
    } finally {
      release(server.counter, server.ctx, server.kept, client, valid);
    }
  }
  return { name: 'auto-clear', summary: SCENARIOS['auto-clear'].summary, log, variants };
}

// ---------------------------------------------------------------------------------------

/** Every scenario, by name. */
export const SCENARIOS = {
  'timeout-flush': {
    summary: 'expired sessions: offered while cached -> timeout; flushSessions() removes them',
    run: timeoutThenFlush,
  },
  'cache-size': {
    summary: 'setSessionCacheSize(2) and 4 sessions: oldest evicted first, and a size-n cache keeps n-1',
    run: cacheSizeEviction,
  },
  'sid-ctx-mismatch': {
    summary: 'a session found through onGetSession but issued under another session id context',
    run: sidCtxMismatch,
  },
  'client-no-shutdown': { summary: 'the client never calls SSL_shutdown: what the server keeps', run: clientWithoutShutdown },
  close: { summary: 'SslContext.close() with sessions cached: one remove callback each', run: closeWithSessions },
  'update-time': { summary: 'SSL_SESS_CACHE_UPDATE_TIME: re-adding a cached session renews its time', run: updateTime },
  'auto-clear': { summary: 'the flush every 255 connections, and SSL_SESS_CACHE_NO_AUTO_CLEAR', run: autoClear },
} as const;

/** Names of the scenarios. */
export type ScenarioName = keyof typeof SCENARIOS;

/** The result type of each scenario. */
export interface ScenarioResults {
  'timeout-flush': TimeoutFlushResult;
  'cache-size': CacheSizeResult;
  'sid-ctx-mismatch': SidCtxResult;
  'client-no-shutdown': NoShutdownResult;
  close: CloseResult;
  'update-time': UpdateTimeResult;
  'auto-clear': AutoClearResult;
}

/** Any scenario's result. */
export type ScenarioResult = ScenarioResults[ScenarioName];

/** All scenario names, in a stable order. */
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

/** Runs one scenario by name. Throws a RangeError for an unknown name. */
export function runScenario<N extends ScenarioName>(name: N): ScenarioResults[N] {
  if (typeof name !== 'string' || !Object.hasOwn(SCENARIOS, name)) {
    throw new RangeError(`unknown scenario "${String(name)}" (known: ${SCENARIO_NAMES.join(', ')})`);
  }
  const run = SCENARIOS[name].run as () => unknown;
  return run() as ScenarioResults[N];
}

/** Runs every scenario in order. */
export function runScenarios(): ScenarioResult[] {
  return SCENARIO_NAMES.map((name) => runScenario(name));
}
