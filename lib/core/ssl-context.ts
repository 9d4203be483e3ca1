/**
 * SslContext: one OpenSSL SSL_CTX, client or server. Methods are the SSL_CTX_* functions
 * without the prefix, in camelCase; `onNewSession` / `onRemoveSession` / `onGetSession`
 * wrap SSL_CTX_sess_set_{new,remove,get}_cb.
 */
import { MAX_SID_CTX_LENGTH, type ProtocolVersion, VERIFY, versionNumber } from '../constants.js';
import { invalidArgType, outOfRange, toBytes, toPem, validateFunctionOrNull, validateInteger, validateString } from '../errors.js';
import * as guard from '../guard-rails.js';
import { binding, type NativeSslConnection, type NativeSslSession, type SessionCacheStats } from '../native.js';
import type { TicketKeys } from '../server/ticket-keys.js';
import { type ClientHelloCallback, type ClientHelloInfo, clientHelloTrampoline } from './client-hello.js';
import type { SslConnection } from './ssl-connection.js';
// A value import (not `import type`): evaluating ssl-session.ts registers the SslSession
// class with the addon, so sessions made in C++ are instances of it. Every path needs a context.
import { SslSession } from './ssl-session.js';

/** Which side of the handshake a context (and its connections) plays. */
export type Role = 'client' | 'server';

/** Everything an SslContext can be configured with at construction (each maps to a method). */
export interface SslContextOptions {
  /** SSL_CTX_set_min_proto_version, e.g. 'TLSv1.2'. */
  minVersion?: ProtocolVersion;
  /** SSL_CTX_set_max_proto_version, e.g. 'TLSv1.2' to keep a client off TLS 1.3. */
  maxVersion?: ProtocolVersion;
  /** SSL_CTX_set_options: OR of `OP.*` flags (e.g. `OP.NO_TICKET`). */
  options?: number;
  /** Certificate chain, PEM (leaf first). */
  cert?: string | Uint8Array;
  /** Private key, PEM. */
  key?: string | Uint8Array;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Trusted CA certificates, PEM (one text may hold several). */
  ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /**
   * Peer verification: `true` = VERIFY.PEER (servers also FAIL_IF_NO_PEER_CERT), `false` =
   * VERIFY.NONE, or a VERIFY.* bit mask. Default: OpenSSL's (none).
   */
  verify?: boolean | number;
  /** SSL_CTX_set_verify_depth. */
  verifyDepth?: number;
  /** SSL_CTX_set_cipher_list (TLS 1.2 and below). */
  ciphers?: string;
  /** SSL_CTX_set_ciphersuites (TLS 1.3). */
  ciphersuites?: string;
  /** ALPN: protocols a client offers, or a server accepts in preference order. */
  alpnProtocols?: readonly string[];
  /** SSL_CTX_set_session_id_context (≤ 32 bytes). */
  sessionIdContext?: string | Uint8Array;
  /** SSL_CTX_set_timeout: session lifetime in seconds. */
  timeout?: number;
  /** SSL_CTX_set_session_cache_mode: OR of `SESS_CACHE.*`. */
  sessionCacheMode?: number;
  /** SSL_CTX_sess_set_cache_size (0 = unlimited). */
  sessionCacheSize?: number;
  /** SSL_CTX_set_num_tickets: TLS 1.3 tickets a server sends per handshake. */
  numTickets?: number;
}

/**
 * Called for each new session (SSL_CTX_sess_set_new_cb). The session handle is yours: keep it
 * as long as you like (it outlives the context), or `dispose()` it when done (else GC frees it).
 */
export type NewSessionCallback = (session: SslSession, connection: SslConnection | null) => void;
/**
 * Called when OpenSSL drops a session (SSL_CTX_sess_set_remove_cb). The handle is yours (its
 * own reference). The session is already marked not resumable.
 */
export type RemoveSessionCallback = (session: SslSession) => void;
/**
 * Server-side lookup of a session id OpenSSL did not find internally (SSL_CTX_sess_set_get_cb).
 * Return a session to resume it, or null. The handle stays yours: OpenSSL takes its own
 * reference, so you may dispose it right after returning it.
 */
