/** Shared benchmark plumbing: rounds, medians, machine info, table and JSON output. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

import { createSelfSigned, measured, openSSLVersion, packageRoot } from './package.js';

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
  /** The lowest and highest per-round ratio: how far one round can be off (the machine's noise). */
  ratioRange: [number, number];
  rounds: number;
  /**
   * The highest ours/peer any TLS stack driven over the same sockets could reach in this row
   * (bench/floors.ts): the peer's rate over the rate of the floor (the same flights with no
   * TLS, plus OpenSSL's own work where the peer's time does not already hold it). Median of
   * the per-round values. Absent where no floor applies.
   */
  ceiling?: number;
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

/**
 * Seconds per handshake of the floor for one round, given that round's peer sample (see
 * Row.ceiling): the fastest any TLS over the same sockets could go at that moment.
 */
export type FloorRunner = (peer: Sample) => Promise<number>;

/**
 * Runs peer and ours alternately for `rounds` rounds and reduces to one row of medians; with
 * `runFloor`, each round also measures the floor right after them, for the ceiling column.
 */
export async function compare(
  scenario: string,
  variant: string,
  peer: string,
  rounds: number,
  runPeer: () => Promise<Sample>,
  runOurs: () => Promise<Sample>,
  runFloor?: FloorRunner,
): Promise<Row> {
  const peerSamples: Sample[] = [];
  const ourSamples: Sample[] = [];
  const ceilings: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const peerSample = await runPeer();
    peerSamples.push(peerSample);
    ourSamples.push(await runOurs());
    if (runFloor) ceilings.push(peerSample.wallSeconds / peerSample.handshakes / (await runFloor(peerSample)));
  }
  const row = reduceRounds(scenario, variant, peer, rounds, peerSamples, ourSamples);
  if (runFloor) row.ceiling = median(ceilings);
  return row;
}

function reduceRounds(scenario: string, variant: string, peer: string, rounds: number, peerSamples: Sample[], ourSamples: Sample[]): Row {
  const rate = (s: Sample) => s.handshakes / s.wallSeconds;
  const cpuMicros = (s: Sample) => (s.cpuSeconds / s.handshakes) * 1e6;
  const ratios = peerSamples.map((peerSample, i) => rate(ourSamples[i]!) / rate(peerSample));
  return {
    scenario,
    variant,
    peer,
    peerPerSecond: median(peerSamples.map(rate)),
    oursPerSecond: median(ourSamples.map(rate)),
    peerCpuMicros: median(peerSamples.map(cpuMicros)),
    oursCpuMicros: median(ourSamples.map(cpuMicros)),
    ratio: median(ratios),
    ratioRange: [Math.min(...ratios), Math.max(...ratios)],
    rounds,
  };
}

/** Something that performs `count` handshakes per call, keeping its state between calls. */
export interface SliceRunner {
  run(count: number): void;
  close(): void;
}

/**
 * Like compare(), but peer and ours share one process and take turns in slices of `slice`
 * handshakes within each round, so both see the same moments of machine load (on a shared VM
 * a round-by-round comparison still swings ±30%). Between slices the event loop turns once,
 * as it does for any server: node runs N-API finalizers from it, so that turn (and any GC in
 * it) is charged to ours; the peer leaves no deferred work.
 */
export async function compareInterleaved(
  scenario: string,
  variant: string,
  peer: string,
  rounds: number,
  perRound: number,
  slice: number,
  makePeer: () => SliceRunner,
  makeOurs: () => SliceRunner,
): Promise<Row> {
  const peerSamples: Sample[] = [];
  const ourSamples: Sample[] = [];
  const timed = async (into: Sample, count: number, work: () => void | Promise<void>) => {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await work();
    into.wallSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    into.cpuSeconds += (cpu.user + cpu.system) / 1e6;
    into.handshakes += count;
  };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  for (let r = 0; r < rounds; r++) {
    const peerRunner = makePeer();
    const oursRunner = makeOurs();
    const p: Sample = { handshakes: 0, wallSeconds: 0, cpuSeconds: 0 };
    const o: Sample = { handshakes: 0, wallSeconds: 0, cpuSeconds: 0 };
    try {
      for (let done = 0, i = 0; done < perRound; done += slice, i++) {
        const count = Math.min(slice, perRound - done);
        // Alternate who goes first, so neither always runs right after the event loop turned.
        if (i % 2 === 0) await timed(p, count, () => peerRunner.run(count));
        await timed(o, count, () => oursRunner.run(count));
        if (i % 2 === 1) await timed(p, count, () => peerRunner.run(count));
        await timed(o, 0, turn);
      }
    } finally {
      peerRunner.close();
      oursRunner.close();
    }
    peerSamples.push(p);
    ourSamples.push(o);
  }
  return reduceRounds(scenario, variant, peer, rounds, peerSamples, ourSamples);
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
    package: measured.replace(/^file:\/\/.*?\/(dist\/)/, '$1'), // the build measured
    platform: `${process.platform}-${process.arch}`,
    cpu: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function printTable(rows: Row[]): void {
  const header = [
    'scenario',
    'variant',
    'peer',
    'peer hs/s',
    'ours hs/s',
    'ours/peer',
    'rounds',
    'ceiling',
    'peer CPU µs/hs',
    'ours CPU µs/hs',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.variant,
    r.peer,
    fmt(r.peerPerSecond),
    fmt(r.oursPerSecond),
    `${fmt(r.ratio, 2)}×`,
    `${fmt(r.ratioRange[0], 2)}–${fmt(r.ratioRange[1], 2)}×`,
    r.ceiling === undefined ? '' : `${fmt(r.ceiling, 2)}×`,
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
