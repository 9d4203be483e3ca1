/**
 * The cache-mode matrix against what OpenSSL's source says it must do.
 *
 * Every expectation below is derived from reading OpenSSL (openssl/openssl; the functions
 * named are the same in 3.0.x, the node 20 OpenSSL, and master), NOT from printing the lab's
 * output: `predict()` encodes the rules, each with the function it comes from, and every cell
 * of the matrix is compared to it count for count. A few cells are also spelled out with
 * literal numbers, and properties are checked across all cells.
 *
 * Abbreviations in comments: ssl_sess.c = ssl/ssl_sess.c, ssl_lib.c = ssl/ssl_lib.c,
 * srvr.c = ssl/statem/statem_srvr.c, clnt.c = ssl/statem/statem_clnt.c,
 * stlib.c = ssl/statem/statem_lib.c, ext_srvr.c = ssl/statem/extensions_srvr.c, t1_lib.c = ssl/t1_lib.c.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import { SESS_CACHE, SslContext } from '../lib/index.js';
import {
  CLIENT_MODES,
  type CellResult,
  type MatrixResult,
  modeName,
  parseMode,
  runCell,
  runMatrix,
  SERVER_MODES,
} from '../lib/lab/index.js';

/** What OpenSSL must report for one cell. */
interface Expected {
  pattern: string;
  server: { new: number; remove: number; get: number; number: number; hits: number; misses: number; timeouts: number; cbHits: number };
  client: { new: number; remove: number; number: number; hits: number; misses: number };
}

interface ModelInput {
  version: 'TLSv1.2' | 'TLSv1.3';
  tickets: boolean;
  externalStore: boolean;
  serverMode: number;
  clientMode: number;
  reconnects: number;
  /** SSL_CTX_set_num_tickets (OpenSSL's default is 2: ssl_lib.c SSL_CTX_new_ex, ret->num_tickets = 2). */
  numTickets: number;
  serverRemoveCallback: boolean;
}

/**
 * OpenSSL's session-cache rules, for a first connection and `reconnects` reconnects that each
 * offer the session the client took after the previous one (SSL_get1_session after reading,
 * so TLS 1.3 tickets are in). Every connection ends with SSL_shutdown on both sides.
 */
