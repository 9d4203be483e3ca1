/**
 * Scenario (e): RSS over 100 k resumed handshakes (in memory, TLS 1.2 ticket). Flat means
 * no leak: every SSL, BIO and SSL_SESSION of a connection is freed. Reports RSS every 10 k
 * and the growth across the last half. The loop yields to the event loop every 1,000
 * handshakes, as any server does: node runs N-API finalizers (which free the wrappers' C++
 * objects, ~550 B per handshake) from the event loop, so a loop that never yields grows
 * until it does (measured: +5 MiB per 10 k without yielding, flat with it).
 */
import { contexts, oneConnection } from './engine.js';

export interface RssResult {
  handshakes: number;
  samplesMiB: number[];
  /** (RSS at the end - RSS at the half) / RSS at the half. */
  lastHalfGrowth: number;
  seconds: number;
}

export async function rssScenario(scale: number): Promise<RssResult> {
  const total = Math.max(10_000, Math.round(100_000 * scale));
  const step = total / 10;
  const { client, server } = contexts('tls1.2', 'ticket');
  let session = oneConnection(client, server, null, true);
  const samples: number[] = [];
  const t0 = Date.now();
  for (let i = 1; i <= total; i++) {
    const next = oneConnection(client, server, session, true);
    session?.dispose();
    session = next;
    if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (i % step === 0) samples.push(process.memoryUsage.rss() / 2 ** 20);
  }
  session?.dispose();
  client.close();
  server.close();
  const half = samples[4]!;
  const end = samples[samples.length - 1]!;
  const result = { handshakes: total, samplesMiB: samples.map((x) => Math.round(x * 10) / 10), lastHalfGrowth: (end - half) / half, seconds: (Date.now() - t0) / 1000 };
  console.log(
    `(e) RSS over ${total.toLocaleString('en-US')} resumed handshakes (MiB every ${step.toLocaleString('en-US')}): ` +
      `${result.samplesMiB.join(' ')}; last half ${(result.lastHalfGrowth * 100).toFixed(1)}% in ${result.seconds.toFixed(1)} s`,
  );
  return result;
}
