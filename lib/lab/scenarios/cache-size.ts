/** Lab scenario `cache-size` (see ../scenarios.ts for the list). */
import { SESS_CACHE } from '../../constants.js';
import type { SslSession } from '../../core/ssl-session.js';
import { connectOnce, labClient } from '../harness.js';
import { yn, idServer, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'setSessionCacheSize(2) and 4 sessions: oldest evicted first, and a size-n cache keeps n-1';

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
      summary: SUMMARY,
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
