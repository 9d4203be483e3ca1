/**
 * Scenario (e): RSS over 100 k resumed handshakes (in memory, TLS 1.2 ticket). Flat means
 * no leak: every SSL, BIO and SSL_SESSION of a connection is freed. Reports RSS every 10 k
 * and the growth across the last half. The loop yields to the event loop every 100
 * handshakes, as any server does: node runs N-API finalizers (which free the wrappers' C++
 * objects, ~550 B per handshake) from the event loop, so a loop that never yields grows
 * until it does (measured: +5 MiB per 10 k without yielding, flat with it).
 *
 * It runs in a child process of its own, so no other scenario's heap is in it, with V8's
 * young generation pinned (--min/max-semi-space-size=16) and a full GC before each sample:
 * unpinned, V8 doubled the new space (16 -> 32 MiB) somewhere in the run, a step in RSS that
 * is not a leak (old space stayed at ~9 MiB, 6.3 used). A warm-up of 20% comes first,
 * unsampled. Each sample also gives the memory outside V8's heap (rss - heapTotal): native
 * leaks show there.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { packageRoot } from './package.js';
import { contexts, oneConnection } from './engine.js';

export interface RssResult {
  handshakes: number;
  warmUp: number;
  samplesMiB: number[];
  /** rss - heapTotal at each sample: what is not V8's heap. */
  nativeMiB: number[];
  /** (RSS at the end - RSS at the half) / RSS at the half. */
  lastHalfGrowth: number;
  seconds: number;
}

/** Runs measureRss() in a child node (see the module doc) and relays its result. */
export function rssScenario(scale: number): Promise<RssResult> {
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--min-semi-space-size=16',
      '--max-semi-space-size=16',
      '--import',
      'tsx',
      fileURLToPath(new URL('./rss-child.ts', import.meta.url)),
      String(scale),
    ],
    { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = child.stdout.trim().split('\n');
  if (child.status !== 0) throw new Error(`(e) child failed (${child.status}): ${child.stdout.slice(-500)}`);
  for (const line of lines.slice(0, -1)) console.log(line);
  return Promise.resolve(JSON.parse(lines[lines.length - 1]!) as RssResult);
}

/** The measurement itself (in the child). */
export async function measureRss(scale: number): Promise<RssResult> {
  const total = Math.max(10_000, Math.round(100_000 * scale));
  const warmUp = Math.round(total / 5);
  const step = total / 10;
  const { client, server } = contexts('tls1.2', 'ticket');
  let session = oneConnection(client, server, null, true);
  const samples: number[] = [];
  const native: number[] = [];
  const t0 = Date.now();
  for (let i = 1 - warmUp; i <= total; i++) {
    const next = oneConnection(client, server, session, true);
    session?.dispose();
    session = next;
    if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (i > 0 && i % step === 0) {
      (globalThis as { gc?: () => void }).gc?.();
      const usage = process.memoryUsage();
      samples.push(usage.rss / 2 ** 20);
      native.push((usage.rss - usage.heapTotal) / 2 ** 20);
    }
  }
  session?.dispose();
  client.close();
  server.close();
  const half = samples[4]!;
  const end = samples[samples.length - 1]!;
  const round = (x: number) => Math.round(x * 10) / 10;
  const result = {
    handshakes: total,
    warmUp,
    samplesMiB: samples.map(round),
    nativeMiB: native.map(round),
    lastHalfGrowth: (end - half) / half,
    seconds: (Date.now() - t0) / 1000,
  };
  console.log(
    `(e) RSS over ${total.toLocaleString('en-US')} resumed handshakes after ${warmUp.toLocaleString('en-US')} unsampled (MiB every ${step.toLocaleString('en-US')}): ` +
      `${result.samplesMiB.join(' ')}; outside V8's heap: ${result.nativeMiB.join(' ')}; last half ${(result.lastHalfGrowth * 100).toFixed(1)}% in ${result.seconds.toFixed(1)} s`,
  );
  return result;
}
