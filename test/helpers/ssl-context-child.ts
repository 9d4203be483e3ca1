/**
 * Runs a scenario in a child node process with --expose-gc, against the raw addon (the same
 * .node file the tests load), and returns what the scenario reported as JSON.
 *
 * The child preamble enables SslContext.debugSessionCounts() first (SSL_SESSION objects
 * OpenSSL really created / really freed, counted through an ex_data index) and defines:
 *   B (the addon), server(mode?), client(mode?), connect(cctx, sctx, {session, polite}),
 *   settle() (gc + event-loop turns until finalizers have run), counts(), report(obj).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../../lib/native.js';

const PREAMBLE = String.raw`
'use strict';
const B = require('bindings')({
  bindings: 'openssl_session.node',
  module_root: process.env.OSS_ROOT,
  try: [
    ['module_root', 'prebuilds', 'platform_arch', 'bindings'],
    ['module_root', 'build', 'Release', 'bindings'],
    ['module_root', 'build', 'Debug', 'bindings'],
  ],
  platform_arch: process.platform + '-' + process.arch,
});
const counts = () => B.SslContext.debugSessionCounts();
counts(); // start counting before any session exists
const pair = B.createSelfSigned({ commonName: 'localhost', altNames: 'DNS:localhost', days: 1, keyType: 'ec', bits: 256 });
function server(mode) {
  const c = new B.SslContext('server');
  c.useCertificateChain(pair.cert);
  c.usePrivateKey(pair.key);
  c.setSessionIdContext(Buffer.from('child'));
  c.setMaxProtoVersion(B.VERSION.TLS1_2);
  c.setOptions(B.OP.NO_TICKET);
  if (mode !== undefined) c.setSessionCacheMode(mode);
  return c;
}
function client(mode) {
  const c = new B.SslContext('client');
  c.setMaxProtoVersion(B.VERSION.TLS1_2);
  if (mode !== undefined) c.setSessionCacheMode(mode);
  return c;
}
function pipe(a, b) { const o = a.takeOutput(); if (o) b.feed(o); }
function handshake(c, s) {
  for (let i = 0; i < 32; i++) {
    const cd = c.doHandshake() === 0; pipe(c, s);
    const sd = s.doHandshake() === 0; pipe(s, c);
    if (cd && sd) return;
  }
  throw new Error('handshake did not finish');
}
function open(cctx, sctx, session) {
  const c = new B.SslConnection(cctx);
  const s = new B.SslConnection(sctx);
  if (session) c.setSession(session);
  handshake(c, s);
  s.write(Buffer.from('x')); pipe(s, c); c.read();
  c.write(Buffer.from('y')); pipe(c, s); s.read();
  return { c, s };
}
function connect(cctx, sctx, opts = {}) {
  const { c, s } = open(cctx, sctx, opts.session);
  const reused = c.sessionReused();
  const session = opts.keepSession ? c.get1Session() : null;
  if (opts.polite !== false) { c.shutdown(); pipe(c, s); s.read(); s.shutdown(); pipe(s, c); c.read(); }
  c.free(); s.free();
  return { reused, session };
}
async function settle(done) {
  for (let i = 0; i < 200; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
    if (i >= 10 && (!done || done())) return;
  }
}
function report(obj) { process.stdout.write('\nRESULT ' + JSON.stringify(obj) + '\n'); }
`;

export interface ChildResult<T> {
  result: T;
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs `body` (CommonJS, may use await at top level of an async IIFE) in a fresh node. */
export function runChild<T>(body: string, timeoutMs = 12_000): ChildResult<T> {
  const dir = mkdtempSync(join(tmpdir(), 'oss-ctx-'));
  const file = join(dir, 'scenario.cjs');
  writeFileSync(file, `${PREAMBLE}\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(3); });\n`);
  try {
    const out = spawnSync(process.execPath, ['--expose-gc', file], {
      env: { ...process.env, OSS_ROOT: packageRoot, NODE_PATH: join(packageRoot, 'node_modules') },
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    const line = out.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (out.status !== 0 || line === undefined) {
      throw new Error(`child failed (status ${out.status}, signal ${out.signal}):\n${out.stdout}\n${out.stderr}`);
    }
    return { result: JSON.parse(line.slice('RESULT '.length)) as T, status: out.status, signal: out.signal, stderr: out.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
