/**
 * Interop with the real `openssl` CLI: our client against `openssl s_server` (seed 000's
 * loop: NEW then REUSED x4), and sessions crossing between `openssl s_client` (-sess_out /
 * -sess_in PEM files) and SslSession.fromPEM()/toPEM().
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connect, type SslContext, SslSession, type TlsClient, VERSION } from '../lib/index.js';
import { clientContext, pair } from './helpers/fixtures.js';
import {
  findOpensslCli,
  HTTP_GET,
  runSClient,
  type SServer,
  serverSaysReused,
  startSServer,
  stopAllOpensslProcesses,
  tempDir,
  wwwPage,
} from './helpers/openssl-cli.js';

const cli = findOpensslCli();
if (cli.bin === null) console.warn(`[openssl-cli.test] SKIPPED: ${cli.reason}`);

/** The last bytes of an -www status page. */
const PAGE_END = /<\/HTML>\r\n\r\n$/;

/**
 * Connects our client, sends an HTTP GET and reads the reply (the -www server then sends
 * close_notify). The reply counts as complete on 'end' or once its closing </HTML> arrived:
 * see the close_notify test below for why 'end' alone is not awaited here.
 */
async function getPage(port: number, context: SslContext, session: SslSession | null): Promise<{ client: TlsClient; page: string }> {
  const client = await connect({ host: '127.0.0.1', port, context, session, servername: 'localhost', handshakeTimeout: 5000 });
  const chunks: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete reply in 5 s: ${Buffer.concat(chunks).toString('latin1')}`)), 5000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      client.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (PAGE_END.test(Buffer.concat(chunks).toString('latin1'))) done();
      });
      client.once('end', done);
      client.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      client.write(HTTP_GET);
    });
  } catch (error) {
    client.destroy();
    client.free();
    throw error;
  }
  return { client, page: Buffer.concat(chunks).toString('latin1') };
}

/** Ends our side (close_notify + FIN) and waits for the socket to close (destroys it after 3 s). */
function closed(client: TlsClient): Promise<void> {
  if (client.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => client.destroy(), 3000);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    client.on('error', () => {}); // a reset after our close_notify is not this test's subject
    client.end();
    client.resume();
  });
}

interface Round {
  reused: boolean;
  serverReused: boolean | null;
  protocol: string | null;
}

/** Seed 000: five connections, each offering the session the previous one ended with. */
async function seedLoop(server: SServer, context: SslContext, expectVersion: number): Promise<Round[]> {
  const rounds: Round[] = [];
  let session: SslSession | null = null;
  try {
    for (let i = 0; i < 5; i++) {
      const { client, page } = await getPage(server.port, context, session);
      try {
        rounds.push({ reused: client.isSessionReused(), serverReused: serverSaysReused(wwwPage(page)), protocol: client.getProtocol() });
        // As in the seed: drop the stored session and keep the one this connection ended with
        // (for TLS 1.3, the ticket that arrived with the reply).
        session?.dispose();
        session = client.get1Session();
        expect(session).not.toBeNull();
        expect(session!.getProtocolVersion()).toBe(expectVersion);
        expect(session!.isResumable()).toBe(true);
        await closed(client);
      } finally {
        client.free();
      }
    }
  } finally {
    session?.dispose();
  }
  return rounds;
}

const NEW_THEN_REUSED = [false, true, true, true, true];

describe.skipIf(cli.bin === null)(`openssl CLI as a peer (${cli.version ?? 'absent'})`, () => {
  const bin = cli.bin as string;
  const servers: Record<string, SServer> = {};

  beforeAll(async () => {
    // Each variant its own s_server: -www answers a GET with a status page saying whether
    // the server resumed ("Reused, TLSv1.3, ...") and closes with close_notify.
    const variants: Record<string, string[]> = {
      tls12Tickets: ['-www', '-tls1_2'],
      tls12SessionIds: ['-www', '-tls1_2', '-no_ticket'],
      tls13: ['-www', '-tls1_3'],
      tls13Stateful: ['-www', '-tls1_3', '-no_ticket'],
    };
    await Promise.all(
      Object.entries(variants).map(async ([name, args]) => {
        servers[name] = await startSServer(bin, { pair, args });
      }),
    );
  });

  afterAll(async () => {
    await stopAllOpensslProcesses();
  });

  describe('our client against openssl s_server: NEW then REUSED x4 (seed 000)', () => {
    it('TLS 1.2 with session tickets', async () => {
      const context = clientContext({ maxVersion: 'TLSv1.2' });
      try {
        const rounds = await seedLoop(servers.tls12Tickets!, context, VERSION.TLS1_2);
        expect(rounds.map((r) => r.reused)).toEqual(NEW_THEN_REUSED);
        expect(rounds.map((r) => r.serverReused)).toEqual(NEW_THEN_REUSED);
        expect(rounds.every((r) => r.protocol === 'TLSv1.2')).toBe(true);
      } finally {
        context.close();
      }
    });

    it('TLS 1.2 with session ids only (s_server -no_ticket): the server cache resumes', async () => {
      const context = clientContext({ maxVersion: 'TLSv1.2' });
      try {
        const rounds = await seedLoop(servers.tls12SessionIds!, context, VERSION.TLS1_2);
        expect(rounds.map((r) => r.reused)).toEqual(NEW_THEN_REUSED);
        expect(rounds.map((r) => r.serverReused)).toEqual(NEW_THEN_REUSED);
      } finally {
        context.close();
      }
    });

    it('TLS 1.2 session ids: the session carries an id and no ticket', async () => {
      const context = clientContext({ maxVersion: 'TLSv1.2' });
      try {
        const { client } = await getPage(servers.tls12SessionIds!.port, context, null);
        const session = client.get1Session()!;
        try {
          expect(session.getId().length).toBe(32);
          expect(session.hasTicket()).toBe(false);
        } finally {
          session.dispose();
          await closed(client);
          client.free();
        }
      } finally {
        context.close();
      }
    });

    it('TLS 1.3 (ticket taken after reading the reply)', async () => {
      const context = clientContext({ minVersion: 'TLSv1.3' });
      try {
        const rounds = await seedLoop(servers.tls13!, context, VERSION.TLS1_3);
        expect(rounds.map((r) => r.reused)).toEqual(NEW_THEN_REUSED);
        expect(rounds.map((r) => r.serverReused)).toEqual(NEW_THEN_REUSED);
        expect(rounds.every((r) => r.protocol === 'TLSv1.3')).toBe(true);
      } finally {
        context.close();
      }
    });

    it('TLS 1.3 with stateful tickets (s_server -no_ticket)', async () => {
      const context = clientContext({ minVersion: 'TLSv1.3' });
      try {
        const rounds = await seedLoop(servers.tls13Stateful!, context, VERSION.TLS1_3);
        expect(rounds.map((r) => r.reused)).toEqual(NEW_THEN_REUSED);
        expect(rounds.map((r) => r.serverReused)).toEqual(NEW_THEN_REUSED);
      } finally {
        context.close();
      }
    });

    it("emits 'end' when the server's close_notify arrives together with the last reply bytes", async () => {
      // s_server -www writes its page and close_notify back to back, then waits for our side
      // to close before it sends FIN: only the close_notify can end our readable side.
      const context = clientContext({ maxVersion: 'TLSv1.2' });
      const client = await connect({ host: '127.0.0.1', port: servers.tls12Tickets!.port, context, servername: 'localhost' });
      try {
        let received = '';
        const ended = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 3000);
          client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
          client.once('end', () => {
            clearTimeout(timer);
            resolve(true);
          });
          client.write(HTTP_GET);
        });
        expect(received).toMatch(PAGE_END);
        expect({ ended, closeNotifyReceived: client.closeNotifyReceived }).toEqual({ ended: true, closeNotifyReceived: true });
      } finally {
        client.destroy();
        client.free();
        context.close();
      }
    });

    it('a session from another server is not resumed (the loop can fail)', async () => {
      const context = clientContext({ maxVersion: 'TLSv1.2' });
      try {
        const first = await getPage(servers.tls12SessionIds!.port, context, null);
        const foreign = first.client.get1Session()!;
        await closed(first.client);
        first.client.free();
        try {
          // s_server instances have separate caches and ticket keys.
          const { client, page } = await getPage(servers.tls12Tickets!.port, context, foreign);
          expect(client.isSessionReused()).toBe(false);
          expect(serverSaysReused(wwwPage(page))).toBe(false);
          await closed(client);
          client.free();
        } finally {
          foreign.dispose();
        }
      } finally {
        context.close();
      }
    });
  });

  describe.each([
    ['TLS 1.2', 'tls12Tickets', '-tls1_2', VERSION.TLS1_2],
    ['TLS 1.2 session ids', 'tls12SessionIds', '-tls1_2', VERSION.TLS1_2],
    ['TLS 1.3', 'tls13', '-tls1_3', VERSION.TLS1_3],
  ] as const)('PEM sessions across openssl s_client and our client, %s', (_label, serverName, flag, version) => {
    it('s_client -sess_out PEM loads with SslSession.fromPEM and resumes through our client', async () => {
      const server = servers[serverName]!;
      const file = join(tempDir(), 'sess.pem');
      const first = await runSClient(bin, { port: server.port, caFile: server.certFile, sessOut: file, args: [flag] });
      expect(first.code, first.stderr).toBe(0);
      expect(first.clientReused).toBe(false);

      const pem = readFileSync(file, 'latin1');
      expect(pem).toMatch(/^-----BEGIN SSL SESSION PARAMETERS-----/);
      const session = SslSession.fromPEM(pem);
      const context = clientContext();
      try {
        expect(session.getProtocolVersion()).toBe(version);
        expect(session.isResumable()).toBe(true);
        const { client, page } = await getPage(server.port, context, session);
        expect(client.isSessionReused()).toBe(true);
        expect(serverSaysReused(wwwPage(page))).toBe(true);
        await closed(client);
        client.free();
      } finally {
        session.dispose();
        context.close();
      }
    });

    it('our toPEM() resumes with s_client -sess_in', async () => {
      const server = servers[serverName]!;
      const context = clientContext();
      let pem: string;
      try {
        const { client } = await getPage(server.port, context, null);
        expect(client.isSessionReused()).toBe(false);
        const session = client.get1Session()!;
        pem = session.toPEM();
        session.dispose();
        await closed(client);
        client.free();
      } finally {
        context.close();
      }
      const file = join(tempDir(), 'ours.pem');
      writeFileSync(file, pem, { mode: 0o600 });
      const result = await runSClient(bin, { port: server.port, caFile: server.certFile, sessIn: file, args: [flag] });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Reused, TLSv1\.[23], /m);
      expect(result.clientReused).toBe(true);
      expect(result.serverReused).toBe(true);
    });

    it('s_client -sess_in with a session of another server is not reused (the check can fail)', async () => {
      const server = servers[serverName]!;
      const other = servers[serverName === 'tls13' ? 'tls13Stateful' : serverName === 'tls12Tickets' ? 'tls12SessionIds' : 'tls12Tickets']!;
      const context = clientContext();
      let pem: string;
      try {
        const { client } = await getPage(other.port, context, null);
        const session = client.get1Session()!;
        pem = session.toPEM();
        session.dispose();
        await closed(client);
        client.free();
      } finally {
        context.close();
      }
      const file = join(tempDir(), 'foreign.pem');
      writeFileSync(file, pem, { mode: 0o600 });
      const result = await runSClient(bin, { port: server.port, caFile: server.certFile, sessIn: file, args: [flag] });
      expect(result.code, result.stderr).toBe(0);
      expect(result.clientReused).toBe(false);
      expect(result.serverReused).toBe(false);
    });
  });
});

describe.runIf(process.env.CI === 'true' || process.env.CI === '1')('in CI', () => {
  it('the openssl CLI is installed (.ci/run installs it), so the interop tests above ran', () => {
    expect(cli.reason).toBeUndefined();
    expect(cli.bin).not.toBeNull();
  });
});