function predict(m: ModelInput): Expected {
  const R = m.reconnects;
  const T = m.numTickets;
  const S = (m.serverMode & SESS_CACHE.SERVER) !== 0;
  const NIL = (m.serverMode & SESS_CACHE.NO_INTERNAL_LOOKUP) !== 0;
  const NIS = (m.serverMode & SESS_CACHE.NO_INTERNAL_STORE) !== 0;
  const C = (m.clientMode & SESS_CACHE.CLIENT) !== 0;
  const CNIS = (m.clientMode & SESS_CACHE.NO_INTERNAL_STORE) !== 0;
  const pattern = (resumed: boolean): string => ['N', ...Array<string>(R).fill(resumed ? 'R' : 'N')].join(' ');

  if (m.version === 'TLSv1.2') {
    if (m.tickets) {
      // tls_get_ticket_from_client (t1_lib.c) decrypts the client's ticket -> SSL_TICKET_SUCCESS,
      // and ssl_get_prev_session (ssl_sess.c) takes that session without lookup_sess_in_cache:
      // resumption whatever the server cache mode, no get callback, no miss; sess_hit +1 each.
      // On the first connection ssl_generate_session_id (ssl_sess.c) gives the server session an
      // EMPTY id because a ticket is expected ("If RFC5077 ticket, use empty session ID"), and
      // ssl_update_cache (ssl_lib.c) returns at once for session_id_length == 0: no new
      // callback and nothing cached on the server, even in SERVER mode.
      // The client sets its session id to SHA256(ticket) (clnt.c tls_process_new_session_ticket),
      // so its ssl_update_cache(CLIENT) at the end of the full handshake (stlib.c
      // tls_finish_handshake) stores it / calls new_session_cb when the mode has CLIENT; resumed
      // handshakes do not (ssl_update_cache: `!s->hit || TLS1.3`), and TLS 1.2 resumption with
      // OpenSSL's own ticket keys issues no new ticket (tls_decrypt_ticket: SUCCESS, not RENEW).
      return {
        pattern: pattern(true),
        server: { new: 0, remove: 0, get: 0, number: 0, hits: R, misses: 0, timeouts: 0, cbHits: 0 },
        client: { new: C ? 1 : 0, remove: 0, number: C && !CNIS ? 1 : 0, hits: R, misses: 0 },
      };
    }
    if (!S) {
      // srvr.c tls_construct_server_hello: `!(session_cache_mode & SSL_SESS_CACHE_SERVER) && !hit`
      // -> session_id_length = 0 ("single-use" session). The client's session then has no id and
      // no ticket, so SSL_SESSION_is_resumable is false and tls_construct_client_hello starts a
      // new session instead of offering it: nothing to look up, nothing resumed, and
      // ssl_update_cache returns early on both sides (session_id_length == 0).
      return {
        pattern: pattern(false),
        server: { new: 0, remove: 0, get: 0, number: 0, hits: 0, misses: 0, timeouts: 0, cbHits: 0 },
        client: { new: 0, remove: 0, number: 0, hits: 0, misses: 0 },
      };
    }
    // Session ids. ssl_update_cache(SERVER) after each full handshake calls new_session_cb and,
    // unless NO_INTERNAL_STORE, SSL_CTX_add_session. A reconnect offers the id;
    // lookup_sess_in_cache (ssl_sess.c): unless NO_INTERNAL_LOOKUP it searches the internal
    // cache (sess_miss +1 when absent), then asks get_session_cb (sess_cb_hit +1 when found).
    const foundInternally = !NIL && !NIS;
    const cbHit = !foundInternally && m.externalStore; // the Map holds what new_session_cb saw
    const resumed = foundInternally || cbHit;
    const full = resumed ? 1 : 1 + R; // a resumed session is offered again and found again
    return {
      pattern: pattern(resumed),
      server: {
        new: full,
        remove: 0,
        get: foundInternally ? 0 : R,
        number: NIS ? 0 : full,
        hits: resumed ? R : 0, // ssl_get_prev_session: sess_hit +1 per resumption
        misses: !NIL && NIS ? R : 0,
        timeouts: 0,
        cbHits: cbHit ? R : 0,
      },
      client: {
        new: C ? full : 0,
        remove: 0,
        number: C && !CNIS ? full : 0,
        hits: resumed ? R : 0, // stlib.c tls_finish_handshake: client sess_hit +1 when s->hit
        // clnt.c tls_process_server_hello: offered an id the server did not echo -> sess_miss +1
        misses: resumed ? 0 : R,
      },
    };
  }

  // TLS 1.3. srvr.c: after a full handshake the server sends num_tickets NewSessionTickets,
  // after a resumption one ("In a resumption we only ever send a maximum of one new ticket");
  // ticket_expected is set for both kinds (t1_lib.c tls_decrypt_ticket: TLS 1.3 -> renew_ticket
  // -> SUCCESS_RENEW; ext_srvr.c tls_get_stateful_ticket sets it). Each ticket gets a fresh
  // 32-byte session id (tls_construct_new_session_ticket -> ssl_generate_session_id) and a
  // call to ssl_update_cache(SERVER): new_session_cb when the mode has SERVER; the internal
  // store only without NO_INTERNAL_STORE AND (remove_cb set OR SSL_OP_NO_TICKET OR early data)
  // (ssl_lib.c ssl_update_cache, the TLS 1.3 server rule).
  let resumed: boolean;
  let serverSide: Expected['server'];
  const nsts = (res: boolean): number => (res ? T + R : T * (1 + R));
  if (m.tickets) {
    // Stateless tickets: ext_srvr.c tls_parse_ctos_psk -> tls_decrypt_ticket, no cache lookup.
    resumed = true;
    const n = nsts(true);
    serverSide = {
      new: S ? n : 0,
      remove: 0,
      get: 0,
      number: S && !NIS && m.serverRemoveCallback ? n : 0,
      hits: R,
      misses: 0,
      timeouts: 0,
      cbHits: 0,
    };
  } else {
    // SSL_OP_NO_TICKET: stateful tickets whose identity is the session id; tls_get_stateful_ticket
    // -> lookup_sess_in_cache, exactly as for TLS 1.2 ids. Stored whenever SERVER without
    // NO_INTERNAL_STORE (the NO_TICKET clause of the rule above).
    const stored = S && !NIS;
    const foundInternally = !NIL && stored;
    const cbHit = !foundInternally && m.externalStore && S; // new_session_cb (which fills the Map) needs SERVER
    resumed = foundInternally || cbHit;
    const n = nsts(resumed);
    serverSide = {
      new: S ? n : 0,
      remove: 0,
      get: foundInternally ? 0 : R,
      number: stored ? n : 0,
      hits: resumed ? R : 0,
      misses: !NIL && !stored ? R : 0,
      timeouts: 0,
      cbHits: cbHit ? R : 0,
    };
  }
  const n = nsts(resumed);
  const resumptions = resumed ? R : 0;
  return {
    pattern: pattern(resumed),
    server: serverSide,
    client: {
      // clnt.c tls_process_new_session_ticket: TLS 1.3 -> ssl_update_cache(CLIENT) per ticket.
      new: C ? n : 0,
      // stlib.c tls_finish_handshake: a TLS 1.3 client with CLIENT in its mode calls
      // SSL_CTX_remove_session on the session it resumed ("only use TLSv1.3 tickets once");
      // remove_session_lock calls remove_session_cb even when that session is not cached.
      remove: C ? resumptions : 0,
      number: C && !CNIS ? n - resumptions : 0,
      hits: resumptions,
      // Every TLS 1.3 client session has an id (SHA256 of its ticket), so an offer the server
      // does not take counts as a client sess_miss (clnt.c tls_process_server_hello).
      misses: R - resumptions,
    },
  };
}

