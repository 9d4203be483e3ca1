/**
 * Property test over the public API with fast-check: every method of SslContext,
 * SslConnection, SslSession and SslSessionCache (and the static entry points) called with
 * arguments of random types and ranges — numbers at and past every boundary, NaN, bigints,
 * strings with NULs, typed arrays, wrapped objects of the wrong class, disposed/closed/freed
 * objects, functions that throw, proxies — either returns or throws TypeError, RangeError
 * (both with a node-style `code`) or OpenSSLError. Never a crash, never another class.
 * Then random sequences of operations over a small world of live objects (handshakes,
 * callbacks that dispose or close, dispose/close/free in any order).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { SslSessionCache } from '../lib/cache/index.js';
import {
  OpenSSLError,
  SslConnection,
  SslContext,
  SslSession,
  drain,
  fromNodeSession,
  handshakeInMemory,
  pipe,
  shutdownInMemory,
  toNodeSession,
  transfer,
} from '../lib/index.js';
import { clientContext, serverContext } from './helpers/fixtures.js';

/** Thrown by the callbacks of the sequence test: the library rethrows it from the step, as documented. */
class CallbackError extends Error {}

/**
 * Calls that throw a TypeError WITHOUT a node-style code: the class is right (the property
 * holds), but the argument was not validated, so the message is V8's ("x.y is not a
 * function"). Reported to the owners of these files; a new entry here fails the test.
 */
const KNOWN_UNCODED = new Set<string>([]);

/** What a rejected call may throw; anything else fails the property. `uncoded` collects TypeErrors without a code. */
function allowed(error: unknown, name = '', uncoded?: Set<string>): string | null {
  if (error instanceof OpenSSLError || error instanceof CallbackError) return null;
  if (error instanceof TypeError || error instanceof RangeError) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_')) uncoded?.add(name);
    return null;
  }
  return `${(error as Error)?.constructor?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`;
}

/** A real TLS 1.2 session (DER) to make fresh SslSession handles from. */
const sessionDER = (() => {
  const sctx = serverContext({ maxVersion: 'TLSv1.2' });
  const cctx = clientContext();
  const c = new SslConnection(cctx);
  const s = new SslConnection(sctx);
  handshakeInMemory(c, s);
  drain(c, s);
  shutdownInMemory(c, s);
  const der = c.get1Session()!.toDER();
  c.free();
  s.free();
  sctx.close();
  cctx.close();
  return der;
})();

/** Objects of every wrapped class, live and dead, to pass where something else is expected. */
function specimens(): unknown[] {
  const live = SslSession.fromDER(sessionDER);
  const disposed = SslSession.fromDER(sessionDER);
  disposed.dispose();
  const ctx = clientContext();
  const closed = clientContext();
  closed.close();
  const conn = new SslConnection(ctx);
  const freed = new SslConnection(ctx);
  freed.free();
  return [live, disposed, ctx, closed, conn, freed, new SslSessionCache()];
}

const weird = fc.constantFrom<unknown>(
  -1,
  0,
  1,
  0.5,
  -0,
  255,
  256,
  0xffff,
  0x10000,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  NaN,
  Infinity,
  -Infinity,
  10n,
  -1n,
  '',
  '\0',
  'a\0b',
  'TLSv1.3',
  'TLSv1.2',
  'client',
  'server',
  'DEFAULT',
  'x'.repeat(5000),
  '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  [],
  [''],
  ['h2'],
  ['x'.repeat(300)],
  {},
  Object.create(null),
  new Proxy(
    {},
    {
      get: () => {
        throw new Error('trap');
      },
    },
  ),
  Symbol('s'),
  () => 1,
  () => {
    throw new Error('callback threw');
  },
  new Uint8Array(0),
  new Uint8Array(40),
  Buffer.from('not der'),
  new Uint16Array(3),
  new DataView(new ArrayBuffer(4)),
  new ArrayBuffer(8),
  new Date(0),
  /re/,
  Promise.resolve(1),
);

