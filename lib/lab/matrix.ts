/**
 * The cache-mode matrix: every server cache mode x client cache mode x TLS version x tickets
 * x external store, each cell a first connection and N reconnects offering the previous
 * session, all in memory through the native engine. What it reports is what OpenSSL did:
 * SSL_session_reused, the callbacks OpenSSL made, and SSL_CTX_sess_*().
 */
import { openSSLVersion } from '../constants.js';
import type { SslSession } from '../core/ssl-session.js';
import { invalidArgType, validateInteger } from '../errors.js';
import {
  cacheCounters,
  type CacheCounters,
  type CallbackCounts,
  closeCleanly,
  countCallbacks,
  ExternalStore,
  labClient,
  type LabVersion,
  labServer,
  openConnection,
} from './harness.js';
import { CLIENT_MODES, type LabMode, SERVER_MODES } from './modes.js';

/** One cell's configuration. */
export interface CellConfig {
  serverMode: LabMode;
  clientMode: LabMode;
  version: LabVersion;
  /** false: SSL_OP_NO_TICKET on the server. */
  tickets: boolean;
  /**
   * true: the server's onNewSession keeps every session in a JS Map (by session id) and its
   * onGetSession serves lookups from it; false: onGetSession is still installed (to count
   * calls) but always answers null.
   */
  externalStore: boolean;
  /** Reconnects after the first connection (default 3). */
  reconnects?: number;
  /**
   * Install the counting remove callback on the server (default true). Its mere presence
   * makes TLS 1.3 servers put stateless-ticket sessions into the internal cache
   * (ssl_update_cache in ssl/ssl_lib.c), so turning it off shows the other behaviour.
   */
  serverRemoveCallback?: boolean;
  /** SSL_CTX_set_num_tickets on the server (default: OpenSSL's, 2). */
  numTickets?: number;
}

/** What one side (server or client) of a cell did. */
export interface SideResult {
  /** The cache mode the context had (SSL_CTX_get_session_cache_mode). */
  modeValue: number;
  callbacks: CallbackCounts;
  /** SSL_CTX_sess_* at the end of the cell, before the contexts are closed. */
  stats: CacheCounters;
}

/** One cell of the matrix. */
export interface CellResult {
  serverMode: string;
  clientMode: string;
  version: LabVersion;
  tickets: boolean;
  externalStore: boolean;
  serverRemoveCallback: boolean;
  /** SSL_session_reused per connection as the client saw it (index 0: the first connection). */
  reused: boolean[];
  /** The same from the server's side (OpenSSL keeps both in step; shown to prove it). */
  serverReused: boolean[];
  /** 'N R R R': N = new (full) handshake, R = resumed. */
  pattern: string;
  server: SideResult;
  client: SideResult;
}

/** Options for {@link runMatrix}: each list restricts one axis (default: all of it). */
export interface MatrixOptions {
  serverModes?: readonly LabMode[];
  clientModes?: readonly LabMode[];
  versions?: readonly LabVersion[];
  tickets?: readonly boolean[];
  externalStore?: readonly boolean[];
  /** Reconnects per cell (default 3). */
  reconnects?: number;
  /** See {@link CellConfig.serverRemoveCallback} (default true). */
  serverRemoveCallback?: boolean;
  /** See {@link CellConfig.numTickets}. */
  numTickets?: number;
}

/** The whole matrix. */
export interface MatrixResult {
  /** OpenSSL's version as the running node reports it. */
  openssl: string;
  reconnects: number;
  cells: CellResult[];
  /** Wall time of the run, milliseconds. */
  durationMs: number;
}

/** 'N R R R' from reuse flags. */
export function reusePattern(reused: readonly boolean[]): string {
  return reused.map((r) => (r ? 'R' : 'N')).join(' ');
}

