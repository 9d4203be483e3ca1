/**
 * What every lab experiment shares: one EC certificate, context factories, counting session
 * callbacks and one in-memory connection (handshake, a request and a reply, clean shutdown).
 * Nothing here imitates OpenSSL: every count comes from OpenSSL calling back or from
 * SSL_CTX_sess_*().
 */
import { createSelfSigned, type KeyPair } from '../certs.js';
import { OP, type ProtocolVersion } from '../constants.js';
import { SslConnection } from '../core/ssl-connection.js';
import { SslContext } from '../core/ssl-context.js';
import { SslSession } from '../core/ssl-session.js';
import { handshakeInMemory, shutdownInMemory, transfer } from '../engine/memory-pair.js';
import type { SessionCacheStats } from '../native.js';

/** The TLS versions the lab pins both sides to. */
export type LabVersion = 'TLSv1.2' | 'TLSv1.3';

/** How many times each session callback of one context ran. */
export interface CallbackCounts {
  /** new_session_cb calls. */
  new: number;
  /** remove_session_cb calls. */
  remove: number;
  /** get_session_cb calls (servers only; always 0 on clients, which OpenSSL never asks). */
  get: number;
}

let keyPair: KeyPair | undefined;

/** The lab's certificate: one P-256 self-signed pair per process (EC keeps handshakes fast). */
export function labKeyPair(): KeyPair {
  keyPair ??= createSelfSigned({ commonName: 'openssl-session-lab', keyType: 'ec' });
  return keyPair;
}

/** Options for {@link labServer}. */
export interface LabServerOptions {
  version: LabVersion;
  /** SSL_SESS_CACHE_* bits, or undefined for OpenSSL's default (SERVER). */
  mode: number | undefined;
  /** false sets SSL_OP_NO_TICKET: TLS 1.2 resumes by session id, TLS 1.3 gets stateful tickets. */
  tickets: boolean;
  /** SSL_CTX_set_session_id_context (default 'openssl-session-lab'). */
  sessionIdContext?: string;
}

/** A server context pinned to one TLS version, with the lab certificate. */
export function labServer(o: LabServerOptions): SslContext {
  const { cert, key } = labKeyPair();
  const ctx = new SslContext('server', {
    cert,
    key,
    minVersion: o.version as ProtocolVersion,
    maxVersion: o.version as ProtocolVersion,
    sessionIdContext: o.sessionIdContext ?? 'openssl-session-lab',
  });
  if (!o.tickets) ctx.setOptions(OP.NO_TICKET);
  if (o.mode !== undefined) ctx.setSessionCacheMode(o.mode);
  return ctx;
}

/** A client context pinned to one TLS version (no peer verification: the lab is about caching). */
export function labClient(version: LabVersion, mode: number | undefined): SslContext {
  const ctx = new SslContext('client', { minVersion: version, maxVersion: version });
  if (mode !== undefined) ctx.setSessionCacheMode(mode);
  return ctx;
}

/** Hex of a session's id: the key of the lab's external stores. */
export function sessionKey(session: SslSession): string {
  return session.getId().toString('hex');
}

/**
 * Counting session callbacks on one context. The new/remove sessions are disposed at once
 * unless `keep` (new) asks for them; `lookup` answers get_session_cb (servers).
 */
export interface Counter {
  readonly counts: CallbackCounts;
  /** Session ids (hex) in the order the remove callback saw them. */
  readonly removed: string[];
  /** Session ids (hex) in the order the new-session callback saw them. */
  readonly added: string[];
  /** Stops counting and unsets the callbacks (so close() does not add to the counts). */
  detach(): void;
}

/** Hooks for {@link countCallbacks}. */
export interface CounterHooks {
  /** Return true to keep the session handle (then the hook owns it and must dispose it). */
  onNew?: (session: SslSession) => boolean;
  onRemove?: (session: SslSession) => void;
  /** Server lookups: return a session to resume, or null. */
  lookup?: (id: Buffer) => SslSession | null;
  /** Install the remove callback (default true). Its presence changes what TLS 1.3 servers cache. */
  remove?: boolean;
  /** Install the get callback (default: servers only). */
  get?: boolean;
}

/** Installs counting new/remove(/get) callbacks on `ctx`. */
export function countCallbacks(ctx: SslContext, hooks: CounterHooks = {}): Counter {
  const counts: CallbackCounts = { new: 0, remove: 0, get: 0 };
  const removed: string[] = [];
  const added: string[] = [];
  ctx.onNewSession((session) => {
    counts.new++;
    added.push(sessionKey(session));
    if (!hooks.onNew?.(session)) session.dispose();
  });
  if (hooks.remove ?? true) {
    ctx.onRemoveSession((session) => {
      counts.remove++;
      removed.push(sessionKey(session));
      hooks.onRemove?.(session);
      session.dispose();
    });
  }
  if (hooks.get ?? ctx.isServer) {
    ctx.onGetSession((id) => {
      counts.get++;
      return hooks.lookup?.(id) ?? null;
    });
  }
  return {
    counts,
    removed,
    added,
    detach() {
      if (ctx.closed) return;
      ctx.onNewSession(null);
      ctx.onRemoveSession(null);
      if (ctx.isServer) ctx.onGetSession(null);
    },
  };
}

