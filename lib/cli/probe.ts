/**
 * `openssl-session probe host:port`: connects N times through an SslSessionCache and reports,
 * per connection, whether it resumed, the protocol and cipher, the ticket the server issued
 * (and its lifetime hint, and size: OpenSSL's stateful TLS 1.3 tickets are 32-byte ids) and
 * the handshake time; then whether the server supports resumption, via session ids,
 * tickets, or both. Over TLS 1.2 with tickets, two extra connections with tickets disabled
 * on the client (SSL_OP_NO_TICKET) tell whether session ids work too.
 */
import { createWriteStream, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { SslSessionCache } from '../cache/ssl-session-cache.js';
import { OP, openSSLVersion } from '../constants.js';
import type { SslContext, SslContextOptions } from '../core/ssl-context.js';
import type { SslSession } from '../core/ssl-session.js';
import type { TlsClient } from '../tls/tls-client.js';
import { recordHandshake } from './handshake-trace.js';

const HELP = `usage: openssl-session probe host:port [options]

Connects N times through the client session cache and reports session resumption.

options:
  --count N           connections (default 5)
  --tls1.2            TLS 1.2 only (session ids and RFC 5077 tickets)
  --tls1.3            TLS 1.3 only (tickets / PSK)
  --servername NAME   SNI and the name to verify (default: host, none for an IP address)
  --ca FILE           trust these CA certificates (PEM) instead of node's root CAs
  --no-verify         do not verify the server certificate
  --wait MS           how long to wait for TLS 1.3 tickets after a handshake (default 500)
  --keylog FILE       append each handshake's secrets to FILE (NSS key log, for Wireshark; 0600)
  --messages          list each connection's handshake messages (> sent, < received)
  --json              print one JSON document instead of text
  --help              this text`;

export interface ProbeConnection {
  n: number;
  /** Whether a cached session was offered. */
  offered: boolean;
  resumed: boolean;
  protocol: string | null;
  cipher: string | null;
  /** Whether the server issued a ticket on this connection (TLS 1.3: a NewSessionTicket; TLS 1.2: the session has one). */
  ticket: boolean;
  ticketLength: number;
  lifetimeHint: number | null;
  handshakeMs: number;
  /** With --messages: the handshake messages, in order ('> ClientHello', '< ServerHello'...). */
  messages?: string[];
}

export type ResumptionVia = 'tickets' | 'session-ids' | 'both' | 'none';

export interface ProbeReport {
  target: string;
  servername: string | null;
  verify: boolean;
  openssl: string;
  connections: ProbeConnection[];
  /** TLS 1.2 with tickets only: the extra run without tickets ([full, resumed?]). */
  idCheck: { resumed: boolean } | null;
  summary: {
    protocol: string | null;
    reconnects: number;
    resumed: number;
    supported: boolean;
    via: ResumptionVia;
    /** TLS 1.3: 'stateful' when the tickets are short ids of sessions the server keeps. */
    ticketKind: 'stateless' | 'stateful' | null;
    text: string;
  };
}

interface ProbeOptions {
  host: string;
  port: number;
  count: number;
  version: 'TLSv1.2' | 'TLSv1.3' | null;
  servername: string | false;
  ca: string | null;
  verify: boolean;
  wait: number;
  json: boolean;
  keylog: string | null;
  messages: boolean;
}

function parse(argv: string[]): ProbeOptions | string {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '5' },
      'tls1.2': { type: 'boolean', default: false },
      'tls1.3': { type: 'boolean', default: false },
      servername: { type: 'string' },
      ca: { type: 'string' },
      'no-verify': { type: 'boolean', default: false },
      wait: { type: 'string', default: '500' },
      keylog: { type: 'string' },
      messages: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return HELP;
  if (positionals.length !== 1) throw new Error(`probe wants one host:port argument\n\n${HELP}`);
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(positionals[0]!);
  if (!match) throw new Error(`probe wants host:port, got "${positionals[0]}"`);
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw new Error(`port out of range: ${port}`);
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 1000)
    throw new Error(`--count wants an integer from 1 to 1000, got "${values.count}"`);
  const wait = Number(values.wait);
  if (!Number.isInteger(wait) || wait < 0) throw new Error(`--wait wants milliseconds, got "${values.wait}"`);
  if (values['tls1.2'] && values['tls1.3']) throw new Error('--tls1.2 and --tls1.3 exclude each other');
  if (values['no-verify'] && values.ca !== undefined) throw new Error('--ca and --no-verify exclude each other');
  const host = match[1] ?? match[2]!;
  return {
    host,
    port,
    count,
    version: values['tls1.2'] ? 'TLSv1.2' : values['tls1.3'] ? 'TLSv1.3' : null,
    servername: values.servername ?? (net.isIP(host) ? false : host),
    ca: values.ca === undefined ? null : readFileSync(values.ca, 'utf8'),
    verify: !values['no-verify'],
    wait,
    json: values.json,
    keylog: values.keylog ?? null,
    messages: values.messages,
  };
}

