/**
 * FileStore (one file, 0600, atomic replace, hashed keys, survives restarts, corrupt file ->
 * warning + empty) and EncryptedStore (AES-256-GCM at rest; a wrong key or a tampered record
 * is a miss), with real sessions, and persistence across two processes: a child node process
 * connects and writes the file, this process reads it and resumes.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import { packageRoot } from '../lib/native.js';
import type { TlsServer } from '../lib/index.js';
import { EncryptedStore, FileStore, MemoryStore } from '../lib/stores/index.js';
import { closed, pair, startServer, stopServer } from './helpers/cache.js';

const execFileAsync = promisify(execFile);
let dir: string;
let server: TlsServer;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openssl-session-stores-'));
  server = await startServer();
  port = server.address().port;
});
afterAll(async () => {
  await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
});

/** Collects process warnings emitted while `fn` runs (they are delivered on a later tick). */
async function warningsDuring(fn: () => Promise<unknown>): Promise<Array<Error & { code?: string }>> {
  const seen: Array<Error & { code?: string }> = [];
  const listener = (w: Error) => seen.push(w);
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

/** One connection through a cache over `store`; resolves whether it resumed. */
async function connectOnce(cache: SslSessionCache): Promise<boolean> {
  const context = cache.createContext({ ca: pair.cert, maxVersion: 'TLSv1.3' });
  const client = await cache.connect({ host: '127.0.0.1', port, context, servername: 'localhost' });
  const reused = client.isSessionReused();
  await closed(client);
  client.free();
  await cache.flush();
  context.close();
  return reused;
}

describe('FileStore', () => {
  it('writes one 0600 file atomically, with hashed keys and no temp files left', async () => {
    const file = join(dir, 'nested', 'deeper', 'sessions.json');
    const store = new FileStore(file);
    const writes = [];
    for (let i = 0; i < 20; i++)
      writes.push(store.set(`mail${i}.example:993|sni=x|cfg=0`, Buffer.from(`secret-${i}`), Date.now() + 60_000));
    await Promise.all(writes); // coalesced into a few writes
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'nested', 'deeper'))).toEqual(['sessions.json']);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('mail0.example');
    expect(Object.keys(JSON.parse(text).entries)).toHaveLength(20);
    expect(await store.get('mail7.example:993|sni=x|cfg=0')).toEqual(Buffer.from('secret-7'));
    await store.delete('mail7.example:993|sni=x|cfg=0');
    await store.flush();
    const reopened = new FileStore(file);
    expect(await reopened.get('mail7.example:993|sni=x|cfg=0')).toBeUndefined();
    expect(await reopened.get('mail8.example:993|sni=x|cfg=0')).toEqual(Buffer.from('secret-8'));
  });

  it('drops expired records on load and on write', async () => {
    let clock = Date.now();
    const file = join(dir, 'expiry.json');
    const store = new FileStore(file, { now: () => clock });
    await store.set('a', Buffer.from('a'), clock + 1000);
    await store.set('b', Buffer.from('b'), clock + 5000);
    clock += 2000;
    expect(await store.get('a')).toBeUndefined();
    expect(await new FileStore(file, { now: () => clock }).get('b')).toEqual(Buffer.from('b'));
    await store.set('c', Buffer.from('c'), clock + 5000); // rewrite without 'a'
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).entries)).toHaveLength(2);
  });

  it.each([
    ['garbage bytes', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00])],
    ['JSON of another format', Buffer.from('{"format":"something-else","version":1,"entries":{}}')],
    ['truncated JSON', Buffer.from('{"format":"openssl-session/file-store","version":1,"entr')],
  ])('a corrupt file (%s) is a warning and an empty store, never a crash; the next write replaces it', async (_name, bytes) => {
    const file = join(dir, `corrupt-${randomBytes(4).toString('hex')}.json`);
    writeFileSync(file, bytes);
    const store = new FileStore(file);
    const cache = new SslSessionCache({ store });
    let reused: boolean | undefined;
    const warnings = await warningsDuring(async () => {
      reused = await connectOnce(cache);
    });
    expect(reused).toBe(false);
    expect(warnings.map((w) => w.code)).toEqual(['OPENSSL_SESSION_STORE_CORRUPT']);
    expect(warnings[0]!.message).toContain(file);
    expect(cache.stats().storeErrors).toBe(0);
    await store.flush();
    expect(JSON.parse(readFileSync(file, 'utf8')).format).toBe('openssl-session/file-store');
    expect(await connectOnce(new SslSessionCache({ store: new FileStore(file) }))).toBe(true);
    cache.dispose();
  });

  it('skips malformed entries but keeps the good ones', async () => {
    const file = join(dir, 'partial.json');
    const good = new FileStore(file);
    await good.set('good', Buffer.from('ok'), Date.now() + 60_000);
    const shape = JSON.parse(readFileSync(file, 'utf8'));
    shape.entries['not-a-hash'] = { value: 'eA==', expiresAt: Date.now() + 60_000 };
    shape.entries['0'.repeat(64)] = { value: 42, expiresAt: 'soon' };
    writeFileSync(file, JSON.stringify(shape));
    const warnings = await warningsDuring(async () => {
      expect(await new FileStore(file).get('good')).toEqual(Buffer.from('ok'));
    });
    expect(warnings).toEqual([]);
  });

  it('an unwritable location costs store errors, never a failed connection', async () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'a file where a directory should be');
    const cache = new SslSessionCache({ store: new FileStore(join(blocker, 'sessions.json')) });
    const warnings = await warningsDuring(async () => {
      expect(await connectOnce(cache)).toBe(false);
      expect(await connectOnce(cache)).toBe(true); // memory still resumes
    });
    expect(warnings.map((w) => w.code)).toEqual(['OPENSSL_SESSION_STORE_CORRUPT']); // ENOTDIR on read
    expect(cache.stats().storeErrors).toBeGreaterThan(0);
    cache.dispose();
  });
});

