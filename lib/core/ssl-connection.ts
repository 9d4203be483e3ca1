/**
 * SslConnection: one OpenSSL SSL object over two memory BIOs. Ciphertext goes in with
 * `feed()` and comes out with `takeOutput()`; the step functions (doHandshake, read, write,
 * shutdown) return at once. Methods are the SSL_* functions without the prefix, in camelCase.
 */
import { SHUTDOWN } from '../constants.js';
import { invalidArgType, validateBytes, validateFunctionOrNull, validateInteger, validateString } from '../errors.js';
import * as guard from '../guard-rails.js';
import { binding } from '../native.js';
import type { SslContext } from './ssl-context.js';
import type { SslSession } from './ssl-session.js';
import { describeMessage, type TlsMessage } from './tls-message.js';

/**
 * A TLS connection driven from JS. Created from an SslContext; its role (connect or accept)
 * is the context's. `free()` (or `[Symbol.dispose]`) frees the SSL now; afterwards every
 * call throws ERR_CONNECTION_FREED. Unfreed connections are freed by GC.
 *
 * Step results are SSL_get_error() codes: `SSL_ERROR.NONE` (0) when the step finished,
 * `SSL_ERROR.WANT_READ` when it needs more bytes from the peer. Fatal errors throw an
 * OpenSSLError carrying OpenSSL's reason (and `verifyError` for certificate failures).
 */
export class SslConnection extends binding.SslConnection {
  readonly #context: SslContext;
  readonly #server: boolean;
  /** Mirrors the native `freed` (only free() frees): TlsSocket reads it several times per record. */
  #freed = false;
  /** Guard-rail state, once the handshake is done (lib/guard-rails.ts). */
  #guard: guard.Tracked | undefined;

  constructor(context: SslContext) {
    if (!(context instanceof binding.SslContext)) throw invalidArgType('context', 'an SslContext', context);
    super(context);
    this.#context = context;
    this.#server = context.isServer; // the native constructor took the context's role (a JS field there)
  }

  /** The SslContext this connection was created from (SSL_get_SSL_CTX). */
  get context(): SslContext {
    return this.#context;
  }

  /** Whether this is the server side (the context's role). Read once: it never changes. */
  override get isServer(): boolean {
    return this.#server;
  }

  /** Whether free() ran (every other call then throws ERR_CONNECTION_FREED). */
  override get freed(): boolean {
    return this.#freed;
  }

  /** BIO_write on the network-side BIO: bytes received from the peer. */
  override feed(ciphertext: Uint8Array): void {
    super.feed(validateBytes(ciphertext, 'ciphertext'));
  }

