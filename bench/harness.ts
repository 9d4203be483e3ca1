/** Shared benchmark plumbing: rounds, medians, machine info, table and JSON output. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

import { createSelfSigned, openSSLVersion } from '../lib/index.js';
import { packageRoot } from '../lib/native.js';

/** One measured run: how many handshakes, in how long, using how much CPU. */
export interface Sample {
  handshakes: number;
  wallSeconds: number;
  cpuSeconds: number;
}

export interface Row {
  scenario: string;
  variant: string;
  peer: string;
  peerPerSecond: number;
  oursPerSecond: number;
  peerCpuMicros: number;
  oursCpuMicros: number;
  /**
   * ours / peer, handshakes per second: the median of the per-round ratios (each round runs
   * the peer and then ours back to back, so a ratio compares runs under the same machine
   * load; on a shared VM the rates of a row drift by ±30% within minutes).
   */
  ratio: number;
  rounds: number;
  note?: string;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Times `fn` (which performs `handshakes` handshakes) in wall and process CPU time. */
export async function measure(handshakes: number, fn: () => void | Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { handshakes, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Runs peer and ours alternately for `rounds` rounds and reduces to one row of medians. */
export async function compare(
  scenario: string,
  variant: string,
  peer: string,
  rounds: number,
  runPeer: () => Promise<Sample>,
  runOurs: () => Promise<Sample>,
): Promise<Row> {
  const peerSamples: Sample[] = [];
  const ourSamples: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    peerSamples.push(await runPeer());
    ourSamples.push(await runOurs());
  }
  const rate = (s: Sample) => s.handshakes / s.wallSeconds;
  const cpuMicros = (s: Sample) => (s.cpuSeconds / s.handshakes) * 1e6;
  const peerPerSecond = median(peerSamples.map(rate));
  const oursPerSecond = median(ourSamples.map(rate));
  return {
    scenario,
    variant,
    peer,
    peerPerSecond,
    oursPerSecond,
    peerCpuMicros: median(peerSamples.map(cpuMicros)),
    oursCpuMicros: median(ourSamples.map(cpuMicros)),
    ratio: median(peerSamples.map((peerSample, i) => rate(ourSamples[i]!) / rate(peerSample))),
    rounds,
  };
}

let cached: { cert: string; key: string } | undefined;
/** The benchmark certificate: RSA-2048, as in the reference table. */
export function benchCertificate(): { cert: string; key: string } {
  cached ??= createSelfSigned({ commonName: 'localhost', keyType: 'rsa', bits: 2048 });
  return cached;
}

export function machineInfo(): Record<string, unknown> {
  const cpuList = cpus();
  return {
    node: process.version,
    openssl: openSSLVersion(),
    platform: `${process.platform}-${process.arch}`,
    cpu: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function printTable(rows: Row[]): void {
  const header = ['scenario', 'variant', 'peer', 'peer hs/s', 'ours hs/s', 'ours/peer', 'peer CPU µs/hs', 'ours CPU µs/hs'];
  const body = rows.map((r) => [
    r.scenario,
    r.variant,
    r.peer,
    fmt(r.peerPerSecond),
    fmt(r.oursPerSecond),
    `${fmt(r.ratio, 2)}×`,
    fmt(r.peerCpuMicros),
    fmt(r.oursCpuMicros),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
}

export function writeResults(name: string, payload: Record<string, unknown>): string {
  const dir = join(packageRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ machine: machineInfo(), ...payload }, null, 2)}\n`);
  return file;
}
