/**
 * Scenario (c): our client vs `openssl s_time -new/-reuse` against the same
 * `openssl s_server -www` (so TLS 1.3 tickets are read with the page). Both fetch "/" and
 * read the whole reply per connection. s_time prints whole real seconds only, so its rate
 * is connections / the process's wall time measured here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tls from 'node:tls';

import { SslContext, type SslSession, connect } from './package.js';
import type { Protocol, Resumption } from './engine.js';
import { buildFlights, runCFlightsClient, runNodeFlightsClient, startFlightsServer } from './floors.js';
import { benchCertificate, compare, type FloorRunner, type Row, type Sample } from './harness.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startSServer(protocol: Protocol, resumption: Resumption): Promise<{ port: number; stop: () => void }> {
  const { cert, key } = benchCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'oss-stime-'));
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key);
  const port = await freePort();
  const args = [
    's_server',
    '-accept',
    `127.0.0.1:${port}`,
    '-cert',
    join(dir, 'cert.pem'),
    '-key',
    join(dir, 'key.pem'),
    '-www',
    protocol === 'tls1.3' ? '-tls1_3' : '-tls1_2',
  ];
  if (resumption === 'id') args.push('-no_ticket');
  const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('openssl s_server did not start')), 5000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ACCEPT')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`openssl s_server exited with ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

function runSTime(port: number, protocol: Protocol, resumption: Resumption, seconds: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const args = [
      's_time',
      '-connect',
      `127.0.0.1:${port}`,
      resumption === 'full' ? '-new' : '-reuse',
      '-time',
      String(seconds),
      '-www',
      '/',
      protocol === 'tls1.3' ? '-tls1_3' : '-tls1_2',
    ];
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const match = /(\d+) connections in ([\d.]+)s;/.exec(out);
      if (code !== 0 || !match) {
        reject(new Error(`openssl s_time failed (${code}): ${out.slice(-300)}`));
        return;
      }
      resolve({ handshakes: Number(match[1]), wallSeconds, cpuSeconds: Number(match[2]) });
    });
  });
}

export async function runOursAgainst(port: number, protocol: Protocol, resumption: Resumption, seconds: number): Promise<Sample> {
  const version = protocol === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2';
  const context = new SslContext('client', { minVersion: version, maxVersion: version });
  const resume = resumption !== 'full';
  let session: SslSession | null = null;
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  try {
    while (Date.now() < deadline) {
      const client = await connect({ host: '127.0.0.1', port, context, session: resume ? session : null });
      client.write('GET / HTTP/1.0\r\n\r\n');
      await new Promise<void>((resolve, reject) => {
        client.on('data', () => {});
        client.once('end', () => resolve());
        client.once('error', reject);
      });
      if (resume) {
        const next = client.get1Session();
        session?.dispose();
        session = next;
      }
      client.destroy();
      client.free();
      count++;
    }
  } finally {
    session?.dispose();
    context.close();
  }
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { handshakes: count, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** node:tls as the client, the same loop: for scale (where node's own TLS client stands against s_time). */
export async function runNodeTlsAgainst(port: number, protocol: Protocol, resumption: Resumption, seconds: number): Promise<Sample> {
  const version = protocol === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2';
  const resume = resumption !== 'full';
  let session: Buffer | undefined;
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    session = await new Promise<Buffer | undefined>((resolve, reject) => {
      let latest: Buffer | undefined;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        rejectUnauthorized: false,
        minVersion: version,
        maxVersion: version,
        ...(resume && session ? { session } : {}),
      });
      socket.on('session', (s: Buffer) => (latest = s));
      socket.once('secureConnect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
      socket.on('data', () => {});
      socket.once('end', () => {
        const next = resume ? (latest ?? socket.getSession()) : undefined;
        socket.destroy();
        resolve(next);
      });
      socket.once('error', reject);
    });
    count++;
  }
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { handshakes: count, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The size of s_server -www's page (its status report, ~3.6 kB), which the floor server sends instead. */
const WWW_PAGE_BYTES = 3600;

export async function sTimeScenario(rounds: number, scale: number): Promise<Row[]> {
  if (spawnSync('openssl', ['version']).status !== 0) {
    console.log('(c) s_time: skipped — no openssl CLI (apt-get install openssl)');
    return [];
  }
  const seconds = Math.max(1, Math.round(2 * scale));
  const rows: Row[] = [];
  // The ceiling: s_time's own time per connection, minus what its C client pays for the sockets
  // (the flights, no TLS, against a C server), plus what a node client pays for the same: a
  // client on node's sockets that did its TLS for free would still be that much slower.
  const flights = buildFlights();
  if ('skip' in flights) console.log(`(c) ceiling column: skipped — ${flights.skip}`);
  const flightsServer = 'skip' in flights ? undefined : await startFlightsServer(flights.path, WWW_PAGE_BYTES);
  const floorCount = Math.max(200, Math.round(2000 * scale));
  const floor: FloorRunner | undefined =
    'skip' in flights || flightsServer === undefined
      ? undefined
      : async (sTime) => {
          const c = await runCFlightsClient(flights.path, flightsServer.port, floorCount);
          const node = await runNodeFlightsClient(flightsServer.port, floorCount);
          return sTime.wallSeconds / sTime.handshakes - c.wallSeconds / c.handshakes + node.wallSeconds / node.handshakes;
        };
  const variants: Array<[Protocol, Resumption]> = [
    ['tls1.2', 'full'],
    ['tls1.2', 'ticket'],
    ['tls1.2', 'id'],
    ['tls1.3', 'full'],
    ['tls1.3', 'ticket'],
  ];
  try {
    for (const [protocol, resumption] of variants) {
      const server = await startSServer(protocol, resumption);
      try {
        // A full TLS 1.2 handshake has a round trip more than the floor's flights: no ceiling there.
        const rowFloor = protocol === 'tls1.2' && resumption === 'full' ? undefined : floor;
        const row = await compare(
          '(c) vs openssl s_time',
          `${protocol} ${resumption}`,
          `s_time -${resumption === 'full' ? 'new' : 'reuse'}`,
          rounds,
          () => runSTime(server.port, protocol, resumption, seconds),
          () => runOursAgainst(server.port, protocol, resumption, seconds),
          rowFloor,
        );
        row.note = 'peer CPU is s_time user time only; ours is the whole node process';
        rows.push(row);
        if (resumption !== 'full') {
          const scaleRow = await compare(
            '(c) vs openssl s_time',
            `${protocol} ${resumption}: node:tls client`,
            `s_time -reuse`,
            rounds,
            () => runSTime(server.port, protocol, resumption, seconds),
            () => runNodeTlsAgainst(server.port, protocol, resumption, seconds),
          );
          scaleRow.note = 'ours column = node:tls as the client, for scale';
          rows.push(scaleRow);
        }
      } finally {
        server.stop();
      }
    }
  } finally {
    flightsServer?.stop();
  }
  return rows;
}
