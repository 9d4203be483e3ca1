/** Lab scenario `sid-ctx-mismatch` (see ../scenarios.ts for the list). */
import { SESS_CACHE } from '../../constants.js';
import type { SslContext } from '../../core/ssl-context.js';
import type { SslSession } from '../../core/ssl-session.js';
import {
  cacheCounters,
  type CacheCounters,
  connectOnce,
  countCallbacks,
  type Counter,
  DerStore,
  labClient,
  labServer,
  sessionKey,
} from '../harness.js';
import { yn, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'a session found through onGetSession but issued under another session id context';

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
    return { name: 'sid-ctx-mismatch', summary: SUMMARY, log, issuer: 'app-a', other, same };
  } finally {
    for (const s of servers) release(s.counter, s.ctx);
    release(issuerCounter, issuer, client, session, store);
  }
}
