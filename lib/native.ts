/**
 * The ONLY module that loads the native addon (through `bindings`), and the typed
 * declarations of what it exports. Everything else imports `binding` from here.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A constant table exported by the addon (frozen). */
export type ConstantTable<K extends string> = Readonly<Record<K, number>>;

/** Counters of SSL_CTX_sess_*(): what OpenSSL's session cache did. */
export interface SessionCacheStats {
  /** SSL_CTX_sess_number: sessions in the internal cache now. */
  number: number;
  connect: number;
  connectGood: number;
  connectRenegotiate: number;
  accept: number;
  acceptGood: number;
  acceptRenegotiate: number;
  /** Sessions reused from the internal cache. */
  hits: number;
  /** Sessions reused through the get-session callback. */
  cbHits: number;
  misses: number;
  timeouts: number;
  cacheFull: number;
}

/** Native SSL_SESSION handle: owns exactly one reference. */
export declare class NativeSslSession {
  protected constructor();
  /** d2i_SSL_SESSION: parse the DER form (as node:tls `socket.getSession()` returns). */
  static fromDER(der: Uint8Array): NativeSslSession;
  /** PEM_read_bio_SSL_SESSION: parse "SSL SESSION PARAMETERS" PEM (`openssl s_client -sess_out`). */
  static fromPEM(pem: string): NativeSslSession;
  /** i2d_SSL_SESSION: the DER form, accepted by node:tls `tls.connect({ session })`. */
  toDER(): Buffer;
  /** PEM_write_bio_SSL_SESSION: the PEM form (`openssl s_client -sess_in` reads it). */
  toPEM(): string;
  /** SSL_SESSION_get_id: the session id (may be empty for TLS 1.2 ticket-only sessions). */
  getId(): Buffer;
  /** SSL_SESSION_get0_id_context: the session id context the server stamped on it. */
  get0IdContext(): Buffer;
  /** SSL_SESSION_get_protocol_version: e.g. 0x0304 for TLS 1.3 (see `VERSION`). */
  getProtocolVersion(): number;
  /** SSL_SESSION_get0_cipher: the cipher name, or null. */
  get0Cipher(): string | null;
  /** SSL_SESSION_get_time: creation time, seconds since the epoch. */
  getTime(): number;
  /** SSL_SESSION_set_time: set the creation time (seconds since the epoch). */
  setTime(seconds: number): void;
  /** SSL_SESSION_get_timeout: lifetime in seconds, counted from getTime(). */
  getTimeout(): number;
  /** SSL_SESSION_set_timeout. */
  setTimeout(seconds: number): void;
  /** SSL_SESSION_has_ticket: whether the session carries a ticket (RFC 5077 / TLS 1.3). */
  hasTicket(): boolean;
  /** SSL_SESSION_get0_ticket: the ticket bytes, or null. */
  get0Ticket(): Buffer | null;
  /** SSL_SESSION_get_ticket_lifetime_hint: the server's lifetime hint, seconds. */
  getTicketLifetimeHint(): number;
  /** SSL_SESSION_is_resumable: whether a client can offer it for resumption. */
  isResumable(): boolean;
  /** SSL_SESSION_get_max_early_data. */
  getMaxEarlyData(): number;
  /** SSL_SESSION_get0_hostname: the SNI the session was made with, or null. */
  get0Hostname(): string | null;
  /** SSL_SESSION_get0_alpn_selected, or null. */
  get0AlpnSelected(): string | null;
  /** SSL_SESSION_get0_peer: the peer certificate (DER), or null. */
  get0Peer(): Buffer | null;
  /** @internal Fills `out` with what a session cache reads (see describeSslSession). */
  readCacheMeta(out: Float64Array): void;
  /** SSL_SESSION_up_ref: a second handle owning its own reference to the same session. */
  upRef(): NativeSslSession;
  /** SSL_SESSION_dup: an independent copy. */
  dup(): NativeSslSession;
  /** Whether both handles point at the same SSL_SESSION. */
  isSame(other: NativeSslSession): boolean;
  /** SSL_SESSION_free now. Every later call (a second dispose() too) throws ERR_SESSION_DISPOSED. */
  dispose(): void;
  /** True after dispose(). */
  get disposed(): boolean;
}

