/**
 * Scenario (d): SslSessionCache at 10 k peers vs lru-cache (the LRU most node code uses),
 * both holding live SslSession handles, one per peer. Ours does more per operation (expiry,
 * a resumability check through OpenSSL on every hit, single-use TLS 1.3 tickets, stats), so
 * this shows what that costs. lru-cache is a devDependency; skipped with a reason when absent.
 */
import { createRequire } from 'node:module';

import { SslConnection, SslSessionCache, type SslSession } from './package.js';
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

/**
 * take: TLS 1.3 tickets are single-use, so a hit hands the ticket over (the caller disposes it
 * after SSL_set_session). 10 k peers x 4 tickets, taken until empty; lru-cache holds the same
 * pools as arrays (get + shift + delete when empty). Refilled before each timed run.
 */
async function takeRow(keys: string[], rounds: number): Promise<Row> {
  const Lru = loadLru() as new (opts: { max: number }) => LruLike & { delete(k: string): boolean };
  const { client, server } = contexts('tls1.3', 'ticket');
  const tickets: SslSession[] = [];
  for (let i = 0; i < 4; i++) tickets.push(oneConnection(client, server, null, true)!);
  client.close();
  server.close();
  const order = Array.from({ length: keys.length * 4 }, (_, i) => keys[(i * 7919) % keys.length]!);
  const timed = (fill: () => void, take: () => void): Promise<Sample> => {
    fill();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    take();
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return Promise.resolve({ handshakes: order.length, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  };
  const lru = new Lru({ max: keys.length });
  const ours = new SslSessionCache({ maxPeers: keys.length, ticketsPerPeer: 4 });
  const row = await compare(
    '(d) cache, 10k peers',
    'take (TLS 1.3 ticket, single use)',
    'lru-cache get + shift',
    rounds,
    () =>
      timed(
        () => {
          for (const key of keys)
            lru.set(
              key,
              tickets.map((t) => t.upRef()),
            );
        },
        () => {
          for (const key of order) {
            const pool = lru.get(key) as SslSession[] | undefined;
            const ticket = pool?.shift();
            if (pool !== undefined && pool.length === 0) lru.delete(key);
            ticket?.dispose();
          }
        },
      ),
    () =>
      timed(
        () => {
          for (const key of keys) for (const t of tickets) ours.set(key, t.upRef());
        },
        () => {
          for (const key of order) {
            const taken = ours.takeSync(key);
            if (taken?.owned) taken.value.dispose();
          }
        },
      ),
  );
  ours.dispose();
  for (const t of tickets) t.dispose();
  return row;
}

export async function cacheScenario(rounds: number, scale: number): Promise<Row[]> {
  const Lru = loadLru();
  if (typeof Lru === 'string') {
    console.log(`(d) cache: skipped — ${Lru}`);
    return [];
  }
  const session = realSession();
  // Keys as SslSessionCache.keyFor() makes them (host:port, SNI, configuration digest).
  const keys = Array.from({ length: PEERS }, (_, i) => `host${i}.example:443|sni=host${i}.example|cfg=5d41402abc4b2a76b9719d911017c592`);
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
    await compare(
      '(d) cache, 10k peers',
      'get (TLS 1.2 session)',
      'lru-cache get',
      rounds,
      async () =>
        timed(() => {
          for (let i = 0; i < ops; i++) lru.get(keys[(i * 7919) % PEERS]!);
        }),
      async () =>
        timed(() => {
          for (let i = 0; i < ops; i++) ours.getSync(keys[(i * 7919) % PEERS]!);
        }),
    ),
  );
  // What connect() does: put the peer's session on a new connection (SSL_set_session).
  const { client } = contexts('tls1.2', 'ticket');
  const connection = new SslConnection(client);
  rows.push(
    await compare(
      '(d) cache, 10k peers',
      'offer into SslConnection',
      'lru-cache get + setSession',
      rounds,
      async () =>
        timed(() => {
          for (let i = 0; i < ops; i++) connection.setSession(lru.get(keys[(i * 7919) % PEERS]!) as SslSession);
        }),
      async () =>
        timed(() => {
          for (let i = 0; i < ops; i++) ours.offerSync(keys[(i * 7919) % PEERS]!, connection);
        }),
    ),
  );
  connection.free();
  client.close();
  // set: a new session for a peer that has one (what each full handshake does). Both sides get
  // a handle of their own per set (as a connection produces it) from 64 distinct sessions, and
  // release the one replaced (lru-cache through its dispose option).
  const distinct = Array.from({ length: 64 }, () => session.dup());
  const lruOwning = new Lru({ max: PEERS, dispose: (value: unknown) => (value as SslSession).dispose() } as { max: number });
  for (const [i, key] of keys.entries()) lruOwning.set(key, distinct[i % 64]!.upRef());
  rows.push(
    await compare(
      '(d) cache, 10k peers',
      'set (a new session replaces one)',
      'lru-cache set (disposing the old)',
      rounds,
      async () =>
        timed(() => {
          for (let i = 0; i < ops; i++) lruOwning.set(keys[(i * 7919) % PEERS]!, distinct[(i * 31) % 64]!.upRef());
        }),
      async () =>
        timed(() => {
          for (let i = 0; i < ops; i++) ours.set(keys[(i * 7919) % PEERS]!, distinct[(i * 31) % 64]!.upRef());
        }),
    ),
  );
  for (const d of distinct) d.dispose();
  rows.push(await takeRow(keys, rounds));
  for (const row of rows) row.note = 'ops/s (the hs/s columns count operations here)';
  ours.dispose();
  session.dispose();
  return rows;
}