const anyArg = fc.oneof(
  {
    arbitrary: fc.anything({ withBigInt: true, withBoxedValues: true, withTypedArray: true, withNullPrototype: true, maxDepth: 2 }),
    weight: 3,
  },
  { arbitrary: weird, weight: 4 },
  { arbitrary: fc.uint8Array({ maxLength: 80 }), weight: 1 },
  { arbitrary: fc.integer(), weight: 1 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
);

type Method = (...a: unknown[]) => unknown;

/** Own method names of a class and its parents up to (not including) Object. */
function methodsOf(proto: object, skip: string[] = []): string[] {
  const names = new Set<string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (name !== 'constructor' && typeof d?.value === 'function' && !skip.includes(name)) names.add(name);
    }
  }
  return [...names].sort();
}

/** Calls `fn`; returns a complaint, or null when it behaved. Awaits promises. */
async function call(fn: () => unknown, name = '', uncoded?: Set<string>): Promise<string | null> {
  try {
    const result = fn();
    if (result instanceof Promise) await result;
    return null;
  } catch (error) {
    return allowed(error, name, uncoded);
  }
}

const uncoded = new Set<string>();

interface Subject {
  name: string;
  make: () => { target: object; cleanup: () => void };
  skip?: string[];
}

const subjects: Subject[] = [
  {
    name: 'SslContext (server)',
    make: () => {
      const ctx = new SslContext('server'); // no certificate: ~20x cheaper to make than serverContext()
      return { target: ctx, cleanup: () => ctx[Symbol.dispose]() };
    },
  },
  {
    name: 'SslContext (client)',
    make: () => {
      const ctx = new SslContext('client');
      return { target: ctx, cleanup: () => ctx[Symbol.dispose]() };
    },
  },
  {
    name: 'SslConnection',
    make: () => {
      const ctx = clientContext();
      const conn = new SslConnection(ctx);
      return {
        target: conn,
        cleanup: () => {
          conn[Symbol.dispose]();
          ctx[Symbol.dispose]();
        },
      };
    },
  },
  {
    name: 'SslSession',
    make: () => {
      const s = SslSession.fromDER(sessionDER);
      return { target: s, cleanup: () => s[Symbol.dispose]() };
    },
  },
  {
    name: 'SslSessionCache',
    make: () => {
      const cache = new SslSessionCache({ maxPeers: 4 });
      return { target: cache, cleanup: () => cache.dispose() };
    },
    // connect() opens sockets; the EventEmitter plumbing is node's.
    skip: [
      'connect',
      'emit',
      'on',
      'once',
      'off',
      'addListener',
      'removeListener',
      'prependListener',
      'prependOnceListener',
      'removeAllListeners',
      'setMaxListeners',
      'getMaxListeners',
      'listeners',
      'rawListeners',
      'listenerCount',
      'eventNames',
    ],
  },
];

const RUNS = 100;
/** Methods that are slow per call (createContext() loads node's ~140 root CAs). */
const RUNS_FOR: Record<string, number> = { createContext: 20 };