export type SessionCallbackConnection = NativeSslConnection | null;

/** Native SSL_CTX handle. */
export declare class NativeSslContext {
  constructor(role: 'client' | 'server');
  /**
   * Diagnostics: how many SSL_SESSION objects OpenSSL created and freed in this process since
   * the first call (counted by an SSL_SESSION ex_data index, so exactly the real allocations
   * and the frees at refcount 0). `live` = created - freed. For leak and refcount tests.
   */
  static debugSessionCounts(): { created: number; freed: number; live: number };
  setMinProtoVersion(version: number): void;
  setMaxProtoVersion(version: number): void;
  getMinProtoVersion(): number;
  getMaxProtoVersion(): number;
  setOptions(bits: number): number;
  clearOptions(bits: number): number;
  getOptions(): number;
  useCertificateChain(pem: string): void;
  usePrivateKey(pem: string, passphrase?: string): void;
  addCaCertificates(pem: string): number;
  setVerify(mode: number): void;
  getVerifyMode(): number;
  setVerifyDepth(depth: number): void;
  setCipherList(list: string): void;
  setCiphersuites(list: string): void;
  setAlpnProtos(wire: Uint8Array): void;
  setSessionIdContext(sidCtx: Uint8Array): void;
  setTimeout(seconds: number): number;
  getTimeout(): number;
  setSessionCacheMode(mode: number): number;
  getSessionCacheMode(): number;
  setSessionCacheSize(size: number): number;
  getSessionCacheSize(): number;
  setNumTickets(count: number): void;
  getNumTickets(): number;
  flushSessions(time: number): void;
  addSession(session: NativeSslSession): boolean;
  removeSession(session: NativeSslSession): boolean;
  stats(): SessionCacheStats;
  sessSetNewCb(cb: ((session: NativeSslSession, connection: SessionCallbackConnection) => void) | null): void;
  sessSetRemoveCb(cb: ((session: NativeSslSession) => void) | null): void;
  sessSetGetCb(cb: ((id: Buffer, connection: SessionCallbackConnection) => NativeSslSession | null | undefined) | null): void;
  /** SSL_CTX_set_keylog_callback: each line (NSS key log format) as a Buffer ending in a newline. */
  setKeylogCb(cb: ((line: Buffer, connection: SessionCallbackConnection) => void) | null): void;
  close(): void;
  readonly closed: boolean;
  get isServer(): boolean;
}

/** Native SSL handle with its two memory BIOs. */
export declare class NativeSslConnection {
  constructor(context: NativeSslContext);
  feed(ciphertext: Uint8Array): void;
  feedEOF(): void;
  takeOutput(): Buffer | null;
  pendingOutput(): number;
  /** Moves pending output straight into `peer`'s input (the in-memory wire); returns bytes moved. */
  pipeTo(peer: NativeSslConnection): number;
  doHandshake(): number;
  connect(): number;
  accept(): number;
  read(): Buffer | null;
  write(plaintext: Uint8Array): number;
  shutdown(): number;
  setSession(session: NativeSslSession | null): boolean;
  get1Session(): NativeSslSession | null;
  sessionReused(): boolean;
  setShutdown(flags: number): void;
  getShutdown(): number;
  setQuietShutdown(quiet: boolean): void;
  getQuietShutdown(): boolean;
  setTlsextHostName(name: string): void;
  getServername(): string | null;
  set1Host(name: string): void;
  getVersion(): string;
  version(): number;
  getCipherName(): string | null;
  get1PeerCertificate(): Buffer | null;
  getVerifyResult(): number;
  get0AlpnSelected(): string | null;
  isInitFinished(): boolean;
  setSessionListener(listener: ((session: NativeSslSession) => void) | null): void;
  /** This connection's key log lines (installs the context's keylog callback for good). */
  setKeylogListener(listener: ((line: Buffer) => void) | null): void;
  /** SSL_set_msg_callback on this connection: each protocol message (sent: write_p 1). */
  setMsgCallback(listener: ((sent: boolean, version: number, contentType: number, bytes: Buffer) => void) | null): void;
  free(): void;
  get freed(): boolean;
  get isServer(): boolean;
}

