/**
 * The fuzzer (fuzz/), bounded: ~20k mutated inputs over every target (session DER/PEM
 * parsing, client and server flights into the engine mid-handshake, tampering in transit,
 * bytes after the handshake, ALPN lists, certificates and keys), from the real seed corpus
 * (our engine, node:tls, openssl s_client). A crash kills this worker; an error of the wrong
 * class or a broken invariant is a failure. `npm run fuzz` runs the same for 1 M inputs.
 */
import { describe, expect, it } from 'vitest';

import { buildCorpus } from '../fuzz/corpus.js';
import { fuzz } from '../fuzz/engine.js';
import { Rng, fixTlsLengths, mutate } from '../fuzz/mutate.js';
import { allTargets, applyEdits, classify } from '../fuzz/targets.js';
import { OpenSSLError } from '../lib/index.js';

describe('the mutation engine', () => {
  it('is deterministic for a seed, and mutates', () => {
    const base = Buffer.from('0123456789abcdef'.repeat(8));
    const run = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () => mutate(base, rng, base, 'raw').toString('hex'));
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    expect(run(1).filter((m) => m === base.toString('hex')).length).toBeLessThan(5);
  });

  it('fixTlsLengths rewrites record and handshake lengths to match the bytes', () => {
    const record = Buffer.from([22, 3, 3, 0, 99, 1, 0, 0, 99, 0xaa, 0xbb]);
    expect([...fixTlsLengths(record)]).toEqual([22, 3, 3, 0, 6, 1, 0, 0, 2, 0xaa, 0xbb]);
  });

  it('edit scripts xor, set, insert, truncate and delete', () => {
    const bytes = Buffer.from([1, 2, 3, 4]);
    expect([...applyEdits(bytes, Buffer.from([0, 0, 0, 0xf0]))]).toEqual([0xf0, 2, 3, 4]);
    expect([...applyEdits(bytes, Buffer.from([1, 0, 1, 9]))]).toEqual([1, 9, 3, 4]);
    expect([...applyEdits(bytes, Buffer.from([2, 0, 4, 7]))]).toEqual([1, 2, 3, 4, 7]);
    expect([...applyEdits(bytes, Buffer.from([3, 0, 2, 0]))]).toEqual([1, 2]);
    expect([...applyEdits(bytes, Buffer.from([4, 0, 0, 0]))]).toEqual([2, 3, 4]);
  });

  it('classify() accepts the library error classes and refuses anything else', () => {
    expect(classify(Object.assign(new TypeError('x'), { code: 'ERR_X' }))).toBe('TypeError:ERR_X');
    expect(classify(Object.assign(new OpenSSLError('x'), { code: 'ERR_SSL_Y' }))).toBe('OpenSSLError:ERR_SSL_Y');
    expect(() => classify(new Error('plain'))).toThrow(/unexpected error class Error/);
    expect(() => classify(new TypeError('no code'))).toThrow(/unexpected error class TypeError/);
  });
});

describe('bounded fuzz run', () => {
  it('20k inputs over every target: no crash, no failure, every target reaches its parsers', async () => {
    const corpus = await buildCorpus();
    expect(corpus.sources.engine).toBeGreaterThan(10);
    expect(corpus.sources['node:tls']).toBeGreaterThan(0);
    expect(corpus.transcripts.length).toBeGreaterThan(8);
    const targets = allTargets();
    const stats = fuzz({ targets, corpus, seed: 0x5eed, inputs: 20_000, maxMs: 11_000 });
    expect(stats.failures).toEqual([]);
    console.log(`bounded fuzz: ${stats.inputs} inputs in ${(stats.ms / 1000).toFixed(1)} s`);
    expect(stats.inputs).toBeGreaterThan(10_000); // the time cap only bites on a very slow machine
    for (const target of targets) {
      const t = stats.targets[target.name]!;
      expect({ target: target.name, ran: t.inputs > 100 }).toEqual({ target: target.name, ran: true });
      expect({ target: target.name, outcomes: Object.keys(t.outcomes).length > 2 }).toEqual({ target: target.name, outcomes: true });
    }
    // Mutants that still parse, and connections that survive tampering, are exercised too.
    expect(stats.targets['session-der']!.outcomes.parsed).toBeGreaterThan(100);
    expect(stats.targets['post-handshake']!.outcomes.intact).toBeGreaterThan(10);
    expect(Object.keys(stats.targets['server-flight']!.outcomes).some((o) => o.startsWith('OpenSSLError:ERR_SSL_'))).toBe(true);
  }, 20_000);
});
