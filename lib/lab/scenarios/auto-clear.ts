/** Lab scenario `auto-clear` (see ../scenarios.ts for the list). */
import { SESS_CACHE } from '../../constants.js';
import type { SslSession } from '../../core/ssl-session.js';
import { connectOnce, labClient, sessionKey } from '../harness.js';
import { now, idServer, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'the flush every 255 connections, and SSL_SESS_CACHE_NO_AUTO_CLEAR';

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
  return { name: 'auto-clear', summary: SUMMARY, log, variants };
}
