/**
 * The real `openssl` command line tool as a TLS peer: `openssl s_server` on 127.0.0.1 and
 * `openssl s_client` with -sess_out / -sess_in. Every process started here is tracked and
 * killed by {@link stopAllOpensslProcesses} (call it from afterAll), even when a test failed.
 *
 * Which binary: $OPENSSL_BIN if set, else `openssl` on PATH, else Homebrew's openssl@3 on
 * macOS (whose /usr/bin/openssl is LibreSSL: no TLS 1.3 resumption, so it is not used).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { KeyPair } from '../../lib/index.js';

/** An usable `openssl` CLI, or why there is none. */
export type OpensslCli = { bin: string; version: string; reason?: undefined } | { bin: null; version?: undefined; reason: string };

function candidates(): string[] {
  if (process.env.OPENSSL_BIN) return [process.env.OPENSSL_BIN];
  const list = ['openssl'];
  if (process.platform === 'darwin') list.push('/opt/homebrew/opt/openssl@3/bin/openssl', '/usr/local/opt/openssl@3/bin/openssl');
  return list;
}

/** Finds an OpenSSL (not LibreSSL) CLI of version 1.1.1 or 3.x. */
export function findOpensslCli(): OpensslCli {
  const rejected: string[] = [];
  for (const bin of candidates()) {
    let version: string;
    try {
      version = execFileSync(bin, ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    } catch {
      rejected.push(`${bin}: not found`);
      continue;
    }
    if (/^OpenSSL (1\.1\.1|[3-9]\.)/.test(version)) return { bin, version };
    rejected.push(`${bin}: ${version} (need OpenSSL 1.1.1 or 3.x)`);
  }
  return { bin: null, reason: `no usable openssl CLI (${rejected.join('; ')}); install it or set OPENSSL_BIN` };
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    if (!(await waitExit(child, 2000))) {
      child.kill('SIGKILL');
      await waitExit(child, 2000);
    }
  }
  live.delete(child);
}

/** Kills every process started by this module that is still running, and removes temp dirs. */
export async function stopAllOpensslProcesses(): Promise<void> {
  await Promise.all([...live].map((child) => kill(child)));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** A temporary directory removed by stopAllOpensslProcesses(). */
export function tempDir(prefix = 'openssl-session-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Writes the key pair as cert.pem / key.pem into a fresh temp dir. */
export function writeKeyPair(pair: KeyPair): { dir: string; cert: string; key: string } {
  const dir = tempDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, pair.cert);
  writeFileSync(key, pair.key, { mode: 0o600 });
  return { dir, cert, key };
}

export interface SServer {
  host: '127.0.0.1';
  port: number;
  /** The cert.pem the server presents (a CA file for s_client). */
  certFile: string;
  /** Everything the server printed so far (stdout + stderr). */
  output(): string;
  stop(): Promise<void>;
}

export interface SServerOptions {
  /** The server's certificate and key (written to a temp dir). */
  pair: KeyPair;
  /** Extra s_server arguments, e.g. ['-www', '-tls1_3'] or ['-no_ticket']. */
  args?: string[];
  /** Milliseconds to wait for ACCEPT (default 10000). */
  startTimeout?: number;
}

/**
 * Starts `openssl s_server -accept 127.0.0.1:0` (the kernel picks a free port, which s_server
 * prints as `ACCEPT 127.0.0.1:<port>`; no race between choosing and binding). Resolves once
 * it listens. Its stdin stays an open pipe: s_server's non -www modes end a connection when
 * stdin reaches EOF.
 */
export async function startSServer(cli: string, options: SServerOptions): Promise<SServer> {
  const files = writeKeyPair(options.pair);
  const args = ['s_server', '-accept', '127.0.0.1:0', '-cert', files.cert, '-key', files.key, ...(options.args ?? [])];
  const child = spawn(cli, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stdin.on('error', () => {}); // EPIPE once it exits

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`s_server did not print ACCEPT within ${options.startTimeout ?? 10_000} ms:\n${out}`)),
      options.startTimeout ?? 10_000,
    );
    const onData = () => {
      const m = /^ACCEPT 127\.0\.0\.1:(\d+)\s*$/m.exec(out);
      if (m && Number(m[1]) > 0) done(Number(m[1]));
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`s_server exited (${code ?? signal}) before listening: ${args.join(' ')}\n${out}`));
    const onError = (error: Error) => fail(error);
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    function done(p: number) {
      cleanup();
      resolve(p);
    }
    function fail(error: Error) {
      cleanup();
      reject(error);
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  }).catch(async (error: unknown) => {
    await kill(child);
    throw error;
  });

  return {
    host: '127.0.0.1',
    port,
    certFile: files.cert,
    output: () => out,
    stop: () => kill(child),
  };
}

