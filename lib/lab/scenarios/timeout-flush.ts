/** Lab scenario `timeout-flush` (see ../scenarios.ts for the list). */
import { SESS_CACHE } from '../../constants.js';
import type { SslSession } from '../../core/ssl-session.js';
import { connectOnce, labClient, sessionKey } from '../harness.js';
import { now, yn, idServer, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'expired sessions: offered while cached -> timeout; flushSessions() removes them';

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
      summary: SUMMARY,
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
