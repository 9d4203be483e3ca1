/**
 * worker_threads, beyond test/workers.test.ts: the PUBLIC lib (through tsx) in 4 workers at
 * once with handshakes and callbacks and no state shared between them, and workers
 * terminated in the middle of handshakes (in-memory and over a socket), repeatedly, in a
 * child process so that a crash fails this test instead of killing the runner.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/native.js';

const children = join(packageRoot, 'test', 'children');

function next<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('the public lib in 4 workers at once', () => {
  it('each worker has its own contexts, callbacks, error class and caches', async () => {
    const workers = [0, 1, 2, 3].map((id) => new Worker(join(children, 'worker-lib.mjs'), { workerData: { id } }));
    try {
      const first = await Promise.all(
        workers.map((w) => next<{ id: number; reused: number; newSessions: number; hits: number; errorClass: string; der: Uint8Array }>(w)),
      );
      for (const [id, r] of first.entries()) {
        expect({ id: r.id, reused: r.reused, newSessions: r.newSessions, hits: r.hits, errorClass: r.errorClass }).toEqual({
          id,
          reused: 24,
          newSessions: 1,
          hits: 24,
          errorClass: 'OpenSSLError (this worker)',
        });
      }
      // Worker i offers worker i+1's session: it parses (DER is portable) but does not resume,
      // and worker i's cache counters did not move: no server cache is shared.
      const crossed = await Promise.all(
        workers.map((w, i) => {
          const reply = next<{ id: number; foreignReused: boolean; hitsAfter: number }>(w);
          w.postMessage({ der: Buffer.from(first[(i + 1) % 4]!.der) });
          return reply;
        }),
      );
      expect(crossed.map((c) => [c.foreignReused, c.hitsAfter])).toEqual([
        [false, 24],
        [false, 24],
        [false, 24],
        [false, 24],
      ]);
      const closed = await Promise.all(
        workers.map((w) => {
          const reply = next<{ id: number; removed: number }>(w);
          w.postMessage({ close: true });
          return reply;
        }),
      );
      // close() flushed each worker's own cache through its own remove callback: 1 full
      // handshake + 1 foreign (full) handshake = 2 sessions each.
      expect(closed.map((c) => c.removed)).toEqual([2, 2, 2, 2]);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});

describe('workers terminated mid-handshake', () => {
  it('6 rounds x 4 workers (in-memory loops with callbacks, one with a pending socket handshake), terminated at random: no crash', () => {
    const run = spawnSync(process.execPath, [join(children, 'workers-terminate.cjs'), '6'], { encoding: 'utf8', timeout: 30_000 });
    // A worker torn down inside a native call used to abort the process:
    // "terminate called after throwing an instance of 'Napi::Error'".
    expect(run.stderr).not.toMatch(/terminate called/);
    expect({ status: run.status, signal: run.signal }).toEqual({ status: 0, signal: null });
    const r = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { rounds: number; started: number; codes: unknown[] };
    expect(r.rounds).toBe(6);
    expect(r.started).toBe(24);
    expect(r.codes).toEqual(Array(24).fill(1)); // each terminated (exit code 1), none errored
  });
});
