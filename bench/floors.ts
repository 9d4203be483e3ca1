/**
 * Floors: the same sockets carrying the same flights as a resumed TLS handshake, with no TLS
 * at all. Nothing that drives TLS over these sockets can be faster than its floor plus
 * OpenSSL's own work, so the floors turn into the "ceiling" column of scenarios (b) and (c):
 * the highest ours/peer any TLS stack over node's sockets could reach in that row.
 *
 * Flights (bench/c/flights.c has the same): client 230 bytes (ClientHello), server 150
 * (ServerHello..Finished), client 120 (Finished + request), server the reply then FIN, then
 * the client closes. That is a resumed TLS 1.2 handshake and any TLS 1.3 one; a full TLS 1.2
 * handshake has one round trip more, so its rows get no ceiling.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { measure, type Sample } from './harness.js';
import { packageRoot } from './package.js';

const CLIENT_HELLO = 230;
const SERVER_FLIGHT = 150;
const CLIENT_FINISHED = 120;
const CLOSE_NOTIFY = 31;

/** Reads a peer's flights: calls `next(index)` each time `sizes[index]` more bytes came in. */
function flightReader(sizes: number[], next: (index: number) => void): (chunk: Buffer) => void {
  let index = 0;
  let got = 0;
  return (chunk) => {
    got += chunk.length;
    while (index < sizes.length && got >= sizes[index]!) {
      got -= sizes[index]!;
      next(index++);
    }
  };
}

/** Builds bench/c/flights.c (no libraries); returns its path or the reason it cannot be built. */
export function buildFlights(): { path: string } | { skip: string } {
  const out = join(mkdtempSync(join(tmpdir(), 'oss-bench-')), 'flights');
  const cc = process.env.CC ?? 'cc';
  const built = spawnSync(cc, ['-O2', '-o', out, join(packageRoot, 'bench', 'c', 'flights.c')], { encoding: 'utf8' });
  if (built.status !== 0) return { skip: `${cc} could not build bench/c/flights.c: ${built.stderr || built.error?.message}` };
  return { path: out };
}

/** The C flights server (one connection at a time, blocking, like s_server) replying `replyBytes`. */
export function startFlightsServer(path: string, replyBytes: number): Promise<{ port: number; stop: () => void }> {
  const child = spawn(path, ['server', String(replyBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flights server exited with ${code}`)));
    child.stdout.once('data', (d: Buffer) => resolve({ port: Number(d.toString().trim()), stop: () => child.kill() }));
  });
}

/** The C client against a flights server: what a client in C pays for the sockets alone. */
export function runCFlightsClient(path: string, port: number, count: number): Promise<Sample> {
  const run = spawnSync(path, ['client', String(port), String(count)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`flights client failed: ${run.stderr}`);
  return Promise.resolve(JSON.parse(run.stdout) as Sample);
}

/** A node net client sending the flights, reading to the server's FIN, then destroying (as (c)'s clients do). */
export async function runNodeFlightsClient(port: number, count: number): Promise<Sample> {
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => socket.write(Buffer.alloc(CLIENT_HELLO)));
      socket.on(
        'data',
        flightReader([SERVER_FLIGHT], () => socket.write(Buffer.alloc(CLIENT_FINISHED))),
      );
      socket.once('end', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  for (let i = 0; i < 50; i++) await once();
  return measure(count, async () => {
    for (let i = 0; i < count; i++) await once();
  });
}

/**
 * Scenario (b)'s loop over plain net, client and server in this process: the flights, with
 * the server's reply (100 bytes) and close_notify before its FIN and the client's close_notify
 * with its end(), as in the TLS loops.
 */
export async function runNodeFlightsLoopback(count: number): Promise<Sample> {
  const reply = Buffer.alloc(100 + CLOSE_NOTIFY);
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on(
      'data',
      flightReader([CLIENT_HELLO, CLIENT_FINISHED], (i) => {
        if (i === 0) socket.write(Buffer.alloc(SERVER_FLIGHT));
        else socket.end(reply);
      }),
    );
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => socket.write(Buffer.alloc(CLIENT_HELLO)));
      socket.on(
        'data',
        flightReader([SERVER_FLIGHT, reply.length], (i) => {
          if (i === 0) {
            socket.write(Buffer.alloc(CLIENT_FINISHED));
            return;
          }
          socket.once('close', () => resolve());
          socket.end(Buffer.alloc(CLOSE_NOTIFY));
          socket.resume();
        }),
      );
      socket.once('error', reject);
    });
  try {
    for (let i = 0; i < 50; i++) await once();
    return await measure(count, async () => {
      for (let i = 0; i < count; i++) await once();
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
