/**
 * examples/fleet.ts for real: 3 server PROCESSES on 127.0.0.1 ports sharing one redis-server, a
 * client connecting round-robin over TCP. After the first full handshake every connection
 * resumes on whichever process it reaches: through sessions in Redis (TLS 1.2 ids, TLS 1.3
 * stateful tickets) or through ticket keys shared via Redis (TLS 1.3 and TLS 1.2 tickets).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';

import { FleetProcess, runFleetExample, type FleetExampleResult } from '../examples/fleet.js';
import { describeRedis, RedisServer } from './helpers/redis.js';

describeRedis('a fleet of 3 server processes sharing Redis', () => {
  let redis: RedisServer;
  let processes: FleetProcess[] = [];
  let results: FleetExampleResult[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    processes = [FleetProcess.fork(), FleetProcess.fork(), FleetProcess.fork()];
    results = await runFleetExample({ redisUrl: redis.url, processes, connections: 6, log: (line) => lines.push(line) });
  }, 20_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await redis?.stop();
  });

  it('runs every mode, each on three different processes', () => {
    expect(results.map((r) => r.mode)).toEqual(['tls12-ids', 'tls13-stateful', 'tls13-tickets', 'tls12-tickets']);
    const pids = new Set(processes.map((p) => p.pid));
    expect(pids.size).toBe(3);
    for (const { rows } of results) {
      expect(rows.map((r) => r.pid)).toEqual([...processes, ...processes].map((p) => p.pid));
      // The greeting comes from the process the row names (not a stale connection elsewhere).
      for (const row of rows) expect(row.greeting).toMatch(new RegExp(`^server ${row.pid} ${row.port}: `));
    }
    expect(lines.join('\n')).toMatch(/tls13-stateful: TLS 1\.3 stateful/);
  });

  it('every connection after the first resumes, on every server (both sides agree)', () => {
    for (const { mode, rows, servers } of results) {
      expect(rows.map((r) => (r.resumed ? 'R' : 'N')).join(''), mode).toBe('NRRRRR');
      for (const row of rows.slice(1)) expect(row.greeting, mode).toMatch(/resumed=yes/);
      expect(
        rows.every((r) => r.protocol === (mode.startsWith('tls13') ? 'TLSv1.3' : 'TLSv1.2')),
        mode,
      ).toBe(true);
      expect(
        servers.map((s) => s.failed),
        mode,
      ).toEqual([0, 0, 0]);
      expect(
        servers.reduce((n, s) => n + s.resumed, 0),
        mode,
      ).toBe(5);
    }
  });

  it('stateful modes resume through sessions in Redis; ticket modes through the shared keys', () => {
    for (const { mode, servers } of results) {
      const sum = (pick: (s: (typeof servers)[number]) => number) => servers.reduce((n, s) => n + pick(s), 0);
      if (mode === 'tls12-ids' || mode === 'tls13-stateful') {
        expect(
          sum((s) => s.cache.hits),
          mode,
        ).toBe(5); // each resumption fetched from Redis, after a pause
        expect(
          sum((s) => s.tickets.encrypted),
          mode,
        ).toBe(0);
        expect(
          sum((s) => s.cache.storeErrors + s.cache.timeouts),
          mode,
        ).toBe(0);
        // TLS 1.2: one session for the fleet; TLS 1.3: 2 tickets, then 1 per resumption.
        expect(
          sum((s) => s.cache.stored),
          mode,
        ).toBe(mode === 'tls12-ids' ? 1 : 7);
      } else {
        expect(
          sum((s) => s.cache.hits),
          mode,
        ).toBe(0);
        expect(
          sum((s) => s.cache.stored),
          mode,
        ).toBe(0);
        expect(
          sum((s) => s.tickets.decrypted),
          mode,
        ).toBe(5); // decrypted by keys the issuer shared
        expect(
          sum((s) => s.tickets.rejected),
          mode,
        ).toBe(0);
      }
    }
  });
});
