/**
 * The seed corpus, built from real traffic at run time (nothing secret is committed):
 *
 * - sessions (DER and PEM) from our engine (TLS 1.2 by id and by ticket, TLS 1.3 tickets and
 *   stateful sessions, client- and server-side, with SNI, ALPN, client certificates), from
 *   node:tls over 127.0.0.1 (`'session'` events), and from `openssl s_client -sess_out`
 *   against our own server when an openssl CLI is on PATH;
 * - handshake transcripts recorded from our in-memory engine: every flight each side sent,
 *   in order, for full and resumed TLS 1.2 / 1.3 handshakes (ECDHE and RSA key exchange,
 *   client authentication), then application data, TLS 1.3 tickets and close_notify.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import {
  type KeyPair,
  OP,
  SESS_CACHE,
  SSL_ERROR,
  SslConnection,
  SslContext,
  type SslContextOptions,
  SslSession,
  createSelfSigned,
  createServer,
} from '../lib/index.js';

export interface Flight {
  from: 'client' | 'server';
  bytes: Buffer;
}

/** One recorded connection: the flights in wire order, and where the handshake ended. */
export interface Transcript {
  name: string;
  version: 'TLSv1.2' | 'TLSv1.3';
  flights: Flight[];
  /** Index of the first flight sent after both sides finished the handshake. */
  postHandshake: number;
}

export interface Corpus {
  sessions: { name: string; der: Buffer }[];
  pems: { name: string; text: string }[];
  transcripts: Transcript[];
  keys: { ec: KeyPair; rsa: KeyPair; client: KeyPair };
  /** How many sessions came from each source. */
  sources: Record<'engine' | 'node:tls' | 'openssl s_client', number>;
}

/** A kind of connection the engine records (and the fuzz targets re-create live). */
export interface Kind {
  name: string;
  version: 'TLSv1.2' | 'TLSv1.3';
  server: SslContextOptions;
  client: SslContextOptions;
  /** Resume a session of a first, unrecorded connection. */
  resume?: boolean;
  clientCert?: boolean;
  rsa?: boolean;
}

export const KINDS: readonly Kind[] = [
  { name: 'tls13', version: 'TLSv1.3', server: {}, client: { alpnProtocols: ['h2', 'http/1.1'] } },
  { name: 'tls13-resume', version: 'TLSv1.3', server: {}, client: {}, resume: true },
  { name: 'tls13-stateful-resume', version: 'TLSv1.3', server: { options: OP.NO_TICKET }, client: {}, resume: true },
  { name: 'tls13-client-auth', version: 'TLSv1.3', server: {}, client: {}, clientCert: true },
  { name: 'tls12-ticket', version: 'TLSv1.2', server: { alpnProtocols: ['http/1.1'] }, client: { alpnProtocols: ['http/1.1'] } },
  { name: 'tls12-ticket-resume', version: 'TLSv1.2', server: {}, client: {}, resume: true },
  { name: 'tls12-id', version: 'TLSv1.2', server: { options: OP.NO_TICKET }, client: {} },
  { name: 'tls12-id-resume', version: 'TLSv1.2', server: { options: OP.NO_TICKET }, client: {}, resume: true },
  { name: 'tls12-client-auth', version: 'TLSv1.2', server: {}, client: {}, clientCert: true },
  {
    name: 'tls12-rsa-kx',
    version: 'TLSv1.2',
    server: { ciphers: 'AES128-SHA:AES256-GCM-SHA384' },
    client: { ciphers: 'AES128-SHA' },
    rsa: true,
  },
  {
    name: 'tls12-cbc-etm',
    version: 'TLSv1.2',
    server: { ciphers: 'ECDHE-ECDSA-AES128-SHA256' },
    client: { ciphers: 'ECDHE-ECDSA-AES128-SHA256' },
  },
];

let cachedKeys: Corpus['keys'] | undefined;

/** The certificates every target uses (generated once per process). */
export function fuzzKeys(): Corpus['keys'] {
  cachedKeys ??= {
    ec: createSelfSigned({ commonName: 'localhost' }),
    rsa: createSelfSigned({ commonName: 'localhost', keyType: 'rsa', bits: 2048 }),
    client: createSelfSigned({ commonName: 'fuzz client', altNames: ['DNS:client'] }),
  };
  return cachedKeys;
}

/** Server and client contexts for `kind` (callers close them). */
export function kindContexts(kind: Kind, extraServer: SslContextOptions = {}): { server: SslContext; client: SslContext } {
  const keys = fuzzKeys();
  const leaf = kind.rsa ? keys.rsa : keys.ec;
  const server = new SslContext('server', {
    cert: leaf.cert,
    key: leaf.key,
    sessionIdContext: 'fuzz',
    maxVersion: kind.version,
    ...(kind.clientCert ? { verify: true, ca: keys.client.cert } : {}),
    ...kind.server,
    ...extraServer,
  });
  const client = new SslContext('client', {
    ca: leaf.cert,
    verify: true,
    maxVersion: kind.version,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
    ...(kind.clientCert ? { cert: keys.client.cert, key: keys.client.key } : {}),
    ...kind.client,
  });
  return { server, client };
}

