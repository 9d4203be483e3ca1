/**
 * Scenario (d): SslSessionCache at 10 k peers vs lru-cache (the LRU most node code uses),
 * both holding live SslSession handles, one per peer. Ours does more per operation (expiry,
 * a resumability check through OpenSSL on every hit, single-use TLS 1.3 tickets, stats), so
 * this shows what that costs. lru-cache is a devDependency; skipped with a reason when absent.
 */
import { createRequire } from 'node:module';

import { SslConnection, SslSessionCache, type SslSession } from '../lib/index.js';
import { contexts, oneConnection } from './engine.js';
import { compare, type Row, type Sample } from './harness.js';

type LruLike = { get(k: string): unknown; set(k: string, v: unknown): unknown };

function loadLru(): (new (opts: { max: number }) => LruLike) | string {
  try {
    const require = createRequire(import.meta.url);
    return (require('lru-cache') as { LRUCache: new (opts: { max: number }) => LruLike }).LRUCache;
  } catch {
    return 'lru-cache is not installed (npm install)';
  }
}

const PEERS = 10_000;

function realSession(): SslSession {
  const { client, server } = contexts('tls1.2', 'ticket');
  const session = oneConnection(client, server, null, true)!;
  client.close();
  server.close();
  return session;
}

export async function cacheScenario(rounds: number, scale: number): Promise<Row[]> {
  const Lru = loadLru();
  if (typeof Lru === 'string') {
    console.log(`(d) cache: skipped — ${Lru}`);
    return [];
  }
  const session = realSession();
  const keys = Array.from({ length: PEERS }, (_, i) => `host${i}.example:443|sni=host${i}.example`);
  const ops = Math.max(10_000, Math.round(200_000 * scale));
  const rows: Row[] = [];

  // set: PEERS distinct peers, each value a handle of its own (as connections produce them).
  const timed = (fn: () => void): Sample => {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return { handshakes: ops, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
  const ours = new SslSessionCache({ maxPeers: PEERS });
  const lru = new Lru({ max: PEERS });
  for (const key of keys) {
    ours.set(key, session.upRef());
    lru.set(key, session.upRef());
  }
  rows.push(
    await compare('(d) cache, 10k peers', 'get (TLS 1.2 session)', 'lru-cache get', rounds,
      async () => timed(() => {
        for (let i = 0; i < ops; i++) lru.get(keys[(i * 7919) % PEERS]!);
      }),
      async () => timed(() => {
        for (let i = 0; i < ops; i++) ours.getSync(keys[(i * 7919) % PEERS]!);
      })),
  );
  // What connect() does: put the peer's session on a new connection (SSL_set_session).
  const { client } = contexts('tls1.2', 'ticket');
  const connection = new SslConnection(client);
  rows.push(
    await compare('(d) cache, 10k peers', 'offer into SslConnection', 'lru-cache get + setSession', rounds,
      async () => timed(() => {
        for (let i = 0; i < ops; i++) connection.setSession(lru.get(keys[(i * 7919) % PEERS]!) as SslSession);
      }),
      async () => timed(() => {
        for (let i = 0; i < ops; i++) ours.offerSync(keys[(i * 7919) % PEERS]!, connection);
      })),
  );
  connection.free();
  client.close();
  rows.push(
    await compare('(d) cache, 10k peers', 'set (replace)', 'lru-cache set', rounds,
      async () => timed(() => {
        for (let i = 0; i < ops; i++) lru.set(keys[(i * 7919) % PEERS]!, session);
      }),
      async () => timed(() => {
        for (let i = 0; i < ops; i++) ours.set(keys[(i * 7919) % PEERS]!, session.upRef());
      })),
  );
  for (const row of rows) row.note = 'ops/s (the hs/s columns count operations here)';
  ours.dispose();
  session.dispose();
  return rows;
}
