/**
 * TlsSocket: a Duplex of plaintext over any Duplex of ciphertext (a net.Socket), driving an
 * SslConnection's memory BIOs from JS. Nothing here blocks: each 'data' event feeds the
 * engine one step, like node's TLSWrap.
 */
import type { Duplex } from 'node:stream';
import { Duplex as DuplexStream } from 'node:stream';

import { SSL_ERROR } from '../constants.js';
import type { SslConnection } from '../core/ssl-connection.js';
import type { SslSession } from '../core/ssl-session.js';
import { codedTypeError } from '../errors.js';

export interface TlsSocketOptions {
  /** Milliseconds the handshake may take before the socket is destroyed (default 120000, as node:tls). */
  handshakeTimeout?: number;
  /** Free the SslConnection when the socket closes (servers do; clients keep it for get1Session()). */
  freeOnClose?: boolean;
}

type PendingWrite = { chunk: Buffer; callback: (error?: Error | null) => void };

/**
 * Events: 'secure' (handshake done), 'session' (a new SslSession, e.g. a TLS 1.3 ticket;
 * needs SESS_CACHE.CLIENT/SERVER in the context's mode, as with node:tls), plus the Duplex ones.
 */
export class TlsSocket extends DuplexStream {
  /** The engine. Use it for anything this class does not wrap. */
  readonly connection: SslConnection;
  /** The ciphertext transport. */
  readonly socket: Duplex;
  #secure = false;
  #peerEnded = false;
  #closeNotifyReceived = false;
  #pending: PendingWrite[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #freeOnClose: boolean;

  constructor(socket: Duplex, connection: SslConnection, options: TlsSocketOptions = {}) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.connection = connection;
    this.#freeOnClose = options.freeOnClose ?? false;
    connection.setSessionListener((session) => {
      if (this.listenerCount('session') > 0) this.emit('session', session);
      else session.dispose();
    });
    const timeout = options.handshakeTimeout ?? 120_000;
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        this.destroy(codedTypeError('ERR_TLS_HANDSHAKE_TIMEOUT', `TLS handshake timed out after ${timeout} ms`));
      }, timeout);
      this.#timer.unref();
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onPeerEnd());
    socket.on('error', (error: Error) => this.destroy(error));
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
    return this.#secure ? this.connection.getVersion() : null;
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
        reject(this.#hangUpError());
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

  #hangUpError(): Error {
    return codedTypeError('ECONNRESET', 'the peer closed the connection before the TLS handshake finished');
  }

  #onData(chunk: Buffer): void {
    if (this.destroyed || this.connection.freed) return;
    this.connection.feed(chunk);
    this.#drive();
  }

  #onPeerEnd(): void {
    this.#peerEnded = true;
    if (this.destroyed || this.connection.freed) return;
    if (!this.#secure) {
      // Let OpenSSL see the EOF so the error names it, then fail the handshake.
      this.connection.feedEOF();
      this.#drive();
      if (!this.destroyed) this.destroy(this.#hangUpError());
      return;
    }
    // After the handshake, a FIN without close_notify ends the stream like node:tls does.
    // The EOF is not fed to OpenSSL: that would be a fatal alert, and a fatal alert drops
    // the session from the server cache; our own close_notify (sent from _final) keeps it.
    this.#endReadable();
  }

  #drive(): void {
    try {
      if (!this.#secure) {
        const status = this.connection.doHandshake();
        this.#flush();
        if (status !== SSL_ERROR.NONE) return;
        this.#secure = true;
        clearTimeout(this.#timer);
        this.emit('secure');
        this.#writePending();
      }
      const data = this.connection.read();
      this.#flush();
      if (data === null) {
        this.#closeNotifyReceived = true;
        this.#endReadable();
      } else if (data.length > 0 && !this.push(data)) {
        (this.socket as { pause?: () => void }).pause?.();
      }
    } catch (error) {
      this.#flush(); // deliver our alert to the peer
      this.destroy(error as Error);
    }
  }

  #endReadable(): void {
    if (this.readableEnded || this.#ended) return;
    this.#ended = true;
    this.push(null);
  }
  #ended = false;

  #flush(callback?: (error?: Error | null) => void): void {
    const out = this.connection.freed ? null : this.connection.takeOutput();
    if (out !== null && !this.socket.destroyed && this.socket.writable) {
      this.socket.write(out, callback);
    } else {
      callback?.();
    }
  }

  #writePending(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const { chunk, callback } of pending) this._write(chunk, 'buffer' as BufferEncoding, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.#secure) {
      this.#pending.push({ chunk, callback });
      return;
    }
    try {
      this.connection.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#flush(callback);
  }

  override _read(): void {
    (this.socket as { resume?: () => void }).resume?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      if (this.#secure && !this.connection.freed) {
        this.connection.shutdown(); // close_notify
        this.#flush();
      }
    } catch {
      // a connection in error state cannot send close_notify; closing the socket is enough
    }
    if (this.#peerEnded || !this.socket.writable) {
      callback();
      return;
    }
    this.socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    for (const { callback: cb } of this.#pending) cb(error ?? codedTypeError('ERR_STREAM_DESTROYED', 'socket destroyed'));
    this.#pending = [];
    this.socket.destroy();
    // A failed handshake leaves nothing worth keeping: free the SSL now, not at GC.
    if (!this.connection.freed && (!this.#secure || this.#freeOnClose)) this.connection.free();
    callback(error);
  }

  /** Frees the SslConnection (after close, when its session is no longer needed). */
  free(): void {
    if (!this.connection.freed) this.connection.free();
  }
}
