/**
 * `npm run fuzz`: the mutational fuzzer over the addon (see fuzz/README.md).
 *
 *   tsx fuzz/run.ts [--inputs 1000000] [--jobs N] [--seed S] [--targets a,b] [--seconds T]
 *                   [--json out.json] [--no-network]
 *   tsx fuzz/run.ts --replay fuzz/crashes/<file>.bin      (runs one saved input, in-process)
 *   tsx fuzz/run.ts --in-process --inputs 5000             (no child processes: for valgrind)
 *
 * The supervisor splits the inputs over N child processes (default: one per CPU), each
 * fuzzing with its own seed. A child that dies (signal, abort, non-zero exit) is a crash:
 * the input it was running (written to a file before each input) is saved under
 * fuzz/crashes/, and a new child carries on with the rest of that job's inputs. Inputs that
 * break an invariant or throw an unexpected error class are saved there too. Exit status 1
 * if anything was found.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Corpus, buildCorpus } from './corpus.js';
import { type FuzzOptions, type FuzzStats, type TargetStats, fuzz, unframeInput } from './engine.js';
import { allTargets } from './targets.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Args {
  inputs: number;
  jobs: number;
  seed: number;
  targets: string[] | null;
  seconds: number | null;
  json: string | null;
  network: boolean;
  replay: string | null;
  child: boolean;
  inProcess: boolean;
  lastInput: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    inputs: 1_000_000,
    jobs: Math.max(1, availableParallelism()),
    seed: Math.floor(Math.random() * 0x7fffffff),
    targets: null,
    seconds: null,
    json: null,
    network: true,
    replay: null,
    child: false,
    inProcess: false,
    lastInput: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--inputs') args.inputs = Number(value());
    else if (flag === '--jobs') args.jobs = Number(value());
    else if (flag === '--seed') args.seed = Number(value());
    else if (flag === '--targets') args.targets = value().split(',');
    else if (flag === '--seconds') args.seconds = Number(value());
    else if (flag === '--json') args.json = value();
    else if (flag === '--no-network') args.network = false;
    else if (flag === '--replay') args.replay = value();
    else if (flag === '--child') args.child = true;
    else if (flag === '--in-process') args.inProcess = true;
    else if (flag === '--last-input') args.lastInput = value();
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('*/')[0]!
          .replace(/^\/\*\*|^ \* ?/gm, ''),
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${flag}`);
  }
  return args;
}

function selectTargets(names: string[] | null) {
  const all = allTargets();
  if (names === null) return all;
  const unknown = names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length > 0) throw new Error(`unknown targets ${unknown.join(', ')}; known: ${all.map((t) => t.name).join(', ')}`);
  return all.filter((t) => names.includes(t.name));
}

/** The fuzz() options the command line sets, the same for a child and an in-process run. */
function runOptions(args: Args, corpus: Corpus): FuzzOptions {
  return {
    targets: selectTargets(args.targets),
    corpus,
    seed: args.seed,
    inputs: args.inputs,
    ...(args.seconds !== null ? { maxMs: args.seconds * 1000 } : {}),
  };
}

// ----- child: fuzz, report progress over IPC ----------------------------------------------

async function child(args: Args): Promise<void> {
  const corpus = await buildCorpus({ network: args.network });
  const send = (type: string, stats: FuzzStats) => process.send?.({ type, stats, sources: corpus.sources });
  const stats = fuzz({
    ...runOptions(args, corpus),
    ...(args.lastInput !== null ? { lastInputFile: args.lastInput } : {}),
    onProgress: (s) => send('progress', s),
    progressEvery: 5000,
  });
  send('done', stats);
}

// ----- supervisor ---------------------------------------------------------------------------

interface Crash {
  job: number;
  target: string;
  how: string;
  file: string | null;
}

function saveFinding(kind: 'crash' | 'failure', target: string, input: Buffer): string {
  const dir = join(here, 'crashes');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${target}-${createHash('sha1').update(input).digest('hex').slice(0, 12)}.bin`);
  writeFileSync(file, Buffer.concat([Buffer.from(`${target}\n`), input]));
  return file;
}

function merge(into: FuzzStats, from: FuzzStats): void {
  into.inputs += from.inputs;
  into.failures.push(...from.failures);
  for (const [name, t] of Object.entries(from.targets)) {
    const acc: TargetStats = (into.targets[name] ??= { inputs: 0, ms: 0, outcomes: {}, pool: 0 });
    acc.inputs += t.inputs;
    acc.ms += t.ms;
    acc.pool = Math.max(acc.pool, t.pool);
    for (const [o, n] of Object.entries(t.outcomes)) acc.outcomes[o] = (acc.outcomes[o] ?? 0) + n;
  }
}

