/**
 * npm run bench [-- --only a,b,c,e] [--rounds N] [--scale F]
 * Each scenario measures a peer and ours in the same run, alternating, and prints medians.
 */
import { parseArgs } from 'node:util';

import { cacheScenario } from './cache.js';
import { engineScenario } from './engine.js';
import { loopbackScenario } from './loopback.js';
import { sTimeScenario } from './s-time.js';
import { printTable, writeResults, type Row } from './harness.js';
import { rssScenario, type RssResult } from './rss.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'a,b,c,d,e' },
    rounds: { type: 'string', default: '5' },
    scale: { type: 'string', default: '1' },
  },
});
const only = new Set(values.only.split(','));
const rounds = Number(values.rounds);
const scale = Number(values.scale);

const rows: Row[] = [];
if (only.has('a')) rows.push(...(await engineScenario(rounds, scale)));
if (only.has('b')) rows.push(...(await loopbackScenario(rounds, scale)));
if (only.has('c')) rows.push(...(await sTimeScenario(rounds, scale)));
if (only.has('d')) rows.push(...(await cacheScenario(rounds, scale)));
const rss: RssResult | undefined = only.has('e') ? await rssScenario(scale) : undefined;
printTable(rows);
console.log(`\nresults: ${writeResults('latest', { rounds, scale, rows, rss })}`);
