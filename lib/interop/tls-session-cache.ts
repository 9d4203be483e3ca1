/**
 * The client session cache for node:tls: values are DER Buffers (what node's 'session'
 * event emits and its `session` option takes). Same LRU, ticket pool, expiry, stores and
 * stats as the engine cache; the metadata is read by parsing each session once when stored.
 *
 *     const cache = new NodeSessionCache();
 *     const socket = await cache.tlsConnect({ host, port });        // async: memory, then store
 *     const connect = withSessionCache(tls.connect, cache);          // sync drop-in: memory only
 *
 * Verification gating: sessions that arrive before 'secureConnect' (TLS 1.2 sends its
 * session during the handshake) are held until the handshake is judged. A connection whose
 * certificate was not authorized while `rejectUnauthorized` is on stores nothing; with
 * `rejectUnauthorized: false` (part of the key) sessions are stored. A connection that closes
 * with an error evicts the session it was offered.
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';

import { invalidArgType } from '../errors.js';
import { derSessionAdapter } from '../cache/adapters.js';
import { canonicalTrust, certificateSetDigest, formatKey, identityOf, keyDigest } from '../cache/key.js';
import { SessionCache, type SessionCacheOptions, type SessionTrust } from '../cache/session-cache.js';

/** Options of a NodeSessionCache (the adapter is fixed: DER Buffers). */
export type NodeSessionCacheOptions = Omit<SessionCacheOptions<Buffer>, 'adapter'>;

/** tls.connect() / https.request() options, as loose as node accepts them. */
export interface NodeKeyOptions extends Omit<tls.ConnectionOptions, 'host' | 'port' | 'path'> {
  host?: string | null;
  hostname?: string | null;
  port?: number | string | null;
  path?: string | null;
  defaultPort?: number | string;
}

/** ALPNProtocols (string[], Buffer[] or one wire-format buffer) as a list of names. */
function alpnList(value: NodeKeyOptions['ALPNProtocols']): string[] | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map((p) => (typeof p === 'string' ? p : Buffer.from(p as Uint8Array).toString('latin1')));
  const wire = Buffer.from(value as Uint8Array);
  const list: string[] = [];
  for (let i = 0; i < wire.length; i += 1 + (wire[i] ?? 0)) list.push(wire.subarray(i + 1, i + 1 + (wire[i] ?? 0)).toString('latin1'));
  return list;
}

function keyMaterialDigest(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    const bytes = (item as { buf?: unknown }).buf ?? item; // { buf, passphrase } entries
    return typeof bytes === 'string' || bytes instanceof Uint8Array ? certificateSetDigest(bytes) : 'object';
  });
}

/** A client session cache for node:tls and https (values: DER Buffers). */
export class NodeSessionCache extends SessionCache<Buffer, NodeKeyOptions> {
  constructor(options: NodeSessionCacheOptions = {}) {
    super({ ...options, adapter: derSessionAdapter });
  }

  /**
   * The key for tls.connect()/https options: host:port, SNI, and a digest of
   * rejectUnauthorized, the name checked, ca (node's default roots when absent), cert/pfx,
   * ALPNProtocols, min/maxVersion (node's defaults when absent), ciphers, sigalgs, ecdhCurve,
   * secureOptions, secureProtocol, crl; a secureContext or checkServerIdentity function adds
   * its in-process identity (and makes the key ephemeral: never persisted).
   */
  override keyFor(options: NodeKeyOptions): string {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const host = options.host || options.hostname || 'localhost';
    const port = Number(options.port ?? options.defaultPort ?? 443);
    const servername = options.servername ? options.servername : isIP(host) === 0 ? host : null;
    const verify = options.rejectUnauthorized !== false;
    const identities: Record<string, string> = {};
    if (options.secureContext) identities.secureContext = identityOf(options.secureContext);
    if (typeof options.checkServerIdentity === 'function') identities.checkServerIdentity = identityOf(options.checkServerIdentity);
    const clientCertificate = Boolean(options.cert || options.pfx);
    const trust = canonicalTrust({
      verify,
      checkHost: verify ? (servername ?? host) : null,
      ca: (options.ca as string | Buffer | Array<string | Buffer> | undefined) ?? null,
      cert: (options.cert as string | Buffer | Array<string | Buffer> | undefined) ?? null,
      alpnProtocols: alpnList(options.ALPNProtocols),
      minVersion: options.minVersion ?? tls.DEFAULT_MIN_VERSION,
      maxVersion: options.maxVersion ?? tls.DEFAULT_MAX_VERSION,
      ciphers: options.ciphers ?? null,
      extra: {
        defaultCa: options.ca === undefined || options.ca === null,
        pfx: keyMaterialDigest(options.pfx),
        sigalgs: options.sigalgs ?? null,
        ecdhCurve: options.ecdhCurve ?? null,
        secureOptions: options.secureOptions ?? null,
        secureProtocol: options.secureProtocol ?? null,
        crl: keyMaterialDigest(options.crl),
        path: options.path ?? null,
        identities,
      },
    });
    return formatKey({
      host,
      port,
      servername,
      digest: keyDigest({ v: 1, engine: 'node:tls', trust }),
      ephemeral: Object.keys(identities).length > 0,
      clientCertificate,
    });
  }

