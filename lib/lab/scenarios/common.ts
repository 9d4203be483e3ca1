/** What the lab scenarios (lib/lab/scenarios/*.ts) share: the result base, clocks, a session-id server, cleanup. */
import type { SslContext } from '../../core/ssl-context.js';
import type { SslSession } from '../../core/ssl-session.js';
import { countCallbacks, type Counter, DerStore, ExternalStore, labServer } from '../harness.js';
import type { ScenarioName } from '../scenarios.js';

/** Fields every scenario result has. */
export interface ScenarioBase {
  name: ScenarioName;
  summary: string;
  /** What was done and what OpenSSL did, one line per step. */
  log: string[];
}

export const now = (): number => Math.floor(Date.now() / 1000);
export const yn = (b: boolean): string => (b ? 'yes' : 'no');

/** A TLS 1.2 session-id server (NO_TICKET) whose new sessions are kept by id, with counting callbacks. */
export function idServer(
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

export function release(...things: Array<SslContext | ExternalStore | DerStore | Counter | SslSession | null | undefined>): void {
  for (const thing of things) {
    if (thing === null || thing === undefined) continue;
    if (thing instanceof ExternalStore || thing instanceof DerStore) thing.clear();
    else if ('detach' in thing) thing.detach();
    else if ('close' in thing) {
      if (!thing.closed) thing.close();
    } else if (!thing.disposed) thing.dispose();
  }
}
