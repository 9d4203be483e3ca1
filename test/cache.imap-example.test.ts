/**
 * examples/imap-client.ts (seed 002's email client): reconnecting to a local IMAP-over-TLS
 * server through the session cache reuses the session every time after the first.
 */
import { describe, expect, it } from 'vitest';

import { main } from '../examples/imap-client.js';

describe('IMAP client example', () => {
  it.each(['TLSv1.3', 'TLSv1.2'] as const)('reconnects over %s with NEW SESSION, then REUSED SESSION x4', async (maxVersion) => {
    const lines: string[] = [];
    const result = await main({ maxVersion, log: (line) => lines.push(line) });
    expect(result.connections.map((c) => c.resumed)).toEqual([false, true, true, true, true]);
    expect(result.connections.every((c) => c.greeting === '* OK IMAP4rev1 ready' && c.protocol === maxVersion)).toBe(true);
    expect(lines.slice(0, 2)).toEqual([
      `connection 1: NEW SESSION (${maxVersion}) * OK IMAP4rev1 ready`,
      `connection 2: REUSED SESSION (${maxVersion}) * OK IMAP4rev1 ready`,
    ]);
    expect(result.cache).toMatchObject({ hits: 4, misses: 1, ticketsTaken: maxVersion === 'TLSv1.3' ? 4 : 0 });
    expect(lines.at(-1)).toMatch(/^cache: 4 hits, 1 misses/);
  });
});
