/** Lab scenario `client-no-shutdown` (see ../scenarios.ts for the list). */
import { SESS_CACHE, SHUTDOWN } from '../../constants.js';
import type { SslSession } from '../../core/ssl-session.js';
import { connectOnce, labClient, openConnection } from '../harness.js';
import { yn, idServer, release, type ScenarioBase } from './common.js';

/** What the scenario shows (the lab's listing). */
export const SUMMARY = 'the client never calls SSL_shutdown: what the server keeps';

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
  return { name: 'client-no-shutdown', summary: SUMMARY, log, variants };
}