  /** SSL_write: returns bytes accepted (all of them once the handshake is done), 0 if it must wait. */
  override write(plaintext: Uint8Array): number {
    try {
      return super.write(validateBytes(plaintext, 'plaintext'));
    } catch (error) {
      guard.settled(this.#guard);
      throw error;
    }
  }

  /** SSL_read: the plaintext available now (empty: none yet), or null once close_notify arrived. */
  override read(): Buffer | null {
    try {
      return super.read();
    } catch (error) {
      guard.settled(this.#guard); // a failed connection lost its session already: no guard-rail warning
      throw error;
    }
  }

  /** SSL_shutdown: sends close_notify; 1 once both sides sent theirs, 0 when ours went first. */
  override shutdown(): number {
    guard.settled(this.#guard);
    return super.shutdown();
  }

  /** SSL_free now; later calls throw ERR_CONNECTION_FREED. */
  override free(): void {
    guard.beforeFree(this, this.#guard);
    try {
      super.free();
    } catch (error) {
      this.#freed = super.freed; // freed even when a remove callback's exception is rethrown
      throw error;
    }
    this.#freed = true;
  }

  /** SSL_do_handshake; see the class doc for the result. */
  override doHandshake(): number {
    return this.#step(super.doHandshake);
  }

  /** SSL_connect (client side of doHandshake). */
  override connect(): number {
    return this.#step(super.connect);
  }

  /** SSL_accept (server side of doHandshake). */
  override accept(): number {
    return this.#step(super.accept);
  }

  /**
   * A handshake step (the native method, called on this: no closure per step): records
   * completion for the guard rails, names verification failures.
   */
  #step(step: (this: SslConnection) => number): number {
    try {
      const status = step.call(this);
      if (status === 0 && guard.warningsOn && this.#guard === undefined)
        this.#guard = guard.handshakeDone(this, this.#context, this.#server);
      return status;
    } catch (error) {
      throw this.#withVerifyError(error);
    }
  }

  /**
   * SSL_set_session: offer `session` for resumption in the next handshake (clients). OpenSSL
   * takes its own reference, so disposing `session` afterwards is safe. `null` clears it.
   * Returns whether the ClientHello will offer it (SSL_SESSION_is_resumable): false for a
   * session OpenSSL marked not resumable (a connection using it was freed without shutdown),
   * which is set but not offered, so the handshake is a full one.
   */
  override setSession(session: SslSession | null): boolean {
    if (session !== null && !(session instanceof binding.SslSession)) throw invalidArgType('session', 'an SslSession or null', session);
    guard.sessionOffered(session);
    return super.setSession(session);
  }

  /**
   * SSL_get1_session: the connection's current session as a new handle (one reference,
   * yours), or null. With TLS 1.3 the resumable session arrives with the server's ticket
   * after the handshake: read() the server's first bytes (or wait for the 'session' event)
   * before taking it, and check `isResumable()`.
   */
  override get1Session(): SslSession | null {
    const session = super.get1Session() as SslSession | null;
    if (guard.warningsOn) guard.sessionTaken(this, this.#server, session);
    return session;
  }

  /** SSL_set_shutdown: SHUTDOWN.SENT | SHUTDOWN.RECEIVED marks the connection as cleanly closed. */
  override setShutdown(flags: number): void {
    super.setShutdown(validateInteger(flags, 'flags', 0, SHUTDOWN.SENT | SHUTDOWN.RECEIVED));
    if (flags & SHUTDOWN.SENT) guard.settled(this.#guard);
  }

  /** SSL_set_quiet_shutdown: skip sending close_notify, and treat the connection as closed cleanly. */
  override setQuietShutdown(quiet: boolean): void {
    if (typeof quiet !== 'boolean') throw invalidArgType('quiet', 'of type boolean', quiet);
    super.setQuietShutdown(quiet);
  }

  /** SSL_set_tlsext_host_name: the SNI a client sends. */
  override setTlsextHostName(name: string): void {
    super.setTlsextHostName(validateString(name, 'name'));
  }

  /** SSL_set1_host: the name the peer certificate must match (checked when verifying). */
  override set1Host(name: string): void {
    super.set1Host(validateString(name, 'name'));
  }

  /** Per-connection listener for new sessions (needs a cache mode including this side, like node:tls' 'session'). */
  override setSessionListener(listener: ((session: SslSession) => void) | null): void {
    validateFunctionOrNull(listener, 'listener');
    super.setSessionListener(listener as never);
  }

  /**
   * This connection's key log lines (see SslContext.onKeylog), each a Buffer ending in a
   * newline, delivered during its handshake steps; `null` stops. The context's callback, if
   * set, gets them too. The first listener of a context installs OpenSSL's keylog callback on
   * it for good (a few µs per handshake of that context from then on).
   */
  override setKeylogListener(listener: ((line: Buffer) => void) | null): void {
    validateFunctionOrNull(listener, 'listener');
    super.setKeylogListener(listener);
  }

  /**
   * SSL_set_msg_callback: `listener` gets every protocol message this connection sends or
   * receives from now on (handshake messages, ChangeCipherSpec, alerts, record headers), named,
   * during the steps that handle them; `null` stops. What `openssl s_client -msg` prints. A
   * listener's exception is rethrown by that step once OpenSSL has returned.
   */
  setMessageListener(listener: ((message: TlsMessage) => void) | null): void {
    validateFunctionOrNull(listener, 'listener');
    this.setMsgCallback(
      listener === null ? null : (sent, version, contentType, bytes) => listener(describeMessage(sent, version, contentType, bytes)),
    );
  }

  /** X509_verify_cert_error_string(getVerifyResult()). */
  verifyResultString(): string {
    return binding.verifyCertErrorString(this.getVerifyResult());
  }

  /** Frees unless already freed (never throws). */
  [Symbol.dispose](): void {
    if (!this.freed) this.free();
  }

  #withVerifyError(error: unknown): unknown {
    guard.settled(this.#guard);
    if (error instanceof Error && (error as { code?: string }).code === 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' && !this.freed) {
      const reason = this.verifyResultString();
      Object.assign(error, { verifyError: reason, message: `${error.message}: ${reason}` });
    }
    return error;
  }
}