export type GetSessionCallback = (id: Buffer, connection: SslConnection | null) => SslSession | null | undefined;
/**
 * Called with each secret OpenSSL logs (SSL_CTX_set_keylog_callback): one line of NSS key log
 * format (what SSLKEYLOGFILE holds and Wireshark reads), as ASCII ending in a newline, so lines
 * can be appended to a file as they come. TLS 1.2: `CLIENT_RANDOM <client random> <master
 * secret>`; TLS 1.3: the handshake and traffic secrets and `EXPORTER_SECRET`.
 */
export type KeylogCallback = (line: Buffer, connection: SslConnection | null) => void;

function protoVersion(value: ProtocolVersion, name: string): number {
  if (typeof value !== 'string' && typeof value !== 'number') throw invalidArgType(name, "a protocol name ('TLSv1.2') or number", value);
  const number = versionNumber(value);
  if (number === undefined) throw outOfRange(name, "'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3' or a version number", value);
  return validateInteger(number, name, 0, 0xffff);
}

function alpnWire(protocols: readonly string[]): Buffer {
  if (!Array.isArray(protocols)) throw invalidArgType('protocols', 'an array of strings', protocols);
  const parts = protocols.map((p, i) => {
    const bytes = Buffer.from(validateString(p, `protocols[${i}]`), 'utf8');
    if (bytes.length === 0 || bytes.length > 255) throw outOfRange(`protocols[${i}]`, '1 to 255 bytes long', p);
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  });
  return Buffer.concat(parts);
}

/** Checks an ALPN list in wire format (length-prefixed, non-empty names, nothing left over; empty clears). */
function checkAlpnWire(wire: Uint8Array): Uint8Array {
  for (let i = 0; i < wire.length; i += 1 + wire[i]!) {
    if (wire[i] === 0 || i + 1 + wire[i]! > wire.length) {
      throw outOfRange('protocols', 'an ALPN wire list (1-byte lengths of 1 to 255, then the names)', `a malformed list (at byte ${i})`);
    }
  }
  return wire;
}

function sessionArg(value: unknown, name: string): SslSession {
  if (!(value instanceof SslSession)) throw invalidArgType(name, 'an SslSession', value);
  return value as SslSession;
}

// The server-side additions of this file's native methods, merged into native.ts' declarations.
declare module '../native.js' {
  interface NativeSslContext {
    setClientHelloCb(cb: ((connection: NativeSslConnection, hello: ClientHelloInfo) => number) | null): void;
    setTicketKeys(keys: object | null): void;
    trustDigest(): Buffer;
  }
}

/**
 * An OpenSSL SSL_CTX. `close()` (or `[Symbol.dispose]`) frees it now: the remove callback
 * runs for every session still in the internal cache, synchronously, and every later call
 * throws ERR_CONTEXT_CLOSED. A context that is only garbage-collected is freed without
 * calling into JS. Connections keep the SSL_CTX alive in OpenSSL until they are freed.
 *
 * Session callbacks run synchronously inside the step that triggers them (`doHandshake`,
 * `read`, `write`, `shutdown`, `free` of a connection; `flushSessions`, `addSession`,
 * `removeSession`, `close` of the context). An exception a callback throws is rethrown by
 * that step once OpenSSL has returned; OpenSSL itself saw the callback return normally (a
 * throwing `onGetSession` counts as a miss), so the connection and the cache stay consistent.
 *
 * Inside an `onRemoveSession` callback, OpenSSL may hold this context's cache lock (it does
 * for flushes, `close()`, and evictions of a full cache), so `flushSessions`, `addSession`,
 * `removeSession`, `close` and driving this context's connections throw a TypeError with
 * code ERR_CONTEXT_BUSY there. Reading `stats()` and other contexts are fine.
 */
export class SslContext extends binding.SslContext {
  /** The role, in JS: every new SslConnection reads it (the native getter costs a call and a type-tag check). */
  readonly #server: boolean;

  /** @param role 'client' (TLS_client_method) or 'server' (TLS_server_method). */
  constructor(role: Role, options: SslContextOptions = {}) {
    if (role !== 'client' && role !== 'server') throw invalidArgType('role', "'client' or 'server'", role);
    super(role);
    this.#server = role === 'server';
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    this.#configure(options);
  }

