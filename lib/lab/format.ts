/** Plain-text renderings of lab results (what `openssl-session matrix` prints). */
import type { CellResult, MatrixResult } from './matrix.js';
import type { ScenarioResult } from './scenarios.js';

interface Column {
  title: string;
  value: (cell: CellResult) => string | number;
  align?: 'left' | 'right';
  /** Draw a '|' after this column (ends the cell / server / client groups). */
  sep?: boolean;
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');

/** The matrix table's columns, in order. */
const COLUMNS: Column[] = [
  { title: 'TLS', value: (c) => c.version.replace('TLSv', '') },
  { title: 'tickets', value: (c) => onOff(c.tickets) },
  { title: 'server mode', value: (c) => c.serverMode },
  { title: 'ext', value: (c) => onOff(c.externalStore) },
  { title: 'client mode', value: (c) => c.clientMode },
  { title: 'reuse', value: (c) => c.pattern, sep: true },
  { title: 'S new', value: (c) => c.server.callbacks.new, align: 'right' },
  { title: 'rm', value: (c) => c.server.callbacks.remove, align: 'right' },
  { title: 'get', value: (c) => c.server.callbacks.get, align: 'right' },
  { title: 'num', value: (c) => c.server.stats.number, align: 'right' },
  { title: 'hit', value: (c) => c.server.stats.hits, align: 'right' },
  { title: 'miss', value: (c) => c.server.stats.misses, align: 'right' },
  { title: 'tmo', value: (c) => c.server.stats.timeouts, align: 'right' },
  { title: 'cbhit', value: (c) => c.server.stats.cbHits, align: 'right', sep: true },
  { title: 'C new', value: (c) => c.client.callbacks.new, align: 'right' },
  { title: 'rm', value: (c) => c.client.callbacks.remove, align: 'right' },
  { title: 'num', value: (c) => c.client.stats.number, align: 'right' },
  { title: 'hit', value: (c) => c.client.stats.hits, align: 'right' },
  { title: 'miss', value: (c) => c.client.stats.misses, align: 'right' },
];

/**
 * The matrix as a text table: one row per cell, a blank line between TLS version x tickets
 * blocks, and a legend.
 */
export function formatMatrixTable(result: MatrixResult): string {
  const rows = result.cells.map((cell) => COLUMNS.map((col) => String(col.value(cell))));
  const widths = COLUMNS.map((col, i) => Math.max(col.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (values: readonly string[]): string =>
    COLUMNS.map((col, i) => {
      const v = values[i] ?? '';
      const w = widths[i] ?? 0;
      const padded = col.align === 'right' ? v.padStart(w) : v.padEnd(w);
      return col.sep ? `${padded} |` : padded;
    })
      .join(' ')
      .trimEnd();
  const lines: string[] = [
    `openssl-session cache-mode matrix: OpenSSL ${result.openssl}, ${result.cells.length} cells, ` +
      `first connection + ${result.reconnects} reconnects each, in memory (${result.durationMs} ms)`,
    '',
    render(COLUMNS.map((c) => c.title)),
  ];
  let block = '';
  for (const [i, cell] of result.cells.entries()) {
    const key = `${cell.version}/${cell.tickets}`;
    if (block !== '' && key !== block) lines.push('');
    block = key;
    lines.push(render(rows[i] ?? []));
  }
  lines.push(
    '',
    'tickets off = SSL_OP_NO_TICKET on the server (TLS 1.2: session ids; TLS 1.3: stateful tickets).',
    'ext = server onGetSession served from a Map filled by its onNewSession (off: onGetSession answers null).',
    "reuse: SSL_session_reused per connection, N = full handshake, R = resumed. client mode 'default(SERVER)' = never set (OpenSSL's default).",
    'S/C new, rm, get = new/remove/get session callbacks on the server/client (a counting remove callback is installed on both).',
    'num, hit, miss, tmo, cbhit = SSL_CTX_sess_number, _hits, _misses, _timeouts, _cb_hits at the end of the cell.',
  );
  return lines.join('\n');
}

/** Scenarios as text: name, summary, then the steps each one logged. */
export function formatScenarios(results: readonly ScenarioResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (lines.length > 0) lines.push('');
    lines.push(`${r.name}: ${r.summary}`);
    for (const step of r.log) lines.push(`  - ${step}`);
  }
  return lines.join('\n');
}
