/**
 * A fleet of 3 TLS server processes on 127.0.0.1 sharing one Redis, and a client connecting to
 * them round-robin (as behind a load balancer): after the first full handshake, every
 * connection resumes — on whichever server it lands — because every server finds the session
 * any other server issued. Four ways, one table each:
 *
 *   tls12-ids       TLS 1.2 session ids: sessions live in Redis (ServerSessionCache, RedisStore)
 *   tls13-stateful  TLS 1.3 with OP.NO_TICKET: the ticket is a session id, the session in Redis
 *   tls13-tickets   TLS 1.3 stateless tickets: ticket keys shared through Redis (TicketKeys)
 *   tls12-tickets   TLS 1.2 session tickets, same shared keys
 *
 * Each server looks sessions up WITHOUT blocking its event loop: the handshake pauses in the
 * ClientHello callback until Redis answers (or 50 ms pass: then a full handshake).
 *
 *     npx tsx examples/fleet.ts [--redis redis://127.0.0.1:6379] [--connections 6] [--mode tls13-stateful]
 *
 * Without --redis (or $REDIS_URL) it starts a throwaway redis-server (Debian: apt-get install
 * redis-server) on a free port, without persistence, and stops it at the end.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { connect, createSelfSigned, SESS_CACHE, SslContext, type KeyPair, type SslSession } from '../lib/index.js';
import {
  FLEET_MODES,
  type FleetMode,
  type FleetReply,
  type FleetRequest,
  type FleetServerOptions,
  type FleetServerStats,
} from './fleet-server.js';

const here = dirname(fileURLToPath(import.meta.url));

/** One forked server process (examples/fleet-server.ts), hosting any number of servers. */
export class FleetProcess {
  readonly child: ChildProcess;
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (reply: FleetReply) => void; reject: (error: Error) => void }>();

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (reply: FleetReply) => {
      const waiter = this.#waiting.get(reply.id);
      if (waiter === undefined) return;
      this.#waiting.delete(reply.id);
      if (reply.type === 'error') waiter.reject(new Error(`fleet server ${child.pid}: ${reply.message}`));
      else waiter.resolve(reply);
    });
    child.on('exit', (code) => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error(`fleet server ${child.pid} exited (${code})`));
      this.#waiting.clear();
    });
  }

  /** Forks examples/fleet-server.ts under tsx. */
  static fork(): FleetProcess {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = fork(join(here, 'fleet-server.ts'), [], {
      execArgv: ['--import', tsx],
      env: { ...process.env, OPENSSL_SESSION_FLEET_CHILD: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new FleetProcess(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  #request(request: { type: 'start'; options: FleetServerOptions } | { type: 'stats'; port: number }): Promise<FleetReply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.child.send({ ...request, id });
    });
  }

  /** Starts a server in this process; resolves with its port. */
  async startServer(options: FleetServerOptions): Promise<number> {
    const reply = await this.#request({ type: 'start', options });
    if (reply.type !== 'listening') throw new Error(`unexpected reply ${reply.type}`);
    return reply.port;
  }

  async stats(port: number): Promise<FleetServerStats> {
    const reply = await this.#request({ type: 'stats', port });
    if (reply.type !== 'stats' || reply.stats === null) throw new Error(`no stats for server ${port}`);
    return reply.stats;
  }

  /** Asks the process to close its servers and exit; resolves when it did. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies FleetRequest);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export interface FleetConnection {
  n: number;
  port: number;
  pid: number;
  protocol: string | null;
  resumed: boolean;
  /** What the server said (its own view of resumption). */
  greeting: string;
  ms: number;
}

/**
 * Connects `count` times round-robin over `ports`, offering the newest session the client has
 * (TLS 1.3 tickets are used once each; a TLS 1.2 session as long as it resumes).
 */
export async function runClient(options: { ports: number[]; pids: number[]; keyPair: KeyPair; count: number }): Promise<FleetConnection[]> {
  const context = new SslContext('client', {
    ca: options.keyPair.cert,
    verify: true,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
  });
  const pool: SslSession[] = [];
  let offer: SslSession | null = null;
  const rows: FleetConnection[] = [];
  try {
    for (let n = 0; n < options.count; n++) {
      const i = n % options.ports.length;
      const port = options.ports[i]!;
      // The newest session received; a TLS 1.3 ticket is taken out of the pool (used once).
      const newest = pool.pop() ?? null;
      if (newest !== null) {
        offer?.dispose();
        offer = newest;
      }
      const start = performance.now();
      const client = await connect({
        host: '127.0.0.1',
        port,
        context,
        servername: 'localhost',
        session: offer,
        onSession: (session) => pool.push(session),
      });
      const ms = performance.now() - start;
      const greeting = await new Promise<string>((resolve, reject) => {
        let text = '';
        client.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        client.once('end', () => resolve(text.trim()));
        client.once('error', reject);
      });
      const resumed = client.isSessionReused();
      const protocol = client.getProtocol();
      if (offer !== null && offer.getProtocolVersion() === 0x0304) {
        offer.dispose(); // a TLS 1.3 ticket is single-use
        offer = null;
      }
      client.end();
      await new Promise<void>((resolve) => (client.destroyed ? resolve() : client.once('close', () => resolve())));
      client.free();
      rows.push({ n: n + 1, port, pid: options.pids[i]!, protocol, resumed, greeting, ms });
    }
  } finally {
    offer?.dispose();
    for (const s of pool) s.dispose();
    context.close();
  }
  return rows;
}

/** A throwaway redis-server (no persistence) on a free port. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'fleet-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot start redis-server (apt-get install redis-server, or pass --redis URL): ${error.message}`)),
    );
  });
  for (let i = 0; ; i++) {
    const up = await Promise.race([
      failed,
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    ]);
    if (up) break;
    if (i > 200) throw new Error('redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function table(rows: FleetConnection[]): string {
  const lines = [' #  server (pid:port)   protocol  resumed  handshake   server says'];
  for (const r of rows) {
    lines.push(
      `${String(r.n).padStart(2)}  ${`${r.pid}:${r.port}`.padEnd(18)}  ${(r.protocol ?? '-').padEnd(8)}  ${(r.resumed ? 'yes' : 'no').padEnd(7)}  ${`${r.ms.toFixed(1)} ms`.padStart(9)}   ${r.greeting}`,
    );
  }
  return lines.join('\n');
}

export interface FleetExampleResult {
  mode: FleetMode;
  rows: FleetConnection[];
  servers: FleetServerStats[];
}

/** Runs the example: 3 processes, one server per mode in each, `connections` per mode. */
export async function runFleetExample(options: {
  redisUrl: string;
  modes?: FleetMode[];
  connections?: number;
  processes?: FleetProcess[];
  log?: (line: string) => void;
}): Promise<FleetExampleResult[]> {
  const log = options.log ?? console.log;
  const modes = options.modes ?? (Object.keys(FLEET_MODES) as FleetMode[]);
  const keyPair = createSelfSigned({ commonName: 'localhost' }); // one certificate for the fleet
  const processes = options.processes ?? [FleetProcess.fork(), FleetProcess.fork(), FleetProcess.fork()];
  const namespace = `fleet-${process.pid}-${Date.now().toString(36)}`;
  const results: FleetExampleResult[] = [];
  try {
    for (const mode of modes) {
      const serverOptions: FleetServerOptions = { mode, keyPair, redisUrl: options.redisUrl, namespace: `${namespace}-${mode}` };
      const ports = await Promise.all(processes.map((p) => p.startServer(serverOptions)));
      const rows = await runClient({ ports, pids: processes.map((p) => p.pid), keyPair, count: options.connections ?? 6 });
      const servers = await Promise.all(processes.map((p, i) => p.stats(ports[i]!)));
      log(`\n${mode}: ${FLEET_MODES[mode]}`);
      log(table(rows));
      log(
        servers
          .map(
            (s, i) =>
              `  server ${processes[i]!.pid}: handshakes ${s.handshakes}, resumed ${s.resumed}, store lookups ${s.cache.lookups} ` +
              `(hits ${s.cache.hits}, misses ${s.cache.misses}, timeouts ${s.cache.timeouts}), stored ${s.cache.stored}, ` +
              `tickets issued ${s.tickets.encrypted}, tickets accepted ${s.tickets.decrypted + s.tickets.decryptedWithOldKey}`,
          )
          .join('\n'),
      );
      results.push({ mode, rows, servers });
    }
  } finally {
    if (options.processes === undefined) await Promise.all(processes.map((p) => p.stop()));
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string' },
      connections: { type: 'string', default: '6' },
      mode: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('npx tsx examples/fleet.ts [--redis URL] [--connections N] [--mode ' + Object.keys(FLEET_MODES).join('|') + ']...');
    return;
  }
  const modes = (values.mode as FleetMode[] | undefined)?.map((m) => {
    if (!(m in FLEET_MODES)) throw new Error(`unknown mode ${m}; one of ${Object.keys(FLEET_MODES).join(', ')}`);
    return m;
  });
  const external = values.redis ?? process.env.REDIS_URL;
  const redis = external !== undefined ? { url: external, stop: async () => {} } : await startRedis();
  try {
    console.log(`Redis: ${redis.url}${external === undefined ? ' (throwaway redis-server)' : ''}`);
    const results = await runFleetExample({ redisUrl: redis.url, modes, connections: Number(values.connections) });
    const everyLaterResumed = results.every((r) => r.rows.slice(1).every((row) => row.resumed));
    console.log(
      everyLaterResumed ? '\nEvery connection after the first resumed, on every server.' : '\nSome connections did not resume (see above).',
    );
    process.exitCode = everyLaterResumed ? 0 : 1;
  } finally {
    await redis.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
