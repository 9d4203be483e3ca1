/**
 * The server's ClientHello hook (SSL_CTX_set_client_hello_cb) as SslContext.onClientHello uses
 * it: what the callback sees, and the pause a returned promise puts the handshake in (OpenSSL's
 * SSL_CLIENT_HELLO_RETRY) until it settles, so that a session can be fetched from a remote store
 * before OpenSSL looks one up.
 */
import type { NativeSslConnection } from '../native.js';
import type { SslConnection } from './ssl-connection.js';

/**
 * What a ClientHello says, as the client hello callback sees it (before OpenSSL negotiates the
 * version or looks up a session): copies, yours to keep.
 */
export interface ClientHelloInfo {
  /** The legacy session id (SSL_client_hello_get0_session_id): a TLS 1.2 session to resume, or 32 random bytes / empty. */
  sessionId: Buffer;
  /** TLS 1.3 pre_shared_key identities in offer order: tickets (stateless) or session ids (stateful, 32 bytes). */
  pskIdentities: Buffer[];
  /** Whether the client offers a TLS 1.2 session ticket (a non-empty session_ticket extension). */
  hasTicket: boolean;
  /** supported_versions the client lists (e.g. 0x0304, 0x0303); empty for a TLS 1.2-only client. */
  supportedVersions: number[];
  /** The SNI host name, or null. */
  servername: string | null;
  /** Every extension type present (SSL_client_hello_get1_extensions_present), in the client's order. */
  extensions: number[];
}

/**
 * Server-side ClientHello hook (SSL_CTX_set_client_hello_cb). Return nothing to go on, or a
 * promise to PAUSE the handshake until it settles: the connection's step then returns
 * `SSL_ERROR.WANT_CLIENT_HELLO_CB`, the driver waits for `clientHelloPending(connection)` and
 * steps again. A rejected promise (or a throw) fails the handshake with that error.
 */
export type ClientHelloCallback = (connection: SslConnection, hello: ClientHelloInfo) => void | PromiseLike<void>;

// SSL_CLIENT_HELLO_SUCCESS and _RETRY (ssl.h; OpenSSL's stable API since 1.1.1). Failures are
// thrown instead of returning SSL_CLIENT_HELLO_ERROR (0): the native callback records the
// exception, answers ERROR with an internal_error alert, and the step rethrows it.
const CLIENT_HELLO_SUCCESS = 1;
const CLIENT_HELLO_RETRY = -1;

interface PendingClientHello {
  /** Resolves (never rejects) when the callback's promise settled. */
  readonly done: Promise<void>;
  settled: boolean;
  failed: boolean;
  error: unknown;
}

/** Paused handshakes, by connection (the connection's own JS object: GC drops the entry with it). */
const pendingClientHellos = new WeakMap<object, PendingClientHello>();

/**
 * The promise a handshake paused by an async `onClientHello` callback waits for: when a step
 * returns `SSL_ERROR.WANT_CLIENT_HELLO_CB`, wait for it, then call `doHandshake()` again.
 * Resolves (never rejects; a failure surfaces from that next step). Null when the connection
 * is not paused. Stepping again before it resolves is harmless: the step reports
 * WANT_CLIENT_HELLO_CB again.
 */
export function clientHelloPending(connection: SslConnection): Promise<void> | null {
  const pending = pendingClientHellos.get(connection);
  return pending === undefined ? null : pending.done;
}

/**
 * The native callback for `callback`: runs it once per ClientHello; a returned promise pauses
 * the handshake (RETRY on every step until it settled), then the next step carries on (SUCCESS)
 * or fails with its rejection.
 */
export function clientHelloTrampoline(callback: ClientHelloCallback): (native: NativeSslConnection, hello: ClientHelloInfo) => number {
  return (native, hello) => {
    const connection = native as SslConnection;
    const pending = pendingClientHellos.get(connection);
    if (pending !== undefined) {
      if (!pending.settled) return CLIENT_HELLO_RETRY; // stepped again while still waiting
      pendingClientHellos.delete(connection);
      if (pending.failed) throw pending.error; // OpenSSL sends internal_error; the step rethrows this
      return CLIENT_HELLO_SUCCESS;
    }
    const result = callback(connection, hello);
    if (result === undefined || result === null || typeof (result as PromiseLike<void>).then !== 'function') return CLIENT_HELLO_SUCCESS;
    const state: { settled: boolean; failed: boolean; error: unknown } = { settled: false, failed: false, error: undefined };
    const done = Promise.resolve(result).then(
      () => {
        state.settled = true;
      },
      (error: unknown) => {
        Object.assign(state, { settled: true, failed: true, error });
      },
    );
    pendingClientHellos.set(connection, Object.assign(state, { done }));
    return CLIENT_HELLO_RETRY;
  };
}
