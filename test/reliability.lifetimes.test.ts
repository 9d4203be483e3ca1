/**
 * Lifetimes, in child processes (node --expose-gc, test/children/lifetimes.ts): every order
 * of releasing a session, a connection pair, its contexts and an SslSessionCache, each
 * explicitly or by garbage collection (384 scenarios); callbacks that throw, dispose the
 * session they were given, close their own context, free their own connection; a cache
 * disposed from inside its own event. No crash, errors surface as exceptions, nothing leaks.
 */

import { beforeAll, describe, expect, it } from 'vitest';

import { runGcChild } from './helpers/gc-child.js';

function runChild<T>(mode: string): T {
  // The guard-rail warnings (freeing without shutdown is part of the matrix) would go to stderr.
  const run = runGcChild<T>('lifetimes.ts', [mode], { ...process.env, OPENSSL_SESSION_NO_WARNINGS: '1' });
  expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  return run.report as T;
}

describe('release orders (session, connections, contexts, cache) x (explicit | GC)', () => {
  it('384 scenarios: what is alive keeps working after every step; everything is collected; no SSL_SESSION leaks', () => {
    const r = runChild<{
      scenarios: number;
      checks: number;
      problems: string[];
      registered: number;
      collected: number;
      sessionsCreated: number;
      sessionsLeft: number;
      droppedForGc: number;
      collectedInScenario: number;
    }>('orders');
    expect(r.problems).toEqual([]);
    expect(r.scenarios).toBe(384); // 4! orders x 2^4 release modes
    expect(r.checks).toBe(3456);
    expect(r.registered).toBe(384 * 6);
    expect(r.collected).toBe(r.registered);
    expect(r.droppedForGc).toBe(1152); // half the releases went through GC...
    // ...and GC really took them while their scenario ran (WeakRefs cleared), not only at the end.
    expect(r.collectedInScenario).toBeGreaterThan(r.droppedForGc / 2);
    expect(r.sessionsCreated).toBeGreaterThan(1500);
    expect(r.sessionsLeft).toBe(0);
  });
});

describe('callbacks', () => {
  let r: Record<string, Record<string, unknown>>;
  beforeAll(() => {
    r = runChild('callbacks');
  });

  it('onNewSession throwing: the step rethrows that very error; the session was cached and resumes', () => {
    expect(r.newThrows).toEqual({ same: true, cached: 1, resumed: true });
  });

  it('keylog callbacks closing over their own connection and context are collected; closing the context inside one is safe', () => {
    // TLS 1.3: 5 secrets on each side, heard by the server context and the client connection.
    expect(r.keylog).toEqual({ lines: 10, collected: true, closedInside: { calls: 1, closed: true, works: 'ok' } });
  });

  it('onRemoveSession throwing: flushSessions() and close() finish their work, then rethrow', () => {
    expect(r.removeThrows).toEqual({
      first: 3,
      afterFlush: 0,
      removed: 4,
      flushError: 'Error:remove',
      closeError: 'Error:remove',
      closed: true,
    });
  });

  it('onGetSession throwing: the step rethrows it; a full handshake follows', () => {
    expect(r.getThrows).toMatchObject({ boom: true, reused: false });
  });

  it('callbacks disposing the session they were given leave every other handle usable', () => {
    expect(r.disposeGiven).toEqual({ kept: 3, allUsable: true, resumed: true, flushed: null });
  });

  it('a context closed inside its own onNewSession / onGetSession: allowed, the connection finishes and works', () => {
    const closeIn = r.closeInOwnCallback as Record<string, Record<string, unknown>>;
    const closedCtx = 'TypeError:ERR_CONTEXT_CLOSED';
    expect(closeIn.new).toEqual({ error: null, closed: true, reused: false, works: true, stats: closedCtx });
    expect(closeIn['get-null']).toEqual({ error: null, closed: true, reused: false, works: true, stats: closedCtx });
    // The session returned after close() still resumes (OpenSSL holds its own reference).
    expect(closeIn['get-session']).toEqual({ error: null, closed: true, reused: true, works: true, stats: closedCtx });
  });

  it('a context closed inside its own onRemoveSession: ERR_CONTEXT_BUSY there; close() works afterwards', () => {
    const closeIn = r.closeInOwnCallback as Record<string, Record<string, unknown>>;
    expect(closeIn.remove).toEqual({ inside: 'TypeError:ERR_CONTEXT_BUSY', flush: null, closedAfter: null, closed: true });
  });

  it('a connection freed inside a callback of its own step: ERR_CONNECTION_BUSY; other connections may be freed there', () => {
    expect(r.freeInOwnCallback).toEqual({
      inside: 'TypeError:ERR_CONNECTION_BUSY',
      step: null,
      otherFreed: null,
      works: true,
      freeAfter: null,
      listenerFree: ['TypeError:ERR_CONNECTION_BUSY'],
      c2Alive: true,
    });
  });

  it('an SslSessionCache disposed from inside its own evict event, in the middle of set(): no throw, then inert', () => {
    expect(r.cacheDisposeInEvict).toEqual({
      sets: [null, null, null],
      evictions: 1,
      disposed: true,
      getAfter: true,
      setAfter: false,
      stats: 0,
    });
  });
});
