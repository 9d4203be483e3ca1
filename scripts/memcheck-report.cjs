#!/usr/bin/env node
'use strict';
/**
 * Reads valgrind memcheck's XML output (scripts/memcheck.sh) and decides whether the addon
 * is clean. Exit code 0 = clean, 1 = an error attributable to the addon (or the driver
 * failed, or valgrind did not finish).
 *
 * An error is ATTRIBUTABLE to the addon when any frame of any of its stacks (allocation,
 * access, free) lies in openssl_session.node. Failing:
 *   - any attributable memory error (invalid read/write/free, uninitialised value, ...);
 *   - any invalid read/write/free at all (memory corruption anywhere in the process is
 *     treated as ours until a suppression in test/memcheck/node.supp explains it);
 *   - any attributable definitely or indirectly lost block.
 * Reported but not failing: node/V8-only errors that are not corruption (uninitialised
 * values in V8, node's own leaks) and "possibly lost" blocks.
 *
 * usage: memcheck-report.cjs <memcheck.xml> <driver exit code> <driver log> <seconds>
 */
const fs = require('node:fs');

const [xmlFile, driverExitArg, driverLogFile, secondsArg] = process.argv.slice(2);
const driverExit = Number(driverExitArg);
const seconds = Number(secondsArg);
const ADDON = /openssl_session[^/]*\.node$/;
const CORRUPTION = new Set(['InvalidRead', 'InvalidWrite', 'InvalidFree', 'MismatchedFree', 'InvalidMemPool', 'Overlap', 'FishyValue']);
const LEAK_FAIL = new Set(['Leak_DefinitelyLost', 'Leak_IndirectlyLost']);

const decode = (s) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
const tag = (block, name) => {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(block);
  return m ? decode(m[1].trim()) : undefined;
};

function directBytes(text, total) {
  const m = /\(([\d,]+) direct, [\d,]+ indirect\)/.exec(text);
  return m ? Number(m[1].replace(/,/g, '')) : total;
}

function parse(xml) {
  const errors = [];
  for (const [block] of xml.matchAll(/<error>[\s\S]*?<\/error>/g)) {
    const stacks = [...block.matchAll(/<stack>([\s\S]*?)<\/stack>/g)].map(([, stack]) =>
      [...stack.matchAll(/<frame>([\s\S]*?)<\/frame>/g)].map(([, f]) => ({
        fn: tag(f, 'fn') ?? '???',
        obj: tag(f, 'obj') ?? '',
        file: tag(f, 'file'),
        line: tag(f, 'line'),
      })),
    );
    const xwhat = /<xwhat>([\s\S]*?)<\/xwhat>/.exec(block);
    errors.push({
      unique: tag(block, 'unique'),
      kind: tag(block, 'kind'),
      what: tag(block, 'what') ?? (xwhat ? tag(xwhat[1], 'text') : ''),
      // leakedbytes of a definitely lost record includes what it indirectly loses
      // ("1,048 (928 direct, 120 indirect) bytes"): count the direct part, as valgrind's
      // LEAK SUMMARY does (the indirect blocks have their own Leak_IndirectlyLost records).
      bytes: xwhat ? directBytes(tag(xwhat[1], 'text') ?? '', Number(tag(xwhat[1], 'leakedbytes') ?? 0)) : 0,
      auxwhat: [...block.matchAll(/<auxwhat>([\s\S]*?)<\/auxwhat>/g)].map(([, t]) => decode(t)),
      stacks,
      addon: stacks.some((frames) => frames.some((f) => ADDON.test(f.obj))),
    });
  }
  // How often each non-leak error occurred (one <error> per unique context).
  const counts = new Map();
  const errorcounts = /<errorcounts>([\s\S]*?)<\/errorcounts>/.exec(xml);
  if (errorcounts) {
    for (const [, pair] of errorcounts[1].matchAll(/<pair>([\s\S]*?)<\/pair>/g))
      counts.set(tag(pair, 'unique'), Number(tag(pair, 'count')));
  }
  let suppressed = 0;
  const suppcounts = /<suppcounts>([\s\S]*?)<\/suppcounts>/.exec(xml);
  if (suppcounts) for (const [, pair] of suppcounts[1].matchAll(/<pair>([\s\S]*?)<\/pair>/g)) suppressed += Number(tag(pair, 'count'));
  return { errors, counts, suppressed, complete: /<\/valgrindoutput>\s*$/.test(xml) };
}

