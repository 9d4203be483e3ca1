/**
 * `openssl-session probe` against a real `openssl s_server` on 127.0.0.1 (a free port the
 * kernel picks; certificate and key in a temp dir), once with tickets and once with
 * -no_ticket, over TLS 1.3 and TLS 1.2. Both servers are killed in afterAll.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { run, type ProbeReport } from '../lib/cli/probe.js';
import { pair } from './helpers/cache.js';

const hasOpenssl = (() => {
  try {
    return /^OpenSSL [13]\./.test(execFileSync('openssl', ['version'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
})();

let dir: string;
let caFile: string;
const children: ChildProcessWithoutNullStreams[] = [];

/** Starts `openssl s_server -accept 127.0.0.1:0` and resolves with the port it printed. */
function startSServer(args: string[]): Promise<number> {
  const child = spawn('openssl', ['s_server', '-accept', '127.0.0.1:0', '-cert', caFile, '-key', join(dir, 'key.pem'), ...args]);
  children.push(child); // stdin stays open: s_server ends at stdin EOF
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s_server did not start: ${out}`)), 10_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^ACCEPT 127\.0\.0\.1:(\d+)/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr.on('data', () => {});
    child.once('exit', (code) => reject(new Error(`s_server exited (${code}): ${out}`)));
  });
}

/** Runs the probe in-process; returns its exit code and what it printed. */
async function probe(argv: string[]): Promise<{ code: number; lines: string[]; report: ProbeReport | undefined }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '));
  });
  try {
    const code = await run(argv);
    const report = argv.includes('--json') ? (JSON.parse(lines.join('\n')) as ProbeReport) : undefined;
    return { code, lines, report };
  } finally {
    spy.mockRestore();
  }
}

describe.skipIf(!hasOpenssl)('probe against openssl s_server', () => {
  let withTickets: number;
  let noTicket: number;
  let logged: number; // TLS 1.2 s_server writing its own key log (-keylogfile)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openssl-session-probe-'));
    caFile = join(dir, 'cert.pem');
    writeFileSync(caFile, pair.cert);
    writeFileSync(join(dir, 'key.pem'), pair.key, { mode: 0o600 });
    [withTickets, noTicket, logged] = await Promise.all([
      startSServer([]),
      startSServer(['-no_ticket']),
      startSServer(['-tls1_2', '-keylogfile', join(dir, 'server-keys.log')]),
    ]);
  });

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('TLS 1.3 with tickets: 1 full + 4 resumed, stateless tickets', async () => {
    const { code, report } = await probe([`127.0.0.1:${withTickets}`, '--ca', caFile, '--json']);
    expect(code).toBe(0);
    const rows = report!.connections;
    expect(rows.map((r) => r.resumed)).toEqual([false, true, true, true, true]);
    expect(rows.map((r) => r.offered)).toEqual([false, true, true, true, true]);
    expect(rows.every((r) => r.protocol === 'TLSv1.3' && r.ticket && r.ticketLength > 64 && r.lifetimeHint === 7200)).toBe(true);
    expect(rows.every((r) => typeof r.cipher === 'string' && r.handshakeMs > 0)).toBe(true);
    expect(report!.summary).toMatchObject({
      protocol: 'TLSv1.3',
      reconnects: 4,
      resumed: 4,
      supported: true,
      via: 'tickets',
      ticketKind: 'stateless',
    });
  });

  it('TLS 1.3 with -no_ticket: OpenSSL still resumes, with stateful 32-byte tickets', async () => {
    const { report } = await probe([`127.0.0.1:${noTicket}`, '--ca', caFile, '--json', '--count', '3']);
    expect(report!.connections.map((r) => [r.resumed, r.ticketLength])).toEqual([
      [false, 32],
      [true, 32],
      [true, 32],
    ]);
    expect(report!.summary).toMatchObject({ via: 'tickets', ticketKind: 'stateful', resumed: 2 });
  });

  it('TLS 1.2 with tickets: tickets and (checked separately) session ids -> both', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const { report } = await probe([`127.0.0.1:${withTickets}`, '--ca', caFile, '--tls1.2', '--json', '--count', '3']);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    process.off('warning', onWarning);
    // The session-id check is a configuration of its own, on purpose: no mixed-trust warning.
    expect(warnings.map((w) => w.message)).toEqual([]);
    expect(report!.connections.map((r) => r.resumed)).toEqual([false, true, true]);
    expect(report!.connections.every((r) => r.protocol === 'TLSv1.2' && r.ticket)).toBe(true);
    expect(report!.idCheck).toEqual({ resumed: true });
    expect(report!.summary).toMatchObject({ via: 'both', supported: true });
  });

  it('TLS 1.2 with -no_ticket: session ids only, as text', async () => {
    const { code, lines } = await probe([`127.0.0.1:${noTicket}`, '--ca', caFile, '--tls1.2', '--count', '3']);
    expect(code).toBe(0);
    const rows = lines.filter((l) => /^\s+\d+ {2}/.test(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^\s+1 {2}full {5}TLSv1\.2 .* no .* ms$/);
    expect(rows[1]).toMatch(/^\s+2 {2}resumed {2}TLSv1\.2 .* no .* ms$/);
    expect(lines.at(-1)).toBe(
      'summary: resumption supported via session ids only (the server issues no tickets): 2/2 reconnects resumed (TLSv1.2)',
    );
  });

  it("verifies with node's root CAs by default (a self-signed server fails); --no-verify connects", async () => {
    const strict = await probe([`127.0.0.1:${withTickets}`, '--count', '1']);
    expect(strict.code).toBe(1);
    expect(strict.lines.join('\n')).toMatch(/connection 1 failed: .*certificate verify failed/);
    const lax = await probe([`127.0.0.1:${withTickets}`, '--no-verify', '--count', '2', '--json']);
    expect(lax.code).toBe(0);
    expect(lax.report!.summary.resumed).toBe(1);
  });

  it('--keylog writes the lines s_server logs (0600); resumptions repeat the first master secret', async () => {
    const file = join(dir, 'probe-keys.log');
    const { code, report } = await probe([`127.0.0.1:${logged}`, '--ca', caFile, '--json', '--count', '3', '--keylog', file]);
    expect(code).toBe(0);
    expect(report!.summary.resumed).toBe(2);
    const lines = (path: string) =>
      readFileSync(path, 'latin1')
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#'));
    const ours = lines(file);
    // 3 connections, then the session-id check's 2 (TLS 1.2 with tickets).
    expect(ours).toHaveLength(5);
    expect(ours.sort()).toEqual(lines(join(dir, 'server-keys.log')).sort());
    const secrets = readFileSync(file, 'latin1')
      .split('\n')
      .slice(0, 3)
      .map((line) => line.split(' ')[2]);
    expect(new Set(secrets).size).toBe(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await expect(run([`127.0.0.1:${logged}`, '--keylog', join(dir, 'missing', 'keys.log')])).rejects.toThrow(/ENOENT/);
  });

  it('--messages lists the handshake messages: the resumed connections carry no Certificate', async () => {
    const { report } = await probe([`127.0.0.1:${noTicket}`, '--ca', caFile, '--tls1.2', '--json', '--count', '2', '--messages']);
    const [full, resumed] = report!.connections;
    expect(full!.messages).toEqual(expect.arrayContaining(['> ClientHello', '< Certificate', '< ServerHelloDone', '> ClientKeyExchange']));
    expect(resumed!.messages).toEqual(['> ClientHello', '< ServerHello', '< Finished', '> Finished']);
    const text = await probe([`127.0.0.1:${noTicket}`, '--ca', caFile, '--tls1.3', '--count', '2', '--messages']);
    expect(text.lines.filter((l) => l.includes('> ClientHello'))).toHaveLength(2);
    expect(text.lines.find((l) => l.includes('> ClientHello') && !l.includes('Certificate'))).toMatch(
      /< EncryptedExtensions {2}< Finished/,
    );
  });

  it('rejects bad arguments', async () => {
    await expect(run(['nonsense'])).rejects.toThrow(/host:port/);
    await expect(run(['127.0.0.1:1', '--tls1.2', '--tls1.3'])).rejects.toThrow(/exclude/);
    await expect(run(['127.0.0.1:1', '--count', '0'])).rejects.toThrow(/--count/);
  });
});
