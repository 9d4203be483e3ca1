/**
 * A real redis-server for the tests (Debian's package: `apt-get install -y redis-server`),
 * started on a free 127.0.0.1 port in a temp dir with no persistence (--save '' --appendonly
 * no), stopped at the end. Can be killed (SIGKILL) and restarted on the same port mid-test, and
 * can form a small Redis Cluster.
 *
 * When redis-server is missing, `describeRedis` suites FAIL under CI=true (with a message
 * saying what to install) and are skipped with the reason in their name otherwise: they never
 * pass silently.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { describe, it } from 'vitest';

function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** $REDIS_SERVER_BIN / $REDIS_CLI_BIN override the PATH lookup (a path that does not exist = missing). */
function locate(command: string, override: string | undefined): string | null {
  if (override === undefined || override === '') return which(command);
  try {
    execFileSync(override, ['--version'], { stdio: 'ignore' });
    return override;
  } catch {
    return null;
  }
}

export const REDIS_SERVER = locate('redis-server', process.env.REDIS_SERVER_BIN);
export const REDIS_CLI = locate('redis-cli', process.env.REDIS_CLI_BIN);
const MISSING = 'redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server)';

/**
 * describe() for suites that need redis-server: runs them when it is installed; otherwise
 * fails them under CI and skips them (reason in the title) elsewhere.
 */
export function describeRedis(name: string, body: () => void): void {
  if (REDIS_SERVER !== null) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it(`needs redis-server: ${MISSING}`, () => {
        throw new Error(`${MISSING}; CI=true, so this suite fails instead of being skipped`);
      });
    });
  } else {
    console.warn(`[redis tests] skipping "${name}": ${MISSING}`);
    describe.skip(`${name} [SKIPPED: ${MISSING}]`, body);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Sends one inline command over a raw socket; resolves with the first reply line, or rejects. */
function rawCommand(port: number, command: string, timeout = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout'));
    }, timeout);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const eol = data.indexOf('\r\n');
      if (eol < 0) return;
      // A bulk string ($<length>) is complete once its body arrived; any other reply is one line.
      const complete = data[0] !== '$' || data.length >= eol + 2 + Math.max(0, Number(data.slice(1, eol))) + 2;
      if (complete) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RedisServerOptions {
  /** Start as a cluster node (cluster-enabled yes). */
  cluster?: boolean;
  /** This port instead of a free one. */
  port?: number;
}

/** One redis-server process we own. */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #cluster: boolean;
  #process: ChildProcess | null = null;
  #log = '';

  private constructor(port: number, dir: string, cluster: boolean) {
    this.port = port;
    this.dir = dir;
    this.#cluster = cluster;
  }

  /** Starts redis-server on a free port; resolves once it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (REDIS_SERVER === null) throw new Error(MISSING);
    const server = new RedisServer(options.port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'oss-redis-')), options.cluster ?? false);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== null && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  /** (Re)starts the process on the same port and dir. */
  async restart(): Promise<void> {
    if (this.running) return;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--loglevel',
      'warning',
    ];
    if (this.#cluster)
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${this.port}.conf`, '--cluster-node-timeout', '2000');
    const child = spawn(REDIS_SERVER!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#log += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#log += chunk.toString();
    });
    this.#process = child;
    try {
      await waitFor(async () => (await rawCommand(this.port, 'PING')).startsWith('+PONG'), `redis-server on port ${this.port}`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.#log}`);
    }
  }

  /** Kills the process (SIGKILL: no goodbye to clients), resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (child === null || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** A raw command (inline protocol), e.g. 'DBSIZE'; resolves with the reply text. */
  command(command: string): Promise<string> {
    return rawCommand(this.port, command, 2000);
  }

  /** Stops the process and removes its dir. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of `nodes` masters (no replicas), all 16384 slots assigned and state ok. */
export class RedisCluster {
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  static async start(count = 3): Promise<RedisCluster> {
    if (REDIS_CLI === null) throw new Error('redis-cli is not installed (it comes with redis-server: apt-get install -y redis-server)');
    const nodes = await Promise.all(Array.from({ length: count }, () => RedisServer.start({ cluster: true })));
    const cluster = new RedisCluster(nodes);
    try {
      execFileSync(
        REDIS_CLI,
        ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { stdio: 'pipe', timeout: 15_000 },
      );
      await waitFor(
        async () => (await Promise.all(nodes.map((n) => n.command('CLUSTER INFO')))).every((info) => info.includes('cluster_state:ok')),
        'cluster_state:ok',
      );
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get rootNodes(): Array<{ url: string }> {
    return this.nodes.map((n) => ({ url: n.url }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