function show(error) {
  const lines = [`--- ${error.kind}${error.addon ? ' [addon]' : ''}: ${error.what}`];
  error.stacks.forEach((frames, i) => {
    if (i > 0) lines.push(`  ${error.auxwhat[i - 1] ?? 'and'}:`);
    for (const f of frames.slice(0, 40)) {
      const where = f.file ? `${f.file}:${f.line}` : f.obj.split('/').pop();
      lines.push(`    ${ADDON.test(f.obj) ? '>' : ' '} ${f.fn.slice(0, 160)} (${where})`);
    }
  });
  return lines.join('\n');
}

let xml = '';
try {
  xml = fs.readFileSync(xmlFile, 'utf8');
} catch {
  // handled below
}
const { errors, counts, suppressed, complete } = parse(xml);
const failing = [];
const ignored = [];
let definite = 0;
let indirect = 0;
let possible = 0;
for (const error of errors) {
  const leak = error.kind.startsWith('Leak_');
  if (leak) {
    if (error.kind === 'Leak_PossiblyLost' && error.addon) possible += error.bytes;
    if (LEAK_FAIL.has(error.kind) && error.addon) {
      if (error.kind === 'Leak_DefinitelyLost') definite += error.bytes;
      else indirect += error.bytes;
      failing.push(error);
    } else {
      ignored.push(error);
    }
  } else if (error.addon || CORRUPTION.has(error.kind)) {
    failing.push(error);
  } else {
    ignored.push(error);
  }
}

// Print the biggest offenders first, at most MAX_SHOWN of each group.
const MAX_SHOWN = 8;
const bySize = (a, b) => b.bytes - a.bytes;
for (const error of ignored.slice(0, MAX_SHOWN)) console.log(`(not attributed to the addon, ignored) ${show(error)}`);
if (ignored.length > MAX_SHOWN) console.log(`(... ${ignored.length - MAX_SHOWN} more ignored)`);
const failingSorted = [
  ...failing.filter((e) => !e.kind.startsWith('Leak_')),
  ...failing.filter((e) => e.kind.startsWith('Leak_')).sort(bySize),
];
for (const error of failingSorted.slice(0, MAX_SHOWN)) console.error(show(error));
if (failing.length > MAX_SHOWN) console.error(`(... ${failing.length - MAX_SHOWN} more failing error contexts: see the XML)`);

const driverLine = (() => {
  try {
    return /^driver: .*$/m.exec(fs.readFileSync(driverLogFile, 'utf8'))?.[0] ?? 'driver: no summary line';
  } catch {
    return 'driver: no log';
  }
})();
const memErrors = failing.filter((e) => !e.kind.startsWith('Leak_'));
const occurrences = memErrors.reduce((n, e) => n + (counts.get(e.unique) ?? 1), 0);
const problems = [];
if (!complete) problems.push('valgrind output incomplete (crash or timeout?)');
if (driverExit !== 0) problems.push(`driver exited ${driverExit}`);
if (memErrors.length > 0) problems.push(`${memErrors.length} memory error contexts (${occurrences} occurrences)`);
if (definite + indirect > 0) problems.push(`${definite} B definitely + ${indirect} B indirectly lost`);

const verdict = problems.length === 0 ? 'PASS' : `FAIL (${problems.join('; ')})`;
console.log(
  `memcheck: ${verdict} | addon: ${memErrors.length} invalid access/uninit errors, ${definite} B definitely + ${indirect} B indirectly lost` +
    `${possible ? `, ${possible} B possibly lost` : ''} | node-only ignored: ${ignored.length}, suppressed: ${suppressed}` +
    ` | ${driverLine.replace(/^driver: /, 'driver ')} | ${seconds} s`,
);
process.exitCode = problems.length === 0 ? 0 : 1;