describe('every public method, random argument types (fast-check)', () => {
  const extra = specimens();
  const withSpecimens = fc.array(fc.oneof(anyArg, fc.constantFrom(...extra)), { maxLength: 4 });

  for (const subject of subjects) {
    const sample = subject.make();
    const names = methodsOf(Object.getPrototypeOf(sample.target) as object, subject.skip);
    sample.cleanup();

    it(`${subject.name}: ${names.length} methods x up to ${RUNS} calls throw only TypeError/RangeError or OpenSSLError`, async () => {
      expect(names.length).toBeGreaterThan(5);
      const complaints = new Map<string, string>();
      let calls = 0;
      let expected = 0;
      for (const name of names) {
        const numRuns = RUNS_FOR[name] ?? RUNS;
        expected += numRuns;
        await fc.assert(
          fc.asyncProperty(withSpecimens, async (a) => {
            const { target, cleanup } = subject.make();
            calls++;
            const complaint = await call(() => (target as Record<string, Method>)[name]!.apply(target, a), name, uncoded);
            if (complaint !== null && !complaints.has(name)) complaints.set(name, complaint);
            try {
              cleanup();
            } catch (error) {
              // cleanup after a call that closed the object must still behave
              const late = allowed(error);
              if (late !== null) complaints.set(`${name} (cleanup)`, late);
            }
          }),
          { numRuns, seed: 42 },
        );
      }
      expect(Object.fromEntries(complaints)).toEqual({});
      expect(calls).toBe(expected);
    });
  }

  it('static entry points and helpers: fromDER, fromPEM, constructors, engine helpers, interop', async () => {
    const entry: Record<string, (a: unknown[]) => unknown> = {
      'SslSession.fromDER': (a) => SslSession.fromDER(a[0] as Uint8Array),
      'SslSession.fromPEM': (a) => SslSession.fromPEM(a[0] as string),
      'new SslContext': (a) => new SslContext(a[0] as 'client', a[1] as object),
      'new SslConnection': (a) => new SslConnection(a[0] as SslContext),
      'new SslSessionCache': (a) => new SslSessionCache(a[0] as object),
      fromNodeSession: (a) => fromNodeSession(a[0] as Uint8Array),
      toNodeSession: (a) => toNodeSession(a[0] as SslSession),
      handshakeInMemory: (a) => handshakeInMemory(a[0] as SslConnection, a[1] as SslConnection),
      pipe: (a) => pipe(a[0] as SslConnection, a[1] as SslConnection),
      transfer: (a) => transfer(a[0] as SslConnection, a[1] as SslConnection, a[2] as Uint8Array),
    };
    const complaints = new Map<string, string>();
    for (const [name, fn] of Object.entries(entry)) {
      await fc.assert(
        fc.asyncProperty(withSpecimens, async (a) => {
          const complaint = await call(
            () => {
              const made = fn(a);
              if (made instanceof SslContext) made.close();
              else if (made instanceof SslConnection) made.free();
              else if (made instanceof SslSession) made.dispose();
              else if (made instanceof SslSessionCache) made.dispose();
            },
            name,
            uncoded,
          );
          if (complaint !== null && !complaints.has(name)) complaints.set(name, complaint);
        }),
        { numRuns: RUNS * 2, seed: 7 },
      );
    }
    expect(Object.fromEntries(complaints)).toEqual({});
  });
});

describe('argument validation coverage', () => {
  it('TypeErrors without a node-style code come only from the known, reported call sites', () => {
    // Runs after the properties above (vitest runs a file's tests in order).
    expect([...uncoded].filter((name) => !KNOWN_UNCODED.has(name))).toEqual([]);
  });
});

// ----- random operation sequences over live objects ------------------------------------------

type Op =
  | { op: 'handshake'; c: number; s: number; resume: boolean }
  | { op: 'dispose'; what: 'session' | 'client' | 'server' | 'cctx' | 'sctx' | 'cache'; i: number }
  | { op: 'callback'; kind: 'new' | 'remove' | 'get'; behaviour: 'keep' | 'dispose' | 'throw' | 'close' | 'return' }
  | { op: 'flush' }
  | { op: 'cache'; i: number }
  | { op: 'gcish' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('handshake' as const), c: fc.nat(2), s: fc.nat(2), resume: fc.boolean() }),
  fc.record({
    op: fc.constant('dispose' as const),
    what: fc.constantFrom('session', 'client', 'server', 'cctx', 'sctx', 'cache') as fc.Arbitrary<'session'>,
    i: fc.nat(3),
  }),
  fc.record({
    op: fc.constant('callback' as const),
    kind: fc.constantFrom('new', 'remove', 'get') as fc.Arbitrary<'new'>,
    behaviour: fc.constantFrom('keep', 'dispose', 'throw', 'close', 'return') as fc.Arbitrary<'keep'>,
  }),
  fc.record({ op: fc.constant('flush' as const) }),
  fc.record({ op: fc.constant('cache' as const), i: fc.nat(3) }),
  fc.record({ op: fc.constant('gcish' as const) }),
);

