/**
 * Child of test/reliability.guard-rails.test.ts (node --expose-gc --import tsx): connections
 * dropped after their handshake without shutdown() warn when garbage-collected; connections
 * shut down first do not; OPENSSL_SESSION_NO_WARNINGS=1 (a second run of this script, with
 * the argument `only-dropped`) silences them. Prints one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { configureWarnings } from '../../lib/guard-rails.js';
import { SslConnection, SslContext, createSelfSigned, drain, handshakeInMemory, shutdownInMemory } from '../../lib/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const pair = createSelfSigned({ commonName: 'localhost' });
const warnings: string[] = [];
process.on('warning', (w: Error & { code?: string }) => {
  if (w.name !== 'OpenSSLSessionWarning') return;
  const what = /an SslConnection \((client|server)\) was garbage-collected/.exec(w.message);
  warnings.push(`${w.code}: ${what ? what[0] : w.message}`);
});
// The main run turns warnings on whatever the environment says; the second run (only-dropped)
// leaves OPENSSL_SESSION_NO_WARNINGS=1 in charge.
if (process.argv[2] !== 'only-dropped') configureWarnings(true);

let collected = 0;
const registry = new FinalizationRegistry(() => collected++);

function contexts() {
  return {
    server: new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'gc' }),
    client: new SslContext('client', { ca: pair.cert, verify: true }),
  };
}

/**
 * A finished handshake; both connections become garbage when this returns. `clean`: both shut
 * down; `freeServer`: the server side is freed on purpose, without shutdown (no GC warning:
 * it was not collected, and free() of a server does not warn), the client shuts down.
 */
function connectAndDrop(server: SslContext, client: SslContext, clean: boolean, freeServer = false): void {
  const c = new SslConnection(client);
  const s = new SslConnection(server);
  handshakeInMemory(c, s);
  drain(c, s);
  if (clean) shutdownInMemory(c, s);
  if (freeServer) {
    c.shutdown();
    s.free();
  }
  registry.register(c, 'c');
  registry.register(s, 's');
}

async function collect(until: () => boolean): Promise<void> {
  for (let i = 0; i < 30 && !until(); i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve)); // warnings go out on nextTick
}

const dropped = contexts();
connectAndDrop(dropped.server, dropped.client, false);
await collect(() => collected >= 2);
const droppedWarnings = warnings.splice(0).sort();

let clean: string[] = [];
let freed: string[] = [];
let disabled: string[] = [];
if (process.argv[2] !== 'only-dropped') {
  const tidy = contexts();
  connectAndDrop(tidy.server, tidy.client, true);
  await collect(() => collected >= 4);
  clean = warnings.splice(0);
  connectAndDrop(tidy.server, tidy.client, false, true);
  await collect(() => collected >= 6);
  freed = warnings.splice(0);
  const second = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'only-dropped'], {
    encoding: 'utf8',
    env: { ...process.env, OPENSSL_SESSION_NO_WARNINGS: '1' },
    timeout: 15_000,
  });
  disabled = (JSON.parse(second.stdout.trim().split('\n').at(-1) ?? '{}') as { dropped?: string[] }).dropped ?? ['no report'];
}
for (const ctx of [dropped.server, dropped.client]) ctx.close();
process.stdout.write(`${JSON.stringify({ dropped: droppedWarnings, clean, freed, disabled, collected: collected >= 2 })}\n`);