async function supervise(args: Args): Promise<number> {
  const started = Date.now();
  const names = selectTargets(args.targets).map((t) => t.name);
  const totals: FuzzStats = { inputs: 0, ms: 0, targets: {}, failures: [] };
  const crashes: Crash[] = [];
  const live = new Map<number, number>(); // job -> inputs done by its running child
  let sources: Record<string, number> = {};
  const perJob = Math.ceil(args.inputs / args.jobs);
  const tmp = join(tmpdir(), `openssl-session-fuzz-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  let lastPrint = 0;
  const print = (force = false) => {
    if (!process.stderr.isTTY && !force) return;
    const done = totals.inputs + [...live.values()].reduce((a, b) => a + b, 0);
    if (!force && Date.now() - lastPrint < 1000) return;
    lastPrint = Date.now();
    process.stderr.write(
      `\rfuzz: ${done.toLocaleString('en')} / ${args.inputs.toLocaleString('en')} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s, ${crashes.length} crashes   `,
    );
  };

  const runJob = async (job: number): Promise<void> => {
    let remaining = perJob;
    let restart = 0;
    while (remaining > 0) {
      const lastInput = join(tmp, `last-input-${job}.bin`);
      rmSync(lastInput, { force: true });
      const seed = (args.seed + job * 7919 + restart * 104729) >>> 0;
      const childArgs = ['--child', '--inputs', String(remaining), '--seed', String(seed), '--last-input', lastInput];
      if (args.targets) childArgs.push('--targets', args.targets.join(','));
      if (args.seconds !== null) childArgs.push('--seconds', String(Math.max(1, args.seconds - (Date.now() - started) / 1000)));
      if (!args.network) childArgs.push('--no-network');
      const proc: ChildProcess = fork(fileURLToPath(import.meta.url), childArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let final: FuzzStats | null = null;
      proc.on('message', (m: { type: string; stats: FuzzStats; sources: Record<string, number> }) => {
        sources = m.sources;
        if (m.type === 'done') final = m.stats;
        else live.set(job, m.stats.inputs);
        print();
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        proc.once('exit', (c, s) => resolve([c, s])),
      );
      const progress = live.get(job) ?? 0;
      live.delete(job);
      if (final !== null && code === 0) {
        merge(totals, final);
        break;
      }
      // A crash: count what the child got through (at least its last progress report), save the input.
      let target = '?';
      let file: string | null = null;
      if (existsSync(lastInput)) {
        const { targetIndex, input } = unframeInput(readFileSync(lastInput));
        target = names[targetIndex] ?? allTargets()[targetIndex]?.name ?? '?';
        file = saveFinding('crash', target, input);
      }
      crashes.push({ job, target, how: signal ?? `exit ${code}`, file });
      totals.inputs += progress;
      remaining -= Math.max(progress, 1);
      restart++;
      if (restart > 20) break;
    }
  };

  const timer = setInterval(() => print(), 1000);
  await Promise.all(Array.from({ length: args.jobs }, (_, job) => runJob(job)));
  clearInterval(timer);
  rmSync(tmp, { recursive: true, force: true });
  print(true);
  process.stderr.write('\n');
  const seconds = (Date.now() - started) / 1000;
  const failures = totals.failures.map((f) => ({ ...f, file: saveFinding('failure', f.target, Buffer.from(f.input, 'base64')) }));

  const rows = Object.entries(totals.targets).map(([name, t]) => ({
    target: name,
    inputs: t.inputs,
    'inputs/s (1 core)': Math.round(t.inputs / (t.ms / 1000 || 1)),
    outcomes: Object.keys(t.outcomes).length,
    'pool (seeds+found)': t.pool,
    'top outcomes': Object.entries(t.outcomes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([o, n]) => `${o} ${((100 * n) / t.inputs).toFixed(0)}%`)
      .join(', '),
  }));
  console.table(rows);
  console.log(
    `fuzz: ${totals.inputs.toLocaleString('en')} inputs in ${seconds.toFixed(1)} s over ${args.jobs} processes (seed ${args.seed}); ` +
      `corpus sources ${JSON.stringify(sources)}; ${crashes.length} crashes, ${failures.length} failures`,
  );
  for (const c of crashes) console.log(`CRASH job ${c.job} (${c.how}) in ${c.target}: ${c.file ?? 'input unknown'}`);
  for (const f of failures) console.log(`FAILURE in ${f.target}: ${f.message} (${f.file})`);
  if (args.json) {
    writeFileSync(
      args.json,
      JSON.stringify(
        { seed: args.seed, jobs: args.jobs, seconds, inputs: totals.inputs, sources, crashes, failures, targets: totals.targets },
        null,
        2,
      ),
    );
  }
  return crashes.length + failures.length > 0 ? 1 : 0;
}

async function replay(file: string): Promise<number> {
  const bytes = readFileSync(file);
  const newline = bytes.indexOf(0x0a);
  const name = bytes.subarray(0, newline).toString();
  const input = bytes.subarray(newline + 1);
  const target = selectTargets([name])[0]!;
  await buildCorpus({ network: false });
  try {
    console.log(`${name}: ${target.run(input)}`);
    return 0;
  } catch (error) {
    console.log(`${name}: FAILURE`, error);
    return 1;
  } finally {
    target.reset();
  }
}

/** The whole run in this process (under valgrind: no child to follow). */
async function inProcess(args: Args): Promise<number> {
  const corpus = await buildCorpus({ network: args.network });
  const stats = fuzz(runOptions(args, corpus));
  for (const [name, t] of Object.entries(stats.targets))
    console.log(`${name}: ${t.inputs} inputs, ${Object.keys(t.outcomes).length} outcomes`);
  console.log(
    `fuzz (in-process): ${stats.inputs} inputs in ${(stats.ms / 1000).toFixed(1)} s (seed ${args.seed}); ${stats.failures.length} failures`,
  );
  for (const f of stats.failures) console.log(`FAILURE in ${f.target}: ${f.message}`);
  return stats.failures.length > 0 ? 1 : 0;
}

// The targets free connections without shutdown() and take TLS 1.3 sessions early on purpose:
// the guard-rail code runs (it is part of what is fuzzed) but its warnings are not printed.
process.removeAllListeners('warning');
process.on('warning', () => {});

const args = parseArgs(process.argv.slice(2));
if (args.child) await child(args);
else if (args.inProcess) process.exitCode = await inProcess(args);
else process.exitCode = args.replay ? await replay(args.replay) : await supervise(args);
