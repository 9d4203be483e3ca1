/**
 * Scenario (a): the in-memory engine. Ours: an SslConnection pair driven from JS. Peer: the
 * same loop in C over libssl (bench/c/bio_pair.c), built here with the system compiler
 * against the system libssl; skipped with a reason when either is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { OP, SslConnection, SslContext, type SslSession, handshakeInMemory, pipe, shutdownInMemory, packageRoot } from './package.js';
import { benchCertificate, compare, compareInterleaved, measure, type Row, type SliceRunner, type Sample } from './harness.js';

export type Protocol = 'tls1.2' | 'tls1.3';
export type Resumption = 'full' | 'ticket' | 'id';

const REQUEST = Buffer.from('GET / HTTP/1.0\r\n\r\n');
const REPLY = Buffer.alloc(100, 'x');

/** Builds the C peer; returns its path or the reason it cannot be built. */
export function buildCPeer(): { path: string } | { skip: string } {
  if (!existsSync('/usr/include/openssl/ssl.h')) return { skip: 'no system OpenSSL headers (apt-get install libssl-dev)' };
  const out = join(mkdtempSync(join(tmpdir(), 'oss-bench-')), 'bio_pair');
  const cc = process.env.CC ?? 'cc';
  const built = spawnSync(cc, ['-O2', '-o', out, join(packageRoot, 'bench', 'c', 'bio_pair.c'), '-lssl', '-lcrypto'], { encoding: 'utf8' });
  if (built.status !== 0) return { skip: `${cc} could not build the C peer: ${built.stderr || built.error?.message}` };
  return { path: out };
}

export function contexts(protocol: Protocol, resumption: Resumption): { client: SslContext; server: SslContext } {
  const { cert, key } = benchCertificate();
  const version = protocol === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2';
  const server = new SslContext('server', { cert, key, sessionIdContext: 'bench' });
  if (resumption === 'id') server.setOptions(OP.NO_TICKET);
  const client = new SslContext('client', { minVersion: version, maxVersion: version });
  return { client, server };
}

/** One connection of ours, exactly as the C loop does it. Returns the session to offer next. */
export function oneConnection(client: SslContext, server: SslContext, offer: SslSession | null, keep: boolean): SslSession | null {
  const c = new SslConnection(client);
  const s = new SslConnection(server);
  if (offer) c.setSession(offer);
  handshakeInMemory(c, s);
  c.write(REQUEST);
  pipe(c, s);
  s.read();
  s.write(REPLY);
  pipe(s, c);
  c.read();
  const next = keep ? c.get1Session() : null;
  shutdownInMemory(c, s);
  c.free();
  s.free();
  return next;
}

/**
 * Ours, timed like the C program: `count` connections after a warm-up one. The loop yields
 * every 100 connections inside the clock, as any server does: node runs the N-API finalizers
 * of the wrappers from the event loop, and that work is part of what a connection costs.
 */
export async function runOurs(protocol: Protocol, resumption: Resumption, count: number): Promise<Sample> {
  const runner = oursRunner(protocol, resumption);
  try {
    return await measure(count, async () => {
      for (let done = 0; done < count; done += 100) {
        runner.run(Math.min(100, count - done));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
  } finally {
    runner.close();
  }
}

export function runC(path: string, protocol: Protocol, resumption: Resumption, count: number): Promise<Sample> {
  const { cert, key } = benchCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'oss-bench-pem-'));
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key);
  const out = execFileSync(path, [join(dir, 'cert.pem'), join(dir, 'key.pem'), protocol, resumption, String(count)], { encoding: 'utf8' });
  const parsed = JSON.parse(out) as Sample & { reused: number };
  if (resumption !== 'full' && parsed.reused !== count) throw new Error(`C peer resumed ${parsed.reused} of ${count}`);
  return Promise.resolve(parsed);
}

/** The C loop as an addon on node's own OpenSSL (bench/c/bio_pair_addon.c). */
interface InProcessPeer {
  setup(cert: string, key: string, protocol: string, mode: string): void;
  run(count: number): number;
  teardown(): void;
}

let inProcessBuild: { peer: InProcessPeer; files: { cert: string; key: string } } | { skip: string } | undefined;

/**
 * Builds and loads the in-process C peer against node's headers (node_api.h, and the
 * openssl/ headers of the OpenSSL node was built with), linking nothing: every symbol comes
 * from node. Returns it, with the benchmark certificate's files, or the reason it cannot be
 * built. Built once per run.
 */
export function buildInProcessPeer(): { peer: InProcessPeer; files: { cert: string; key: string } } | { skip: string } {
  inProcessBuild ??= buildInProcessPeerNow();
  return inProcessBuild;
}

