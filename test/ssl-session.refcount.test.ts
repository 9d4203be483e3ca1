/**
 * Reference counts and lifetimes: each SslSession handle owns exactly one SSL_SESSION
 * reference (dispose() frees it now, the finalizer otherwise, never both); connections and
 * contexts are freed/closed explicitly or by GC, in any order relative to each other and to
 * the sessions they produced. GC scenarios run in child processes (test/children/*.cjs,
 * `node --expose-gc`) over the raw addon, and report JSON.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  OP,
  SHUTDOWN,
  SslConnection,
  SslContext,
  type SslContextOptions,
  SslSession,
  handshakeInMemory,
  pipe,
  shutdownInMemory,
  transfer,
} from '../lib/index.js';
import { binding, packageRoot } from '../lib/native.js';
import { clientContext, serverContext } from './helpers/fixtures.js';

const TLS12_ID: SslContextOptions = { maxVersion: 'TLSv1.2', options: OP.NO_TICKET };

type AnyMethod = (...args: unknown[]) => unknown;

function codeOf(fn: () => unknown): { type: string; code: unknown } | null {
  try {
    fn();
    return null;
  } catch (error) {
    return { type: (error as Error).constructor.name, code: (error as { code?: unknown }).code };
  }
}

function connected(serverOptions: SslContextOptions = {}) {
  const serverCtx = serverContext(serverOptions);
  const clientCtx = clientContext();
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  handshakeInMemory(client, server);
  client.read(); // TLS 1.3 tickets
  pipe(client, server);
  const session = client.get1Session();
  if (session === null) throw new Error('no session');
  return { serverCtx, clientCtx, client, server, session };
}

function resumes(serverCtx: SslContext, clientCtx: SslContext, session: SslSession): boolean {
  const client = new SslConnection(clientCtx);
  const server = new SslConnection(serverCtx);
  client.setSession(session);
  handshakeInMemory(client, server);
  const reused = client.sessionReused();
  shutdownInMemory(client, server);
  client.free();
  server.free();
  return reused;
}

/** Own methods of a native prototype (the whole native surface of that class). */
function nativeMethods(proto: object): string[] {
  return Object.getOwnPropertyNames(proto).filter(
    (name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === 'function',
  );
}

describe('SslSession handles', () => {
  it('cannot be constructed with new (ERR_ILLEGAL_CONSTRUCTOR), from the TS class, the raw class or a subclass', () => {
    const Ctor = SslSession as unknown as new () => unknown;
    const Raw = binding.SslSession as unknown as new () => unknown;
    class Sub extends (SslSession as unknown as new () => object) {}
    for (const make of [() => new Ctor(), () => new Raw(), () => new Sub()]) {
      expect(codeOf(make)).toEqual({ type: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR' });
    }
  });

  it('after dispose() every method throws TypeError ERR_SESSION_DISPOSED, a second dispose() too', () => {
    const { session } = connected();
    const other = session.dup();
    const args: Record<string, unknown[]> = { setTime: [1], setTimeout: [1], isSame: [other] };
    session.dispose();
    expect(session.disposed).toBe(true);

    const names = [...nativeMethods(binding.SslSession.prototype), 'describe'];
    expect(names).toEqual(expect.arrayContaining(['toDER', 'toPEM', 'getId', 'upRef', 'dup', 'dispose', 'setTime']));
    for (const name of names) {
      const method = (session as unknown as Record<string, AnyMethod>)[name];
      expect(typeof method, name).toBe('function');
      expect({ name, error: codeOf(() => method?.apply(session, args[name] ?? [])) }).toEqual({
        name,
        error: { type: 'TypeError', code: 'ERR_SESSION_DISPOSED' },
      });
    }
    // Handing a disposed session to anything else is the same error.
    const conn = new SslConnection(clientContext());
    const ctx = serverContext();
    for (const use of [
      () => other.isSame(session),
      () => conn.setSession(session),
      () => ctx.addSession(session),
      () => ctx.removeSession(session),
    ]) {
      expect(codeOf(use)).toEqual({ type: 'TypeError', code: 'ERR_SESSION_DISPOSED' });
    }
    expect(inspect(session)).toBe('SslSession <disposed>');
    other.dispose();
  });

  it('[Symbol.dispose] is idempotent, also after dispose(), and `using` disposes at scope exit', () => {
    const { session } = connected();
    const a = session.upRef();
    a[Symbol.dispose]();
    expect(a.disposed).toBe(true);
    expect(() => a[Symbol.dispose]()).not.toThrow();
    const b = session.upRef();
    b.dispose();
    expect(() => b[Symbol.dispose]()).not.toThrow();

    let escaped: SslSession | undefined;
    {
      using scoped = session.upRef();
      escaped = scoped;
      expect(scoped.disposed).toBe(false);
    }
    expect(escaped.disposed).toBe(true);
    {
      using early = session.upRef();
      early.dispose(); // the implicit dispose at scope exit must not throw
    }
    expect(session.disposed).toBe(false);
    expect(session.isResumable()).toBe(true);
  });

  it('upRef() gives an independent handle to the same SSL_SESSION; dup() a separate copy', () => {
    const { serverCtx, clientCtx, session } = connected();
    const der = session.toDER();
    const second = session.upRef();
    const copy = session.dup();
    expect(second).toBeInstanceOf(SslSession);
    expect(second.isSame(session)).toBe(true);
    expect(session.isSame(second)).toBe(true);
    expect(copy.isSame(session)).toBe(false);
    expect(copy.toDER().equals(der)).toBe(true);

    session.dispose();
    expect(second.disposed).toBe(false);
    expect(second.toDER().equals(der)).toBe(true);
    expect(resumes(serverCtx, clientCtx, second)).toBe(true);
    second.dispose();
    expect(copy.toDER().equals(der)).toBe(true);
    expect(resumes(serverCtx, clientCtx, copy)).toBe(true);
    copy.dispose();
  });

  it('get1Session() twice gives two handles, each owning its own reference', () => {
    const { client, session } = connected();
    const again = client.get1Session();
    if (again === null) throw new Error('no session');
    expect(again.isSame(session)).toBe(true);
    session.dispose();
    client.free();
    expect(again.toDER().length).toBeGreaterThan(0);
    again.dispose();
  });

  it.each([
    { name: 'TLS 1.3', server: {} },
    { name: 'TLS 1.2 (ticket)', server: { maxVersion: 'TLSv1.2' } as SslContextOptions },
    { name: 'TLS 1.2 (session id)', server: TLS12_ID },
  ])('$name: a session disposed right after setSession() still resumes (OpenSSL holds its own reference)', ({ server }) => {
    const made = connected(server);
    shutdownInMemory(made.client, made.server);
    const handles = [made.session, made.session.upRef()];
    const client = new SslConnection(made.clientCtx);
    const peer = new SslConnection(made.serverCtx);
    client.setSession(made.session);
    for (const h of handles) h.dispose(); // no JS handle is left
    handshakeInMemory(client, peer);
    expect(client.sessionReused()).toBe(true);
    expect(peer.sessionReused()).toBe(true);
    // And the connection hands the session back to JS, alive.
    const back = client.get1Session();
    expect(back?.isResumable()).toBe(true);
    back?.dispose();
  });

  it('the disposed getter refuses a receiver that is not an SslSession (ERR_INVALID_THIS)', () => {
    const getter = Object.getOwnPropertyDescriptor(binding.SslSession.prototype, 'disposed')?.get;
    if (getter === undefined) throw new Error('no disposed getter');
    const { session, serverCtx, client } = connected();
    expect(getter.call(session)).toBe(false);
    for (const receiver of [{}, serverCtx, client, Object.create(SslSession.prototype) as object, null, 1]) {
      expect(codeOf(() => getter.call(receiver))).toEqual({ type: 'TypeError', code: 'ERR_INVALID_THIS' });
    }
    // Methods were already guarded by V8 (napi_define_class gives them a signature).
    expect(codeOf(() => (binding.SslSession.prototype.toDER as AnyMethod).call(serverCtx))?.type).toBe('TypeError');
  });
});

describe('connections and contexts after free() / close()', () => {
  it('every SslConnection method throws ERR_CONNECTION_FREED after free(); free() twice too; [Symbol.dispose] does not', () => {
    const { client } = connected();
    client.free();
    expect(client.freed).toBe(true);
    expect(() => client[Symbol.dispose]()).not.toThrow();
    const args: Record<string, unknown[]> = {
      feed: [Buffer.from('x')],
      write: [Buffer.from('x')],
      setSession: [null],
      setShutdown: [SHUTDOWN.SENT],
      setQuietShutdown: [true],
      setTlsextHostName: ['localhost'],
      set1Host: ['localhost'],
      setSessionListener: [null],
      setKeylogListener: [null],
    };
    const names = [...nativeMethods(binding.SslConnection.prototype), 'verifyResultString'];
    expect(names).toEqual(expect.arrayContaining(['doHandshake', 'read', 'write', 'get1Session', 'free']));
    for (const name of names) {
      const method = (client as unknown as Record<string, AnyMethod>)[name];
      expect({ name, error: codeOf(() => method?.apply(client, args[name] ?? [])) }).toEqual({
        name,
        error: { type: 'TypeError', code: 'ERR_CONNECTION_FREED' },
      });
    }
  });

  it('every SslContext method throws ERR_CONTEXT_CLOSED after close(); close() twice too; [Symbol.dispose] does not', () => {
    const ctx = serverContext();
    ctx.close();
    expect(ctx.closed).toBe(true);
    expect(() => ctx[Symbol.dispose]()).not.toThrow();
    const { session } = connected();
    const args: Record<string, unknown[]> = {
      setMinProtoVersion: ['TLSv1.2'],
      setMaxProtoVersion: ['TLSv1.3'],
      setOptions: [OP.NO_TICKET],
      clearOptions: [OP.NO_TICKET],
      // Not PEM: would be an OpenSSLError, but the closed check comes first.
      useCertificateChain: ['not PEM'],
      usePrivateKey: ['not PEM'],
      addCaCertificates: ['not PEM'],
      setVerify: [0],
      setVerifyDepth: [1],
      setCipherList: ['DEFAULT'],
      setCiphersuites: ['TLS_AES_128_GCM_SHA256'],
      setAlpnProtos: [['h2']],
      setSessionIdContext: ['x'],
      setTimeout: [1],
      setSessionCacheMode: [0],
      setSessionCacheSize: [1],
      setNumTickets: [1],
      flushSessions: [0],
      addSession: [session],
      removeSession: [session],
      sessSetNewCb: [null],
      sessSetRemoveCb: [null],
      sessSetGetCb: [null],
      onNewSession: [null],
      onRemoveSession: [null],
      onGetSession: [null],
    };
    const names = [...nativeMethods(binding.SslContext.prototype), 'onNewSession', 'onRemoveSession', 'onGetSession'];
    expect(names).toEqual(expect.arrayContaining(['stats', 'close', 'setTimeout', 'addSession']));
    for (const name of names) {
      const method = (ctx as unknown as Record<string, AnyMethod>)[name];
      const error = codeOf(() => method?.apply(ctx, args[name] ?? []));
      expect({ name, error }).toEqual({ name, error: { type: 'TypeError', code: 'ERR_CONTEXT_CLOSED' } });
    }
    expect(codeOf(() => new SslConnection(ctx))).toEqual({ type: 'TypeError', code: 'ERR_CONTEXT_CLOSED' });
    session.dispose();
  });

  it('connections made before close() finish their handshake and keep working', () => {
    const serverCtx = serverContext();
    const clientCtx = clientContext();
    const client = new SslConnection(clientCtx);
    const server = new SslConnection(serverCtx);
    client.doHandshake();
    pipe(client, server);
    server.doHandshake(); // ServerHello ... Finished written
    serverCtx.close();
    clientCtx.close();
    handshakeInMemory(client, server);
    expect(client.isInitFinished()).toBe(true);
    expect(transfer(server, client, Buffer.from('still here')).toString()).toBe('still here');
    const session = client.get1Session();
    expect(session?.isResumable()).toBe(true);
    expect(shutdownInMemory(client, server)).toEqual([1, 1]);
    client.free();
    server.free();
    expect(session?.toDER().length).toBeGreaterThan(0);
    session?.dispose();
  });

  // Sessions disposed before/after their connections are freed and their contexts closed, in
  // every order. The server keeps the session in its cache (TLS 1.2 by id), so close() flushes
  // a session that JS may still hold.
  const steps = ['session', 'connections', 'contexts'] as const;
  const orders = steps.flatMap((a) => steps.filter((b) => b !== a).map((b) => [a, b, steps.find((c) => c !== a && c !== b)!] as const));

  it.each(orders.map((order) => ({ order, name: order.join(' → ') })))('$name', ({ order }) => {
    const made = connected(TLS12_ID);
    const serverSession = made.server.get1Session();
    if (serverSession === null) throw new Error('no server session');
    const removed: SslSession[] = [];
    made.serverCtx.onRemoveSession((s) => removed.push(s));
    const done = new Set<string>();

    const exerciseRemaining = (): void => {
      if (!done.has('session')) {
        expect(made.session.toDER().length).toBeGreaterThan(0);
        expect(serverSession.getId()).toEqual(made.session.getId());
      }
      if (!done.has('connections')) {
        expect(transfer(made.client, made.server, Buffer.from('ping')).toString()).toBe('ping');
        // The connection's own reference keeps the session, whatever JS did with its handles.
        const current = made.client.get1Session();
        if (current === null) throw new Error('no session');
        if (!done.has('session')) expect(current.isSame(made.session)).toBe(true);
        expect(current.isResumable()).toBe(true);
        current.dispose();
      }
      if (!done.has('contexts')) expect(made.serverCtx.stats().accept).toBe(1);
    };

    for (const step of order) {
      if (step === 'session') {
        made.session.dispose();
        serverSession.dispose();
      } else if (step === 'connections') {
        shutdownInMemory(made.client, made.server);
        made.client.free();
        made.server.free();
      } else {
        made.serverCtx.close();
        made.clientCtx.close();
      }
      done.add(step);
      exerciseRemaining();
    }

    // close() handed the one cached session to JS: a live handle whatever came before.
    expect(removed).toHaveLength(1);
    expect(removed[0]?.getId().length).toBeGreaterThan(0);
    expect(removed[0]?.toDER().length).toBeGreaterThan(0);
    expect(codeOf(() => made.session.toDER())?.code).toBe('ERR_SESSION_DISPOSED');
    expect(codeOf(() => serverSession.getId())?.code).toBe('ERR_SESSION_DISPOSED');
    expect(codeOf(() => made.client.read())?.code).toBe('ERR_CONNECTION_FREED');
    expect(codeOf(() => made.server.get1Session())?.code).toBe('ERR_CONNECTION_FREED');
    expect(codeOf(() => made.serverCtx.stats())?.code).toBe('ERR_CONTEXT_CLOSED');
    expect(codeOf(() => made.clientCtx.stats())?.code).toBe('ERR_CONTEXT_CLOSED');
    removed[0]?.dispose();
  });
});

// ----- garbage collection, in child processes ------------------------------------------

const children = join(packageRoot, 'test', 'children');

interface ChildResult<T> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  json: T;
}

function runChild<T>(script: string, ...args: string[]): ChildResult<T> {
  const run = spawnSync(process.execPath, ['--expose-gc', join(children, script), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const lines = run.stdout.trim().split('\n');
  let json: T;
  try {
    json = JSON.parse(lines.at(-1) ?? '') as T;
  } catch {
    throw new Error(`${script} ${args.join(' ')}: no JSON (status ${run.status}, signal ${run.signal})\n${run.stdout}\n${run.stderr}`);
  }
  return { status: run.status, signal: run.signal, stderr: run.stderr, json };
}

function expectClean(result: ChildResult<unknown>): void {
  expect({ status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
}

interface Collected {
  created: Record<string, number>;
  collected: Record<string, number>;
  rounds: number;
}

describe('garbage collection (node --expose-gc children)', () => {
  it('many contexts, connections (finished, unfinished, never shut down) and sessions dropped undisposed are all collected', () => {
    const result = runChild<Collected & { illegal: unknown }>('gc-lifetimes.cjs', 'churn');
    expectClean(result);
    const { created, collected, rounds, illegal } = result.json;
    expect(created).toEqual({ context: 60, connection: 210, session: 450 });
    expect(collected).toEqual(created);
    expect(rounds).toBeGreaterThan(0);
    expect(illegal).toEqual({ name: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR' });
  });

  it('connections collected before their context: SSL_free ran (no close_notify: sessions dropped), no callback reached JS, the contexts still work', () => {
    const result = runChild<
      Collected & {
        cachedBefore: number;
        cachedAfter: number;
        resumableBefore: number;
        resumableAfter: number;
        removeCallsDuringGc: number;
        reused: boolean;
        stats: { accept: number; acceptGood: number; hits: number; number: number };
      }
    >('gc-lifetimes.cjs', 'connectionsFirst');
    expectClean(result);
    const r = result.json;
    expect(r.collected).toEqual(r.created);
    expect(r.created).toEqual({ connection: 20 });
    // Observable effects of the finalizers' SSL_free (ssl_clear_bad_session): the server
    // cache lost the ten sessions, and the client's sessions were marked not resumable.
    expect([r.cachedBefore, r.cachedAfter]).toEqual([10, 0]);
    expect([r.resumableBefore, r.resumableAfter]).toEqual([10, 0]);
    // ... while the remove callback, which must not run from a finalizer, stayed silent.
    expect(r.removeCallsDuringGc).toBe(0);
    expect(r.reused).toBe(true);
    expect(r.stats).toMatchObject({ accept: 12, acceptGood: 12, hits: 1, number: 1 });
  });

  it("a session outlives the contexts and connections that made it (context GC'd first), and still resumes elsewhere", () => {
    const result = runChild<Collected & { fields: Record<string, unknown>; added: boolean; reused: boolean; hits: number }>(
      'gc-lifetimes.cjs',
      'sessionOutlivesContext',
    );
    expectClean(result);
    const r = result.json;
    expect(r.created).toEqual({ context: 2, connection: 2 });
    expect(r.collected).toEqual(r.created);
    expect(r.fields).toEqual({ time: true, timeout: 300, sameId: true, derRoundTrip: true, clientResumable: true });
    expect(r.added).toBe(true);
    expect(r.reused).toBe(true);
    expect(r.hits).toBe(1);
  });

  it('sessions handed to JS by callbacks stay usable after their contexts are closed, and are collected later', () => {
    const result = runChild<{
      counts: Record<string, number>;
      handedOut: number;
      collected: number;
      rounds: number;
      cachedBeforeClose: number;
      received: string;
      usable: boolean;
      sameAsNew: number;
      closedErrors: Record<string, unknown>;
      resumed: boolean[];
    }>('gc-lifetimes.cjs', 'closeWithSessionsOut');
    expectClean(result);
    const r = result.json;
    // 5 finished connections + 1 live one: 6 new sessions on each side; close() flushed the
    // 6 cached server sessions through the remove callback (the same SSL_SESSIONs).
    expect(r.counts).toEqual({ serverNew: 6, serverRemoved: 6, clientNew: 6 });
    expect(r.cachedBeforeClose).toBe(6);
    expect(r.sameAsNew).toBe(6);
    expect(r.received).toBe('after close');
    expect(r.usable).toBe(true);
    const closed = { name: 'TypeError', code: 'ERR_CONTEXT_CLOSED' };
    expect(r.closedErrors).toEqual({ stats: closed, connection: closed, close: closed });
    expect(r.resumed).toEqual([true, true, true, true, true, true]);
    expect(r.handedOut).toBe(19);
    expect(r.collected).toBe(19);
  });

  it('a process exits cleanly with live contexts, connections and sessions (env teardown)', () => {
    const result = runChild<{ cached: number; resumable: boolean }>('gc-lifetimes.cjs', 'exitWithLiveObjects');
    expectClean(result);
    expect(result.json).toEqual({ cached: 1, resumable: true });
  });

  describe('callbacks that reach their own owner', () => {
    let cycles: ChildResult<{ collected: Record<string, boolean> }>;
    beforeAll(() => {
      cycles = runChild('gc-lifetimes.cjs', 'callbackCycles');
    });

    it('the child ran cleanly', () => {
      expectClean(cycles);
    });

    it.each(['contextCbNoCycle', 'contextCycleUnset', 'connectionCycleFreed'])('%s is collected', (tag) => {
      expect(cycles.json.collected[tag]).toBe(true);
    });

    // Callbacks (and a connection's link to its context) live as properties of the wrapper's
    // own JS object, not as napi references (GC roots), so a callback that reaches its own
    // context or connection forms an ordinary cycle GC collects; close() drops them too.
    it.each(['contextNewCbOwnContext', 'contextRemoveCbOwnContext', 'contextCycleClosed', 'connectionListenerOwnConnection'])(
      '%s is collected',
      (tag) => {
        expect(cycles.json.collected[tag]).toBe(true);
      },
    );
  });

  it('20k sessions from fromDER, dropped undisposed (x5), do not grow RSS: finalizers free them', () => {
    const bound = 30 * 1024 * 1024;
    const result = runChild<{ batch: number; rounds: number; heldBatchBytes: number; growthBytes: number }>(
      'session-memory.cjs',
      '20000',
      '5',
    );
    expectClean(result);
    const { batch, rounds, heldBatchBytes, growthBytes } = result.json;
    expect([batch, rounds]).toEqual([20000, 5]);
    // The check has teeth: were nothing freed, the rounds would grow RSS well past the bound.
    expect(heldBatchBytes * rounds).toBeGreaterThan(2 * bound);
    expect(growthBytes).toBeLessThan(bound);
  });
});
