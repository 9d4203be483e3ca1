import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { run } from '../lib/cli/demo.js';
import { packageRoot } from '../lib/native.js';

const execFileAsync = promisify(execFile);

/** Runs the demo in-process and returns the lines it printed that are not comments. */
async function demoLines(argv: string[]): Promise<{ code: number; results: string[]; all: string[] }> {
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(args.join(' '));
  });
  try {
    const code = await run(argv);
    return { code, results: printed.filter((l) => !l.startsWith('#')), all: printed };
  } finally {
    spy.mockRestore();
  }
}

const SEED_OUTPUT = ['NEW SESSION', 'REUSED SESSION', 'REUSED SESSION', 'REUSED SESSION', 'REUSED SESSION'];

describe('openssl-session demo (seed 000)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints NEW SESSION then REUSED SESSION x4 over TLS 1.2 (ticket)', async () => {
    const { code, results, all } = await demoLines([]);
    expect(code).toBe(0);
    expect(results).toEqual(SEED_OUTPUT);
    expect(all.join('\n')).toContain('resumption by session ticket');
  });

  it('resumes by session id from the server cache with --no-ticket', async () => {
    const { results, all } = await demoLines(['--no-ticket', '--verbose']);
    expect(results).toEqual(SEED_OUTPUT);
    // verbose lines show no ticket, and the same session id every time (server cache hit)
    const details = all.filter((l) => l.startsWith('#   '));
    expect(details).toHaveLength(5);
    expect(details.every((l) => l.includes('ticket=no'))).toBe(true);
    const ids = new Set(details.map((l) => /id=([0-9a-f]+)/.exec(l)?.[1]));
    expect(ids.size).toBe(1);
  });

  it('does the same over TLS 1.3 and explains why it waits for the ticket', async () => {
    const { results, all } = await demoLines(['--tls1.3', '--verbose']);
    expect(results).toEqual(SEED_OUTPUT);
    expect(all.join('\n')).toMatch(/ticket after the handshake/);
    expect(all.filter((l) => l.includes('TLSv1.3'))).toHaveLength(5);
  });

  it.each([
    [[], ['ServerKeyExchange', 'NewSessionTicket'], ['> ClientHello', '< ServerHello', '< Finished', '> Finished']],
    [['--no-ticket'], ['ServerKeyExchange'], ['> ClientHello', '< ServerHello', '< Finished', '> Finished']],
    [
      ['--tls1.3'],
      ['CertificateVerify', 'NewSessionTicket'],
      ['> ClientHello', '< ServerHello', '< EncryptedExtensions', '< Finished', '> Finished', '< NewSessionTicket'],
    ],
  ])(
    '--messages %j: the full handshake carries the certificate, the resumed ones only hellos and Finished',
    async (args, fullHas, resumed) => {
      const { results, all } = await demoLines([...args, '--messages', '--count', '3']);
      expect(results).toEqual(SEED_OUTPUT.slice(0, 3));
      const lines = all.filter((l) => l.startsWith('#   ')).map((l) => l.slice(4).split('  '));
      expect(lines).toHaveLength(3);
      expect(lines[0]).toContain('< Certificate');
      for (const name of fullHas) expect(lines[0]!.some((m) => m.endsWith(name))).toBe(true);
      expect(lines[1]).toEqual(resumed);
      expect(lines[2]).toEqual(resumed);
    },
  );

  it('honours --count and reports bad arguments', async () => {
    const { results } = await demoLines(['--count', '2']);
    expect(results).toEqual(SEED_OUTPUT.slice(0, 2));
    await expect(run(['--connect', 'nonsense'])).rejects.toThrow(/host:port/);
  });

  it('runs as `npm run demo` runs it (the built CLI)', async () => {
    const cli = join(packageRoot, 'dist', 'cli', 'index.js');
    expect(existsSync(cli), `${cli} is missing: npm install / npm run prepare builds it`).toBe(true);
    const { stdout } = await execFileAsync(process.execPath, [cli, 'demo'], { timeout: 20_000 });
    expect(stdout.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(SEED_OUTPUT);
  });
});