function buildInProcessPeerNow(): { peer: InProcessPeer; files: { cert: string; key: string } } | { skip: string } {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
  ].filter((d): d is string => typeof d === 'string' && existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'openssl', 'ssl.h')));
  if (candidates.length === 0) return { skip: "no node headers with openssl/ (node's include/node directory)" };
  const out = join(mkdtempSync(join(tmpdir(), 'oss-bench-')), 'bio_pair.node');
  const cc = process.env.CC ?? 'cc';
  const flags = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
  const built = spawnSync(
    cc,
    ['-O2', '-shared', '-fPIC', ...flags, `-I${candidates[0]}`, '-o', out, join(packageRoot, 'bench', 'c', 'bio_pair_addon.c')],
    { encoding: 'utf8' },
  );
  if (built.status !== 0) return { skip: `${cc} could not build the in-process C peer: ${built.stderr || built.error?.message}` };
  const { cert, key } = benchCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'oss-bench-pem-'));
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  writeFileSync(files.cert, cert);
  writeFileSync(files.key, key);
  return { peer: createRequire(import.meta.url)(out) as InProcessPeer, files };
}

/**
 * OpenSSL's own work per connection (client and server, in memory): seconds per handshake of
 * the in-process C loop over `count` connections, or null when it cannot be built.
 */
export function cLoopSecondsPerHandshake(protocol: Protocol, resumption: Resumption, count: number): number | null {
  const built = buildInProcessPeer();
  if ('skip' in built) return null;
  const runner = inProcessRunner(built.peer, built.files, protocol, resumption);
  try {
    const t0 = process.hrtime.bigint();
    runner.run(count);
    return Number(process.hrtime.bigint() - t0) / 1e9 / count;
  } finally {
    runner.close();
  }
}

/** Ours as a SliceRunner: a warm-up connection, then `run(n)` more, each offering the last one's session. */
function oursRunner(protocol: Protocol, resumption: Resumption): SliceRunner {
  const { client, server } = contexts(protocol, resumption);
  const resume = resumption !== 'full';
  let session = oneConnection(client, server, null, resume); // warm-up, as the C peer does
  return {
    run(count) {
      for (let i = 0; i < count; i++) {
        const next = oneConnection(client, server, session, resume);
        session?.dispose();
        session = next;
      }
    },
    close() {
      session?.dispose();
      client.close();
      server.close();
    },
  };
}

function inProcessRunner(
  peer: InProcessPeer,
  files: { cert: string; key: string },
  protocol: Protocol,
  resumption: Resumption,
): SliceRunner {
  peer.setup(files.cert, files.key, protocol, resumption);
  return {
    run(count) {
      const reused = peer.run(count);
      if (resumption !== 'full' && reused !== count) throw new Error(`in-process C peer resumed ${reused} of ${count}`);
    },
    close: () => peer.teardown(),
  };
}

export const VARIANTS: Array<[Protocol, Resumption, number]> = [
  ['tls1.2', 'full', 300],
  ['tls1.2', 'ticket', 3000],
  ['tls1.2', 'id', 3000],
  ['tls1.3', 'full', 300],
  ['tls1.3', 'ticket', 1000],
];

export async function engineScenario(rounds: number, scale: number): Promise<Row[]> {
  const rows: Row[] = [];
  const peer = buildCPeer();
  if ('skip' in peer) console.log(`(a) engine vs the C program: skipped — ${peer.skip}`);
  else {
    for (const [protocol, resumption, n] of VARIANTS) {
      const count = Math.max(10, Math.round(n * scale));
      rows.push(
        await compare(
          '(a) in-memory engine',
          `${protocol} ${resumption}`,
          'C libssl BIO loop',
          rounds,
          () => runC(peer.path, protocol, resumption, count),
          () => runOurs(protocol, resumption, count),
        ),
      );
    }
  }
  // The same C loop inside this process, on node's OpenSSL, in slices taking turns with ours:
  // what is left between the two is our N-API and JS layers alone, under the same load.
  const inProcess = buildInProcessPeer();
  if ('skip' in inProcess) {
    console.log(`(a) engine vs the in-process C loop: skipped — ${inProcess.skip}`);
    return rows;
  }
  const { peer: inProcessPeer, files } = inProcess;
  for (const [protocol, resumption, n] of VARIANTS) {
    if (resumption === 'full') continue; // RSA dominates full handshakes: nothing of ours to see
    const count = Math.max(100, Math.round(n * scale));
    const row = await compareInterleaved(
      '(a) in-memory engine',
      `${protocol} ${resumption}, interleaved`,
      "C loop on node's OpenSSL",
      rounds,
      count,
      100,
      () => inProcessRunner(inProcessPeer, files, protocol, resumption),
      () => oursRunner(protocol, resumption),
    );
    row.note = 'one process, slices of 100 taking turns: only our N-API and JS layers differ';
    rows.push(row);
  }
  return rows;
}
