/** Lab scenario `update-time` (see ../scenarios.ts for the list). */
import { SESS_CACHE } from '../../constants.js';
import type { SslSession } from '../../core/ssl-session.js';
import { connectOnce, labClient } from '../harness.js';
import { now, yn, idServer, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'SSL_SESS_CACHE_UPDATE_TIME: re-adding a cached session renews its time';

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
  return { name: 'update-time', summary: SUMMARY, log, variants };
}