function modelInput(cell: CellResult, extra: Partial<ModelInput> = {}): ModelInput {
  return {
    version: cell.version,
    tickets: cell.tickets,
    externalStore: cell.externalStore,
    serverMode: cell.server.modeValue,
    clientMode: cell.client.modeValue,
    reconnects: cell.reused.length - 1,
    numTickets: 2,
    serverRemoveCallback: cell.serverRemoveCallback,
    ...extra,
  };
}

function observed(cell: CellResult): Expected {
  const { server: s, client: c } = cell;
  return {
    pattern: cell.pattern,
    server: {
      new: s.callbacks.new,
      remove: s.callbacks.remove,
      get: s.callbacks.get,
      number: s.stats.number,
      hits: s.stats.hits,
      misses: s.stats.misses,
      timeouts: s.stats.timeouts,
      cbHits: s.stats.cbHits,
    },
    client: { new: c.callbacks.new, remove: c.callbacks.remove, number: c.stats.number, hits: c.stats.hits, misses: c.stats.misses },
  };
}

const label = (c: CellResult): string =>
  `${c.version} tickets=${c.tickets ? 'on' : 'off'} server=${c.serverMode} ext=${c.externalStore ? 'on' : 'off'} client=${c.clientMode}`;

function find(
  result: MatrixResult,
  q: Partial<Pick<CellResult, 'version' | 'tickets' | 'serverMode' | 'clientMode' | 'externalStore'>>,
): CellResult {
  const cell = result.cells.find((c) => Object.entries(q).every(([k, v]) => c[k as keyof CellResult] === v));
  if (!cell) throw new Error(`no cell ${JSON.stringify(q)}`);
  return cell;
}

let matrix: MatrixResult;

beforeAll(() => {
  matrix = runMatrix();
});

