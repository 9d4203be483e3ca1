/**
 * What a SessionCache needs to know about the values it stores: their metadata (read once,
 * when a value enters the cache), whether one can still be offered, how to release one, and
 * how to (de)serialize for stores. Two adapters ship: live native SslSession handles
 * (our engine: no DER parsing per resumption) and DER Buffers (node:tls).
 */
import { onSessionDispose, SslSession } from '../core/ssl-session.js';

/** A session's metadata, as the cache reads it once when the session is stored. */
export interface SessionMeta {
  /** SSL_SESSION_get_protocol_version: 0x0304 for TLS 1.3 (single-use tickets), 0x0303 for TLS 1.2. */
  protocol: number;
  /** SSL_SESSION_get_time: creation time, seconds since the epoch. */
  time: number;
  /** SSL_SESSION_get_timeout: lifetime in seconds from `time`. */
  timeout: number;
  /** SSL_SESSION_get_ticket_lifetime_hint: seconds, 0 = none. */
  ticketLifetimeHint: number;
  /** SSL_SESSION_has_ticket. */
  hasTicket: boolean;
  /** SSL_SESSION_is_resumable: whether a client may offer it at all. */
  resumable: boolean;
  /** The peer certificate's notAfter (ms since the epoch), or null without a peer certificate. */
  peerNotAfter: number | null;
}

/** How a SessionCache handles values of type V. */
export interface SessionAdapter<V extends object> {
  /** Reads a value's metadata. Throwing rejects the value. */
  describe(value: V): SessionMeta;
  /** Releases a value the cache owned (no-op for Buffers). Must not throw. */
  dispose(value: V): void;
  /**
   * Whether a cached value can still be handed out (checked on every hit, so keep it cheap;
   * must not throw). Values that fail it are dropped.
   */
  usable(value: V): boolean;
  /**
   * Optional: arrange for `onDispose` to be called once when `value` is disposed by anyone
   * (the cache then drops it at once, and hits need not call usable()); null stops that.
   */
  watch?(value: V, onDispose: (() => void) | null): void;
  /** Whether two values are the same session (duplicates are not stored twice). */
  same(a: V, b: V): boolean;
  /** The DER form (i2d_SSL_SESSION), for stores. */
  toDER(value: V): Buffer;
  /** A value from its DER form (d2i_SSL_SESSION); throwing makes the record a miss. */
  fromDER(der: Buffer): V;
}

const meta = new Float64Array(7);

/** Metadata of a live SslSession, read in one native call (notAfter from the peer certificate inside the session). */
export function describeSslSession(session: SslSession): SessionMeta {
  session.readCacheMeta(meta);
  return {
    protocol: meta[0]!,
    time: meta[1]!,
    timeout: meta[2]!,
    ticketLifetimeHint: meta[3]!,
    hasTicket: meta[4] === 1,
    resumable: meta[5] === 1,
    peerNotAfter: Number.isNaN(meta[6]) ? null : meta[6]!,
  };
}

/**
 * Live native handles: the cache owns one reference per entry; a TLS 1.3 ticket taken from
 * the cache is handed over (the taker disposes it), a TLS 1.2 handle is shared.
 */
export const sslSessionAdapter: SessionAdapter<SslSession> = {
  describe: describeSslSession,
  dispose: (session) => {
    if (SslSession.isLive(session)) session.dispose();
  },
  // No native call on a hit (at 10 k peers a hit is memory-latency bound): disposal is
  // reported by watch(), and resumability as OpenSSL sees it is checked where a session is
  // offered to a connection (SslSessionCache.offer). A session OpenSSL poisoned after it was
  // stored (a connection using it freed without shutdown) costs one full handshake there.
  usable: (session) => SslSession.isLive(session),
  watch: (session, onDispose) => onSessionDispose(session, onDispose),
  same: (a, b) => !a.disposed && !b.disposed && a.isSame(b),
  toDER: (session) => session.toDER(),
  fromDER: (der) => SslSession.fromDER(der),
};

/**
 * DER Buffers, as node:tls produces and consumes them (`'session'` event, `session` option).
 * Metadata is read by parsing the DER once when a session is stored; nothing is parsed on
 * the way out (node:tls parses what it is given).
 */
export const derSessionAdapter: SessionAdapter<Buffer> = {
  describe: (der) => {
    const session = SslSession.fromDER(der);
    try {
      return describeSslSession(session);
    } finally {
      session.dispose();
    }
  },
  dispose: () => {},
  usable: () => true, // node:tls parses it when offered
  same: (a, b) => a.equals(b),
  toDER: (der) => der,
  fromDER: (der) => der,
};