  /** Whether this is a server context (TLS_server_method). */
  override get isServer(): boolean {
    return this.#server;
  }

  #configure(o: SslContextOptions): void {
    if (o.minVersion !== undefined) this.setMinProtoVersion(o.minVersion);
    if (o.maxVersion !== undefined) this.setMaxProtoVersion(o.maxVersion);
    if (o.options !== undefined) this.setOptions(o.options);
    if (o.cert !== undefined) this.useCertificateChain(o.cert);
    if (o.key !== undefined) this.usePrivateKey(o.key, o.passphrase);
    if (o.ca !== undefined) this.addCaCertificates(o.ca);
    if (o.verify !== undefined) {
      const mode =
        typeof o.verify === 'number' ? o.verify : o.verify ? VERIFY.PEER | (this.isServer ? VERIFY.FAIL_IF_NO_PEER_CERT : 0) : VERIFY.NONE;
      this.setVerify(mode);
    }
    if (o.verifyDepth !== undefined) this.setVerifyDepth(o.verifyDepth);
    if (o.ciphers !== undefined) this.setCipherList(o.ciphers);
    if (o.ciphersuites !== undefined) this.setCiphersuites(o.ciphersuites);
    if (o.alpnProtocols !== undefined) this.setAlpnProtos(o.alpnProtocols);
    if (o.sessionIdContext !== undefined) this.setSessionIdContext(o.sessionIdContext);
    if (o.timeout !== undefined) this.setTimeout(o.timeout);
    if (o.sessionCacheMode !== undefined) this.setSessionCacheMode(o.sessionCacheMode);
    if (o.sessionCacheSize !== undefined) this.setSessionCacheSize(o.sessionCacheSize);
    if (o.numTickets !== undefined) this.setNumTickets(o.numTickets);
  }

  /** SSL_CTX_set_min_proto_version ('TLSv1.2', VERSION.TLS1_2, or 0 for the lowest supported). */
  override setMinProtoVersion(version: ProtocolVersion): void {
    super.setMinProtoVersion(protoVersion(version, 'version'));
  }

  /** SSL_CTX_set_max_proto_version ('TLSv1.3', VERSION.TLS1_3, or 0 for the highest supported). */
  override setMaxProtoVersion(version: ProtocolVersion): void {
    super.setMaxProtoVersion(protoVersion(version, 'version'));
  }

  /** SSL_CTX_set_options: OR `bits` (OP.*) in; returns the new options. */
  override setOptions(bits: number): number {
    return super.setOptions(validateInteger(bits, 'bits'));
  }

  /** SSL_CTX_clear_options: clear `bits`; returns the new options. */
  override clearOptions(bits: number): number {
    return super.clearOptions(validateInteger(bits, 'bits'));
  }

  /** SSL_CTX_use_certificate + SSL_CTX_add1_chain_cert: the leaf and its chain, PEM. */
  override useCertificateChain(pem: string | Uint8Array): void {
    super.useCertificateChain(toPem(pem, 'pem'));
  }

  /** SSL_CTX_use_PrivateKey (+ SSL_CTX_check_private_key when a certificate is set). */
  override usePrivateKey(pem: string | Uint8Array, passphrase?: string): void {
    if (passphrase !== undefined) validateString(passphrase, 'passphrase');
    super.usePrivateKey(toPem(pem, 'pem'), passphrase);
  }

  /** X509_STORE_add_cert for each certificate: trust anchors for peer verification. Returns how many were added. */
  override addCaCertificates(pem: string | Uint8Array | ReadonlyArray<string | Uint8Array>): number {
    const list = Array.isArray(pem) ? pem : [pem];
    return list.reduce<number>((n, item, i) => n + super.addCaCertificates(toPem(item, `ca[${i}]`)), 0);
  }

  /** SSL_CTX_set_verify: a VERIFY.* bit mask (no verify callback: OpenSSL's own decision). */
  override setVerify(mode: number): void {
    super.setVerify(validateInteger(mode, 'mode', 0, 0xff));
    guard.verifyModeChanged(this);
  }

  /** SSL_CTX_set_verify_depth. */
  override setVerifyDepth(depth: number): void {
    super.setVerifyDepth(validateInteger(depth, 'depth', 0, 100));
  }

  /** SSL_CTX_set_cipher_list (TLS ≤ 1.2), OpenSSL cipher string syntax. */
  override setCipherList(list: string): void {
    super.setCipherList(validateString(list, 'list'));
  }

  /** SSL_CTX_set_ciphersuites (TLS 1.3), e.g. 'TLS_AES_128_GCM_SHA256'. */
  override setCiphersuites(list: string): void {
    super.setCiphersuites(validateString(list, 'list'));
  }

  /**
   * ALPN. Client: SSL_CTX_set_alpn_protos (offered list). Server: the accepted protocols in
   * preference order (SSL_CTX_set_alpn_select_cb with SSL_select_next_proto); a client
   * offering none of them gets a no_application_protocol alert, as with node:tls.
   */
  override setAlpnProtos(protocols: readonly string[] | Uint8Array): void {
    super.setAlpnProtos(protocols instanceof Uint8Array ? checkAlpnWire(protocols) : alpnWire(protocols));
  }

  /**
   * SSL_CTX_set_session_id_context: up to 32 bytes that a session must match to be resumed
   * (servers). Required for resumption when a server verifies client certificates.
   */
  override setSessionIdContext(sidCtx: string | Uint8Array): void {
    const bytes = toBytes(sidCtx, 'sidCtx');
    if (bytes.length > MAX_SID_CTX_LENGTH) throw outOfRange('sidCtx', `at most ${MAX_SID_CTX_LENGTH} bytes`, `${bytes.length} bytes`);
    super.setSessionIdContext(bytes);
  }

  /**
   * SSL_CTX_set_timeout: lifetime of new sessions, seconds (OpenSSL's default: 7200). Returns
   * the previous value. A session expires when now > its time + timeout. TLS 1.3 servers also
   * send it as the ticket lifetime hint (capped at one week, 604800).
   */
  override setTimeout(seconds: number): number {
    return super.setTimeout(validateInteger(seconds, 'seconds'));
  }

  /**
   * SSL_CTX_set_session_cache_mode: OR of SESS_CACHE.*. Returns the previous mode. The default
   * is SERVER, on client contexts too. What each flag does in OpenSSL 3.0:
   * - `SERVER`: the server adds each new TLS 1.2 session to its internal cache and resumes by
   *   id from it; calls onNewSession. TLS 1.3 servers cache their ticket sessions only with
   *   OP.NO_TICKET, early data, or an onRemoveSession callback set.
   * - `OFF`: nothing stored and no onNewSession; a TLS 1.2 server then sends an empty session
   *   id (clients can only resume with tickets).
   * - `CLIENT`: clients call onNewSession (once per TLS 1.2 handshake, once per TLS 1.3 ticket)
   *   and fill their own internal cache, which OpenSSL never consults: offer a session with
   *   `SslConnection.setSession`. Without CLIENT a client's onNewSession never fires.
   * - `NO_INTERNAL_LOOKUP`: stored but never looked up; resumption only via onGetSession.
   * - `NO_INTERNAL_STORE`: nothing stored (onNewSession still fires); onGetSession results are
   *   not copied into the cache either. `NO_INTERNAL` = both.
   * - `NO_AUTO_CLEAR`: no automatic flush of expired sessions, which otherwise runs inside
   *   every 256th completed handshake (when acceptGood / connectGood ends in 0xff).
   * - `UPDATE_TIME`: a session's time is reset to now whenever it goes through
   *   SSL_CTX_add_session: `addSession`, onGetSession results, TLS 1.3 server tickets. A TLS 1.2
   *   resumption from the internal cache does NOT refresh it.
   */
  override setSessionCacheMode(mode: number): number {
    return super.setSessionCacheMode(validateInteger(mode, 'mode', 0, 0xffff));
  }

  /**
   * SSL_CTX_sess_set_cache_size (0 = no limit; OpenSSL's default is 20480). Returns the previous
   * size. When a new session would make the cache full, OpenSSL evicts the session that expires
   * first (with equal timeouts: the oldest), counts `stats().cacheFull` and calls
   * onRemoveSession. OpenSSL 3.0 counts the new session before evicting, so a full cache of
   * size n holds n - 1 sessions (1 for n = 1).
   */
  override setSessionCacheSize(size: number): number {
    return super.setSessionCacheSize(validateInteger(size, 'size', 0, 0x7fffffff));
  }

  /**
   * SSL_CTX_set_num_tickets: TLS 1.3 tickets a server sends after each full handshake (default
   * 2; one after a resumption). The client learns of them only when it reads after the
   * handshake: its onNewSession fires once per ticket inside `read()`, and `get1Session()`
   * taken before that read is not resumable yet.
   */
  override setNumTickets(count: number): void {
    super.setNumTickets(validateInteger(count, 'count', 0, 0xffff));
  }

  /**
   * SSL_CTX_flush_sessions: remove every cached session that has expired at `time` (seconds
   * since the epoch, default now; a session is expired when time > its time + timeout), oldest
   * first. `0` removes every session, as SSL_CTX_free does. onRemoveSession runs for each, and
   * each removed session is marked not resumable. To expire sessions without waiting, move
   * them into the past with `SslSession.setTime`.
   */
  override flushSessions(time: number = Math.floor(Date.now() / 1000)): void {
    super.flushSessions(validateInteger(time, 'time'));
  }

  /**
   * SSL_CTX_add_session: put `session` in the internal cache (the cache takes its own
   * reference). Returns true for a new entry, false when this very session is already cached;
   * a different session object with the same id replaces the cached one (true, and no remove
   * callback for the replaced one). May evict (see setSessionCacheSize).
   *
   * A session that is still in ANOTHER context's internal cache is added as a copy
   * (SSL_SESSION_dup): OpenSSL links each session into one cache's list, and linking it into a
   * second one corrupts the first (a double free later). The same holds for onGetSession
   * results OpenSSL copies into this cache.
   */
  override addSession(session: SslSession): boolean {
    return super.addSession(sessionArg(session, 'session'));
  }

  /**
   * SSL_CTX_remove_session: drop `session` (by id) from the internal cache. Returns whether it
   * was cached; onRemoveSession fires in both cases (whenever the session has an id), and the
   * session is marked not resumable in both cases.
   */
  override removeSession(session: SslSession): boolean {
    return super.removeSession(sessionArg(session, 'session'));
  }

  /**
   * SSL_CTX_sess_set_new_cb. `null` unsets. Servers: once per new TLS 1.2 session, once per TLS
   * 1.3 ticket (inside the server's handshake), also with NO_INTERNAL_STORE. Clients: only with
   * SESS_CACHE.CLIENT; TLS 1.3 tickets arrive after the handshake, so it fires inside `read()`.
   * Nothing on a TLS 1.2 resumption. The session handed over is the callback's to keep.
   */
  onNewSession(callback: NewSessionCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    this.sessSetNewCb(callback as ((s: NativeSslSession, c: unknown) => void) | null);
  }

  /**
   * SSL_CTX_sess_set_remove_cb. `null` unsets. Runs on flushSessions (and the automatic flush),
   * close(), eviction from a full cache, removeSession, an expired session found at lookup, a
   * fatal alert, and freeing a connection whose handshake finished but which never sent
   * close_notify (`shutdown()`), on clients too. Setting it makes a TLS 1.3 server cache its
   * ticket sessions (so that it can report them). Not called from garbage collection.
   */
  onRemoveSession(callback: RemoveSessionCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    this.sessSetRemoveCb(callback as ((s: NativeSslSession) => void) | null);
  }

  /**
   * SSL_CTX_sess_set_get_cb. `null` unsets. Asked by a TLS 1.2 server for a session id the
   * client offered, after the internal lookup missed (or always, with NO_INTERNAL_LOOKUP).
   * A returned session counts `cbHits` and `hits`, and is copied into the internal cache
   * unless NO_INTERNAL_STORE. A session that is not resumable (removed or flushed before) is
   * ignored: a full handshake follows.
   */
  onGetSession(callback: GetSessionCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    if (callback === null) {
      this.sessSetGetCb(null);
      return;
    }
    this.sessSetGetCb((id, connection) => {
      const found = callback(id, connection as SslConnection | null);
      if (found === null || found === undefined) return null;
      return sessionArg(found, 'onGetSession() result');
    });
  }

  /**
   * SSL_CTX_set_keylog_callback: `callback` gets every secret this context's connections
   * derive, client or server, during their handshakes (`null` unsets). The lines carry the
   * keys to the traffic: write them only where the traffic itself may be read (debugging).
   * A resumed TLS 1.2 handshake logs a new client random with the session's master secret: the
   * reuse is visible in the log. The callback is installed only while set (or once a connection
   * of this context listens with `setKeylogListener`): without it OpenSSL formats no lines.
   */
  onKeylog(callback: KeylogCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    this.setKeylogCb(callback as ((line: Buffer, c: unknown) => void) | null);
  }

  /**
   * SSL_CTX_set_client_hello_cb: `callback` runs once per ClientHello, before OpenSSL picks the
   * version or looks up a session (servers only; `null` unsets). Returning a promise pauses the
   * handshake without blocking anything: the step returns `SSL_ERROR.WANT_CLIENT_HELLO_CB`
   * (OpenSSL's SSL_CLIENT_HELLO_RETRY) and OpenSSL keeps the parsed ClientHello; once the promise
   * settles (`clientHelloPending(connection)`), the next `doHandshake()` carries on from there —
   * the callback is not called again for that ClientHello. A rejection (or a throw) fails the
   * handshake: OpenSSL sends an alert and the step throws the error. A HelloRetryRequest brings a
   * second ClientHello and a second call. This is what lets ServerSessionCache fetch a session
   * from a remote store before OpenSSL asks `onGetSession` for it.
   */
  onClientHello(callback: ClientHelloCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    if (!this.isServer) throw invalidArgType('this', "a 'server' SslContext (client hello callbacks run on servers)", 'a client context');
    if (callback === null) {
      this.setClientHelloCb(null);
      return;
    }
    this.setClientHelloCb(clientHelloTrampoline(callback));
  }

  /**
   * Session ticket keys for this (server) context: SSL_CTX_set_tlsext_ticket_key_evp_cb with
   * `keys` (see TicketKeys: rotation, shared by a fleet). `null` goes back to OpenSSL's own
   * random per-context keys (so does `undefined`). One TicketKeys may serve several contexts.
   */
  override setTicketKeys(keys: TicketKeys | null): void {
    if (keys !== null && keys !== undefined && typeof keys !== 'object') throw invalidArgType('keys', 'a TicketKeys or null', keys);
    super.setTicketKeys(keys ?? null); // the native side checks it is a TicketKeys
  }

  /**
   * SHA-256 over the certificate chain this context presents and its trust settings (verify
   * mode and depth, every CA in its store): ServerSessionCache's default session id context.
   */
  override trustDigest(): Buffer {
    return super.trustDigest();
  }

  /**
   * Counters of SSL_CTX_sess_*(): `number` (sessions in the internal cache now), `connect` /
   * `accept` (handshakes started), `connectGood` / `acceptGood` (completed), the renegotiate
   * counters, `hits` (sessions resumed, from the cache or onGetSession), `cbHits` (resumed via
   * onGetSession), `misses` (internal lookups that found nothing; on a client: offered
   * sessions the server did not resume), `timeouts` (expired sessions found) and `cacheFull`
   * (evictions).
   */
  override stats(): SessionCacheStats {
    return super.stats();
  }

  /**
   * Frees the SSL_CTX now, as SSL_CTX_free does: onRemoveSession runs for every cached session
   * (synchronously, oldest first; those sessions are marked not resumable), then the callbacks
   * are unset. Connections still alive keep OpenSSL's SSL_CTX until they are freed; they can
   * finish their work, but nothing more is cached and no callback reaches JS. If a remove
   * callback throws, close() still closes and then rethrows the first exception. A second
   * close() throws ERR_CONTEXT_CLOSED; `[Symbol.dispose]` does not.
   */
  override close(): void {
    super.close();
  }

  /** Closes unless already closed (never throws). */
  [Symbol.dispose](): void {
    if (!this.closed) this.close();
  }
}
