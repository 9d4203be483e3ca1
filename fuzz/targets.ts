/**
 * Fuzz targets: each is a deterministic function of one input (bytes), as a libFuzzer
 * target is, driving the addon's C++ through the public API. An input either runs to an
 * outcome (a string: 'ok', 'want-read', or the code of the error the library threw) or
 * fails: a crash (the process dies: the runner sees it), an error of a class the library
 * must never throw (anything but OpenSSLError, or a TypeError/RangeError with a code), or
 * a broken invariant (a DER round trip that is not stable, plaintext that arrives changed).
 *
 * Targets that need choices (which kind of connection, which flight to tamper with) read
 * them from the first `prefix` bytes of the input (control bytes), so the whole input is
 * what the mutator mutates and what a crash file records.
 */
import { OpenSSLError, SSL_ERROR, SslConnection, SslContext, SslSession, VERSION, drain, shutdownInMemory } from '../lib/index.js';
import { type Corpus, KINDS, type Kind, type Transcript, fuzzKeys, kindContexts } from './corpus.js';
import { type Format, fixTlsLengths } from './mutate.js';

/** An input broke a rule (not merely rejected): what the fuzzer is looking for. */
export class FuzzFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzFailure';
  }
}

export interface Target {
  name: string;
  /** How the mutator treats the bytes after the control prefix. */
  format: Format;
  /** Control bytes at the start of every input. */
  prefix: number;
  /** Share of a run's inputs (weights are normalized). */
  weight: number;
  seeds(corpus: Corpus): Buffer[];
  /** Runs one input; returns its outcome. Throws FuzzFailure (or anything else) on a bug. */
  run(input: Buffer): string;
  /** Frees what the target keeps between inputs (contexts, sessions). */
  reset(): void;
}