/**
 * Runs one cell: fresh server and client contexts with counting callbacks, a first
 * connection, then `reconnects` connections each offering the session the client took
 * (SSL_get1_session, after reading the server's reply so TLS 1.3 tickets are in) from the
 * connection before. Every connection ends with SSL_shutdown on both sides. Counts and
 * stats are read before the contexts are closed (closing fires remove callbacks, which
 * are not counted here: see the close scenario).
 */
export function runCell(config: CellConfig): CellResult {
  const reconnects = validateInteger(config.reconnects ?? 3, 'reconnects', 0, 1000);
  const removeCb = config.serverRemoveCallback ?? true;
  const server = labServer({ version: config.version, mode: config.serverMode.value, tickets: config.tickets });
  if (config.numTickets !== undefined) server.setNumTickets(config.numTickets);
  const client = labClient(config.version, config.clientMode.value);
  const store = new ExternalStore();
  const serverCounter = countCallbacks(server, {
    remove: removeCb,
    onNew: (session) => {
      if (!config.externalStore) return false;
      store.put(session);
      return true;
    },
    lookup: (id) => (config.externalStore ? store.get(id) : null),
  });
  const clientCounter = countCallbacks(client);
  const reused: boolean[] = [];
  const serverReused: boolean[] = [];
  let offer: SslSession | null = null;
  try {
    for (let i = 0; i <= reconnects; i++) {
      const conn = openConnection(client, server, offer);
      reused.push(conn.reused);
      serverReused.push(conn.serverReused);
      const next = conn.client.get1Session();
      closeCleanly(conn);
      offer?.dispose();
      offer = next;
    }
    return {
      serverMode: config.serverMode.name,
      clientMode: config.clientMode.name,
      version: config.version,
      tickets: config.tickets,
      externalStore: config.externalStore,
      serverRemoveCallback: removeCb,
      reused,
      serverReused,
      pattern: reusePattern(reused),
      server: { modeValue: server.getSessionCacheMode(), callbacks: { ...serverCounter.counts }, stats: cacheCounters(server.stats()) },
      client: { modeValue: client.getSessionCacheMode(), callbacks: { ...clientCounter.counts }, stats: cacheCounters(client.stats()) },
    };
  } finally {
    offer?.dispose();
    serverCounter.detach();
    clientCounter.detach();
    server.close();
    client.close();
    store.clear();
  }
}

function axis<T>(value: readonly T[] | undefined, all: readonly T[], name: string): readonly T[] {
  if (value === undefined) return all;
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array', value);
  return value;
}

/**
 * Runs every cell of the matrix (by default 7 server modes x 3 client modes x TLS 1.2/1.3 x
 * tickets on/off x external store on/off = 168 cells, 4 connections each) and returns the
 * cells in that nesting order. Synchronous: everything happens in memory on this thread.
 */
export function runMatrix(options: MatrixOptions = {}): MatrixResult {
  const started = performance.now();
  const reconnects = validateInteger(options.reconnects ?? 3, 'reconnects', 0, 1000);
  const cells: CellResult[] = [];
  for (const version of axis(options.versions, ['TLSv1.2', 'TLSv1.3'] as const, 'versions')) {
    for (const tickets of axis(options.tickets, [true, false], 'tickets')) {
      for (const serverMode of axis(options.serverModes, SERVER_MODES, 'serverModes')) {
        for (const externalStore of axis(options.externalStore, [false, true], 'externalStore')) {
          for (const clientMode of axis(options.clientModes, CLIENT_MODES, 'clientModes')) {
            cells.push(
              runCell({
                serverMode,
                clientMode,
                version,
                tickets,
                externalStore,
                reconnects,
                serverRemoveCallback: options.serverRemoveCallback ?? true,
                ...(options.numTickets === undefined ? {} : { numTickets: options.numTickets }),
              }),
            );
          }
        }
      }
    }
  }
  return { openssl: openSSLVersion(), reconnects, cells, durationMs: Math.round(performance.now() - started) };
}
