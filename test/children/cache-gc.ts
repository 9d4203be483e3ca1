/**
 * Child of test/cache.core.test.ts (node --expose-gc --import tsx): a session handed out by a
 * cache (lent) may outlive the cache. Disposed or just dropped, the cache is collected once
 * nothing else holds it, and the handle keeps working. Prints one JSON line.
 */
import { SslSessionCache } from '../../lib/index.js';
import { inMemorySessions } from '../helpers/cache.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

async function fullGc(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A cache holding two peers, one of them handed out; returns a weak ref to the cache and the lent handle. */
function lend(dispose: boolean) {
  const cache = new SslSessionCache();
  cache.set('a.example:443', inMemorySessions({ version: 'TLSv1.2' })[0]!);
  cache.set('b.example:443', inMemorySessions({ version: 'TLSv1.2' })[0]!);
  const lent = cache.getSync('a.example:443')!;
  if (dispose) cache.dispose();
  return { ref: new WeakRef(cache), lent };
}

const disposed = lend(true);
const dropped = lend(false);
await fullGc();
const report = {
  // dispose(): the lent handle forgot the cache at once
  disposedCollected: disposed.ref.deref() === undefined,
  // never disposed: the lent handle's hook still names the cache, so it lives while the handle does...
  droppedAliveWhileHeld: dropped.ref.deref() !== undefined,
  lentUsable: disposed.lent.isResumable() && dropped.lent.isResumable(),
  droppedCollected: false,
};
disposed.lent.dispose();
dropped.lent.dispose(); // the hook runs: the cache drops the entry, nothing breaks
// ...and goes with it.
const droppedRef = dropped.ref;
(dropped as { lent?: unknown }).lent = undefined;
await fullGc();
report.droppedCollected = droppedRef.deref() === undefined;
console.log(JSON.stringify(report));
