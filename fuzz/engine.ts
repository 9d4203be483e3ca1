/**
 * The fuzzing loop (one process): picks a target by weight, a base input from that target's
 * pool (the seed corpus plus every input that produced an outcome the target had not seen:
 * outcome-guided, the black-box stand-in for coverage feedback), mutates it, runs it.
 *
 * Before each input runs, it is written to `lastInputFile` (one pwrite at offset 0), so when
 * the process dies in native code the supervisor (run.ts) knows exactly which input did it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

import type { Corpus } from './corpus.js';
import { Rng, mutate } from './mutate.js';
import { FuzzFailure, type Target } from './targets.js';

export interface TargetStats {
  inputs: number;
  ms: number;
  /** Outcome -> how many inputs ended that way. */
  outcomes: Record<string, number>;
  /** Inputs in the pool (seeds + discoveries). */
  pool: number;
}

export interface FuzzFailureRecord {
  target: string;
  message: string;
  input: string; // base64
}

export interface FuzzStats {
  inputs: number;
  ms: number;
  targets: Record<string, TargetStats>;
  failures: FuzzFailureRecord[];
}

export interface FuzzOptions {
  targets: Target[];
  corpus: Corpus;
  seed: number;
  inputs: number;
  /** Stop early after this many milliseconds (default: no limit). */
  maxMs?: number;
  /** Written before every input: [u8 target index][u32 length][input]. */
  lastInputFile?: string;
  /** Called every `progressEvery` inputs. */
  onProgress?: (stats: FuzzStats) => void;
  progressEvery?: number;
  /** Every this many inputs, targets free their contexts and start over (default 20000). */
  resetEvery?: number;
}

const MAX_DISCOVERED = 256;

/** Frame written before each input (see FuzzOptions.lastInputFile). */
export function frameInput(targetIndex: number, input: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = targetIndex;
  header.writeUInt32BE(input.length, 1);
  return Buffer.concat([header, input]);
}

/** Reads a frame back: which target, which input. */
export function unframeInput(frame: Buffer): { targetIndex: number; input: Buffer } {
  return { targetIndex: frame[0]!, input: frame.subarray(5, 5 + frame.readUInt32BE(1)) };
}

export function fuzz(options: FuzzOptions): FuzzStats {
  const rng = new Rng(options.seed);
  const targets = options.targets;
  const pools = targets.map((t) => t.seeds(options.corpus));
  const discovered = targets.map(() => 0);
  const totalWeight = targets.reduce((n, t) => n + t.weight, 0);
  const stats: FuzzStats = {
    inputs: 0,
    ms: 0,
    targets: Object.fromEntries(targets.map((t, i) => [t.name, { inputs: 0, ms: 0, outcomes: {}, pool: pools[i]!.length }])),
    failures: [],
  };
  const fd = options.lastInputFile ? openSync(options.lastInputFile, 'w') : null;
  const started = performance.now();
  const resetEvery = options.resetEvery ?? 20_000;
  try {
    for (let n = 0; n < options.inputs; n++) {
      if (options.maxMs !== undefined && (n & 63) === 0 && performance.now() - started > options.maxMs) break;
      let pick = rng.below(totalWeight);
      let index = 0;
      while (pick >= targets[index]!.weight) pick -= targets[index++]!.weight;
      const target = targets[index]!;
      const pool = pools[index]!;
      let input: Buffer;
      if (pool.length === 0 || rng.oneIn(200)) input = rng.bytes(rng.below(512));
      else if (rng.oneIn(50)) input = rng.pick(pool);
      else input = mutate(rng.pick(pool), rng, rng.pick(pool), target.format, target.prefix);
      if (fd !== null) writeSync(fd, frameInput(index, input), 0, undefined, 0);

      const t0 = performance.now();
      let outcome: string;
      try {
        outcome = target.run(input);
      } catch (error) {
        outcome = 'FAILURE';
        if (stats.failures.length < 20) {
          const message = error instanceof FuzzFailure ? error.message : `${(error as Error)?.name}: ${(error as Error)?.message}`;
          stats.failures.push({ target: target.name, message, input: input.toString('base64') });
        }
      }
      const ts = stats.targets[target.name]!;
      ts.ms += performance.now() - t0;
      ts.inputs++;
      stats.inputs++;
      if (ts.outcomes[outcome] === undefined) {
        ts.outcomes[outcome] = 0;
        if (discovered[index]! < MAX_DISCOVERED && outcome !== 'FAILURE') {
          pool.push(input);
          discovered[index]!++;
          ts.pool = pool.length;
        }
      }
      ts.outcomes[outcome]!++;
      if ((n + 1) % resetEvery === 0) for (const t of targets) t.reset();
      if (options.onProgress && (n + 1) % (options.progressEvery ?? 2000) === 0) {
        stats.ms = performance.now() - started;
        options.onProgress(stats);
      }
    }
  } finally {
    for (const t of targets) t.reset();
    if (fd !== null) closeSync(fd);
  }
  stats.ms = performance.now() - started;
  return stats;
}