describe('runMatrix(): shape', () => {
  it('runs 7 server modes x 3 client modes x 2 versions x tickets on/off x external store on/off', () => {
    expect(SERVER_MODES.map((m) => m.name)).toEqual([
      'OFF',
      'SERVER',
      'SERVER|NO_INTERNAL_LOOKUP',
      'SERVER|NO_INTERNAL_STORE',
      'SERVER|NO_INTERNAL',
      'SERVER|NO_AUTO_CLEAR',
      'SERVER|UPDATE_TIME',
    ]);
    expect(CLIENT_MODES.map((m) => m.name)).toEqual(['default(SERVER)', 'CLIENT', 'CLIENT|NO_INTERNAL_STORE']);
    expect(matrix.cells).toHaveLength(7 * 3 * 2 * 2 * 2);
    const keys = new Set(matrix.cells.map(label));
    expect(keys.size).toBe(matrix.cells.length);
    expect(matrix.reconnects).toBe(3);
    expect(matrix.openssl).toBe(process.versions.openssl);
    for (const cell of matrix.cells) expect(cell.reused).toHaveLength(4);
  });

  it('finishes the whole matrix in under 5 s', () => {
    expect(matrix.durationMs).toBeLessThan(5000);
  });

  it("labels the untouched client mode with OpenSSL's default, SERVER", () => {
    // ssl_lib.c SSL_CTX_new_ex: ret->session_cache_mode = SSL_SESS_CACHE_SERVER, for clients too.
    for (const cell of matrix.cells.filter((c) => c.clientMode === 'default(SERVER)')) {
      expect(cell.client.modeValue).toBe(SESS_CACHE.SERVER);
    }
    using fresh = new SslContext('client');
    expect(fresh.getSessionCacheMode()).toBe(SESS_CACHE.SERVER);
  });

  it('applies each mode as given (SSL_CTX_get_session_cache_mode reads back the bits)', () => {
    for (const cell of matrix.cells) {
      expect(modeName(cell.server.modeValue)).toBe(cell.serverMode);
      if (cell.clientMode !== 'default(SERVER)') expect(modeName(cell.client.modeValue)).toBe(cell.clientMode);
    }
  });
});