/** The outcome of an error the library may legitimately throw; anything else is a failure. */
export function classify(error: unknown): string {
  if (error instanceof FuzzFailure) throw error;
  if (error instanceof OpenSSLError) return `OpenSSLError:${error.code}`;
  if ((error instanceof TypeError || error instanceof RangeError) && typeof (error as { code?: unknown }).code === 'string') {
    return `${error.name}:${(error as unknown as { code: string }).code}`;
  }
  throw new FuzzFailure(`unexpected error class ${(error as Error)?.constructor?.name}: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

function attempt(fn: () => string): string {
  try {
    return fn();
  } catch (error) {
    return classify(error);
  }
}

/** A cheap checksum of the input, for choices that must not depend on control bytes. */
function hash(input: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i += 1 + (input.length >> 6)) h = Math.imul(h ^ input[i]!, 16777619);
  return h >>> 0;
}

// ----- sessions ------------------------------------------------------------------------

/** Every getter and serializer of a parsed session, and the round-trip invariants. */
function exerciseSession(session: SslSession, deep: boolean, contexts: SessionContexts): string {
  session.describe();
  session.getId();
  session.get0Peer();
  session.getMaxEarlyData();
  const der = session.toDER();
  const again = SslSession.fromDER(der);
  const der2 = again.toDER();
  if (!der2.equals(der)) throw new FuzzFailure('i2d(d2i(i2d(s))) differs from i2d(s)');
  const pem = session.toPEM();
  const fromPem = SslSession.fromPEM(pem);
  if (!fromPem.toDER().equals(der)) throw new FuzzFailure('PEM round trip differs from the DER form');
  const up = session.upRef();
  if (!up.isSame(session) || again.isSame(session)) throw new FuzzFailure('upRef/isSame disagree');
  const copy = session.dup();
  // SSL_SESSION_dup does not carry every field of some odd (fuzzed) sessions into i2d's
  // output (seen: the [19] group of a session with an empty id). OpenSSL's business, not a
  // memory-safety matter: counted as an outcome, not a failure.
  const dupDiffers = !copy.toDER().equals(der);
  if (deep) useSession(copy, contexts);
  for (const s of [again, fromPem, up, copy]) s.dispose();
  try {
    up.getId();
    throw new FuzzFailure('a disposed session still answered');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_SESSION_DISPOSED') throw error;
  }
  return dupDiffers ? 'parsed (dup differs)' : 'parsed';
}

interface SessionContexts {
  servers: SslContext[];
  client12: SslContext;
  client13: SslContext;
}

let sessionContexts: SessionContexts | undefined;

function getSessionContexts(): SessionContexts {
  if (sessionContexts === undefined) {
    const { ec } = fuzzKeys();
    const server = (o: object) =>
      new SslContext('server', { cert: ec.cert, key: ec.key, sessionIdContext: 'fuzz', sessionCacheSize: 64, ...o });
    sessionContexts = {
      servers: [server({}), server({ maxVersion: 'TLSv1.2' }), server({ maxVersion: 'TLSv1.2', options: 0x4000 /* OP.NO_TICKET */ })],
      client12: new SslContext('client', { maxVersion: 'TLSv1.2' }),
      client13: new SslContext('client', {}),
    };
  }
  return sessionContexts;
}

/**
 * A parsed (possibly nonsensical) session put to work: offered by a client in a real
 * handshake, added to and removed from a server cache, returned from onGetSession.
 */
function useSession(session: SslSession, contexts: SessionContexts): void {
  const tls13 = session.getProtocolVersion() === VERSION.TLS1_3;
  const server = contexts.servers[hash(session.getId()) % contexts.servers.length]!;
  attempt(() => String(server.addSession(session)));
  server.onGetSession(() => session);
  const c = new SslConnection(tls13 ? contexts.client13 : contexts.client12);
  const s = new SslConnection(server);
  try {
    attempt(() => {
      c.setSession(session);
      return 'set';
    });
    attempt(() => driveHandshake(c, s, null));
  } finally {
    server.onGetSession(null);
    c.free();
    s.free();
  }
  attempt(() => String(server.removeSession(session)));
}

function sessionTarget(name: 'session-der' | 'session-pem'): Target {
  const pem = name === 'session-pem';
  return {
    name,
    format: pem ? 'text' : 'der',
    prefix: 0,
    weight: pem ? 12 : 35,
    seeds: (corpus) => (pem ? corpus.pems.map((p) => Buffer.from(p.text, 'latin1')) : corpus.sessions.map((s) => s.der)),
    run(input) {
      let session: SslSession;
      try {
        session = pem ? SslSession.fromPEM(hash(input) & 1 ? input : input.toString('latin1')) : SslSession.fromDER(input);
      } catch (error) {
        return classify(error);
      }
      if (!(session instanceof SslSession)) throw new FuzzFailure('fromDER/fromPEM returned a non-SslSession');
      const h = hash(input);
      const outcome = attempt(() => exerciseSession(session, h % 16 === 0, getSessionContexts()));
      if (h % 8 !== 1) session.dispose(); // the rest is left to the garbage collector
      return outcome;
    },
    reset() {
      if (sessionContexts === undefined) return;
      for (const ctx of [...sessionContexts.servers, sessionContexts.client12, sessionContexts.client13]) ctx.close();
      sessionContexts = undefined;
    },
  };
}

// ----- the engine ------------------------------------------------------------------------

/**
 * Runs both handshakes over the in-memory wire. `tamper(flightIndex, from, bytes)` may
 * replace each flight. Returns 'ok' once both finished, 'stalled' if nothing moves.
 */
function driveHandshake(
  c: SslConnection,
  s: SslConnection,
  tamper: ((index: number, from: 'client' | 'server', bytes: Buffer) => Buffer) | null,
): string {
  let cd = false;
  let sd = false;
  let index = 0;
  const move = (from: SslConnection, to: SslConnection, who: 'client' | 'server') => {
    let out = from.takeOutput();
    if (out === null) return false;
    if (tamper) out = tamper(index, who, out);
    index++;
    if (out.length > 0) to.feed(out);
    return true;
  };
  for (let round = 0; round < 24; round++) {
    let moved = false;
    try {
      if (!cd) cd = c.doHandshake() === SSL_ERROR.NONE;
    } finally {
      moved = move(c, s, 'client') || moved;
    }
    try {
      if (!sd) sd = s.doHandshake() === SSL_ERROR.NONE;
    } finally {
      moved = move(s, c, 'server') || moved;
    }
    if (cd && sd) return 'ok';
    if (!moved) return 'stalled';
  }
  return 'stalled';
}

/** Live contexts of every kind, and a resumable session per kind that resumes. */
interface KindState {
  server: SslContext;
  client: SslContext;
  session: SslSession | null;
  uses: number;
}

const kindStates = new Map<string, KindState>();

function kindState(kind: Kind): KindState {
  let state = kindStates.get(kind.name);
  if (state === undefined || state.uses++ > 2000) {
    if (state) closeKind(state); // a full cache closed mid-run: remove callbacks, flush
    const contexts = kindContexts(kind, { sessionCacheSize: 128 });
    state = { ...contexts, session: null, uses: 0 };
    kindStates.set(kind.name, state);
  }
  if (kind.resume && (state.session === null || !state.session.isResumable())) {
    state.session?.dispose();
    const c = new SslConnection(state.client);
    const s = new SslConnection(state.server);
    c.setTlsextHostName('localhost');
    driveHandshake(c, s, null);
    drain(c, s); // TLS 1.3 tickets
    shutdownInMemory(c, s); // else SSL_free marks the session not resumable
    state.session = c.get1Session();
    c.free();
    s.free();
  }
  return state;
}

function closeKind(state: KindState): void {
  state.session?.dispose();
  state.server.close();
  state.client.close();
}

function resetKinds(): void {
  for (const state of kindStates.values()) closeKind(state);
  kindStates.clear();
}

/** A fresh pair of connections of `kind` (resuming its session when the kind resumes). */
function pairOf(kind: Kind): { c: SslConnection; s: SslConnection } {
  const state = kindState(kind);
  const c = new SslConnection(state.client);
  const s = new SslConnection(state.server);
  c.setTlsextHostName('localhost');
  if (kind.resume && state.session) c.setSession(state.session);
  return { c, s };
}

function handshakeBytes(t: Transcript, from: 'client' | 'server'): Buffer {
  return Buffer.concat(
    t.flights
      .slice(0, t.postHandshake)
      .filter((f) => f.from === from)
      .map((f) => f.bytes),
  );
}

function kindOf(control: number): Kind {
  return KINDS[control % KINDS.length]!;
}

/** Steps `conn` until it stops asking, collecting the outcome. */
function stepUntilStuck(conn: SslConnection): string {
  let outcome = 'want-read';
  for (let i = 0; i < 4; i++) {
    const status = conn.doHandshake();
    conn.takeOutput();
    if (status === SSL_ERROR.NONE) {
      outcome = 'handshake-done';
      conn.read();
      break;
    }
  }
  return outcome;
}

/** Feeds `bytes` in 1-3 pieces (record reassembly), stepping after each. */
function feedInPieces(conn: SslConnection, bytes: Buffer, control: number): string {
  const pieces = 1 + ((control >> 4) % 3);
  let outcome = 'want-read';
  for (let p = 0; p < pieces; p++) {
    const from = Math.floor((bytes.length * p) / pieces);
    const to = Math.floor((bytes.length * (p + 1)) / pieces);
    conn.feed(bytes.subarray(from, to));
    outcome = stepUntilStuck(conn);
  }
  if (control & 0x80) {
    conn.feedEOF();
    outcome = stepUntilStuck(conn);
  }
  return outcome;
}

function flightTarget(side: 'server' | 'client'): Target {
  // server-flight: bytes a client sent, into a fresh server; client-flight: the reverse.
  const name = side === 'server' ? 'server-flight' : 'client-flight';
  return {
    name,
    format: 'tls',
    prefix: 1,
    weight: side === 'server' ? 20 : 12,
    seeds: (corpus) =>
      corpus.transcripts.flatMap((t) => {
        const control = KINDS.findIndex((k) => k.name === t.name);
        const from = side === 'server' ? 'client' : 'server';
        const first = t.flights.find((f) => f.from === from)!.bytes;
        return [Buffer.concat([Buffer.from([control]), first]), Buffer.concat([Buffer.from([control | 0x10]), handshakeBytes(t, from)])];
      }),
    run(input) {
      const control = input[0] ?? 0;
      const kind = kindOf(control);
      const state = kindState(kind);
      const conn = new SslConnection(side === 'server' ? state.server : state.client);
      try {
        if (side === 'client') {
          conn.setTlsextHostName('localhost');
          if (kind.resume && state.session) conn.setSession(state.session);
          conn.doHandshake(); // the ClientHello, dropped: the input answers it
          conn.takeOutput();
        }
        return attempt(() => feedInPieces(conn, input.subarray(1), control));
      } finally {
        // After any outcome the connection still answers, then is freed (or left to GC).
        attempt(() => `${conn.getVersion()} ${conn.isInitFinished()} ${conn.getVerifyResult()}`);
        if (hash(input) % 8 !== 3) conn.free();
      }
    },
    reset: resetKinds,
  };
}

/**
 * An edit script: 4-byte ops [op, posHi, posLo, value] applied to `bytes` (xor, set, insert,
 * truncate, delete); op bit 0x80 re-fixes TLS lengths afterwards.
 */
export function applyEdits(bytes: Buffer, script: Buffer): Buffer {
  let out = Buffer.from(bytes);
  let fix = false;
  for (let i = 0; i + 4 <= script.length && i < 32; i += 4) {
    const op = script[i]!;
    const pos = out.length === 0 ? 0 : script.readUInt16BE(i + 1) % (out.length + 1);
    const value = script[i + 3]!;
    fix ||= (op & 0x80) !== 0;
    switch (op % 5) {
      case 0:
        if (pos < out.length) out[pos]! ^= value | 1;
        break;
      case 1:
        if (pos < out.length) out[pos] = value;
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, pos), Buffer.from([value]), out.subarray(pos)]);
        break;
      case 3:
        out = out.subarray(0, pos);
        break;
      default:
        out = Buffer.concat([out.subarray(0, pos), out.subarray(pos + 1 + (value & 7))]);
    }
  }
  return fix ? fixTlsLengths(out) : out;
}

const mitmTarget: Target = {
  name: 'mitm',
  format: 'raw',
  prefix: 2,
  weight: 6,
  seeds: (corpus) =>
    corpus.transcripts.flatMap((t) => {
      const kind = KINDS.findIndex((k) => k.name === t.name);
      return t.flights.slice(0, t.postHandshake).flatMap((f, i) => [
        Buffer.from([kind, i, 0, 0x00, 0x00, 0x01]), // record type
        Buffer.from([kind, i, 0, 0x00, 0x03, 0x40]), // record length
        Buffer.from([kind, i, 1, 0x00, 0x05, 0x02]), // handshake type
        Buffer.from([kind, i, 0x80, 0x00, 0x09, 0x00]), // inside the message, lengths fixed
        Buffer.from([kind, i, 3, Math.floor(f.bytes.length / 2) >> 8, Math.floor(f.bytes.length / 2) & 0xff, 0]), // cut in half
      ]);
    }),
  run(input) {
    const kind = kindOf(input[0] ?? 0);
    const target = input[1] ?? 0;
    const script = input.subarray(2);
    const { c, s } = pairOf(kind);
    try {
      return attempt(() => {
        let changed = false;
        const outcome = driveHandshake(c, s, (index, _from, bytes) => {
          if (index !== target % 4) return bytes;
          const edited = applyEdits(bytes, script);
          changed = !edited.equals(bytes);
          return edited;
        });
        if (outcome !== 'ok') return outcome;
        if (!changed) return 'untampered';
        // The tampering did not matter (or missed): the connection must work normally.
        const sent = Buffer.from(`fuzz ${target}`);
        c.write(sent);
        c.pipeTo(s);
        const got = s.read();
        if (got === null || !got.equals(sent))
          throw new FuzzFailure(`plaintext changed in transit after a tampered handshake (${kind.name})`);
        return 'ok-despite-tampering';
      });
    } finally {
      c.free();
      s.free();
    }
  },
  reset: resetKinds,
};

/** Kinds whose pairs are cheap to make (resumptions) or matter after the handshake. */
const POST_KINDS = KINDS.filter((k) => ['tls12-id-resume', 'tls13-resume', 'tls12-cbc-etm', 'tls12-ticket-resume'].includes(k.name));

const postHandshakeTarget: Target = {
  name: 'post-handshake',
  format: 'raw',
  prefix: 2,
  weight: 6,
  seeds: (corpus) => {
    const records = corpus.transcripts.flatMap((t) => t.flights.slice(t.postHandshake).map((f) => f.bytes));
    return POST_KINDS.flatMap((_, k) => [
      ...records.slice(0, 4).map((r) => Buffer.concat([Buffer.from([k, 0]), r])), // raw records of another connection
      Buffer.from([k, 1, 0x00, 0x00, 0x05, 0xff]), // edit a real record's MAC
      Buffer.from([k, 1, 0x80, 0x00, 0x03, 0x00]), // edit a real record's length
      Buffer.from([k, 2, 0x00, 0x07]), // a real record cut short, then EOF
      Buffer.from([k, 3, ...Buffer.from('plaintext that must arrive unchanged')]),
    ]);
  },
  run(input) {
    const kind = POST_KINDS[(input[0] ?? 0) % POST_KINDS.length]!;
    const mode = (input[1] ?? 0) % 4;
    const body = input.subarray(2);
    const { c, s } = pairOf(kind);
    try {
      if (driveHandshake(c, s, null) !== 'ok') throw new FuzzFailure(`${kind.name}: a clean handshake did not finish`);
      c.read(); // tickets
      return attempt(() => {
        switch (mode) {
          case 0:
            s.feed(body);
            return readOutcome(s);
          case 1: {
            c.write(Buffer.alloc(1 + (body.length % 300), 0x42));
            const record = c.takeOutput() ?? Buffer.alloc(0);
            s.feed(applyEdits(record, body));
            return readOutcome(s);
          }
          case 2: {
            c.write(Buffer.from('a record that will be cut'));
            const record = c.takeOutput() ?? Buffer.alloc(0);
            s.feed(record.subarray(0, body.length === 0 ? 0 : body.readUInt16BE(0) % record.length));
            s.feedEOF();
            return readOutcome(s);
          }
          default: {
            // Integrity: whatever plaintext goes in comes out, both ways, in one piece or many.
            for (const [from, to] of [
              [c, s],
              [s, c],
            ] as const) {
              let written = 0;
              while (written < body.length) written += from.write(body.subarray(written));
              from.pipeTo(to);
              const chunks: Buffer[] = [];
              for (let got = to.read(); got !== null && got.length > 0; got = to.read()) chunks.push(got);
              if (!Buffer.concat(chunks).equals(body)) throw new FuzzFailure(`${kind.name}: plaintext changed in transit`);
            }
            return 'intact';
          }
        }
      });
    } finally {
      // Closing after whatever happened: shutdown may fail on a broken connection; free must not.
      attempt(() => String(c.shutdown()));
      attempt(() => String(s.shutdown()));
      c.free();
      s.free();
    }
  },
  reset: resetKinds,
};

function readOutcome(conn: SslConnection): string {
  const got = conn.read();
  conn.takeOutput();
  if (got === null) return 'close-notify';
  return got.length > 0 ? 'data' : 'want-read';
}

let alpnState: { server: SslContext; client: SslContext; session: SslSession | null; offered: string[] } | undefined;

/** The protocols of an ALPN wire list (length-prefixed strings), as the client offers them. */
function wireList(wire: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i < wire.length; i += 1 + wire[i]!) out.push(wire.subarray(i + 1, i + 1 + wire[i]!).toString('utf8'));
  return out;
}

/** Server ALPN preference lists and client offers, both raw wire bytes (SSL_select_next_proto). */
const alpnTarget: Target = {
  name: 'alpn-select',
  format: 'raw',
  prefix: 1,
  weight: 3,
  seeds: () => [
    Buffer.from([9, 2, 0x68, 0x32, 8, ...Buffer.from('http/1.1'), 2, 0x68, 0x32]),
    Buffer.from([3, 2, 0x68, 0x32, 2, 0x68, 0x32]),
    Buffer.from([0, 2, 0x68, 0x32]),
    Buffer.from([4, 255, 0x61, 0x62, 0x63, 2, 0x68, 0x32]),
  ],
  run(input) {
    if (alpnState === undefined) {
      const kind = KINDS.find((k) => k.name === 'tls12-id-resume')!;
      alpnState = { ...kindContexts(kind), session: null, offered: [] };
    }
    const split = Math.min(input[0] ?? 0, input.length - 1);
    const serverWire = input.subarray(1, 1 + split);
    const clientWire = input.subarray(1 + split);
    const outcomes = [
      attempt(() => {
        alpnState!.server.setAlpnProtos(serverWire);
        return 'server-set';
      }),
      attempt(() => {
        alpnState!.client.setAlpnProtos(clientWire);
        alpnState!.offered = wireList(clientWire); // an invalid list leaves the previous one
        return 'client-set';
      }),
    ];
    const c = new SslConnection(alpnState.client);
    const s = new SslConnection(alpnState.server);
    try {
      if (alpnState.session) c.setSession(alpnState.session);
      outcomes.push(attempt(() => driveHandshake(c, s, null)));
      const selected = attempt(() => String(c.get0AlpnSelected()));
      if (outcomes[2] === 'ok' && selected !== 'null' && !alpnState.offered.includes(selected)) {
        throw new FuzzFailure(`ALPN selected ${JSON.stringify(selected)}, which the client did not offer`);
      }
      if (outcomes[2] === 'ok' && alpnState.session === null) {
        c.shutdown();
        c.pipeTo(s);
        s.read();
        s.shutdown();
        alpnState.session = c.get1Session();
      }
      return outcomes.join(' ');
    } finally {
      c.free();
      s.free();
    }
  },
  reset() {
    if (!alpnState) return;
    alpnState.session?.dispose();
    alpnState.server.close();
    alpnState.client.close();
    alpnState = undefined;
  },
};

let certContexts: { server: SslContext; client: SslContext; uses: number } | undefined;

/** Certificate chains, private keys and CA bundles (PEM) into a context (certificates.cc). */
const certTarget: Target = {
  name: 'pem-certs',
  format: 'text',
  prefix: 1,
  weight: 6,
  seeds: (corpus) =>
    [corpus.keys.ec.cert, corpus.keys.ec.key, corpus.keys.rsa.cert, corpus.keys.client.cert + corpus.keys.ec.cert, corpus.keys.rsa.key].map(
      (pem, i) => Buffer.concat([Buffer.from([i]), Buffer.from(pem)]),
    ),
  run(input) {
    if (certContexts === undefined || certContexts.uses++ > 500) {
      certTarget.reset();
      certContexts = { server: new SslContext('server'), client: new SslContext('client'), uses: 0 };
    }
    const text = input.subarray(1).toString('latin1');
    switch ((input[0] ?? 0) % 4) {
      case 0:
        return attempt(() => {
          certContexts!.server.useCertificateChain(text);
          return 'chain';
        });
      case 1:
        return attempt(() => {
          certContexts!.server.usePrivateKey(text);
          return 'key';
        });
      case 2:
        return attempt(() => {
          certContexts!.server.usePrivateKey(text, 'passphrase');
          return 'key+passphrase';
        });
      default:
        return attempt(() => `ca ${certContexts!.client.addCaCertificates(input.subarray(1))}`);
    }
  },
  reset() {
    if (!certContexts) return;
    certContexts.server.close();
    certContexts.client.close();
    certContexts = undefined;
  },
};

/** Every target, in a fixed order (a run's seed reproduces it). */
export function allTargets(): Target[] {
  return [
    sessionTarget('session-der'),
    sessionTarget('session-pem'),
    flightTarget('server'),
    flightTarget('client'),
    certTarget,
    mitmTarget,
    postHandshakeTarget,
    alpnTarget,
  ];
}
