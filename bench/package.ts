/**
 * What the benchmarks measure: the package as users get it. `openssl-session` resolves
 * (package self-reference, through "exports") to the built dist/, which `npm run bench`
 * rebuilds first; not lib/'s TypeScript run through tsx, whose transform adds work users
 * never run (measured: ~5-9% per connection). ../tsconfig.json maps the name to lib/ for type
 * checking; tsx runs the bench with bench/tsconfig.json, which does not.
 */
import { fileURLToPath } from 'node:url';

/** Where `openssl-session` resolved: the bench refuses to measure anything but the built package. */
export const measured = import.meta.resolve('openssl-session');
if (!measured.includes('/dist/')) {
  throw new Error(`bench: 'openssl-session' resolved to ${measured}, not the built dist/ (run it with npm run bench)`);
}

export * from 'openssl-session';

/** The repository root (bench/..). */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));