export interface SClientOptions {
  port: number;
  /** CA file to verify the server with (its certificate). Verification failures abort (-verify_return_error). */
  caFile: string;
  /** SNI and the name to verify (default 'localhost'). */
  servername?: string;
  /** -sess_out: write the session (PEM) to this file. */
  sessOut?: string;
  /** -sess_in: offer the session (PEM) read from this file. */
  sessIn?: string;
  /** Extra arguments, e.g. ['-tls1_3']. */
  args?: string[];
  /** Written to stdin (default an HTTP GET, which an -www s_server answers, then closes). */
  input?: string;
  /** Milliseconds before the client is killed (default 10000). */
  timeout?: number;
}

export interface SClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** s_client's own summary line: "Reused, TLSv1.3, ..." (true) or "New, ..." (false); null if absent. */
  clientReused: boolean | null;
  /** The -www status page's summary (the server's view), null without one. */
  serverReused: boolean | null;
  /** Protocol from s_client's summary line, e.g. 'TLSv1.3'. */
  protocol: string | null;
}

function summary(text: string): { reused: boolean | null; protocol: string | null } {
  const m = /^(New|Reused), (TLSv[\d.]+|SSLv3|\(NONE\))/m.exec(text);
  return m ? { reused: m[1] === 'Reused', protocol: m[2] ?? null } : { reused: null, protocol: null };
}

/** The HTTP request an -www s_server answers with its status page. */
export const HTTP_GET = 'GET / HTTP/1.0\r\n\r\n';

/** Splits the -www status page (the server's view) from the rest of a response/transcript. */
export function wwwPage(text: string): string | null {
  const at = text.indexOf('HTTP/1.0 200 ok');
  return at < 0 ? null : text.slice(at);
}

/** What an -www status page says about the connection: Reused (true) / New (false), or null. */
export function serverSaysReused(page: string | null): boolean | null {
  return page === null ? null : summary(page).reused;
}

/**
 * Runs `openssl s_client -connect 127.0.0.1:<port>` to completion with -ign_eof, so it
 * stays until the server closes (an -www server does after its reply; TLS 1.3 tickets
 * arrive before that, so -sess_out has the resumable session).
 */
export async function runSClient(cli: string, options: SClientOptions): Promise<SClientResult> {
  const name = options.servername ?? 'localhost';
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${options.port}`,
    '-servername',
    name,
    '-CAfile',
    options.caFile,
    '-verify_hostname',
    name,
    '-verify_return_error',
    '-ign_eof',
    ...(options.sessOut ? ['-sess_out', options.sessOut] : []),
    ...(options.sessIn ? ['-sess_in', options.sessIn] : []),
    ...(options.args ?? []),
  ];
  const child = spawn(cli, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? HTTP_GET);
  const timeout = options.timeout ?? 10_000;
  const exited = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`s_client did not finish in ${timeout} ms: ${args.join(' ')}\n${stdout}\n${stderr}`)),
      timeout,
    );
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  }).finally(() => kill(child));
  const page = wwwPage(stdout);
  const own = summary(page === null ? stdout : stdout.slice(0, stdout.indexOf(page)));
  return { code: exited, stdout, stderr, clientReused: own.reused, serverReused: serverSaysReused(page), protocol: own.protocol };
}

/** Whether `file` exists (for -sess_out checks). */
export function fileExists(file: string): boolean {
  return existsSync(file);
}
