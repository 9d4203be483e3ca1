/**
 * SslContext: one OpenSSL SSL_CTX, client or server. Methods are the SSL_CTX_* functions
 * without the prefix, in camelCase; `onNewSession` / `onRemoveSession` / `onGetSession`
 * wrap SSL_CTX_sess_set_{new,remove,get}_cb.
 */
import { MAX_SID_CTX_LENGTH, type ProtocolVersion, VERIFY, versionNumber } from '../constants.js';
import {
  invalidArgType,
  outOfRange,
  toBytes,
  toPem,
  validateFunctionOrNull,
  validateInteger,
  validateString,
} from '../errors.js';
import { binding, type NativeSslSession } from '../native.js';
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

/** Called for each new session (SSL_CTX_sess_set_new_cb). The session is yours to keep. */
export type NewSessionCallback = (session: SslSession, connection: SslConnection | null) => void;
/** Called when OpenSSL drops a session from its internal cache (SSL_CTX_sess_set_remove_cb). */
export type RemoveSessionCallback = (session: SslSession) => void;
/**
 * Server-side lookup of a session id OpenSSL did not find internally (SSL_CTX_sess_set_get_cb).
 * Return a session to resume it, or null. The handle stays yours: OpenSSL takes its own reference.
 */
export type GetSessionCallback = (id: Buffer, connection: SslConnection | null) => SslSession | null | undefined;

function protoVersion(value: ProtocolVersion, name: string): number {
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

function sessionArg(value: unknown, name: string): SslSession {
  if (!(value instanceof SslSession)) throw invalidArgType(name, 'an SslSession', value);
  return value as SslSession;
}

/**
 * An OpenSSL SSL_CTX. `close()` (or `[Symbol.dispose]`) frees it now: the remove callback
 * runs for every session still in the internal cache, synchronously, and every later call
 * throws ERR_CONTEXT_CLOSED. A context that is only garbage-collected is freed without
 * calling into JS. Connections keep the SSL_CTX alive in OpenSSL until they are freed.
 */
export class SslContext extends binding.SslContext {
  /** @param role 'client' (TLS_client_method) or 'server' (TLS_server_method). */
  constructor(role: Role, options: SslContextOptions = {}) {
    if (role !== 'client' && role !== 'server') throw invalidArgType('role', "'client' or 'server'", role);
    super(role);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    this.#configure(options);
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
        typeof o.verify === 'number'
          ? o.verify
          : o.verify
            ? VERIFY.PEER | (this.isServer ? VERIFY.FAIL_IF_NO_PEER_CERT : 0)
            : VERIFY.NONE;
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
    super.setAlpnProtos(protocols instanceof Uint8Array ? protocols : alpnWire(protocols));
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

  /** SSL_CTX_set_timeout: lifetime of new sessions, seconds. Returns the previous value. */
  override setTimeout(seconds: number): number {
    return super.setTimeout(validateInteger(seconds, 'seconds'));
  }

  /** SSL_CTX_set_session_cache_mode: OR of SESS_CACHE.*. Returns the previous mode. */
  override setSessionCacheMode(mode: number): number {
    return super.setSessionCacheMode(validateInteger(mode, 'mode', 0, 0xffff));
  }

  /** SSL_CTX_sess_set_cache_size (0 = no limit; OpenSSL's default is 20480). Returns the previous size. */
  override setSessionCacheSize(size: number): number {
    return super.setSessionCacheSize(validateInteger(size, 'size', 0, 0x7fffffff));
  }

  /** SSL_CTX_set_num_tickets: TLS 1.3 tickets a server sends after each full handshake (default 2). */
  override setNumTickets(count: number): void {
    super.setNumTickets(validateInteger(count, 'count', 0, 0xffff));
  }

  /**
   * SSL_CTX_flush_sessions: remove every cached session that has expired at `time`
   * (seconds since the epoch; default now). The remove callback runs for each.
   */
  override flushSessions(time: number = Math.floor(Date.now() / 1000)): void {
    super.flushSessions(validateInteger(time, 'time'));
  }

  /** SSL_CTX_add_session: put `session` in the internal cache (the cache takes its own reference). */
  override addSession(session: SslSession): boolean {
    return super.addSession(sessionArg(session, 'session'));
  }

  /** SSL_CTX_remove_session: drop `session` from the internal cache (fires the remove callback). */
  override removeSession(session: SslSession): boolean {
    return super.removeSession(sessionArg(session, 'session'));
  }

  /** SSL_CTX_sess_set_new_cb. `null` unsets. The callback runs synchronously inside the handshake/read step. */
  onNewSession(callback: NewSessionCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    this.sessSetNewCb(callback as ((s: NativeSslSession, c: unknown) => void) | null);
  }

  /** SSL_CTX_sess_set_remove_cb. `null` unsets. Runs on expiry, eviction, removeSession, flush and close(). */
  onRemoveSession(callback: RemoveSessionCallback | null): void {
    validateFunctionOrNull(callback, 'callback');
    this.sessSetRemoveCb(callback as ((s: NativeSslSession) => void) | null);
  }

  /** SSL_CTX_sess_set_get_cb. `null` unsets. */
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

  /** Closes unless already closed (never throws). */
  [Symbol.dispose](): void {
    if (!this.closed) this.close();
  }
}

