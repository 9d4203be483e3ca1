/** Lab scenario `close` (see ../scenarios.ts for the list). */
import { SESS_CACHE } from '../../constants.js';
import type { SslContext } from '../../core/ssl-context.js';
import { connectOnce, countCallbacks, labClient, labServer } from '../harness.js';
import { yn, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'SslContext.close() with sessions cached: one remove callback each';

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
    return { name: 'close', summary: SUMMARY, log, server: serverSide, client: clientSide };
  } finally {
    release(server, client);
  }
}