export interface NativeBinding {
  SslSession: typeof NativeSslSession;
  SslContext: typeof NativeSslContext;
  SslConnection: typeof NativeSslConnection;
  setClasses(classes: { OpenSSLError?: unknown; SslSession?: unknown }): void;
  openSSLVersion(): string;
  builtWithOpenSSL: string;
  createSelfSigned(options: { commonName: string; altNames: string; days: number; keyType: 'ec' | 'rsa'; bits: number }): {
    cert: string;
    key: string;
  };
  verifyCertErrorString(code: number): string;
  SESS_CACHE: ConstantTable<
    'OFF' | 'CLIENT' | 'SERVER' | 'BOTH' | 'NO_AUTO_CLEAR' | 'NO_INTERNAL_LOOKUP' | 'NO_INTERNAL_STORE' | 'NO_INTERNAL' | 'UPDATE_TIME'
  >;
  OP: ConstantTable<
    | 'ALL'
    | 'NO_TICKET'
    | 'NO_SSLv2'
    | 'NO_SSLv3'
    | 'NO_TLSv1'
    | 'NO_TLSv1_1'
    | 'NO_TLSv1_2'
    | 'NO_TLSv1_3'
    | 'NO_COMPRESSION'
    | 'CIPHER_SERVER_PREFERENCE'
    | 'NO_RENEGOTIATION'
    | 'ALLOW_NO_DHE_KEX'
    | 'NO_ANTI_REPLAY'
    | 'ENABLE_MIDDLEBOX_COMPAT'
    | 'PRIORITIZE_CHACHA'
    | 'IGNORE_UNEXPECTED_EOF'
    | 'NO_ENCRYPT_THEN_MAC'
    | 'NO_EXTENDED_MASTER_SECRET'
    | 'LEGACY_SERVER_CONNECT'
    | 'ALLOW_UNSAFE_LEGACY_RENEGOTIATION'
    | 'ALLOW_CLIENT_RENEGOTIATION'
    | 'NO_SESSION_RESUMPTION_ON_RENEGOTIATION'
    | 'TLSEXT_PADDING'
    | 'SAFARI_ECDHE_ECDSA_BUG'
    | 'DONT_INSERT_EMPTY_FRAGMENTS'
    | 'CLEANSE_PLAINTEXT'
    | 'ENABLE_KTLS'
    | 'DISABLE_TLSEXT_CA_NAMES'
    | 'TLS_ROLLBACK_BUG'
    | 'CRYPTOPRO_TLSEXT_BUG'
  >;
  SHUTDOWN: ConstantTable<'SENT' | 'RECEIVED'>;
  VERSION: ConstantTable<'TLS1' | 'TLS1_1' | 'TLS1_2' | 'TLS1_3'>;
  VERIFY: ConstantTable<'NONE' | 'PEER' | 'FAIL_IF_NO_PEER_CERT' | 'CLIENT_ONCE' | 'POST_HANDSHAKE'>;
  SSL_ERROR: ConstantTable<
    | 'NONE'
    | 'SSL'
    | 'WANT_READ'
    | 'WANT_WRITE'
    | 'WANT_X509_LOOKUP'
    | 'SYSCALL'
    | 'ZERO_RETURN'
    | 'WANT_CONNECT'
    | 'WANT_ACCEPT'
    | 'WANT_ASYNC'
    | 'WANT_ASYNC_JOB'
    | 'WANT_CLIENT_HELLO_CB'
    | 'WANT_RETRY_VERIFY'
  >;
  MAX_SID_CTX_LENGTH: number;
}

