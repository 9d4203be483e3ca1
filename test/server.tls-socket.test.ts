/**
 * ServerSessionCache under our socket server: the handshake pauses (WANT_CLIENT_HELLO_CB)
 * while a slow store answers, TlsSocket resumes it, and the event loop keeps running.
 */
import { afterEach, describe, expect, it } from 'vitest';

import {
  MemoryStore,
  OP,
  ServerSessionCache,
  SslContext,
  type SslSession,
  connect,
  createServer,
  type SessionStore,
  type TlsServer,
} from '../lib/index.js';
import { pair } from './helpers/fixtures.js';

/** A real MemoryStore whose reads take `ms`. */
function slowStore(ms: number): SessionStore & { reads: number } {
  const inner = new MemoryStore();
  const store = {
    reads: 0,
    async get(key: string) {
      store.reads++;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return inner.get(key);
    },
    set: (key: string, value: Buffer, expiresAt: number) => inner.set(key, value, expiresAt),
    delete: (key: string) => inner.delete(key),
  };
  return store;
}

let server: TlsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('ServerSessionCache behind createServer()', () => {
  it.each([
    ['TLSv1.2', 'session ids'],
    ['TLSv1.3', 'stateful tickets'],
  ] as const)('%s %s: every reconnect resumes from a slow store, without blocking the event loop', async (version, _kind) => {
    const context = new SslContext('server', { cert: pair.cert, key: pair.key, options: OP.NO_TICKET });
    const store = slowStore(30);
    const cache = new ServerSessionCache({ context, store, timeout: 1000 });
    server = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      void cache.flush().then(() => socket.end('hello\n')); // answer once the session is in the store
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const client = new SslContext('client', { minVersion: version, maxVersion: version });

    let maxLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 2);
      last = now;
    }, 2);

    const reused: boolean[] = [];
    let session: SslSession | null = null;
    try {
      for (let i = 0; i < 4; i++) {
        const socket = await connect({ host: '127.0.0.1', port, context: client, session, servername: false });
        reused.push(socket.isSessionReused());
        await new Promise<void>((resolve) => socket.once('data', () => resolve()));
        session?.dispose();
        session = socket.get1Session();
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.end();
          socket.resume();
        });
        socket.free();
      }
    } finally {
      clearInterval(ticker);
      session?.dispose();
    }
    expect(reused).toEqual([false, true, true, true]);
    expect(cache.stats()).toMatchObject({ hits: 3, timeouts: 0, storeErrors: 0 });
    expect(store.reads).toBeGreaterThanOrEqual(3); // each resumption really went to the (slow) store
    expect(maxLag).toBeLessThan(25); // the 30 ms lookups ran without blocking the loop
    client.close();
    context.close();
  });
});