describe('persistence across processes', () => {
  it('a child process connects and writes the file; this process resumes from it (plain and encrypted)', async () => {
    const plainFile = join(dir, 'cross', 'plain.json');
    const encFile = join(dir, 'cross', 'encrypted.json');
    mkdirSync(join(dir, 'cross'));
    const key = randomBytes(32);
    const caFile = join(dir, 'cross', 'ca.pem');
    writeFileSync(caFile, pair.cert);
    const script = join(dir, 'cross', 'writer.mts');
    const lib = (p: string) => JSON.stringify(join(packageRoot, 'lib', p));
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { SslSessionCache } from ${lib('cache/index.js')};
import { EncryptedStore, FileStore } from ${lib('stores/index.js')};
const [port, plainFile, encFile, keyHex, caFile] = process.argv.slice(2);
const ca = readFileSync(caFile, 'utf8');
const out = [];
for (const store of [new FileStore(plainFile), new EncryptedStore(new FileStore(encFile), Buffer.from(keyHex, 'hex'))]) {
  const cache = new SslSessionCache({ store });
  const context = cache.createContext({ ca, maxVersion: 'TLSv1.3' });
  const client = await cache.connect({ host: '127.0.0.1', port: Number(port), context, servername: 'localhost' });
  const reused = client.isSessionReused();
  await new Promise((resolve) => { client.once('close', resolve); client.resume(); });
  await cache.flush();
  out.push({ reused, stats: cache.stats(), pid: process.pid });
}
console.log(JSON.stringify(out));
`,
    );
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', script, String(port), plainFile, encFile, key.toString('hex'), caFile],
      {
        cwd: packageRoot,
        timeout: 10_000,
      },
    );
    const child = JSON.parse(stdout.trim().split('\n').pop()!) as Array<{ reused: boolean; stats: { stores: number }; pid: number }>;
    expect(child.map((r) => r.reused)).toEqual([false, false]);
    expect(child[0]!.pid).not.toBe(process.pid);
    expect(child[0]!.stats.stores).toBe(2); // two TLS 1.3 tickets

    for (const file of [plainFile, encFile]) expect(statSync(file).mode & 0o777).toBe(0o600);
    const encryptedText = readFileSync(encFile, 'utf8');
    expect(encryptedText).not.toContain('127.0.0.1');
    const [encRecord] = Object.values(JSON.parse(encryptedText).entries) as Array<{ value: string }>;
    expect(Buffer.from(encRecord!.value, 'base64').toString('latin1')).not.toContain('TLS_AES'); // no JSON/DER in clear
    expect(readFileSync(plainFile, 'utf8')).not.toContain('127.0.0.1'); // keys hashed

    // This process: a fresh cache over each file resumes with the child's ticket.
    expect(await connectOnce(new SslSessionCache({ store: new FileStore(plainFile) }))).toBe(true);
    expect(await connectOnce(new SslSessionCache({ store: new EncryptedStore(new FileStore(encFile), key) }))).toBe(true);
    // A wrong key reads as a miss: a full handshake, no error, no warning.
    const wrong = new SslSessionCache({ store: new EncryptedStore(new FileStore(encFile), randomBytes(32)) });
    const warnings = await warningsDuring(async () => {
      expect(await connectOnce(wrong)).toBe(false);
    });
    expect(warnings).toEqual([]);
    expect(wrong.stats()).toMatchObject({ misses: 1, storeErrors: 0 });
  });
});

describe('EncryptedStore', () => {
  it('hides keys and values, and reads a tampered or moved record as a miss', async () => {
    const inner = new MemoryStore();
    const key = randomBytes(32);
    const store = new EncryptedStore(inner, key);
    await store.set('mail.example:993', Buffer.from('the master secret'), Date.now() + 60_000);
    const [name] = inner.keys();
    expect(name).toMatch(/^enc1:[0-9a-f]{64}$/);
    expect(name).toBe(store.nameFor('mail.example:993'));
    const sealed = (await inner.get(name!))!;
    expect(sealed.toString('latin1')).not.toContain('master');
    expect(await store.get('mail.example:993')).toEqual(Buffer.from('the master secret'));

    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    await inner.set(name!, tampered, Date.now() + 60_000);
    expect(await store.get('mail.example:993')).toBeUndefined();

    await inner.set(store.nameFor('other.example:993'), sealed, Date.now() + 60_000); // moved under another name
    expect(await store.get('other.example:993')).toBeUndefined();
    expect(() => new EncryptedStore(inner, randomBytes(16))).toThrow(/32 bytes/);
  });

  it('MemoryStore: LRU bound and expiry', async () => {
    let clock = 0;
    const store = new MemoryStore({ maxEntries: 2, now: () => clock });
    await store.set('a', Buffer.from('a'), 100);
    await store.set('b', Buffer.from('b'), 100);
    await store.get('a');
    await store.set('c', Buffer.from('c'), 100);
    expect(store.keys()).toEqual(['a', 'c']);
    clock = 100;
    expect(await store.get('a')).toBeUndefined();
  });
});

describe('client certificates', () => {
  it('sessions made with a client certificate are not persisted unless the cache opts in', async () => {
    const mtls = await startServer({ verify: true, ca: pair.cert, sessionIdContext: 'mtls' });
    const mport = mtls.address().port;
    const results: number[] = [];
    for (const persistClientCertSessions of [false, true]) {
      const store = new MemoryStore();
      const cache = new SslSessionCache({ store, persistClientCertSessions });
      const context = cache.createContext({ ca: pair.cert, cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.3' });
      const client = await cache.connect({ host: '127.0.0.1', port: mport, context, servername: 'localhost' });
      await closed(client);
      client.free();
      await cache.flush();
      expect(cache.stats().stores).toBe(2); // in memory either way
      expect(cache.keys()[0]).toMatch(/\|client-cert$/);
      results.push(store.size);
      cache.dispose();
      context.close();
    }
    expect(results).toEqual([0, 1]);
    await stopServer(mtls);
    expect(existsSync(dir)).toBe(true);
  });
});
