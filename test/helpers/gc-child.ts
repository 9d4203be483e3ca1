/** Runs a TypeScript child of test/children/ with --expose-gc (GC and teardown tests need a process of their own). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { packageRoot } from '../../lib/native.js';

export interface GcChildRun<T> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The child's last stdout line as JSON (its report), or undefined if it printed none. */
  report: T | undefined;
}

export function runGcChild<T>(script: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): GcChildRun<T> {
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(packageRoot, 'test', 'children', script), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    cwd: packageRoot,
    env,
  });
  let report: T | undefined;
  try {
    report = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as T;
  } catch {
    report = undefined;
  }
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr, report };
}