/**
 * The package root: the nearest directory above this file whose package.json is ours. This file
 * sits at lib/native.ts (sources), dist/native.js (ESM build) or dist/cjs/native.js (CommonJS
 * build, under a package.json that only says "type": "commonjs"; scripts/build-dist.cjs turns
 * `import.meta.url` into its CommonJS equivalent there).
 */
function findPackageRoot(from: string): string {
  for (let dir = dirname(from); ;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'openssl-session') return dir;
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return join(dirname(from), '..');
    dir = parent;
  }
}

/** Package root: lib/ (sources under vitest), dist/ (ESM) and dist/cjs/ (CommonJS) sit below it. */
export const packageRoot = findPackageRoot(fileURLToPath(import.meta.url));

/** Where the addon may be, in the order tried: a prebuild (prebuildify) first, then cmake-js' builds. */
export const addonCandidates: readonly string[] = [
  join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'openssl_session.node'),
  join(packageRoot, 'build', 'Release', 'openssl_session.node'),
  join(packageRoot, 'build', 'Debug', 'openssl_session.node'),
];

/** The file the addon was loaded from (one of {@link addonCandidates}). */
export let addonPath = '';

function load(): NativeBinding {
  if (process.versions.electron !== undefined || !/^[3-9]\./.test(process.versions.openssl ?? '')) {
    // The addon takes every OpenSSL 3 symbol from the running process: without them it would
    // load and then abort at its first call, so refuse here with a message instead.
    throw new Error(
      `openssl-session needs a Node.js runtime built with OpenSSL 3 (this one reports ` +
        `${process.versions.electron ? `Electron ${process.versions.electron}, which uses BoringSSL` : `OpenSSL ${process.versions.openssl ?? 'none'}`}).`,
    );
  }
  const require = createRequire(import.meta.url);
  const bindings = require('bindings') as (opts: Record<string, unknown>) => unknown;
  // bindings resolves each place (`path: true`), then we load it ourselves, so that a prebuild
  // that exists but cannot load here (another libc, a corrupt download) falls through to a
  // source build instead of hiding it.
  const places = [
    ['module_root', 'prebuilds', 'platform_arch', 'bindings'],
    ['module_root', 'build', 'Release', 'bindings'],
    ['module_root', 'build', 'Debug', 'bindings'],
  ];
  const failures: string[] = [];
  let cause: unknown;
  for (const place of places) {
    let file: string;
    try {
      file = bindings({
        bindings: 'openssl_session.node',
        module_root: packageRoot,
        try: [place],
        platform_arch: `${process.platform}-${process.arch}`,
        path: true,
      }) as string;
    } catch {
      continue; // nothing there
    }
    try {
      const loaded = require(file) as NativeBinding;
      addonPath = file;
      return loaded;
    } catch (error) {
      cause ??= error;
      failures.push(`${file}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  const prebuildDir = dirname(addonCandidates[0]!);
  const buildDir = dirname(addonCandidates[1]!);
  throw new Error(
    `openssl-session: could not load the native addon for ${process.platform}-${process.arch} ` +
      `(node ${process.version}, OpenSSL ${process.versions.openssl}). Looked in ${prebuildDir} ` +
      `(prebuilt) and ${buildDir} (built from source): ` +
      (failures.length > 0 ? `found but could not load ${failures.join('; ')}. ` : 'no openssl_session.node there. ') +
      `Fix: run \`npm rebuild openssl-session\` (builds from source with cmake-js: needs CMake >= 3.15 ` +
      `and a C++17 compiler), or in a checkout \`npx cmake-js compile\`.`,
    { cause },
  );
}

/** The loaded addon. */
export const binding: NativeBinding = load();