function tcpConnect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The first TLS 1.3 ticket of `client` (its session handle is ours to dispose), or null after `ms`. */
function firstTicket(client: TlsClient, ms: number): Promise<SslSession | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(null), ms);
    const onSession = (session: SslSession) => finish(session);
    function finish(session: SslSession | null) {
      clearTimeout(timer);
      client.off('session', onSession);
      resolve(session);
    }
    client.on('session', onSession); // after the cache's own listener, which took its own reference
  });
}

function closeClient(client: TlsClient): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => client.destroy(), 2000);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    client.end();
    client.resume();
  });
}

async function probeOnce(cache: SslSessionCache, context: SslContext, o: ProbeOptions, n: number): Promise<ProbeConnection> {
  const socket = await tcpConnect(o.host, o.port);
  const key = cache.keyFor({ host: o.host, port: o.port, context, servername: o.servername });
  const offered = cache.has(key);
  const started = performance.now();
  const messages: string[] = [];
  const client = await cache.connect({
    host: o.host,
    port: o.port,
    socket,
    context,
    servername: o.servername,
    handshakeTimeout: 10_000,
    ...(o.messages ? { prepare: (c) => c.setMessageListener(recordHandshake(messages)) } : {}),
  });
  const handshakeMs = performance.now() - started;
  const protocol = client.getProtocol();
  const row: ProbeConnection = {
    n,
    offered,
    resumed: client.isSessionReused(),
    protocol,
    cipher: client.getCipher(),
    ticket: false,
    ticketLength: 0,
    lifetimeHint: null,
    handshakeMs: Math.round(handshakeMs * 10) / 10,
  };
  const session = protocol === 'TLSv1.3' ? await firstTicket(client, o.wait) : client.get1Session();
  if (session !== null) {
    row.ticket = session.hasTicket();
    row.ticketLength = session.get0Ticket()?.length ?? 0;
    row.lifetimeHint = row.ticket ? session.getTicketLifetimeHint() : null;
    session.dispose();
  }
  await closeClient(client);
  client.free();
  if (o.messages) row.messages = messages;
  return row;
}

function summarize(rows: ProbeConnection[], idCheck: ProbeReport['idCheck']): ProbeReport['summary'] {
  const protocol = rows[0]?.protocol ?? null;
  const reconnects = Math.max(0, rows.length - 1);
  const resumed = rows.filter((r) => r.resumed).length;
  const tickets = rows.filter((r) => r.ticket);
  let via: ResumptionVia = 'none';
  let ticketKind: ProbeReport['summary']['ticketKind'] = null;
  if (protocol === 'TLSv1.3') {
    if (tickets.length > 0) ticketKind = tickets.every((r) => r.ticketLength <= 64) ? 'stateful' : 'stateless';
    if (resumed > 0) via = 'tickets';
  } else {
    const byTicket = tickets.length > 0 && resumed > 0;
    const byId = tickets.length > 0 ? idCheck?.resumed === true : resumed > 0;
    via = byTicket && byId ? 'both' : byTicket ? 'tickets' : byId ? 'session-ids' : 'none';
  }
  const supported = via !== 'none';
  const hint = tickets[0]?.lifetimeHint;
  const how =
    via === 'both'
      ? 'via both session ids and tickets'
      : via === 'session-ids'
        ? 'via session ids only (the server issues no tickets)'
        : via === 'tickets' && protocol === 'TLSv1.3'
          ? `via TLS 1.3 tickets (${ticketKind}, ${tickets[0]?.ticketLength ?? 0}-byte${ticketKind === 'stateful' ? ': ids of sessions the server keeps' : ''})`
          : via === 'tickets'
            ? 'via tickets only (session ids are not resumed)'
            : '';
  const text =
    rows.length === 0
      ? 'no connection succeeded'
      : supported
        ? `resumption supported ${how}: ${resumed}/${reconnects} reconnects resumed (${protocol}${hint ? `, ticket lifetime hint ${hint} s` : ''})`
        : `resumption not supported: ${resumed}/${reconnects} reconnects resumed (${protocol ?? 'no protocol'}${tickets.length === 0 ? ', no tickets issued' : ''})`;
  return { protocol, reconnects, resumed, supported, via, ticketKind, text };
}