  /**
   * Stores what `socket` reports through 'session' under `key`, judged at 'secureConnect'
   * (see the module doc); evicts `offered` if the socket closes with an error or before
   * its handshake finished. Call it right after tls.connect().
   */
  observe(key: string, socket: tls.TLSSocket, options: tls.ConnectionOptions = {}, offered?: Buffer): void {
    const verifying = options.rejectUnauthorized !== false;
    const pending: Buffer[] = [];
    let trust: SessionTrust | undefined;
    const onSession = (der: Buffer) => {
      if (trust === undefined) pending.push(der);
      else this.set(key, der, { trust });
    };
    const onSecure = () => {
      trust = socket.authorized ? 'verified' : verifying ? 'failed' : 'unverified';
      for (const der of pending.splice(0)) this.set(key, der, { trust });
    };
    const onClose = (hadError: boolean) => {
      socket.off('session', onSession);
      socket.off('secureConnect', onSecure);
      pending.length = 0;
      if (offered && (hadError || trust === undefined)) this.evictValue(offered);
    };
    socket.on('session', onSession);
    socket.once('secureConnect', onSecure);
    socket.once('close', onClose);
  }

  /**
   * tls.connect() through the cache: offers a cached session (memory, then the store),
   * observes the socket, and resolves once it is connected ('secureConnect'); rejects with
   * the handshake error.
   */
  async tlsConnect(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
    const key = this.keyFor(options as NodeKeyOptions);
    const session = options.session ? undefined : await this.get(key);
    const socket = tls.connect(session ? { ...options, session } : options);
    this.observe(key, socket, options, session);
    await new Promise<void>((resolve, reject) => {
      const onSecure = () => {
        socket.off('error', onError);
        resolve();
      };
      const onError = (error: Error) => {
        socket.off('secureConnect', onSecure);
        reject(error);
      };
      socket.once('secureConnect', onSecure);
      socket.once('error', onError);
    });
    return socket;
  }
}

/**
 * Wraps a tls.connect-like function (options form) so every connection goes through
 * `cache`. Synchronous like tls.connect, so it consults the memory tier only; use
 * cache.tlsConnect() or SessionCacheAgent to also read the store.
 */
export function withSessionCache(
  connect: (options: tls.ConnectionOptions, secureConnectListener?: () => void) => tls.TLSSocket,
  cache: NodeSessionCache,
): (options: tls.ConnectionOptions, secureConnectListener?: () => void) => tls.TLSSocket {
  if (typeof connect !== 'function') throw invalidArgType('connect', 'a function', connect);
  if (!(cache instanceof NodeSessionCache)) throw invalidArgType('cache', 'a NodeSessionCache', cache);
  return function cachedConnect(options, secureConnectListener) {
    const key = cache.keyFor(options as NodeKeyOptions);
    const session = options.session ? undefined : cache.getSync(key);
    const socket = connect(session ? { ...options, session } : options, secureConnectListener);
    cache.observe(key, socket, options, session);
    return socket;
  };
}
