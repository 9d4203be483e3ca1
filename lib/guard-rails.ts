/**
 * Guard-rails: warnings (`process.emitWarning`, type 'OpenSSLSessionWarning', codes below)
 * for uses of the API that work, but silently cost every resumption. Each is emitted once
 * per object or call site, never thrown:
 *
 * - OPENSSL_SESSION_NO_SID_CTX: a server verifies peers (VERIFY.PEER) without a session id
 *   context. OpenSSL then caches nothing and fails every client that offers a session with
 *   "session id context uninitialized" (ssl_get_prev_session). Checked at the context's
 *   first completed server handshake; once per context.
 * - OPENSSL_SESSION_NOT_RESUMABLE_YET: a TLS 1.3 client session taken with get1Session()
 *   before the server's ticket arrived (not resumable, and it never becomes so: the ticket
 *   makes a new session) is then offered with setSession() or stored in a SessionCache.
 *   Once per get1Session() call site.
 * - OPENSSL_SESSION_NO_SHUTDOWN: a connection whose handshake completed is freed (clients)
 *   or garbage-collected (both sides) without shutdown(): SSL_free's ssl_clear_bad_session
 *   drops its session from the cache and marks it not resumable, also the handle you took
 *   with get1Session(). Not for connections that failed (OpenSSL dropped the session at the
 *   fatal alert already). Once per context.
 * - OPENSSL_SESSION_CACHE_MIXED_TRUST: one SessionCache stores sessions for the same
 *   host:port under different configuration digests (different trust options, or contexts
 *   the cache cannot identify). Sessions never cross configurations, but this is usually a
 *   verifying and a non-verifying client sharing a cache by accident, or contexts made
 *   without cache.createContext() (which then never share sessions). Once per cache and host:port.
 *
 * Off: `configureWarnings(false)` (or `{ disable: [codes] }`), or the environment variable
 * OPENSSL_SESSION_NO_WARNINGS=1 (all) / =CODE,CODE (some), read when this module loads.
 * node's own `--no-warnings` hides them too.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WARNING_CODES = {
  noSessionIdContext: 'OPENSSL_SESSION_NO_SID_CTX',
  notResumableYet: 'OPENSSL_SESSION_NOT_RESUMABLE_YET',
  noShutdown: 'OPENSSL_SESSION_NO_SHUTDOWN',
  cacheMixedTrust: 'OPENSSL_SESSION_CACHE_MIXED_TRUST',
} as const;

export type WarningCode = (typeof WARNING_CODES)[keyof typeof WARNING_CODES];

const ALL_CODES: readonly WarningCode[] = Object.values(WARNING_CODES);
const WARNING_TYPE = 'OpenSSLSessionWarning';
// SSL_VERIFY_PEER and TLS1_3_VERSION (constants.ts would load the addon: this module stays leaf).
const VERIFY_PEER = 0x01;
const TLS1_3 = 0x0304;

function fromEnvironment(): Set<WarningCode> {
  const value = (process.env.OPENSSL_SESSION_NO_WARNINGS ?? '').trim();
  if (value === '' || value === '0' || value.toLowerCase() === 'false') return new Set();
  if (['1', 'true', 'all', 'yes'].includes(value.toLowerCase())) return new Set(ALL_CODES);
  return new Set(
    value
      .split(',')
      .map((c) => c.trim())
      .filter((c): c is WarningCode => (ALL_CODES as readonly string[]).includes(c)),
  );
}

let disabled = fromEnvironment();
/** Whether any warning is on: the hot paths check only this. */
export let warningsOn = disabled.size < ALL_CODES.length;

/**
 * Turns the guard-rail warnings on or off: `false` (all off), `true` (all on), or
 * `{ disable: [...codes] }` / `{ enable: [...codes] }`. Overrides OPENSSL_SESSION_NO_WARNINGS.
 */