function formatRow(r: ProbeConnection): string {
  const ticket = r.ticket ? `yes ${r.ticketLength} B, hint ${r.lifetimeHint} s` : 'no';
  return `${String(r.n).padStart(3)}  ${(r.resumed ? 'resumed' : 'full').padEnd(7)}  ${String(r.protocol).padEnd(8)}  ${String(r.cipher).padEnd(30)}  ${ticket.padEnd(24)}  ${r.handshakeMs.toFixed(1)} ms`;
}

/** Runs the probe; returns the exit code (0 when every connection succeeded). */
export async function run(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (typeof o === 'string') {
    console.log(o);
    return 0;
  }
  const target = `${net.isIP(o.host) === 6 ? `[${o.host}]` : o.host}:${o.port}`;
  // Every context the probe makes logs its handshakes' secrets to --keylog: keys to the traffic,
  // so the file is created 0600. Opened first, so a bad path fails before anything else does.
  const keylog = o.keylog === null ? null : createWriteStream('', { fd: openSync(o.keylog, 'a', 0o600) });
  let keylogError: Error | null = null;
  keylog?.on('error', (error) => (keylogError ??= error));
  const cache = new SslSessionCache();
  const idCache = new SslSessionCache();
  const base: SslContextOptions = {
    ...(o.version === 'TLSv1.2'
      ? { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }
      : o.version === 'TLSv1.3'
        ? { minVersion: 'TLSv1.3' }
        : {}),
    ...(o.verify ? (o.ca !== null ? { ca: o.ca } : {}) : { verify: false }),
  };
  const contexts: SslContext[] = [];
  const track = (ctx: SslContext): SslContext => {
    contexts.push(ctx);
    if (keylog !== null) ctx.onKeylog((line) => keylog.write(line));
    return ctx;
  };
  const context = track(cache.createContext(base));
  if (!o.json) {
    console.log(
      `# probe ${target}${o.servername ? ` (SNI ${o.servername})` : ''}: ${o.count} connections through the session cache, ` +
        `${o.verify ? (o.ca ? 'verifying with --ca' : "verifying with node's root CAs") : 'not verifying'}, OpenSSL ${openSSLVersion()}`,
    );
    console.log('  #  result   protocol  cipher                          ticket                    handshake');
  }
  const rows: ProbeConnection[] = [];
  let idCheck: ProbeReport['idCheck'] = null;
  let failure: Error | null = null;
  try {
    for (let n = 1; n <= o.count; n++) {
      const row = await probeOnce(cache, context, o, n);
      rows.push(row);
      if (!o.json) console.log(formatRow(row));
      if (!o.json && row.messages) console.log(`     ${row.messages.join('  ')}`);
    }
    if (rows[0]?.protocol === 'TLSv1.2' && rows.some((r) => r.ticket) && o.count > 1) {
      // A configuration of its own (tickets off), so a cache of its own: one cache holding both
      // would be the mixed-trust setup its guard rail warns about.
      const noTicket = track(idCache.createContext({ ...base, options: OP.NO_TICKET }));
      await probeOnce(idCache, noTicket, o, 1);
      idCheck = { resumed: (await probeOnce(idCache, noTicket, o, 2)).resumed };
      if (!o.json) console.log(`# session-id check (tickets off on the client): ${idCheck.resumed ? 'resumed' : 'full handshake again'}`);
    }
  } catch (error) {
    failure = error as Error;
  } finally {
    cache.dispose();
    idCache.dispose();
    for (const c of contexts) c.close();
    if (keylog !== null) await once(keylog.end(), 'close');
  }
  failure ??= keylogError;
  const summary = summarize(rows, idCheck);
  const report: ProbeReport = {
    target,
    servername: o.servername || null,
    verify: o.verify,
    openssl: openSSLVersion(),
    connections: rows,
    idCheck,
    summary,
  };
  if (o.json) console.log(JSON.stringify(failure ? { ...report, error: failure.message } : report, null, 2));
  else {
    if (failure) console.log(`# connection ${rows.length + 1} failed: ${failure.message}`);
    console.log(`summary: ${summary.text}`);
  }
  return failure ? 1 : 0;
}