/** An external session store keyed by session id: what onGetSession serves from. */
export class ExternalStore {
  readonly #sessions = new Map<string, SslSession>();

  /** Keeps `session` (the store owns the handle). */
  put(session: SslSession): void {
    const key = sessionKey(session);
    this.#sessions.get(key)?.dispose();
    this.#sessions.set(key, session);
  }

  /** The session with this id, or null. The handle stays the store's. */
  get(id: Uint8Array): SslSession | null {
    return this.#sessions.get(Buffer.from(id).toString('hex')) ?? null;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Disposes every kept session. */
  clear(): void {
    for (const session of this.#sessions.values()) session.dispose();
    this.#sessions.clear();
  }
}

/**
 * An external store that keeps DER (i2d_SSL_SESSION), as a file or Redis store would, and
 * hands out a fresh SSL_SESSION (d2i) per lookup. Use it when several SSL_CTXs serve from
 * one store: OpenSSL links a cached session into ONE context's cache list (its prev/next
 * pointers are per session), so the same SSL_SESSION object must not be handed to two
 * contexts that would both add it to their internal cache.
 */
export class DerStore {
  readonly #der = new Map<string, Buffer>();
  readonly #handed: SslSession[] = [];

  /** Stores the DER form of `session` (the handle stays the caller's). */
  put(session: SslSession): void {
    this.#der.set(sessionKey(session), session.toDER());
  }

  /** A new session parsed from the stored DER, or null. The store disposes it in clear(). */
  get(id: Uint8Array): SslSession | null {
    const der = this.#der.get(Buffer.from(id).toString('hex'));
    if (der === undefined) return null;
    const session = SslSession.fromDER(der);
    this.#handed.push(session);
    return session;
  }

  get size(): number {
    return this.#der.size;
  }

  /** Forgets every entry and disposes the sessions handed out. */
  clear(): void {
    for (const session of this.#handed) if (!session.disposed) session.dispose();
    this.#handed.length = 0;
    this.#der.clear();
  }
}

const REQUEST = Buffer.from('ping');
const REPLY = Buffer.from('pong');

/** One in-memory connection, handshake and a request/reply done, not yet closed. */
export interface LabConnection {
  client: SslConnection;
  server: SslConnection;
  /** SSL_session_reused on the client. */
  reused: boolean;
  /** SSL_session_reused on the server. */
  serverReused: boolean;
}

/**
 * Connects a client of `clientCtx` offering `offer` (SSL_set_session) to a server of
 * `serverCtx`, runs the handshake, then a request and a reply. The reply makes the client
 * read, which processes TLS 1.3 NewSessionTickets queued before it, so `client.get1Session()`
 * afterwards returns the session of the newest ticket.
 */
export function openConnection(clientCtx: SslContext, serverCtx: SslContext, offer: SslSession | null = null): LabConnection {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  try {
    if (offer !== null) client.setSession(offer);
    handshakeInMemory(client, server);
    transfer(client, server, REQUEST);
    transfer(server, client, REPLY);
  } catch (error) {
    client.free();
    server.free();
    throw error;
  }
  return { client, server, reused: client.sessionReused(), serverReused: server.sessionReused() };
}

/** Both sides send close_notify (SSL_shutdown), then both SSL objects are freed. */
export function closeCleanly(conn: LabConnection): void {
  shutdownInMemory(conn.client, conn.server);
  conn.client.free();
  conn.server.free();
}

/** One connection from start to clean close; returns whether it resumed and the client's session afterwards. */
export function connectOnce(
  clientCtx: SslContext,
  serverCtx: SslContext,
  offer: SslSession | null = null,
): { reused: boolean; serverReused: boolean; session: SslSession | null } {
  const conn = openConnection(clientCtx, serverCtx, offer);
  const session = conn.client.get1Session();
  closeCleanly(conn);
  return { reused: conn.reused, serverReused: conn.serverReused, session };
}

/** The SSL_CTX_sess_* counters the lab reports (a subset of SessionCacheStats). */
export interface CacheCounters {
  /** SSL_CTX_sess_number: sessions in the internal cache. */
  number: number;
  hits: number;
  misses: number;
  timeouts: number;
  cbHits: number;
  cacheFull: number;
}

/** Picks the lab's counters out of SslContext.stats(). */
export function cacheCounters(stats: SessionCacheStats): CacheCounters {
  return {
    number: stats.number,
    hits: stats.hits,
    misses: stats.misses,
    timeouts: stats.timeouts,
    cbHits: stats.cbHits,
    cacheFull: stats.cacheFull,
  };
}
