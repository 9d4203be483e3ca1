/**
 * The lab's scenarios against what OpenSSL's source says (see lab.matrix.test.ts for the file
 * abbreviations). Each expectation cites the rule it comes from; none was copied from output.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import {
  type AutoClearResult,
  autoClear,
  type CacheSizeResult,
  cacheSizeEviction,
  type CloseResult,
  type NoShutdownResult,
  type SidCtxResult,
  type TimeoutFlushResult,
  type UpdateTimeResult,
  clientWithoutShutdown,
  closeWithSessions,
  formatScenarios,
  runScenario,
  runScenarios,
  SCENARIO_NAMES,
  sidCtxMismatch,
  timeoutThenFlush,
  updateTime,
} from '../lib/lab/index.js';

describe('timeout expiry, then flush', () => {
  let r: TimeoutFlushResult;
  beforeAll(() => {
    r = timeoutThenFlush();
  });

  it('caches one session per full handshake (ssl_update_cache, SERVER mode)', () => {
    expect(r.cachedAtStart).toBe(3);
    expect(r.timeout).toBe(7200); // t1_lib.c tls1_default_timeout: 2 hours
  });

  it('an expired session still in the cache: found, timed out, removed, full handshake', () => {
    // ssl_sess.c ssl_get_prev_session: sess_timedout(now, ret) -> sess_timeout +1 and, as it came
    // from the cache (try_session_cache), SSL_CTX_remove_session -> remove_session_cb. It was
    // found, so no miss. The full handshake then caches a new session: 3 - 1 + 1.
    expect(r.offerExpiredCached).toEqual({ reused: false, timeouts: 1, misses: 0, removedS1: true, numberAfter: 3 });
  });

  it('flushSessions(now) removes the other expired session, with a remove callback', () => {
    // ssl_sess.c SSL_CTX_flush_sessions: every session whose time + timeout is before t is taken
    // out of the cache, marked not resumable and passed to remove_session_cb. S3 is the newest
    // session but SSL_SESSION_set_time moved it into the past.
    expect(r.flush).toEqual({ numberBefore: 3, numberAfter: 2, removeCallbacks: 1, removedS3: true });
  });

  it('offering a flushed session is a plain miss (not a timeout)', () => {
    // lookup_sess_in_cache: not in the internal cache -> sess_miss +1; timeouts unchanged.
    expect(r.offerFlushed).toEqual({ reused: false, timeouts: 1, misses: 1 });
    expect(r.offerValid.reused).toBe(true);
  });
});

describe('cache size limit', () => {
  let r: CacheSizeResult;
  beforeAll(() => {
    r = cacheSizeEviction();
  });

  it('setSessionCacheSize(2) with 4 sessions keeps ONE: SSL_CTX_add_session counts the new session before evicting', () => {
    // ssl_sess.c SSL_CTX_add_session: lh_SSL_SESSION_insert(ctx->sessions, c) first, then
    // `while (SSL_CTX_sess_number(ctx) >= SSL_CTX_sess_get_cache_size(ctx))` evicts the list tail
    // (remove_session_lock -> remove_session_cb, sess_cache_full +1). The number already includes
    // c, so a size-2 cache is cut down to 1 on every add after the first: 3 evictions for 4 adds.
    expect(r.numberAfter).toBe(1);
    expect(r.cacheFull).toBe(3);
  });

  it('evicts the oldest first', () => {
    // SSL_SESSION_list_add puts a session whose timeout is >= the head's at the head, so the
    // tail (evicted first) is the oldest.
    expect(r.removed).toEqual(r.created.slice(0, 3));
  });

  it('the same rule at other sizes: size 1 keeps 1 (the new one), size 3 keeps 2', () => {
    // Size 1: after evicting the old tail the loop calls remove_session_lock(ctx, tail == NULL)
    // (c is not linked into the list yet), which returns 0 and ends the loop with c alone.
    const one = cacheSizeEviction(1, 4);
    expect(one).toMatchObject({ numberAfter: 1, cacheFull: 3 });
    expect(one.removed).toEqual(one.created.slice(0, 3));
    const three = cacheSizeEviction(3, 5);
    expect(three).toMatchObject({ numberAfter: 2, cacheFull: 3 });
    expect(three.removed).toEqual(three.created.slice(0, 3));
  });

  it('the newest session still resumes, the evicted oldest is a miss', () => {
    expect(r.offerNewest.reused).toBe(true);
    expect(r.offerOldest).toEqual({ reused: false, misses: 1 });
  });
});

describe('session id context mismatch between two server contexts', () => {
  let r: SidCtxResult;
  beforeAll(() => {
    r = sidCtxMismatch();
  });

  it('the other context finds the session through onGetSession but refuses it: NEW', () => {
    // lookup_sess_in_cache: internal miss (sess_miss +1), get_session_cb returns it
    // (sess_cb_hit +1) and, NO_INTERNAL_STORE unset, SSL_CTX_add_session (number +1) -- all
    // before ssl_get_prev_session compares sid_ctx ("treat like cache miss"). The full
    // handshake then caches the context's own new session: number 2, no hit.
    expect(r.other.reused).toBe(false);
    expect(r.other.getCallbacks).toBe(1);
    expect(r.other.stats).toMatchObject({ number: 2, hits: 0, misses: 1, cbHits: 1, timeouts: 0 });
  });

  it('a context with the same session id context resumes it', () => {
    expect(r.same.reused).toBe(true);
    expect(r.same.stats).toMatchObject({ number: 1, hits: 1, misses: 1, cbHits: 1 });
  });
});

describe('client without SSL_shutdown', () => {
  let r: NoShutdownResult;
  beforeAll(() => {
    r = clientWithoutShutdown();
  });
  const variant = (ending: string) => r.variants.find((v) => v.serverEnding === ending)!;

  it('server SSL_free without shutdown drops the session', () => {
    // ssl_sess.c ssl_clear_bad_session, called by SSL_free: session set, !(shutdown &
    // SSL_SENT_SHUTDOWN) and the handshake done -> SSL_CTX_remove_session -> remove_session_cb.
    expect(variant('free')).toMatchObject({ serverRemoveCallbacks: 1, serverNumberAfter: 0, reusedWithCopy: false });
  });

  it('SSL_set_shutdown(SENT|RECEIVED) or a quiet SSL_shutdown keep it (seed 000)', () => {
    // With SSL_SENT_SHUTDOWN set ssl_clear_bad_session does nothing; ssl3_shutdown in quiet
    // mode sets shutdown = SENT|RECEIVED and returns 1 without writing close_notify.
    for (const ending of ['setShutdown', 'quietShutdown']) {
      expect(variant(ending)).toMatchObject({ serverRemoveCallbacks: 0, serverNumberAfter: 1, reusedWithCopy: true });
    }
  });

  it("the client's own SSL_free makes its session unresumable: only a copy taken before can be offered", () => {
    // The same ssl_clear_bad_session runs on the client: SSL_CTX_remove_session ->
    // remove_session_lock sets not_resumable = 1 on the session (cached or not), so
    // SSL_SESSION_is_resumable() is false and tls_construct_client_hello starts a new session.
    for (const v of r.variants) {
      expect(v.clientHandleResumable).toBe(false);
      expect(v.reusedWithHandle).toBe(false);
    }
  });
});

describe('SSL_CTX close with sessions cached', () => {
  let r: CloseResult;
  beforeAll(() => {
    r = closeWithSessions();
  });

  it('fires the remove callback once per cached session, server and client (seed 003)', () => {
    // ssl_lib.c SSL_CTX_free: SSL_CTX_flush_sessions(a, 0) (t == 0: every session) before the
    // cache is freed; close() does the same at once.
    for (const side of [r.server, r.client]) {
      expect(side.numberBeforeClose).toBe(3);
      expect(side.removeCallbacksOnClose).toBe(side.numberBeforeClose);
      expect(side.removedAllAdded).toBe(true);
      // flush sets not_resumable = 1 before calling remove_session_cb
      expect(side.removedResumable).toEqual([false, false, false]);
    }
    expect(r.client.mode).toBe('CLIENT');
  });
});

describe('SSL_SESS_CACHE_UPDATE_TIME', () => {
  let r: UpdateTimeResult;
  beforeAll(() => {
    r = updateTime();
  });
  const variant = (mode: string) => r.variants.find((v) => v.mode === mode)!;

  it('re-adding a cached session renews its time only with UPDATE_TIME', () => {
    // ssl_sess.c SSL_CTX_add_session: `if (mode & SSL_SESS_CACHE_UPDATE_TIME) c->time = now`,
    // also for a session already cached (which makes the call return 0).
    const plain = variant('SERVER');
    expect(plain.addReturned).toBe(false);
    expect(plain.timeAfterAdd).toBe(plain.timeSet);
    expect(plain).toMatchObject({ reused: false, timeouts: 1 });
    const update = variant('SERVER|UPDATE_TIME');
    expect(update.addReturned).toBe(false);
    expect(update.timeAfterAdd).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
    expect(update).toMatchObject({ reused: true, timeouts: 0 });
  });
});

describe('automatic flush and SSL_SESS_CACHE_NO_AUTO_CLEAR', () => {
  let r: AutoClearResult;
  beforeAll(() => {
    r = autoClear();
  });
  const variant = (mode: string) => r.variants.find((v) => v.mode === mode)!;

  it('flushes expired sessions during the 256th accepted connection unless NO_AUTO_CLEAR', () => {
    // ssl_lib.c ssl_update_cache: unless NO_AUTO_CLEAR, when (sess_accept_good & 0xff) == 0xff
    // it calls SSL_CTX_flush_sessions(ctx, time(NULL)); stlib.c tls_finish_handshake calls
    // ssl_update_cache before incrementing sess_accept_good, so connection 256 sees 255.
    expect(variant('SERVER')).toMatchObject({ connections: 260, flushedAtConnection: 256, numberAfter: 1 });
    expect(variant('SERVER|NO_AUTO_CLEAR')).toMatchObject({ connections: 260, flushedAtConnection: null, numberAfter: 2 });
  });
});

describe('runScenario()', () => {
  it('runs every scenario by name, each with a log', () => {
    const all = runScenarios();
    expect(all.map((s) => s.name)).toEqual(SCENARIO_NAMES);
    expect(SCENARIO_NAMES).toEqual([
      'timeout-flush',
      'cache-size',
      'sid-ctx-mismatch',
      'client-no-shutdown',
      'close',
      'update-time',
      'auto-clear',
    ]);
    for (const s of all) expect(s.log.length).toBeGreaterThan(0);
    const text = formatScenarios(all);
    for (const name of SCENARIO_NAMES) expect(text).toContain(`${name}: `);
  });

  it('returns the typed result of the named scenario', () => {
    const r = runScenario('cache-size');
    expect(r.name).toBe('cache-size');
    expect(r.cacheSize).toBe(2);
  });

  it('rejects an unknown name', () => {
    expect(() => runScenario('nope' as never)).toThrow(RangeError);
    expect(() => runScenario('toString' as never)).toThrow(RangeError);
  });
});
