/**
 * SslConnection.read() drains, in one call, every byte of plaintext the received records hold
 * (one record or many, across its 16 KiB read chunk), and reports a close_notify that came in
 * the same bytes as data on the call after the data.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { SslConnection, handshakeInMemory, pipe, shutdownInMemory } from '../lib/index.js';
import { clientContext, serverContext } from './helpers/fixtures.js';

describe('read() and write() in memory', () => {
  it.each([1, 100, 16_383, 16_384, 16_385, 40_000, 100_000])('%i bytes written arrive whole in one read()', (size) => {
    using sctx = serverContext();
    using cctx = clientContext();
    using client = new SslConnection(cctx);
    using server = new SslConnection(sctx);
    handshakeInMemory(client, server);
    const payload = randomBytes(size);
    expect(client.write(payload)).toBe(size); // SSL_write splits it into records of up to 16 KiB
    pipe(client, server);
    expect(server.read()).toEqual(payload);
    expect(server.read()).toHaveLength(0); // nothing more: empty, not null
    shutdownInMemory(client, server);
  });

  it('data and close_notify in the same bytes: the data first, then null', () => {
    using sctx = serverContext();
    using cctx = clientContext();
    using client = new SslConnection(cctx);
    using server = new SslConnection(sctx);
    handshakeInMemory(client, server);
    const payload = randomBytes(20_000);
    client.write(payload);
    client.shutdown();
    pipe(client, server);
    expect(server.read()).toEqual(payload);
    expect(server.read()).toBeNull();
    server.shutdown(); // answer, so neither side is freed without close_notify
    pipe(server, client);
    expect(client.read()).toBeNull();
  });
});
