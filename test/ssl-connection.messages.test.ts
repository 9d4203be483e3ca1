/**
 * setMessageListener (SSL_set_msg_callback), in memory: the handshake messages of full and
 * resumed handshakes (what a resumption skips), byte for byte the same on both ends, alerts,
 * and the listener's life cycle. Message order is the RFCs' (5246 §7.3, 8446 §2); ticket
 * counts are OpenSSL's defaults (2 after a full TLS 1.3 handshake, 1 after a resumption).
 */
import { describe, expect, it } from 'vitest';

import { OP, SslConnection, type SslContext, type SslSession, type TlsMessage, createSelfSigned } from '../lib/index.js';
import { handshakeInMemory, shutdownInMemory } from '../lib/engine/memory-pair.js';
import { clientContext, serverContext } from './helpers/fixtures.js';
import { connect } from './helpers/ssl-context-harness.js';

interface Traced {
  client: TlsMessage[];
  server: TlsMessage[];
  reused: boolean;
  session: SslSession | null;
}

/** One connection with both ends traced: handshake, a byte each way, close_notify both ways. */
function traced(client: SslContext, server: SslContext, offer?: SslSession | null): Traced {
  const messages = { client: [] as TlsMessage[], server: [] as TlsMessage[] };
  const done = connect(client, server, {
    session: offer ?? null,
    prepare: (c, s) => {
      c.setMessageListener((m) => messages.client.push(m));
      s.setMessageListener((m) => messages.server.push(m));
    },
  });
  done.serverSession?.dispose();
  return { ...messages, reused: done.reused, session: done.session };
}

const handshake = (messages: TlsMessage[], direction: TlsMessage['direction']) =>
  messages.filter((m) => m.contentType === 22 && m.direction === direction).map((m) => m.name);

/** What one end sent is what the other received, message for message and byte for byte. */
function expectSameBytes(from: TlsMessage[], to: TlsMessage[]) {
  const protocol = (m: TlsMessage) => m.contentType === 21 || m.contentType === 22;
  const sent = from.filter((m) => m.direction === 'sent' && protocol(m));
  const received = to.filter((m) => m.direction === 'received' && protocol(m));
  expect(received.map((m) => m.name)).toEqual(sent.map((m) => m.name));
  expect(received.map((m) => m.bytes.toString('hex'))).toEqual(sent.map((m) => m.bytes.toString('hex')));
}

/** Both directions of one connection: each end received exactly what the other sent. */
function expectEndsAgree(t: Traced) {
  expectSameBytes(t.client, t.server);
  expectSameBytes(t.server, t.client);
}

describe('setMessageListener, TLS 1.2', () => {
  it.each([
    ['tickets', 0, ['NewSessionTicket']],
    ['session ids', OP.NO_TICKET, []],
  ])('%s: a resumption skips Certificate and the key exchange', (_name, options, ticket) => {
    using server = serverContext({ maxVersion: 'TLSv1.2', options });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const full = traced(client, server);
    const resumed = traced(client, server, full.session);
    expect([full.reused, resumed.reused]).toEqual([false, true]);
    expect(handshake(full.client, 'sent')).toEqual(['ClientHello', 'ClientKeyExchange', 'Finished']);
    expect(handshake(full.client, 'received')).toEqual([
      'ServerHello',
      'Certificate',
      'ServerKeyExchange',
      'ServerHelloDone',
      ...ticket,
      'Finished',
    ]);
    expect(handshake(resumed.client, 'sent')).toEqual(['ClientHello', 'Finished']);
    expect(handshake(resumed.client, 'received')).toEqual(['ServerHello', 'Finished']);
    expect(full.client.filter((m) => m.direction === 'sent' && m.contentType === 20).map((m) => m.name)).toEqual(['ChangeCipherSpec']);
    for (const t of [full, resumed]) {
      expectEndsAgree(t);
      expect(new Set(t.client.filter((m) => m.contentType < 256).map((m) => m.version))).toEqual(new Set([0x0303]));
      t.session?.dispose();
    }
  });
});

describe('setMessageListener, TLS 1.3', () => {
  it('a resumption skips Certificate and CertificateVerify; tickets come after the handshake', () => {
    using server = serverContext({ minVersion: 'TLSv1.3' });
    using client = clientContext({ minVersion: 'TLSv1.3' });
    const full = traced(client, server);
    const resumed = traced(client, server, full.session);
    expect(resumed.reused).toBe(true);
    expect(handshake(full.client, 'received')).toEqual([
      'ServerHello',
      'EncryptedExtensions',
      'Certificate',
      'CertificateVerify',
      'Finished',
      'NewSessionTicket',
      'NewSessionTicket',
    ]);
    expect(handshake(resumed.client, 'received')).toEqual(['ServerHello', 'EncryptedExtensions', 'Finished', 'NewSessionTicket']);
    for (const t of [full, resumed]) {
      expect(handshake(t.client, 'sent')).toEqual(['ClientHello', 'Finished']);
      expectEndsAgree(t);
      // Each TLS 1.3 record's inner content type is reported too; record headers for both versions.
      expect(t.client.some((m) => m.name === 'InnerContentType' && m.bytes.length === 1)).toBe(true);
      expect(t.client.some((m) => m.name === 'RecordHeader' && m.bytes.length === 5)).toBe(true);
      t.session?.dispose();
    }
  });
});

describe('setMessageListener, life cycle', () => {
  it('names alerts: close_notify both ways; a fatal alert on a failed handshake', () => {
    using server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const ok = traced(client, server);
    ok.session?.dispose();
    const alerts = (messages: TlsMessage[]) => messages.filter((m) => m.contentType === 21).map((m) => `${m.direction} ${m.name}`);
    expect(alerts(ok.client)).toEqual(['sent Alert(warning): close_notify', 'received Alert(warning): close_notify']);
    // A client that trusts another CA rejects the server's certificate.
    using stranger = clientContext({ maxVersion: 'TLSv1.2', ca: createSelfSigned({ commonName: 'another CA' }).cert });
    const c = new SslConnection(stranger);
    const s = new SslConnection(server);
    const seen: TlsMessage[] = [];
    c.setMessageListener((m) => seen.push(m));
    expect(() => handshakeInMemory(c, s)).toThrow();
    expect(alerts(seen)).toEqual(['sent Alert(fatal): unknown_ca']);
    c.free();
    s.free();
  });

  it('null stops it; an exception is rethrown by the step; bad arguments and freed connections throw', () => {
    using server = serverContext({ maxVersion: 'TLSv1.2' });
    using client = clientContext({ maxVersion: 'TLSv1.2' });
    const c = new SslConnection(client);
    const s = new SslConnection(server);
    const boom = new Error('listener failed');
    c.setMessageListener(() => {
      throw boom;
    });
    expect(() => c.doHandshake()).toThrow(boom); // the ClientHello was still sent
    expect(c.pendingOutput()).toBeGreaterThan(0);
    c.setMessageListener(null);
    handshakeInMemory(c, s);
    expect(c.isInitFinished()).toBe(true);
    expect(() => c.setMessageListener('x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    shutdownInMemory(c, s);
    c.free();
    s.free();
    expect(() => c.setMessageListener(null)).toThrow(expect.objectContaining({ code: 'ERR_CONNECTION_FREED' }));
  });
});