describe('every cell equals the prediction from the OpenSSL source', () => {
  it('matches predict() count for count in all 168 cells', () => {
    const mismatches: string[] = [];
    for (const cell of matrix.cells) {
      const want = predict(modelInput(cell));
      const got = observed(cell);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        mismatches.push(`${label(cell)}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('without a server remove callback, TLS 1.3 stateless-ticket sessions stay out of the internal cache', () => {
    // ssl_lib.c ssl_update_cache: a TLS 1.3 server adds to the internal cache only if
    // remove_session_cb != NULL, or SSL_OP_NO_TICKET, or early data; new_session_cb still runs.
    const result = runMatrix({
      versions: ['TLSv1.3'],
      serverModes: SERVER_MODES.filter((m) => m.name === 'SERVER' || m.name === 'SERVER|NO_INTERNAL_LOOKUP'),
      clientModes: [CLIENT_MODES[1]!],
      serverRemoveCallback: false,
    });
    expect(result.cells).toHaveLength(2 * 2 * 2);
    for (const cell of result.cells) {
      expect(cell.serverRemoveCallback).toBe(false);
      expect(observed(cell)).toEqual(predict(modelInput(cell)));
    }
    const stateless = find(result, { tickets: true, serverMode: 'SERVER', externalStore: false });
    expect(stateless.server.stats.number).toBe(0);
    expect(stateless.server.callbacks.new).toBe(5);
    const stateful = find(result, { tickets: false, serverMode: 'SERVER', externalStore: false });
    expect(stateful.server.stats.number).toBe(5); // NO_TICKET: stored anyway
  });

  it('follows SSL_CTX_set_num_tickets: one ticket after a full TLS 1.3 handshake, one per resumption', () => {
    const cell = runCell({
      serverMode: SERVER_MODES[1]!,
      clientMode: CLIENT_MODES[1]!,
      version: 'TLSv1.3',
      tickets: true,
      externalStore: false,
      numTickets: 1,
    });
    expect(observed(cell)).toEqual(predict(modelInput(cell, { numTickets: 1 })));
    expect(cell.client.callbacks.new).toBe(1 + 3);
  });

  it('with num_tickets 0 a TLS 1.3 client never gets a resumable session', () => {
    // srvr.c: no NewSessionTicket is written when num_tickets <= sent_tickets, so the client's
    // session keeps an empty id and no ticket: SSL_SESSION_is_resumable() is false and
    // tls_construct_client_hello starts a new session instead of offering it.
    const cell = runCell({
      serverMode: SERVER_MODES[1]!,
      clientMode: CLIENT_MODES[1]!,
      version: 'TLSv1.3',
      tickets: true,
      externalStore: false,
      numTickets: 0,
    });
    expect(cell.pattern).toBe('N N N N');
    expect(cell.server.callbacks.new).toBe(0);
    expect(cell.client.callbacks.new).toBe(0);
    expect(cell.client.stats.misses).toBe(0);
  });

  it('honours `reconnects`', () => {
    const result = runMatrix({
      versions: ['TLSv1.2'],
      tickets: [false],
      serverModes: [SERVER_MODES[1]!],
      clientModes: [CLIENT_MODES[0]!],
      externalStore: [false],
      reconnects: 0,
    });
    expect(result.cells.map((c) => c.pattern)).toEqual(['N']);
    const longer = runCell({
      serverMode: SERVER_MODES[1]!,
      clientMode: CLIENT_MODES[0]!,
      version: 'TLSv1.2',
      tickets: false,
      externalStore: false,
      reconnects: 6,
    });
    expect(longer.pattern).toBe('N R R R R R R');
    expect(observed(longer)).toEqual(predict(modelInput(longer)));
  });
});

describe('cells spelled out', () => {
  it('TLS 1.2, session ids, SERVER: seed 000 (NEW then REUSED), one cached session', () => {
    const cell = find(matrix, {
      version: 'TLSv1.2',
      tickets: false,
      serverMode: 'SERVER',
      externalStore: false,
      clientMode: 'default(SERVER)',
    });
    expect(cell.reused).toEqual([false, true, true, true]);
    expect(cell.server.callbacks).toEqual({ new: 1, remove: 0, get: 0 });
    expect(cell.server.stats).toMatchObject({ number: 1, hits: 3, misses: 0, timeouts: 0, cbHits: 0 });
    expect(cell.client.callbacks).toEqual({ new: 0, remove: 0, get: 0 });
    expect(cell.client.stats).toMatchObject({ number: 0, hits: 3, misses: 0 });
  });

  it('TLS 1.2, session ids, SERVER|NO_INTERNAL_STORE + external store: every reconnect a miss then a callback hit', () => {
    const cell = find(matrix, {
      version: 'TLSv1.2',
      tickets: false,
      serverMode: 'SERVER|NO_INTERNAL_STORE',
      externalStore: true,
      clientMode: 'CLIENT',
    });
    expect(cell.pattern).toBe('N R R R');
    expect(cell.server.callbacks).toEqual({ new: 1, remove: 0, get: 3 });
    expect(cell.server.stats).toMatchObject({ number: 0, hits: 3, misses: 3, cbHits: 3 });
    expect(cell.client.callbacks).toEqual({ new: 1, remove: 0, get: 0 });
    expect(cell.client.stats).toMatchObject({ number: 1, hits: 3, misses: 0 });
  });

  it('TLS 1.2, session ids, SERVER|NO_INTERNAL_LOOKUP without a store: nothing resumes, no miss is counted', () => {
    const cell = find(matrix, {
      version: 'TLSv1.2',
      tickets: false,
      serverMode: 'SERVER|NO_INTERNAL_LOOKUP',
      externalStore: false,
      clientMode: 'CLIENT|NO_INTERNAL_STORE',
    });
    expect(cell.pattern).toBe('N N N N');
    expect(cell.server.callbacks).toEqual({ new: 4, remove: 0, get: 3 });
    expect(cell.server.stats).toMatchObject({ number: 4, hits: 0, misses: 0, cbHits: 0 });
    expect(cell.client.callbacks).toEqual({ new: 4, remove: 0, get: 0 });
    expect(cell.client.stats).toMatchObject({ number: 0, hits: 0, misses: 3 });
  });

  it('TLS 1.3, tickets, SERVER, CLIENT: 2 + 1 + 1 + 1 tickets, each used ticket removed on the client', () => {
    const cell = find(matrix, { version: 'TLSv1.3', tickets: true, serverMode: 'SERVER', externalStore: false, clientMode: 'CLIENT' });
    expect(cell.pattern).toBe('N R R R');
    expect(cell.server.callbacks).toEqual({ new: 5, remove: 0, get: 0 });
    expect(cell.server.stats).toMatchObject({ number: 5, hits: 3, misses: 0 });
    expect(cell.client.callbacks).toEqual({ new: 5, remove: 3, get: 0 });
    expect(cell.client.stats).toMatchObject({ number: 2, hits: 3, misses: 0 });
  });

  it('TLS 1.3, stateful tickets, OFF: tickets are sent but never found', () => {
    const cell = find(matrix, { version: 'TLSv1.3', tickets: false, serverMode: 'OFF', externalStore: true, clientMode: 'CLIENT' });
    expect(cell.pattern).toBe('N N N N');
    expect(cell.server.callbacks).toEqual({ new: 0, remove: 0, get: 3 });
    expect(cell.server.stats).toMatchObject({ number: 0, hits: 0, misses: 3, cbHits: 0 });
    expect(cell.client.callbacks).toEqual({ new: 8, remove: 0, get: 0 });
    expect(cell.client.stats).toMatchObject({ number: 8, hits: 0, misses: 3 });
  });

  it('TLS 1.3, stateful tickets, SERVER|NO_INTERNAL + external store: resumed through onGetSession', () => {
    const cell = find(matrix, {
      version: 'TLSv1.3',
      tickets: false,
      serverMode: 'SERVER|NO_INTERNAL',
      externalStore: true,
      clientMode: 'default(SERVER)',
    });
    expect(cell.pattern).toBe('N R R R');
    expect(cell.server.callbacks).toEqual({ new: 5, remove: 0, get: 3 });
    expect(cell.server.stats).toMatchObject({ number: 0, hits: 3, misses: 0, cbHits: 3 });
  });
});

describe('properties over all cells', () => {
  it('client and server agree on SSL_session_reused, and a first connection is never resumed', () => {
    for (const cell of matrix.cells) {
      expect(cell.serverReused, label(cell)).toEqual(cell.reused);
      expect(cell.reused[0], label(cell)).toBe(false);
    }
  });

  it('OFF server + tickets off: never resumed (TLS 1.2: empty session id; TLS 1.3: stateful tickets never cached)', () => {
    const cells = matrix.cells.filter((c) => c.serverMode === 'OFF' && !c.tickets);
    expect(cells).toHaveLength(2 * 2 * 3);
    for (const cell of cells) {
      expect(cell.pattern, label(cell)).toBe('N N N N');
      expect(cell.server.callbacks.new, label(cell)).toBe(0); // ssl_update_cache needs SERVER in the mode
    }
  });

  it('tickets on: resumed whatever the server cache mode, without ever consulting onGetSession', () => {
    // TLS 1.2: tls_get_ticket_from_client; TLS 1.3: tls_parse_ctos_psk -> tls_decrypt_ticket.
    const cells = matrix.cells.filter((c) => c.tickets);
    expect(cells).toHaveLength(84);
    for (const cell of cells) {
      expect(cell.pattern, label(cell)).toBe('N R R R');
      expect(cell.server.callbacks.get, label(cell)).toBe(0);
      expect(cell.server.stats.misses, label(cell)).toBe(0);
    }
  });

  it('TLS 1.2 tickets: the server neither caches nor reports new sessions, in any mode', () => {
    for (const cell of matrix.cells.filter((c) => c.version === 'TLSv1.2' && c.tickets)) {
      expect(cell.server.callbacks.new, label(cell)).toBe(0);
      expect(cell.server.stats.number, label(cell)).toBe(0);
    }
  });

  it('a server mode without SERVER never calls new_session_cb; NO_INTERNAL_STORE never caches', () => {
    for (const cell of matrix.cells) {
      if ((cell.server.modeValue & SESS_CACHE.SERVER) === 0) expect(cell.server.callbacks.new, label(cell)).toBe(0);
      if ((cell.server.modeValue & SESS_CACHE.NO_INTERNAL_STORE) !== 0) expect(cell.server.stats.number, label(cell)).toBe(0);
      if ((cell.client.modeValue & SESS_CACHE.CLIENT) === 0) {
        expect(cell.client.callbacks.new, label(cell)).toBe(0);
        expect(cell.client.stats.number, label(cell)).toBe(0);
      }
      if ((cell.client.modeValue & SESS_CACHE.NO_INTERNAL_STORE) !== 0) expect(cell.client.stats.number, label(cell)).toBe(0);
    }
  });

  it('NO_INTERNAL_LOOKUP never counts a miss (lookup_sess_in_cache skips the internal search)', () => {
    for (const cell of matrix.cells.filter((c) => (c.server.modeValue & SESS_CACHE.NO_INTERNAL_LOOKUP) !== 0)) {
      expect(cell.server.stats.misses, label(cell)).toBe(0);
    }
  });

  it('sessions are only resumed through onGetSession when the internal cache cannot serve them', () => {
    for (const cell of matrix.cells) {
      const internalUsable = (cell.server.modeValue & (SESS_CACHE.NO_INTERNAL_LOOKUP | SESS_CACHE.NO_INTERNAL_STORE)) === 0;
      if (internalUsable || !cell.externalStore) expect(cell.server.stats.cbHits, label(cell)).toBe(0);
    }
  });

  it('nothing times out and the server never removes a session (every connection shuts down cleanly)', () => {
    for (const cell of matrix.cells) {
      expect(cell.server.stats.timeouts, label(cell)).toBe(0);
      expect(cell.server.callbacks.remove, label(cell)).toBe(0);
    }
  });

  it('the client removes (TLS 1.3, CLIENT modes only) exactly the sessions it resumed', () => {
    for (const cell of matrix.cells) {
      const resumptions = cell.reused.filter(Boolean).length;
      const expected = cell.version === 'TLSv1.3' && (cell.client.modeValue & SESS_CACHE.CLIENT) !== 0 ? resumptions : 0;
      expect(cell.client.callbacks.remove, label(cell)).toBe(expected);
    }
  });

  it('the client mode never changes what the server does', () => {
    const byServer = new Map<string, string>();
    for (const cell of matrix.cells) {
      const key = `${cell.version}/${cell.tickets}/${cell.serverMode}/${cell.externalStore}`;
      const server = JSON.stringify({ pattern: cell.pattern, server: observed(cell).server });
      if (!byServer.has(key)) byServer.set(key, server);
      expect(server, label(cell)).toBe(byServer.get(key));
    }
  });

  it('NO_AUTO_CLEAR and UPDATE_TIME rows equal SERVER rows (they act only every 255 accepts / on SSL_CTX_add_session times)', () => {
    for (const mode of ['SERVER|NO_AUTO_CLEAR', 'SERVER|UPDATE_TIME']) {
      for (const cell of matrix.cells.filter((c) => c.serverMode === mode)) {
        const twin = find(matrix, {
          version: cell.version,
          tickets: cell.tickets,
          serverMode: 'SERVER',
          externalStore: cell.externalStore,
          clientMode: cell.clientMode,
        });
        expect(observed(cell), label(cell)).toEqual(observed(twin));
      }
    }
  });

  it('the external store only matters with stateful resumption and NO_INTERNAL_LOOKUP or NO_INTERNAL_STORE', () => {
    for (const cell of matrix.cells.filter((c) => c.externalStore)) {
      const twin = find(matrix, {
        version: cell.version,
        tickets: cell.tickets,
        serverMode: cell.serverMode,
        externalStore: false,
        clientMode: cell.clientMode,
      });
      const bypassed = (cell.server.modeValue & (SESS_CACHE.NO_INTERNAL_LOOKUP | SESS_CACHE.NO_INTERNAL_STORE)) !== 0;
      const matters = !cell.tickets && bypassed;
      if (matters) expect(cell.pattern, label(cell)).not.toBe(twin.pattern);
      else expect(observed(cell), label(cell)).toEqual(observed(twin));
    }
  });
});

describe('mode names', () => {
  it("parseMode/modeName use OpenSSL's SSL_SESS_CACHE_* values", () => {
    expect(parseMode('SERVER|NO_INTERNAL_LOOKUP')).toBe(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_LOOKUP);
    expect(parseMode('server, no_internal')).toBe(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL);
    expect(parseMode('default')).toBeUndefined();
    expect(parseMode('OFF')).toBe(0);
    // NO_INTERNAL is NO_INTERNAL_LOOKUP | NO_INTERNAL_STORE (ssl.h)
    expect(SESS_CACHE.NO_INTERNAL).toBe(SESS_CACHE.NO_INTERNAL_LOOKUP | SESS_CACHE.NO_INTERNAL_STORE);
    expect(modeName(SESS_CACHE.SERVER | SESS_CACHE.NO_INTERNAL_LOOKUP | SESS_CACHE.NO_INTERNAL_STORE)).toBe('SERVER|NO_INTERNAL');
    expect(modeName(SESS_CACHE.BOTH | SESS_CACHE.UPDATE_TIME)).toBe('BOTH|UPDATE_TIME');
    expect(modeName(0)).toBe('OFF');
    expect(() => parseMode('SERVER|NOPE')).toThrow(RangeError);
  });

  it('rejects bad options with errors naming the parameter', () => {
    expect(() => runMatrix({ reconnects: -1 })).toThrow(/reconnects/);
    expect(() => runMatrix({ versions: 'TLSv1.2' as never })).toThrow(/versions/);
  });
});