/** Runs one connection over the in-memory wire, recording each flight. */
export function recordConnection(
  clientCtx: SslContext,
  serverCtx: SslContext,
  session: SslSession | null,
): { flights: Flight[]; postHandshake: number; sessions: SslSession[]; serverSession: SslSession | null } {
  const sessions: SslSession[] = [];
  const c = new SslConnection(clientCtx);
  const s = new SslConnection(serverCtx);
  c.setSessionListener((got) => sessions.push(got));
  c.setTlsextHostName('localhost');
  if (session) c.setSession(session);
  const flights: Flight[] = [];
  const move = (from: SslConnection, to: SslConnection, who: Flight['from']) => {
    const out = from.takeOutput();
    if (out === null) return;
    flights.push({ from: who, bytes: out });
    to.feed(out);
  };
  let cd = false;
  let sd = false;
  for (let i = 0; i < 32 && !(cd && sd); i++) {
    if (!cd) cd = c.doHandshake() === SSL_ERROR.NONE;
    move(c, s, 'client');
    if (!sd) sd = s.doHandshake() === SSL_ERROR.NONE;
    move(s, c, 'server');
  }
  if (!(cd && sd)) throw new Error('corpus: handshake did not finish');
  const postHandshake = flights.length;
  c.read(); // TLS 1.3 tickets (already in the last server flight)
  c.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
  move(c, s, 'client');
  s.read();
  s.write(Buffer.alloc(300, 0x61));
  move(s, c, 'server');
  c.read();
  c.shutdown();
  move(c, s, 'client');
  s.read();
  s.shutdown();
  move(s, c, 'server');
  c.read();
  const serverSession = s.get1Session();
  c.setSessionListener(null);
  c.free();
  s.free();
  return { flights, postHandshake, sessions, serverSession };
}

function engineCorpus(corpus: Corpus): void {
  for (const kind of KINDS) {
    const { server, client } = kindContexts(kind);
    try {
      let offered: SslSession | null = null;
      if (kind.resume) {
        const first = recordConnection(client, server, null);
        offered = first.sessions.at(-1) ?? null;
        for (const s of first.sessions.slice(0, -1)) s.dispose();
        first.serverSession?.dispose();
      }
      const run = recordConnection(client, server, offered);
      offered?.dispose();
      corpus.transcripts.push({ name: kind.name, version: kind.version, flights: run.flights, postHandshake: run.postHandshake });
      const all = [...run.sessions, ...(run.serverSession ? [run.serverSession] : [])];
      for (const [i, session] of all.entries()) {
        const side = session === run.serverSession ? 'server' : 'client';
        corpus.sessions.push({ name: `engine ${kind.name} ${side} ${i}`, der: session.toDER() });
        if (i === 0) corpus.pems.push({ name: `engine ${kind.name} ${side}`, text: session.toPEM() });
        corpus.sources.engine++;
        session.dispose();
      }
    } finally {
      server.close();
      client.close();
    }
  }
}

async function nodeTlsCorpus(corpus: Corpus): Promise<void> {
  const { ec } = fuzzKeys();
  const server = tls.createServer({ key: ec.key, cert: ec.cert }, (socket) => socket.end('bye'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const ders = await new Promise<Buffer[]>((resolve, reject) => {
        const got: Buffer[] = [];
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ec.cert, maxVersion });
        socket.on('session', (der: Buffer) => got.push(der));
        socket.on('error', reject);
        socket.on('data', () => {});
        socket.on('close', () => resolve(got));
      });
      for (const [i, der] of ders.entries()) {
        corpus.sessions.push({ name: `node:tls ${maxVersion} ${i}`, der });
        corpus.sources['node:tls']++;
      }
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function opensslCli(): string | null {
  try {
    const version = execFileSync('openssl', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /^OpenSSL [13]/.test(version) ? 'openssl' : null;
  } catch {
    return null;
  }
}

async function sClientCorpus(corpus: Corpus): Promise<void> {
  const cli = opensslCli();
  if (cli === null) return;
  const { ec } = fuzzKeys();
  const context = new SslContext('server', { cert: ec.cert, key: ec.key, sessionIdContext: 'fuzz' });
  const server = createServer({ context }, (socket) => {
    socket.on('data', () => socket.end('bye\n'));
    socket.on('error', () => {});
  });
  const { port } = await server.listen();
  const dir = mkdtempSync(join(tmpdir(), 'openssl-session-fuzz-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), ec.cert);
    for (const args of [['-tls1_3'], ['-tls1_2'], ['-tls1_2', '-no_ticket']]) {
      const out = join(dir, 'sess.pem');
      rmSync(out, { force: true });
      const child = spawn(
        cli,
        [
          's_client',
          '-connect',
          `127.0.0.1:${port}`,
          '-servername',
          'localhost',
          '-CAfile',
          join(dir, 'ca.pem'),
          '-ign_eof',
          '-sess_out',
          out,
          ...args,
        ],
        {
          stdio: ['pipe', 'ignore', 'ignore'],
        },
      );
      child.stdin.on('error', () => {});
      child.stdin.end('hello\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await new Promise((resolve) => child.once('close', resolve));
      clearTimeout(timer);
      let text: string;
      try {
        text = readFileSync(out, 'latin1');
      } catch {
        continue;
      }
      const session = SslSession.fromPEM(text);
      corpus.pems.push({ name: `openssl s_client ${args.join(' ')}`, text });
      corpus.sessions.push({ name: `openssl s_client ${args.join(' ')}`, der: session.toDER() });
      corpus.sources['openssl s_client']++;
      session.dispose();
    }
  } finally {
    await server.close();
    context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds the whole seed corpus (about a second). `network: false` skips node:tls and s_client. */
export async function buildCorpus(options: { network?: boolean } = {}): Promise<Corpus> {
  const corpus: Corpus = {
    sessions: [],
    pems: [],
    transcripts: [],
    keys: fuzzKeys(),
    sources: { engine: 0, 'node:tls': 0, 'openssl s_client': 0 },
  };
  engineCorpus(corpus);
  if (options.network ?? true) {
    await nodeTlsCorpus(corpus);
    await sClientCorpus(corpus);
  }
  return corpus;
}