describe('random operation sequences (fast-check commands over a small world)', () => {
  it('handshakes, callbacks that keep/dispose/throw/close, and dispose/close/free in any order never crash or throw another class', async () => {
    let sequences = 0;
    let operations = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        sequences++;
        const sctx = [serverContext({ maxVersion: 'TLSv1.2', options: 0x4000 }), serverContext()];
        const cctx = [clientContext(), clientContext({ maxVersion: 'TLSv1.2' })];
        const clients: SslConnection[] = [];
        const servers: SslConnection[] = [];
        const sessions: SslSession[] = [];
        const cache = new SslSessionCache();
        const problems: string[] = [];
        const guard = async (what: string, fn: () => unknown) => {
          const complaint = await call(fn);
          if (complaint !== null) problems.push(`${what}: ${complaint}`);
        };
        for (const o of ops) {
          operations++;
          switch (o.op) {
            case 'handshake':
              await guard('handshake', () => {
                const c = new SslConnection(cctx[o.c % 2]!);
                const s = new SslConnection(sctx[o.s % 2]!);
                clients.push(c);
                servers.push(s);
                const offered = sessions.at(-1);
                if (o.resume && offered) c.setSession(offered);
                handshakeInMemory(c, s);
                drain(c, s);
                const got = c.get1Session();
                if (got) sessions.push(got);
                if (o.resume) shutdownInMemory(c, s);
              });
              break;
            case 'dispose': {
              const list = { session: sessions, client: clients, server: servers, cctx, sctx, cache: [cache] }[o.what] as unknown[];
              const victim = list[o.i % Math.max(1, list.length)] as { [Symbol.dispose]?: () => void; dispose?: () => void } | undefined;
              await guard(`dispose ${o.what}`, () => (victim?.[Symbol.dispose] ?? victim?.dispose)?.call(victim));
              break;
            }
            case 'callback': {
              const ctx = sctx[0]!;
              const act = (session: SslSession | null) => {
                if (o.behaviour === 'dispose') session?.dispose();
                else if (o.behaviour === 'throw') throw new CallbackError('callback threw');
                else if (o.behaviour === 'close') ctx.close();
                else if (session) sessions.push(session);
              };
              await guard(`set ${o.kind} callback`, () => {
                if (o.kind === 'new') ctx.onNewSession((s) => act(s));
                else if (o.kind === 'remove') ctx.onRemoveSession((s) => act(s));
                else
                  ctx.onGetSession(() => {
                    act(null);
                    return o.behaviour === 'return' ? (sessions.at(-1) ?? null) : null;
                  });
              });
              break;
            }
            case 'flush':
              await guard('flush', () => sctx.forEach((c) => c.flushSessions(0)));
              break;
            case 'cache':
              await guard('cache', () => {
                const session = sessions[o.i % Math.max(1, sessions.length)];
                if (session && !session.disposed) cache.set(`peer${o.i}:443|sni=-|cfg=x`, session.upRef());
                cache.getSync(`peer${o.i}:443|sni=-|cfg=x`)?.dispose();
              });
              break;
            default:
              clients.splice(0, 1); // dropped without free: left to GC
          }
        }
        for (const x of [...clients, ...servers]) await guard('final free', () => x[Symbol.dispose]());
        for (const x of sessions) await guard('final dispose', () => x[Symbol.dispose]());
        for (const x of [...sctx, ...cctx]) await guard('final close', () => x[Symbol.dispose]());
        cache.dispose();
        expect(problems).toEqual([]);
      }),
      { numRuns: 300, seed: 2024 },
    );
    expect(sequences).toBe(300);
    expect(operations).toBeGreaterThan(300 * 5);
  });
});
