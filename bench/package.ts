/**
 * What the benchmarks measure: the package as users get it. `openssl-session` resolves
 * (package self-reference, through "exports") to the built dist/, which `npm run bench`
 * rebuilds first; not lib/'s TypeScript run through tsx, whose transform adds work users
 * never run (measured: ~5-9% per connection). tsconfig.json maps the name to lib/ for types.
 */
import { fileURLToPath } from 'node:url';

export * from 'openssl-session';

/** The repository root (bench/..). */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));
