/**
 * Key log lines over real sockets on 127.0.0.1: TlsSocket's 'keylog' event, connect({ onKeylog })
 * and the server's 'keylog' event, checked against the other end's own log: our server, a
 * node:tls peer ('keylog' events of the same OpenSSL), and `openssl s_server -keylogfile`.
 * Matching lines on both ends are what lets Wireshark decrypt the capture.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as net from 'node:net';
import * as tls from 'node:tls';

import { afterAll, describe, expect, it } from 'vitest';

import { type TlsSocket, connect, createServer } from '../lib/index.js';
import { clientContext, pair, serverContext } from './helpers/fixtures.js';
import { HTTP_GET, findOpensslCli, startSServer, stopAllOpensslProcesses, tempDir } from './helpers/openssl-cli.js';

const HOST = '127.0.0.1';
type Version = 'TLSv1.2' | 'TLSv1.3';
const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];
const text = (lines: Buffer[]) => lines.map((line) => line.toString('latin1')).sort();

afterAll(async () => {
  await stopAllOpensslProcesses();
});

describe.each(VERSIONS)('%s', (version) => {
  it("our client's onKeylog and our server's 'keylog' event log the same lines", async () => {
    using context = serverContext({ minVersion: version, maxVersion: version });
    const serverLines: Buffer[] = [];
    const sockets: TlsSocket[] = [];
    const server = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      socket.end('hi');
    });
    server.on('keylog', (line: Buffer, socket: TlsSocket) => {
      serverLines.push(line);
      sockets.push(socket);
    });
    const accepted = once(server, 'secureConnection') as Promise<[TlsSocket]>;
    const { port } = await server.listen(0, HOST);
    try {
      using client = clientContext({ minVersion: version, maxVersion: version });
      const clientLines: Buffer[] = [];
      const socket = await connect({
        host: HOST,
        port,
        context: client,
        checkHost: 'localhost',
        onKeylog: (line) => clientLines.push(line),
      });
      const [serverSide] = await accepted;
      socket.resume();
      await once(socket, 'close');
      socket.free();
      expect(clientLines.length).toBe(version === 'TLSv1.2' ? 1 : 5);
      expect(text(serverLines)).toEqual(text(clientLines));
      expect(new Set(sockets)).toEqual(new Set([serverSide]));
    } finally {
      await server.close();
    }
  });

  it('our client logs what a node:tls server logs', async () => {
    const serverLines: Buffer[] = [];
    const server = tls.createServer({ key: pair.key, cert: pair.cert, minVersion: version, maxVersion: version }, (socket) => {
      socket.on('error', () => {});
      socket.end('hi');
    });
    server.on('keylog', (line: Buffer) => serverLines.push(line));
    server.listen(0, HOST);
    await once(server, 'listening');
    try {
      using client = clientContext({ minVersion: version, maxVersion: version });
      const clientLines: Buffer[] = [];
      const socket = await connect({
        host: HOST,
        port: (server.address() as net.AddressInfo).port,
        context: client,
        checkHost: 'localhost',
        onKeylog: (line) => clientLines.push(line),
      });
      socket.resume();
      await once(socket, 'close');
      socket.free();
      expect(clientLines.length).toBeGreaterThan(0);
      expect(text(clientLines)).toEqual(text(serverLines));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a node:tls client logs what our server's 'keylog' event logs", async () => {
    using context = serverContext({ minVersion: version, maxVersion: version });
    const serverLines: Buffer[] = [];
    const server = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      socket.end('hi');
    });
    server.on('keylog', (line: Buffer) => serverLines.push(line));
    const { port } = await server.listen(0, HOST);
    try {
      const clientLines: Buffer[] = [];
      const socket = tls.connect({ host: HOST, port, ca: pair.cert, servername: 'localhost', minVersion: version, maxVersion: version });
      socket.on('keylog', (line: Buffer) => clientLines.push(line));
      socket.resume();
      await once(socket, 'close');
      expect(clientLines.length).toBe(version === 'TLSv1.2' ? 1 : 5);
      expect(text(serverLines)).toEqual(text(clientLines));
    } finally {
      await server.close();
    }
  });
});

describe('TlsSocket keylog listener', () => {
  it("a 'keylog' listener added once the handshake is over hears nothing: the lines come during it", async () => {
    using context = serverContext({ maxVersion: 'TLSv1.2' });
    const server = createServer({ context }, (socket) => {
      socket.on('error', () => {});
      socket.end('hi');
    });
    const { port } = await server.listen(0, HOST);
    try {
      using client = clientContext({ maxVersion: 'TLSv1.2' });
      const late: Buffer[] = [];
      const socket = await connect({ host: HOST, port, context: client, checkHost: 'localhost' });
      socket.on('keylog', (line: Buffer) => late.push(line)); // the handshake is over: nothing more to log
      socket.resume();
      await once(socket, 'close');
      socket.free();
      expect(late).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('connect() rejects a non-function onKeylog', async () => {
    await expect(connect({ host: HOST, port: 1, onKeylog: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});

const cli = findOpensslCli();

describe.skipIf(cli.bin === null)(`openssl s_server -keylogfile (${cli.version ?? 'absent'})`, () => {
  it.each(VERSIONS)('%s: our client logs the lines s_server writes to its key log file', async (version) => {
    const file = join(tempDir(), 'keys.log');
    const flag = version === 'TLSv1.2' ? '-tls1_2' : '-tls1_3';
    const server = await startSServer(cli.bin as string, { pair, args: ['-www', flag, '-keylogfile', file] });
    using client = clientContext({ minVersion: version, maxVersion: version });
    const clientLines: Buffer[] = [];
    const socket = await connect({
      host: HOST,
      port: server.port,
      context: client,
      checkHost: 'localhost',
      onKeylog: (line) => clientLines.push(line),
    });
    socket.end(HTTP_GET);
    socket.resume();
    await once(socket, 'close');
    socket.free();
    await server.stop();
    // The file starts with a comment line ("# SSL/TLS secrets log file, generated by OpenSSL").
    const logged = readFileSync(file, 'latin1')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => `${line}\n`)
      .sort();
    expect(clientLines.length).toBe(version === 'TLSv1.2' ? 1 : 5);
    expect(logged).toEqual(text(clientLines));
  });
});

describe.runIf(process.env.CI === 'true' || process.env.CI === '1')('in CI', () => {
  it('the openssl CLI is installed (.ci/run installs it), so the s_server key log test ran', () => {
    expect(cli.reason).toBeUndefined();
  });
});
