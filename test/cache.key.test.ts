/**
 * Cache keys: host:port + SNI + a digest of every option that changes trust or resumability.
 * Each option listed in the issue is varied alone and must change the key; equal options must
 * give equal keys (or the digest would be useless across processes).
 */
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { keyInfo, sessionKey, SslSessionCache, type SslCacheKeyOptions, type TrustOptions } from '../lib/cache/index.js';
import { createSelfSigned, OP, SslContext, VERIFY, type TlsServer } from '../lib/index.js';
import { NodeSessionCache, type NodeKeyOptions } from '../lib/interop/tls-session-cache.js';
import { pair, roundTrip, startServer, stopServer } from './helpers/cache.js';

const other = createSelfSigned({ commonName: 'other.test' });
const client = createSelfSigned({ commonName: 'client' });

/** Every key in `variants` differs from the base key and from each other. */
function expectAllDistinct(keys: Record<string, string>): void {
  const seen = new Map<string, string>();
  for (const [name, key] of Object.entries(keys)) {
    expect(seen.get(key), `${name} collides with ${seen.get(key)}`).toBeUndefined();
    seen.set(key, name);
  }
}

describe('engine keys (SslSessionCache.keyFor)', () => {
  const cache = new SslSessionCache();
  const base: TrustOptions = { verify: true, ca: pair.cert, alpnProtocols: ['imap'], minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
  const at = (config: TrustOptions, extra: Partial<SslCacheKeyOptions> = {}) =>
    cache.keyFor({ host: 'mail.test', port: 993, config, ...extra });

  it('separates on every trust/resumability option, and on host, port, SNI and checked name', () => {
    expectAllDistinct({
      base: at(base),
      'verify off': at({ ...base, verify: false }),
      'CA set': at({ ...base, ca: [pair.cert, other.cert] }),
      'client cert': at({ ...base, cert: client.cert }),
      ALPN: at({ ...base, alpnProtocols: ['imap', 'h2'] }),
      'ALPN order': at({ ...base, alpnProtocols: ['h2', 'imap'] }),
      'min version': at({ ...base, minVersion: 'TLSv1.3' }),
      'max version': at({ ...base, maxVersion: 'TLSv1.2' }),
      ciphers: at({ ...base, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
      ciphersuites: at({ ...base, ciphersuites: 'TLS_AES_128_GCM_SHA256' }),
      'OP bits': at({ ...base, options: OP.NO_TICKET }),
      host: at(base, { host: 'imap.test' }),
      port: at(base, { port: 143 }),
      SNI: at(base, { servername: 'alias.test' }),
      'no SNI': at(base, { servername: false }),
      'checked name': at(base, { checkHost: 'other.test' }),
      'no name check': at(base, { checkHost: false }),
    });
  });

  it('gives equal keys for equal options (CA order and PEM layout do not matter)', () => {
    const reflowed = pair.cert.replace(/\n/g, '\r\n');
    expect(at({ ...base, ca: [pair.cert, other.cert] })).toBe(at({ ...base, ca: [other.cert, reflowed] }));
    expect(at({ ...base, ca: `${other.cert}\n${pair.cert}` })).toBe(at({ ...base, ca: [pair.cert, other.cert] }));
    // DER of the same certificate is the same trust anchor
    expect(at({ ...base, ca: new X509Certificate(pair.cert).raw })).toBe(at(base));
    expect(at(base)).toBe(at({ ...base }));
  });

  it('readable, with flags: client-cert and (for unknown contexts) ephemeral', () => {
    const key = at({ ...base, cert: client.cert });
    expect(key).toMatch(/^mail\.test:993\|sni=mail\.test\|cfg=[0-9a-f]{32}\|client-cert$/);
    expect(keyInfo(key)).toEqual({ ephemeral: false, clientCertificate: true });
    const v6 = cache.keyFor({ host: '::1', port: 993, config: base });
    expect(v6.startsWith('[::1]:993|sni=-|')).toBe(true);
  });

  it('keys contexts it knows nothing about by identity (ephemeral), and by their live verify mode and version bounds', () => {
    const a = new SslContext('client', { verify: true, ca: pair.cert });
    const b = new SslContext('client', { verify: true, ca: pair.cert });
    const ka = cache.keyFor({ host: 'mail.test', port: 993, context: a });
    expect(ka).toBe(cache.keyFor({ host: 'mail.test', port: 993, context: a }));
    expect(ka).not.toBe(cache.keyFor({ host: 'mail.test', port: 993, context: b }));
    expect(keyInfo(ka).ephemeral).toBe(true);
    a.setVerify(VERIFY.NONE); // the same context, now not verifying: its old sessions must not apply
    expect(cache.keyFor({ host: 'mail.test', port: 993, context: a })).not.toBe(ka);
    a.setVerify(VERIFY.PEER);
    a.setMaxProtoVersion('TLSv1.2');
    expect(cache.keyFor({ host: 'mail.test', port: 993, context: a })).not.toBe(ka);
    // contexts made by createContext() with equal options share keys (and can be persisted)
    const c1 = cache.createContext({ ca: pair.cert, alpnProtocols: ['imap'] });
    const c2 = cache.createContext({ ca: pair.cert, alpnProtocols: ['imap'] });
    const k1 = cache.keyFor({ host: 'mail.test', port: 993, context: c1 });
    expect(k1).toBe(cache.keyFor({ host: 'mail.test', port: 993, context: c2 }));
    expect(keyInfo(k1).ephemeral).toBe(false);
    for (const c of [a, b, c1, c2]) c.close();
  });
});

describe('node:tls keys (NodeSessionCache.keyFor)', () => {
  const cache = new NodeSessionCache();
  const base: NodeKeyOptions = { host: 'mail.test', port: 993, ca: pair.cert, ALPNProtocols: ['imap'] };
  const at = (options: Partial<NodeKeyOptions>) => cache.keyFor({ ...base, ...options });

  it('separates on every trust/resumability option node:tls has', () => {
    expectAllDistinct({
      base: at({}),
      'rejectUnauthorized false': at({ rejectUnauthorized: false }),
      'default CAs': at({ ca: undefined }),
      'CA set': at({ ca: [pair.cert, other.cert] }),
      'client cert': at({ cert: client.cert, key: client.key }),
      pfx: at({ pfx: Buffer.from('not really a pfx') }),
      ALPN: at({ ALPNProtocols: ['h2'] }),
      'min version': at({ minVersion: 'TLSv1.3' }),
      'max version': at({ maxVersion: 'TLSv1.2' }),
      ciphers: at({ ciphers: 'TLS_AES_128_GCM_SHA256' }),
      sigalgs: at({ sigalgs: 'ecdsa_secp256r1_sha256' }),
      ecdhCurve: at({ ecdhCurve: 'P-256' }),
      secureOptions: at({ secureOptions: OP.NO_TICKET }),
      host: at({ host: 'imap.test' }),
      port: at({ port: 143 }),
      servername: at({ servername: 'alias.test' }),
      checkServerIdentity: at({ checkServerIdentity: () => undefined }),
      secureContext: at({ secureContext: tls.createSecureContext({}) }),
    });
  });

  it('normalizes what node normalizes: ALPN wire format, default versions, hostname', () => {
    expect(at({ ALPNProtocols: Buffer.from('\x04imap', 'latin1') })).toBe(at({}));
    expect(at({ minVersion: tls.DEFAULT_MIN_VERSION, maxVersion: tls.DEFAULT_MAX_VERSION })).toBe(at({}));
    expect(cache.keyFor({ hostname: 'mail.test', port: '993', ca: pair.cert, ALPNProtocols: ['imap'] })).toBe(at({}));
    expect(keyInfo(at({ checkServerIdentity: () => undefined })).ephemeral).toBe(true);
    expect(keyInfo(at({ cert: client.cert })).clientCertificate).toBe(true);
  });

  it('generic sessionKey() is deterministic and separates the same way', () => {
    const k = sessionKey({ host: 'h', port: 1, verify: true, ca: pair.cert });
    expect(k).toBe(sessionKey({ host: 'h', port: 1, verify: true, ca: pair.cert }));
    expect(k).not.toBe(sessionKey({ host: 'h', port: 1, verify: false, ca: pair.cert }));
  });
});

describe('with real handshakes', () => {
  let server: TlsServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await stopServer(server);
  });

  it('a session made with one CA set is not offered to a connection trusting another set', async () => {
    const cache = new SslSessionCache();
    const port = server.address().port;
    const narrow = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.2' });
    const wide = cache.createContext({ ca: [pair.cert, other.cert], maxVersion: 'TLSv1.2' });
    expect((await roundTrip(cache, { port, context: narrow })).reused).toBe(false);
    expect((await roundTrip(cache, { port, context: narrow })).reused).toBe(true);
    expect(await roundTrip(cache, { port, context: wide })).toMatchObject({ offered: false, reused: false });
    expect((await roundTrip(cache, { port, context: wide })).reused).toBe(true);
    cache.dispose();
  });
});