export function configureWarnings(options: boolean | { enable?: readonly WarningCode[]; disable?: readonly WarningCode[] }): void {
  if (typeof options === 'boolean') disabled = new Set(options ? [] : ALL_CODES);
  else if (options !== null && typeof options === 'object') {
    for (const code of options.enable ?? []) disabled.delete(code);
    for (const code of options.disable ?? []) disabled.add(code);
  } else {
    throw Object.assign(new TypeError('The "options" argument must be a boolean or an object'), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  warningsOn = disabled.size < ALL_CODES.length;
}

/** Whether warnings with `code` are emitted. */
export function warningEnabled(code: WarningCode): boolean {
  return !disabled.has(code);
}

// ----- emission, once per key ---------------------------------------------------------------

const emittedFor = new WeakMap<object, Set<WarningCode>>();
const emittedAt = new Set<string>();
const MAX_SITES = 1000;

function emit(code: WarningCode, message: string, detail: string): void {
  process.emitWarning(`openssl-session: ${message}`, { type: WARNING_TYPE, code, detail });
}

/** Emits `code` unless already emitted for `owner` (an object: context, cache...). */
function emitOncePer(owner: object, code: WarningCode, message: string, detail: string): void {
  if (disabled.has(code)) return;
  let codes = emittedFor.get(owner);
  if (codes === undefined) emittedFor.set(owner, (codes = new Set()));
  if (codes.has(code)) return;
  codes.add(code);
  emit(code, message, detail);
}

/** Emits `code` unless already emitted for this call site. */
function emitOnceAt(site: string, code: WarningCode, message: string, detail: string): void {
  if (disabled.has(code)) return;
  const key = `${code} ${site}`;
  if (emittedAt.has(key)) return;
  if (emittedAt.size >= MAX_SITES) emittedAt.clear();
  emittedAt.add(key);
  emit(code, `${message} (at ${site})`, detail);
}

const libDir = dirname(fileURLToPath(import.meta.url));

/** The first stack frame outside this package's lib/ (or dist/): the user's call site. */
function callSite(): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 20;
  Error.captureStackTrace(holder, callSite);
  Error.stackTraceLimit = limit;
  const frames = (holder.stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replace(/^at /, ''));
  const outside = frames.find((f) => !f.includes(libDir) && !f.startsWith('node:') && !f.includes('(node:'));
  return outside ?? frames[0] ?? 'unknown';
}

// ----- what the hooks need to know about the objects, without importing them ---------------

interface ContextLike {
  readonly isServer: boolean;
  readonly closed: boolean;
  getVerifyMode(): number;
}
interface SessionLike {
  getProtocolVersion(): number;
  isResumable(): boolean;
  get0IdContext(): Buffer;
  dispose(): void;
}
interface ConnectionLike {
  readonly freed: boolean;
  get1Session(): SessionLike | null;
  isInitFinished(): boolean;
  getShutdown(): number;
}

// ----- OPENSSL_SESSION_NO_SID_CTX -----------------------------------------------------------

/**
 * Server contexts with nothing (more) to check: checked (ok or warned), or not verifying peers.
 * SslContext.setVerify() takes a context out (verifyModeChanged), so the next handshake checks
 * again; a server handshake otherwise costs one WeakSet lookup here, no native call.
 */
const sidContextChecked = new WeakSet<ContextLike>();

/** SslContext.setVerify() ran: check the context again at its next server handshake. */
export function verifyModeChanged(context: ContextLike): void {
  sidContextChecked.delete(context);
}

function checkSessionIdContext(connection: ConnectionLike, context: ContextLike): void {
  if (sidContextChecked.has(context) || disabled.has(WARNING_CODES.noSessionIdContext) || context.closed) return;
  sidContextChecked.add(context);
  if ((context.getVerifyMode() & VERIFY_PEER) === 0) return; // until setVerify() changes it
  const session = connection.get1Session();
  if (session === null) return;
  const empty = session.get0IdContext().length === 0;
  session.dispose();
  if (!empty) return;
  emitOncePer(
    context,
    WARNING_CODES.noSessionIdContext,
    'a server context verifies peers (VERIFY.PEER) but has no session id context: OpenSSL caches no session and fails every client that offers one',
    "Set one with new SslContext('server', { sessionIdContext: 'my-app' }) or ctx.setSessionIdContext(): up to 32 bytes naming the application (SSL_CTX_set_session_id_context).",
  );
}

// ----- OPENSSL_SESSION_NO_SHUTDOWN ----------------------------------------------------------

/** A connection's guard-rail state, kept on the connection itself (a WeakMap entry cost µs per connection). */
export interface Tracked {
  /** Warnings are once per context: this token stands for it (no reference to the context). */
  owner: object;
  server: boolean;
  /** shutdown() or setShutdown(SENT) was called, or a step failed: nothing to warn about. */
  settled: boolean;
}

/** One token per context, the key of its once-per-context warnings. */
const contextTokens = new WeakMap<ContextLike, object>();
function tokenOf(context: ContextLike): object {
  let token = contextTokens.get(context);
  if (token === undefined) contextTokens.set(context, (token = {}));
  return token;
}
const collected = new FinalizationRegistry<Tracked>((state) => {
  if (state.settled) return;
  warnNoShutdown(state.owner, `an SslConnection (${state.server ? 'server' : 'client'}) was garbage-collected`);
});

function warnNoShutdown(owner: object, what: string): void {
  emitOncePer(
    owner,
    WARNING_CODES.noShutdown,
    `${what} after a completed handshake without shutdown(): OpenSSL drops its session from the cache and marks it not resumable (ssl_clear_bad_session), also the handle get1Session() returned`,
    'Call conn.shutdown() (SSL_shutdown: sends close_notify) or conn.setShutdown(SHUTDOWN.SENT | SHUTDOWN.RECEIVED) before free(), or end() a TlsSocket instead of destroy(). A connection that failed lost its session at the fatal alert already.',
  );
}

// ----- OPENSSL_SESSION_NOT_RESUMABLE_YET ----------------------------------------------------

/** TLS 1.3 client sessions get1Session() returned before a ticket: where each was taken. */
const earlySessions = new WeakMap<object, string>();

function warnNotResumableYet(session: object, use: string): void {
  const site = earlySessions.get(session);
  if (site === undefined) return;
  emitOnceAt(
    site,
    WARNING_CODES.notResumableYet,
    `a TLS 1.3 session taken with get1Session() before the server's ticket arrived is ${use}; it is not resumable, and never becomes so (the ticket makes a new session)`,
    "With TLS 1.3 the resumable session arrives after the handshake: read() once the handshake is done (the ticket comes with the server's first bytes), or take sessions from the 'session' event / onNewSession, then get1Session().",
  );
}

// ----- hooks called by lib/core/ssl-connection.ts and lib/cache/session-cache.ts ------------

/**
 * Runs a guard-rail check. A guard-rail never changes what the API does: whatever goes wrong
 * inside one (a context closed meanwhile...) is swallowed.
 */
function quietly(check: () => void): void {
  try {
    check();
  } catch {
    // not the caller's problem
  }
}

/**
 * A handshake step returned SSL_ERROR.NONE (done): the state to keep on the connection
 * (undefined when warnings are off or the check failed). Call once per connection.
 */
export function handshakeDone(connection: ConnectionLike, context: ContextLike, server: boolean): Tracked | undefined {
  if (!warningsOn) return undefined;
  let state: Tracked | undefined;
  // (try/catch spelled out rather than quietly(): no closure per handshake)
  try {
    state = { owner: tokenOf(context), server, settled: false };
    if (!disabled.has(WARNING_CODES.noShutdown)) collected.register(connection, state, state);
    if (server) checkSessionIdContext(connection, context);
  } catch {
    // not the caller's problem
  }
  return state;
}

/** shutdown() / setShutdown(SENT) was called, or a step threw: no warning for this connection. */
export function settled(state: Tracked | undefined): void {
  if (state === undefined || state.settled) return;
  state.settled = true;
  collected.unregister(state);
}

/** Before an explicit free(): clients whose completed handshake was never shut down warn. */
export function beforeFree(connection: ConnectionLike, state: Tracked | undefined): void {
  if (state === undefined || state.settled) return; // settled() unregistered it already
  collected.unregister(state);
  state.settled = true;
  if (state.server) return;
  quietly(() => {
    // The exact condition of ssl_clear_bad_session: handshake finished (not failed), no SENT.
    if (!connection.freed && connection.isInitFinished() && (connection.getShutdown() & 1) === 0) {
      warnNoShutdown(state.owner, 'an SslConnection (client) was freed');
    }
  });
}

/** get1Session() returned `session` on `connection`: remembers TLS 1.3 client sessions taken too early. */
export function sessionTaken(connection: ConnectionLike, server: boolean, session: SessionLike | null): void {
  if (session === null || server || !warningsOn || disabled.has(WARNING_CODES.notResumableYet)) return;
  try {
    if (session.getProtocolVersion() !== TLS1_3 || session.isResumable() || !connection.isInitFinished()) return;
    earlySessions.set(session, callSite());
  } catch {
    // not the caller's problem
  }
}

/** setSession(session) on a client. */
export function sessionOffered(session: object | null): void {
  if (session !== null && warningsOn) warnNotResumableYet(session, 'offered with setSession()');
}

const cacheHosts = new WeakMap<object, Map<string, Set<string>>>();
const MAX_HOSTS = 4096;

/**
 * A SessionCache accepted a session (`accepted`) or refused it (not resumable...) under `key`
 * (`host:port|sni=...|cfg=<digest>[|flags]`).
 */
export function cacheStored(cache: object, key: string, value: object, accepted: boolean): void {
  if (!warningsOn) return;
  if (!accepted) {
    warnNotResumableYet(value, 'stored in a SessionCache (which refuses it)');
    return;
  }
  if (disabled.has(WARNING_CODES.cacheMixedTrust)) return;
  const parts = key.split('|');
  const hostPort = parts[0]!;
  const digest = parts.find((p) => p.startsWith('cfg='));
  if (digest === undefined) return;
  let hosts = cacheHosts.get(cache);
  if (hosts === undefined) cacheHosts.set(cache, (hosts = new Map()));
  let digests = hosts.get(hostPort);
  if (digests === undefined) {
    if (hosts.size >= MAX_HOSTS) hosts.clear();
    hosts.set(hostPort, (digests = new Set()));
  }
  if (digests.has(digest) || digests.size >= 2) return;
  digests.add(digest);
  if (digests.size < 2) return;
  emit(
    WARNING_CODES.cacheMixedTrust,
    `a SessionCache stores sessions for ${hostPort} under ${digests.size} different configurations (trust options or client contexts); they are kept apart and never offered across configurations`,
    'Usually a verifying and a non-verifying client sharing one cache, or client contexts the cache cannot identify (made without cache.createContext() and without the `config` option), which then never share sessions. Use one cache per trust configuration, or cache.createContext().',
  );
}
