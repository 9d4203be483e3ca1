/**
 * SslSession: a JS handle owning exactly one reference to an OpenSSL SSL_SESSION.
 * Methods are the SSL_SESSION_* functions without the prefix, in camelCase.
 */
import { inspect } from 'node:util';

import { versionName } from '../constants.js';
import { codedTypeError, validateBytes, validateInteger, validateString } from '../errors.js';
import { binding } from '../native.js';

/**
 * Calls `onDispose` once when `session` is disposed (one watcher per handle: the session
 * cache that holds it; null stops watching). A handle freed by GC is unreachable, so nobody
 * needs telling.
 */
export function onSessionDispose(session: SslSession, onDispose: (() => void) | null): void {
  watchSession(session, onDispose ?? undefined);
}

// Set by SslSession's static block: the one place outside the class that reaches #onDispose.
let watchSession: (session: SslSession, onDispose: (() => void) | undefined) => void;

/** A readable summary of a session (no secrets): what `openssl sess_id -text` shows. */
export interface SessionInfo {
  /** Session id, hex (empty for ticket-only TLS 1.2 sessions). */
  id: string;
  /** Session id context, as text when printable, else hex. */
  idContext: string;
  /** 'TLSv1.2', 'TLSv1.3', ... */
  protocol: string;
  cipher: string | null;
  /** Creation time, seconds since the epoch. */
  time: number;
  /** Lifetime in seconds from `time`. */
  timeout: number;
  hasTicket: boolean;
  ticketLength: number;
  ticketLifetimeHint: number;
  resumable: boolean;
  maxEarlyData: number;
  hostname: string | null;
  alpn: string | null;
}

/**
 * An SSL_SESSION reference. Created by {@link SslSession.fromDER}, {@link SslSession.fromPEM},
 * `SslConnection.get1Session()` and the session callbacks; never with `new`.
 *
 * Ownership: each handle owns one reference and frees it exactly once, on `dispose()` or,
 * if never disposed, when garbage-collected. After `dispose()` every method throws a
 * TypeError with code `ERR_SESSION_DISPOSED` (a second `dispose()` too);
 * `[Symbol.dispose]` is idempotent so `using` works alongside explicit disposal.
 */
export class SslSession extends binding.SslSession {
  /** Mirrors `disposed` in JS: reading it costs no native call (the session cache checks it on every hit). */
  #released = false;

  /** Whether `session` is a live handle, without a native call (false for anything else). */
  static isLive(session: unknown): boolean {
    return session instanceof SslSession && !session.#released;
  }

  /** Called once by dispose() (see onSessionDispose). */
  #onDispose: (() => void) | undefined = undefined;

  static {
    watchSession = (session, onDispose) => {
      session.#onDispose = onDispose;
    };
  }

  /** Whether dispose() ran (a JS field: the native getter costs a call and a type-tag check). */
  override get disposed(): boolean {
    return this.#released;
  }

  /** SSL_SESSION_free of this handle's reference. Throws ERR_SESSION_DISPOSED the second time. */
  override dispose(): void {
    super.dispose();
    this.#released = true;
    const onDispose = this.#onDispose;
    this.#onDispose = undefined;
    onDispose?.();
  }

  /** Parse the DER form (i2d_SSL_SESSION output, node:tls `socket.getSession()`). */
  static override fromDER(der: Uint8Array): SslSession {
    return super.fromDER(validateBytes(der, 'der')) as SslSession;
  }

  /** Parse the PEM form ("BEGIN SSL SESSION PARAMETERS", `openssl s_client -sess_out`). */
  static override fromPEM(pem: string | Uint8Array): SslSession {
    const text = pem instanceof Uint8Array ? Buffer.from(pem).toString('latin1') : validateString(pem, 'pem');
    return super.fromPEM(text) as SslSession;
  }

  /** SSL_SESSION_set_time: set the creation time in seconds since the epoch (e.g. in the past, to expire it). */
  override setTime(seconds: number): void {
    super.setTime(validateInteger(seconds, 'seconds'));
  }

  /** SSL_SESSION_set_timeout: set the lifetime in seconds. */
  override setTimeout(seconds: number): void {
    super.setTimeout(validateInteger(seconds, 'seconds'));
  }

  /** SSL_SESSION_up_ref: another handle, owning its own reference to the same session. */
  override upRef(): SslSession {
    return super.upRef() as SslSession;
  }

  /** SSL_SESSION_dup: an independent deep copy (not in any cache). */
  override dup(): SslSession {
    return super.dup() as SslSession;
  }

  /** Whether `other` is a handle to the very same SSL_SESSION. */
  override isSame(other: SslSession): boolean {
    if (!(other instanceof binding.SslSession)) throw codedTypeError('ERR_INVALID_ARG_TYPE', 'The "other" argument must be an SslSession');
    return super.isSame(other);
  }

  /** Readable summary (no key material). */
  describe(): SessionInfo {
    const idContext = this.get0IdContext();
    const ticket = this.get0Ticket();
    return {
      id: this.getId().toString('hex'),
      idContext: /^[\x20-\x7e]*$/.test(idContext.toString('latin1')) ? idContext.toString('latin1') : idContext.toString('hex'),
      protocol: versionName(this.getProtocolVersion()),
      cipher: this.get0Cipher(),
      time: this.getTime(),
      timeout: this.getTimeout(),
      hasTicket: this.hasTicket(),
      ticketLength: ticket?.length ?? 0,
      ticketLifetimeHint: this.getTicketLifetimeHint(),
      resumable: this.isResumable(),
      maxEarlyData: this.getMaxEarlyData(),
      hostname: this.get0Hostname(),
      alpn: this.get0AlpnSelected(),
    };
  }

  /** Frees this handle's reference unless already disposed (never throws). */
  [Symbol.dispose](): void {
    if (!this.disposed) this.dispose();
  }

  [inspect.custom](): string {
    if (this.disposed) return 'SslSession <disposed>';
    return `SslSession ${inspect(this.describe())}`;
  }
}

// Sessions created in C++ (get1Session, callbacks, fromDER) are instances of this class.
binding.setClasses({ SslSession });
