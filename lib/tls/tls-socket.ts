/**
 * TlsSocket: a Duplex of plaintext over any Duplex of ciphertext (a net.Socket), driving an
 * SslConnection's memory BIOs from JS. Nothing here blocks: each 'data' event feeds the
 * engine one step, like node's TLSWrap.
 */
import type { Duplex } from 'node:stream';
import { Duplex as DuplexStream } from 'node:stream';

import { SHUTDOWN, SSL_ERROR } from '../constants.js';
import { clientHelloPending } from '../core/client-hello.js';
import type { SslConnection } from '../core/ssl-connection.js';
import type { SslSession } from '../core/ssl-session.js';

export interface TlsSocketOptions {
  /** Milliseconds the handshake may take before the socket is destroyed (default 120000, as node:tls; 0 = none). */
  handshakeTimeout?: number;
  /** Free the SslConnection when the socket closes (servers do; clients keep it for get1Session()). */
  freeOnClose?: boolean;
}

/** An Error with a node-style `code` (ECONNRESET, ERR_TLS_HANDSHAKE_TIMEOUT) and an optional cause. */
export type TlsError = Error & { code: string };

function tlsError(code: string, message: string, cause?: unknown): TlsError {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

/** Transport errors that mean "the peer went away" (reported as a hang-up during the handshake). */
const HANG_UP_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

type PendingWrite = { chunk: Buffer; callback: (error?: Error | null) => void };

/** Plaintext written while output is held (see #holding) past which it goes out anyway, for backpressure. */
const HOLD_LIMIT = 64 * 1024;

/**
 * Events: 'secure' (handshake done), 'session' (a new SslSession, e.g. a TLS 1.3 ticket;
 * needs SESS_CACHE.CLIENT/SERVER in the context's mode, as with node:tls; the handle owns a
 * reference of its own, shared by the 'session' listeners: whoever keeps it disposes it),
 * 'keylog' (a Buffer: one line of NSS key log format for each secret of the handshake, as
 * node:tls emits it; see SslContext.onKeylog), plus the Duplex ones.
 *
 * Errors before the handshake finished: the OpenSSLError of the failed step (bad data,
 * alert, certificate), `ECONNRESET` when the peer hung up (OpenSSL's view in `cause`), or
 * `ERR_TLS_HANDSHAKE_TIMEOUT`. A connection whose handshake failed is freed at once.
 *
 * Closing: `end()` sends close_notify (SSL_shutdown) after the pending writes, then a FIN.
 * A connection the peer closed with close_notify is marked shut down before it is freed,
 * so OpenSSL keeps its session cached (SSL_free drops sessions of connections that were not
 * shut down: a peer that just hangs up, or a fatal error, costs the session).
 */
export class TlsSocket extends DuplexStream {
  /** The engine. Use it for anything this class does not wrap. */
  readonly connection: SslConnection;
  /** The ciphertext transport. */
  readonly socket: Duplex;
  #waitingForClientHello = false;
  #secure = false;
  #peerEnded = false;
  #closeNotifyReceived = false;
  #readableDone = false;
  #listeningForSessions = false;
  #listeningForKeylog = false;
  /**
   * While true, OpenSSL's output stays in its memory BIO: an engine step, and whatever its
   * listeners write, leaves in one Buffer and one transport write when it ends (#release).
   */
  #holding = false;
  #heldBytes = 0;
  #pending: PendingWrite[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #freeOnClose: boolean;

  constructor(socket: Duplex, connection: SslConnection, options: TlsSocketOptions = {}) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.connection = connection;
    this.#freeOnClose = options.freeOnClose ?? false;
    const timeout = options.handshakeTimeout ?? 120_000;
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        this.destroy(tlsError('ERR_TLS_HANDSHAKE_TIMEOUT', `TLS handshake timed out after ${timeout} ms`));
      }, timeout);
      this.#timer.unref();
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onPeerEnd());
    socket.on('error', (error: Error & { code?: string }) => {
      if (!this.#secure && error.code !== undefined && HANG_UP_CODES.has(error.code)) this.destroy(this.#hangUpError(error));
      else this.destroy(error);
    });
    socket.on('close', () => {
      if (!this.destroyed) this.destroy(this.#secure ? undefined : this.#hangUpError());
    });
  }

  /** Whether the handshake has completed. */
  get secure(): boolean {
    return this.#secure;
  }

  /** Whether the peer closed with close_notify (false: it just hung up, or not yet). */
  get closeNotifyReceived(): boolean {
    return this.#closeNotifyReceived;
  }

  /** SSL_session_reused. */
  isSessionReused(): boolean {
    return this.connection.sessionReused();
  }

  /** SSL_get1_session: the current session, a handle of your own (null before the handshake). */
  get1Session(): SslSession | null {
    return this.connection.get1Session();
  }

  /** Negotiated protocol ('TLSv1.3'), or null before the handshake. */
  getProtocol(): string | null {
    return this.#secure && !this.connection.freed ? this.connection.getVersion() : null;
  }

  /** Negotiated cipher name, or null. */
  getCipher(): string | null {
    return this.connection.getCipherName();
  }

  /** The ALPN protocol agreed on, or null. */
  get alpnProtocol(): string | null {
    return this.connection.get0AlpnSelected();
  }

  /** The peer certificate, DER, or null. */
  getPeerCertificate(): Buffer | null {
    return this.connection.get1PeerCertificate();
  }

  /** Resolves once the handshake is done; rejects with the handshake error. */
  waitSecure(): Promise<this> {
    if (this.#secure) return Promise.resolve(this);
    if (this.destroyed) return Promise.reject(this.errored ?? this.#hangUpError());
    return new Promise((resolve, reject) => {
      const onSecure = () => {
        this.off('error', onError);
        this.off('close', onClose);
        resolve(this);
      };
      const onError = (error: Error) => {
        this.off('secure', onSecure);
        this.off('close', onClose);
        reject(error);
      };
      const onClose = () => {
        this.off('secure', onSecure);
        this.off('error', onError);
        reject(this.errored ?? this.#hangUpError());
      };
      this.once('secure', onSecure);
      this.once('error', onError);
      this.once('close', onClose);
    });
  }

  /** Starts a client handshake (sends the ClientHello). */
  startHandshake(): void {
    this.#drive();
  }

  /** Frees the SslConnection (after close, when its session is no longer needed). */
  free(): void {
    if (!this.connection.freed) this.connection.free();
  }

  /**
   * The native per-connection session listener is installed only while someone listens for
   * 'session' (OpenSSL then hands each new session to JS, otherwise it keeps none). Sessions
   * arrive only inside the engine's steps (#drive), so it is matched to the listeners there,
   * before each step that can deliver one, rather than on every listener added to or removed
   * from this stream (a 'newListener' listener would run for each of the stream's own ~20 per
   * connection).
   */
  #syncSessionListener(): void {
    const wanted = this.listenerCount('session') > 0;
    if (wanted !== this.#listeningForSessions) this.#listenForSessions(wanted);
  }

  #listenForSessions(on: boolean): void {
    if (on === this.#listeningForSessions || this.connection.freed) return;
    this.#listeningForSessions = on;
    // Each new session reaches this listener as a handle of its own (the native layer gives
    // the context's onNewSession callback another), so a 'session' listener may keep or
    // dispose it freely.
    this.connection.setSessionListener(on ? (session) => this.emit('session', session) : null);
  }

  /** Like #syncSessionListener, for 'keylog': lines come only from handshake steps. */
  #syncKeylogListener(): void {
    const wanted = this.listenerCount('keylog') > 0;
    if (wanted === this.#listeningForKeylog || this.connection.freed) return;
    this.#listeningForKeylog = wanted;
    this.connection.setKeylogListener(wanted ? (line) => this.emit('keylog', line) : null);
  }

  #hangUpError(cause?: unknown): TlsError {
    return tlsError('ECONNRESET', 'TLS handshake failed: the peer closed the connection before the handshake finished', cause);
  }

  #onData(chunk: Buffer): void {
    if (this.destroyed || this.connection.freed) return;
    this.connection.feed(chunk);
    this.#driveHeld();
  }

  /**
   * One engine step with its output held: everything it produces (the next handshake flight,
   * replies a 'secure' or 'data' listener writes synchronously, close_notify) accumulates in
   * OpenSSL's output BIO and leaves as one Buffer in one write when the step ends. Held only
   * for this synchronous step, so nothing waits for a later tick, except after the step that
   * finished the handshake (below). This is what corking the transport would do, minus a
   * Buffer, a native call and a stream write per record, and without touching the cork state
   * of a transport the caller may own.
   */
  #driveHeld(): void {
    const alreadyHeld = this.#holding; // bytes that came while a post-handshake hold was pending
    this.#holding = true;
    const wasSecure = this.#secure;
    try {
      this.#drive();
    } finally {
      if (!wasSecure && this.#secure && !this.destroyed) {
        // The step that finished the handshake: hold what it wrote until this turn's
        // continuations ran. A client's last flight then leaves with what `await connect()`
        // writes next (one segment, one wake-up less for the server), as node's http corks a
        // request until nextTick; a server's reply to data that came with the client's
        // Finished (emitted on the next tick: the first push of a stream is never synchronous)
        // leaves with its close_notify.
        setImmediate(() => this.#release());
      } else if (!alreadyHeld) {
        this.#release();
      }
    }
  }

  /** Ends a hold: hands everything OpenSSL wrote meanwhile to the transport. */
  #release(): void {
    this.#holding = false;
    this.#heldBytes = 0;
    this.#flushNow();
  }

  #onPeerEnd(): void {
    this.#peerEnded = true;
    if (this.destroyed || this.connection.freed) return;
    if (!this.#secure) {
      // Let OpenSSL see the EOF (it may answer with an alert), then report a hang-up.
      this.connection.feedEOF();
      let cause: unknown;
      try {
        this.connection.doHandshake();
      } catch (error) {
        cause = error;
      }
      this.#flushNow();
      this.destroy(this.#hangUpError(cause));
      return;
    }
    // After the handshake, a FIN ends the stream like node:tls does. The EOF is not fed to
    // OpenSSL: without close_notify that would be a fatal error, and a fatal error drops the
    // session from the server cache.
    if (this.#closeNotifyReceived && !this.#halfOpen() && (this.connection.getShutdown() & SHUTDOWN.SENT) === 0) {
      // The peer closed cleanly and is gone; the transport ends on the next tick (no half-open),
      // so answer its close_notify now even if nobody read our readable side to the end. This
      // also marks the connection shut down, so SSL_free keeps its session cached.
      try {
        this.connection.shutdown();
        this.#flushNow();
      } catch {
        // nothing more to say to this peer
      }
    }
    this.#endReadable();
  }

  /**
   * One engine step. Only the engine calls sit inside try/catch (their errors destroy the
   * socket); events go out outside it, so an exception thrown by a 'secure' or 'data'
   * listener propagates as it would from node:tls instead of turning into a socket error.
   */
  #drive(): void {
    if (!this.#secure) {
      let status: number;
      try {
        this.#syncSessionListener(); // TLS 1.2 sessions arrive with the handshake's last step
        this.#syncKeylogListener();
        status = this.connection.doHandshake();
        this.#flush();
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (status === SSL_ERROR.WANT_CLIENT_HELLO_CB) {
        this.#awaitClientHello();
        return;
      }
      if (status !== SSL_ERROR.NONE) return;
      this.#secure = true;
      clearTimeout(this.#timer);
      this.emit('secure');
      if (this.destroyed || this.connection.freed) return;
    }
    // read() drains all plaintext available now; when the peer's close_notify (or an error)
    // came in the same bytes as the last data, it returns the data first and reports the
    // close on the next call, so read until it says "nothing more" (empty) or "closed" (null).
    while (!this.#readableDone && !this.destroyed) {
      let data: Buffer | null;
      try {
        // Also processes post-handshake messages (TLS 1.3 NewSessionTicket -> 'session'), so
        // first pick up 'session' listeners a 'secure' or 'data' listener just added.
        this.#syncSessionListener();
        data = this.connection.read();
        this.#flush();
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (data === null) {
        this.#closeNotifyReceived = true;
        this.#endReadable();
        break;
      }
      if (data.length === 0) break;
      if (!this.push(data)) (this.socket as { pause?: () => void }).pause?.();
    }
    if (this.#pending.length > 0 && !this.destroyed) this.#writePending();
  }

  /**
   * The server's ClientHello callback paused the handshake (an async session lookup): step again
   * once clientHelloPending() resolves. Bytes arriving meanwhile are fed and stepped as usual
   * (the step reports WANT_CLIENT_HELLO_CB again); the handshake timeout keeps running.
   */
  #awaitClientHello(): void {
    if (this.#waitingForClientHello) return;
    const pending = clientHelloPending(this.connection);
    if (pending === null) {
      this.#fail(tlsError('ERR_TLS_INTERNAL', 'the handshake paused for a client hello callback that is not pending'));
      return;
    }
    this.#waitingForClientHello = true;
    void pending.then(() => {
      this.#waitingForClientHello = false;
      if (this.destroyed || this.connection.freed) return;
      this.#driveHeld();
    });
  }

  #fail(error: unknown): void {
    this.#flushNow(); // deliver our alert (and anything held before it) to the peer now
    this.destroy(error as Error);
  }

  #endReadable(): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    this.push(null);
  }

  /** Whether the transport stays writable after the peer's FIN. */
  #halfOpen(): boolean {
    return (this.socket as { allowHalfOpen?: boolean }).allowHalfOpen === true;
  }

  /** Hands OpenSSL's output to the transport, unless it is held (see #holding). */
  #flush(): boolean {
    return this.#holding || this.#flushNow();
  }

  /** Hands OpenSSL's output to the transport now. Returns false when the transport's buffer is full. */
  #flushNow(): boolean {
    const out = this.connection.freed ? null : this.connection.takeOutput();
    if (out !== null && !this.socket.destroyed && this.socket.writable && !this.socket.writableEnded) {
      return this.socket.write(out);
    }
    return true;
  }

  /** SSL_write one chunk; false when OpenSSL must first read (renegotiation): retried after the next read. */
  #writeNow(write: PendingWrite): boolean {
    let written: number;
    try {
      written = this.connection.write(write.chunk);
    } catch (error) {
      this.#flushNow(); // the alert
      write.callback(error as Error);
      return true;
    }
    if (written === 0 && write.chunk.length > 0) {
      this.#flush();
      return false;
    }
    // The record is the transport's (or held for it): the write is done, unless the transport's
    // buffer is full (backpressure: done once it drains). Done at once lets an end() right
    // behind it send close_notify in the same step, so reply, close_notify and FIN leave
    // together. A hold that grew large goes out now, so a big write still meets backpressure.
    if (this.#holding && (this.#heldBytes += written) < HOLD_LIMIT) {
      write.callback();
      return true;
    }
    this.#heldBytes = 0;
    if (this.#flushNow()) write.callback();
    else this.socket.once('drain', () => write.callback());
    return true;
  }

  #writePending(): void {
    while (this.#pending.length > 0) {
      if (!this.#writeNow(this.#pending[0]!)) return;
      this.#pending.shift();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const write = { chunk, callback };
    if (!this.#secure || this.#pending.length > 0 || !this.#writeNow(write)) this.#pending.push(write);
  }

  override _read(): void {
    (this.socket as { resume?: () => void }).resume?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#secure) {
      // end() before the handshake finished: close once it has (or never, if it fails: destroy() cleans up).
      this.once('secure', () => this._final(callback));
      return;
    }
    try {
      if (!this.connection.freed) {
        this.connection.shutdown(); // close_notify
        this.#flushNow(); // with anything held: it must precede the transport's end()
      }
    } catch {
      // a connection in error state cannot send close_notify; closing the socket is enough
    }
    if (this.#peerEnded || !this.socket.writable) {
      callback();
      return;
    }
    // 'finish' instead of end(callback): a transport destroyed before it finished (the usual
    // read-to-the-end-then-destroy) would build an ERR_STREAM_DESTROYED, stack trace and
    // all, for a callback nobody waits for any more.
    this.socket.once('finish', () => callback());
    this.socket.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    const pending = this.#pending;
    this.#pending = [];
    for (const { callback: cb } of pending) cb(error ?? tlsError('ERR_STREAM_DESTROYED', 'socket destroyed'));
    const connection = this.connection;
    if (this.#secure && this.#closeNotifyReceived && !connection.freed && (connection.getShutdown() & SHUTDOWN.SENT) === 0) {
      // The peer closed cleanly but we never answered (nobody read to the end): answer now,
      // which also marks the connection shut down so SSL_free keeps its session cached.
      try {
        connection.shutdown();
      } catch {
        // nothing more to say to this peer
      }
    }
    // A listener may write and destroy within one held step (#onData): send what it wrote.
    this.#holding = false;
    this.#flushNow();
    this.socket.destroy();
    // No session can arrive after close. Dropping the native listener also breaks the cycle
    // native connection -> (strong ref) listener -> this -> connection, which GC cannot see
    // through and which would otherwise keep a closed client alive until free().
    if (!connection.freed && this.#listeningForSessions) {
      this.#listeningForSessions = false;
      connection.setSessionListener(null);
    }
    if (!connection.freed && this.#listeningForKeylog) {
      this.#listeningForKeylog = false;
      connection.setKeylogListener(null);
    }
    // A failed handshake leaves nothing worth keeping: free the SSL now, not at GC.
    if (!connection.freed && (!this.#secure || this.#freeOnClose)) {
      try {
        connection.free();
      } catch (freeError) {
        // e.g. an exception thrown by an onRemoveSession callback that SSL_free fired
        error ??= freeError as Error;
      }
    }
    callback(error);
  }
}
