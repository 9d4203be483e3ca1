/** `openssl-session matrix`: the CLI over the lab (run in-process; the built bin is checked by hand in CI). */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { run } from '../lib/cli/matrix.js';
import type { MatrixResult, ScenarioResult } from '../lib/lab/index.js';

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const printed: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(args.join(' '));
  });
  const code = await run(argv);
  return { code, out: printed.join('\n') };
}

describe('openssl-session matrix', () => {
  afterEach(() => vi.restoreAllMocks());

  it('--help describes the options', async () => {
    const { code, out } = await capture(['--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--json',
      '--scenarios',
      '--scenario',
      '--tls',
      '--server-mode',
      '--client-mode',
      '--reconnects',
      '--no-remove-cb',
    ]) {
      expect(out).toContain(flag);
    }
    expect(out).toContain('timeout-flush');
  });

  it('prints one table row per cell, with reuse pattern, callbacks and stats', async () => {
    const { code, out } = await capture(['--tls', '1.2', '--server-mode', 'SERVER', '--client-mode', 'default(SERVER)']);
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/OpenSSL 3\.\d+\.\d+, 4 cells, first connection \+ 3 reconnects each/);
    expect(lines[2]).toMatch(
      /^TLS +tickets +server mode +ext +client mode +reuse +\| S new +rm +get +num +hit +miss +tmo +cbhit \| C new +rm +num +hit +miss$/,
    );
    const rows = lines.filter((l) => l.startsWith('1.2 '));
    expect(rows).toHaveLength(4);
    // tickets off, SERVER: one session cached, 3 hits (seed 000)
    const idRow = rows.find((r) => /^1\.2 +off +SERVER +off +default\(SERVER\)/.test(r));
    expect(idRow).toMatch(/N R R R \| +1 +0 +0 +1 +3 +0 +0 +0 \| +0 +0 +0 +3 +0$/);
    expect(out).toContain('SSL_OP_NO_TICKET');
  });

  it('--json gives the MatrixResult', async () => {
    const { out } = await capture(['--json', '--tls', '1.3', '--server-mode', 'OFF', '--client-mode', 'CLIENT', '--reconnects', '1']);
    const result = JSON.parse(out) as MatrixResult;
    expect(result.reconnects).toBe(1);
    expect(result.cells).toHaveLength(4);
    for (const cell of result.cells) {
      expect(cell.version).toBe('TLSv1.3');
      expect(cell.serverMode).toBe('OFF');
      expect(cell.pattern).toBe(cell.tickets ? 'N R' : 'N N');
    }
  });

  it('--no-remove-cb reaches the lab', async () => {
    const { out } = await capture(['--json', '--no-remove-cb', '--tls', '1.3', '--server-mode', 'SERVER', '--client-mode', 'CLIENT']);
    const result = JSON.parse(out) as MatrixResult;
    for (const cell of result.cells) expect(cell.serverRemoveCallback).toBe(false);
    expect(result.cells.find((c) => c.tickets)?.server.stats.number).toBe(0);
  });

  it('--scenarios prints each scenario and its steps; --scenario NAME --json one result', async () => {
    const text = await capture(['--scenario', 'close', '--scenario', 'cache-size']);
    expect(text.out).toMatch(/^close: /m);
    expect(text.out).toMatch(/^cache-size: /m);
    expect(text.out).toMatch(/^ {2}- server \(SERVER\): number 3 before close\(\)/m);
    const json = JSON.parse((await capture(['--scenario', 'update-time', '--json'])).out) as ScenarioResult[];
    expect(json.map((s) => s.name)).toEqual(['update-time']);
  });

  it('rejects bad values', async () => {
    await expect(capture(['--tls', '1.1'])).rejects.toThrow(/--tls/);
    await expect(capture(['--server-mode', 'CLIENT'])).rejects.toThrow(/--server-mode/);
    await expect(capture(['--reconnects', 'x'])).rejects.toThrow(/--reconnects/);
    await expect(capture(['--scenario', 'nope'])).rejects.toThrow(/--scenario/);
  });
});
