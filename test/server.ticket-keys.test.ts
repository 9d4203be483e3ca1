/**
 * TicketKeys: SSL_CTX_set_tlsext_ticket_key_evp_cb with rotation, a grace period for retired
 * keys, and keys shared through a store or a file. Time is injected (the ticket callback asks
 * the same clock). OpenSSL facts relied on (3.0, ssl/t1_lib.c tls_decrypt_ticket and
 * ssl/statem/statem_srvr.c construct_stateless_ticket): the first 16 bytes of a ticket are the
 * key name the callback is given; returning 2 is SSL_TICKET_SUCCESS_RENEW (resume, and send a
 * new ticket); 0 is SSL_TICKET_NO_DECRYPT (full handshake); under TLS 1.3 a new ticket follows
 * a resumption only on renewal; an encrypt callback returning 0 sends no TLS 1.3 ticket.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { createSelfSigned, MemoryStore, SESS_CACHE, SslContext, type SslSession } from '../lib/index.js';
import { TicketKeys } from '../lib/server/index.js';
import { connectInMemory } from './helpers/server.js';

const pair = createSelfSigned({ commonName: 'localhost' });
const HOUR = 3_600_000;
const START = Date.UTC(2030, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'oss-ticket-keys-'));

const open: Array<{ close(): unknown }> = [];
afterEach(() => {
  for (const thing of open.splice(0).reverse()) thing.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function server(keys: TicketKeys | null, maxVersion: 'TLSv1.2' | 'TLSv1.3'): SslContext {
  const context = new SslContext('server', { cert: pair.cert, key: pair.key, maxVersion, sessionIdContext: 'ticket-tests' });
  if (keys !== null) context.setTicketKeys(keys);
  open.push(context);
  return context;
}

function client(maxVersion: 'TLSv1.2' | 'TLSv1.3'): SslContext {
  const context = new SslContext('client', {
    ca: pair.cert,
    verify: true,
    maxVersion,
    sessionCacheMode: SESS_CACHE.CLIENT | SESS_CACHE.NO_INTERNAL_STORE,
  });
  open.push(context);
  return context;
}

function keyNameOf(session: SslSession): string {
  return session.get0Ticket()!.subarray(0, 16).toString('hex');
}

function track<T extends { close(): unknown }>(thing: T): T {
  open.push(thing);
  return thing;
}

describe('rotation with an injected clock', () => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: a retired key resumes (and renews) within the grace period, not after it`, async () => {
      let now = START;
      const keys = track(new TicketKeys({ interval: HOUR, keep: 2, gracePeriod: HOUR, now: () => now }));
      const s = server(keys, version);
      const c = client(version);
      const [k0] = keys.keys();
      expect(keys.keys()).toEqual([{ name: k0!.name, activeFrom: START, state: 'current', decryptUntil: null }]);

      const first = await connectInMemory(c, s);
      const t0 = first.sessions[first.sessions.length - 1]!;
      expect(keyNameOf(t0)).toBe(k0!.name); // issued under the current key
      // TLS 1.2: a second K0 ticket for the end (a TLS 1.2 client whose ticket gets renewed
      // drops the old session: SSL_CTX_remove_session marks it not resumable).
      const spare = version === 'TLSv1.2' ? (await connectInMemory(c, s)).sessions[0]! : first.sessions[0]!;

      // 30 minutes later: same key.
      now = START + HOUR / 2;
      const early = await connectInMemory(c, s, t0);
      expect(early.reused).toBe(true);
      // TLS 1.2 keeps its ticket; TLS 1.3 gets a fresh one after every resumption (renew).
      expect(early.sessions.length).toBe(version === 'TLSv1.3' ? 1 : 0);
      expect(keys.stats()).toMatchObject({ decrypted: 1, decryptedWithOldKey: 0, rejected: 0 });

      // Past the interval: K1 takes over; K0 decrypts until START + 1h + grace.
      now = START + HOUR + 1;
      const t0Again = version === 'TLSv1.3' ? first.sessions[0]! : t0; // TLS 1.3: an unused K0 ticket
      const within = await connectInMemory(c, s, t0Again);
      expect(within.reused).toBe(true);
      const [old, current] = keys.keys();
      expect(old).toMatchObject({ name: k0!.name, state: 'previous', decryptUntil: START + 2 * HOUR });
      expect(current).toMatchObject({ state: 'current', activeFrom: START + HOUR });
      // Renewed under the new key (TLS 1.2: the resumed session's ticket is replaced, with no
      // new-session callback on the client; TLS 1.3: a new ticket, with one).
      expect(within.sessions.length).toBe(version === 'TLSv1.3' ? 1 : 0);
      expect(keyNameOf(within.final!)).toBe(current!.name);
      if (version === 'TLSv1.2') expect(keyNameOf(early.final!)).toBe(k0!.name); // not renewed within the interval
      expect(keys.stats()).toMatchObject({ decryptedWithOldKey: 1, rejected: 0 });

      // Past the grace period: K0 is gone, its tickets mean a full handshake.
      now = START + 2 * HOUR + 1;
      // TLS 1.3: the ticket renewed at +30 min, still under K0 and never used.
      const k0Ticket = version === 'TLSv1.3' ? early.sessions[0]! : spare;
      expect(keyNameOf(k0Ticket)).toBe(k0!.name);
      const late = await connectInMemory(c, s, k0Ticket);
      expect(late.reused).toBe(false);
      expect(keys.stats().rejected).toBe(1);
      expect(keys.keys().map((k) => k.name)).not.toContain(k0!.name);
      // ...while K1's ticket (retired at START + 2h) is within its own grace period.
      const k1 = await connectInMemory(c, s, within.final!);
      expect(k1.reused).toBe(true);
      expect(keys.stats().decryptedWithOldKey).toBe(2);
    });
  }

  it('keeps at most `keep` retired keys, whatever the grace period', async () => {
    let now = START;
    const keys = track(new TicketKeys({ interval: HOUR, keep: 1, gracePeriod: 100 * HOUR, now: () => now }));
    const s = server(keys, 'TLSv1.2');
    const c = client('TLSv1.2');
    const t0 = (await connectInMemory(c, s)).sessions[0]!;
    now = START + HOUR + 1;
    expect((await connectInMemory(c, s, t0)).reused).toBe(true); // one retired key: kept
    now = START + 2 * HOUR + 1;
    expect((await connectInMemory(c, s, t0)).reused).toBe(false); // two retirements: K0 dropped
    expect(keys.keys().map((k) => k.state)).toEqual(['previous', 'current']);
  });

  it('close() zeroes the keys: no tickets issued, none accepted', async () => {
    const keys = new TicketKeys();
    const s = server(keys, 'TLSv1.3');
    const c = client('TLSv1.3');
    const first = await connectInMemory(c, s);
    expect(first.sessions.length).toBe(2);
    keys.close();
    expect(keys.stats().keys).toBe(0);
    const after = await connectInMemory(c, s, first.sessions[0]!);
    expect(after.reused).toBe(false); // unknown key name
    expect(after.sessions.length).toBe(0); // no key: OpenSSL sends no TLS 1.3 ticket
    expect(keys.stats()).toMatchObject({ rejected: 1, keys: 0 });
  });

  it("setTicketKeys(null) goes back to OpenSSL's own keys", async () => {
    const keys = track(new TicketKeys());
    const s = server(keys, 'TLSv1.2');
    const c = client('TLSv1.2');
    const t0 = (await connectInMemory(c, s)).sessions[0]!;
    s.setTicketKeys(null);
    expect((await connectInMemory(c, s, t0)).reused).toBe(false);
    expect(() => s.setTicketKeys({} as TicketKeys)).toThrow(/TicketKeys/);
  });

  it('validates its options', () => {
    expect(() => new TicketKeys({ interval: 10 })).toThrow(RangeError);
    expect(() => new TicketKeys({ keep: -1 })).toThrow(RangeError);
    expect(() => new TicketKeys({ now: 5 as never })).toThrow(TypeError);
  });
});

describe('keys shared by a fleet', () => {
  it('fromStore: two processes load the same keys; a ticket from one resumes on the other; a stranger rejects it', async () => {
    const store = new MemoryStore();
    const p1 = track(await TicketKeys.fromStore(store, { checkInterval: 0 }));
    const p2 = track(await TicketKeys.fromStore(store, { checkInterval: 0 }));
    const stranger = track(await TicketKeys.fromStore(new MemoryStore(), { checkInterval: 0 }));
    // One record, made by whichever process came first: a current and a next key.
    expect(p1.keys()).toEqual(p2.keys());
    expect(p1.keys().map((k) => k.state)).toEqual(['current', 'next']);
    expect(store.size).toBe(1);
    const c = client('TLSv1.3');
    const first = await connectInMemory(c, server(p1, 'TLSv1.3'));
    expect((await connectInMemory(c, server(p2, 'TLSv1.3'), first.sessions[0]!)).reused).toBe(true);
    expect((await connectInMemory(c, server(stranger, 'TLSv1.3'), first.sessions[1]!)).reused).toBe(false);
    expect(stranger.stats().rejected).toBe(1);
  });

  it('processes starting at the same instant agree, with an atomic create (SET NX) or without', async () => {
    class AtomicStore extends MemoryStore {
      // Check and write in one synchronous stretch, as Redis' SET NX is one command.
      async setIfAbsent(key: string, value: Buffer, expiresAt: number): Promise<boolean> {
        if (this.keys().includes(key)) return false;
        await this.set(key, value, expiresAt);
        return true;
      }
    }
    for (const store of [new AtomicStore(), new MemoryStore()]) {
      const started = await Promise.all([0, 1, 2].map(() => TicketKeys.fromStore(store, { checkInterval: 0 })));
      for (const keys of started) track(keys);
      expect(started[1]!.keys()).toEqual(started[0]!.keys());
      expect(started[2]!.keys()).toEqual(started[0]!.keys());
    }
  });

  it('rotation needs no coordinator: the next key is pre-distributed, racing writers converge', async () => {
    let now = START;
    const store = new MemoryStore({ now: () => now });
    const options = { checkInterval: 0, interval: HOUR, now: () => now };
    const p1 = track(await TicketKeys.fromStore(store, options));
    const p2 = track(await TicketKeys.fromStore(store, options));
    const [k0, k1] = p1.keys();
    expect(k1).toMatchObject({ state: 'next', activeFrom: START + HOUR });

    // The interval passes; nobody refreshed: K1 encrypts on both, by the clock alone.
    now = START + HOUR + 1;
    const c = client('TLSv1.2');
    const s1 = server(p1, 'TLSv1.2');
    const s2 = server(p2, 'TLSv1.2');
    const ticket = (await connectInMemory(c, s1)).sessions[0]!;
    expect(keyNameOf(ticket)).toBe(k1!.name);
    expect((await connectInMemory(c, s2, ticket)).reused).toBe(true);

    // Both notice that no next key exists and race to add one: the last write wins...
    await Promise.all([p1.refresh(), p2.refresh()]);
    // ...and the next refresh converges everyone on it, long before it starts encrypting.
    await Promise.all([p1.refresh(), p2.refresh()]);
    expect(p1.keys()).toEqual(p2.keys());
    expect(p1.keys().map((k) => [k.name === k0!.name ? 'K0' : k.name === k1!.name ? 'K1' : 'K2', k.state])).toEqual([
      ['K0', 'previous'],
      ['K1', 'current'],
      ['K2', 'next'],
    ]);
    expect(p1.stats().refreshes).toBeGreaterThanOrEqual(3);
  });

  it('fromFile: one 0600 file, created once even by processes starting together', async () => {
    const path = join(dir, 'keys', 'ticket-keys.bin');
    const [p1, p2] = await Promise.all([TicketKeys.fromFile(path, { checkInterval: 0 }), TicketKeys.fromFile(path, { checkInterval: 0 })]);
    track(p1);
    track(p2);
    expect(p1.keys()).toEqual(p2.keys());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const c = client('TLSv1.2');
    const ticket = (await connectInMemory(c, server(p1, 'TLSv1.2'))).sessions[0]!;
    expect((await connectInMemory(c, server(p2, 'TLSv1.2'), ticket)).reused).toBe(true);
  });

  it('a store that is down at start: a local key now (tickets still work here), the shared keys once it answers', async () => {
    const inner = new MemoryStore();
    let down = true;
    const flaky = {
      get: async (key: string) => (down ? Promise.reject(new Error('store down')) : inner.get(key)),
      set: async (key: string, value: Buffer, expiresAt: number) =>
        down ? Promise.reject(new Error('store down')) : inner.set(key, value, expiresAt),
      delete: async (key: string) => inner.delete(key),
    };
    const errors: string[] = [];
    const lonely = track(await TicketKeys.fromStore(flaky, { checkInterval: 0, onError: (e) => errors.push(e.message) }));
    expect(errors).toEqual(['store down']);
    expect(lonely.keys().map((k) => k.state)).toEqual(['current']);
    await expect(TicketKeys.fromStore(flaky, { checkInterval: 0, requireStore: true })).rejects.toThrow('store down');
    const c = client('TLSv1.2');
    const s = server(lonely, 'TLSv1.2');
    const local = (await connectInMemory(c, s)).sessions[0]!;
    expect((await connectInMemory(c, s, local)).reused).toBe(true);
    // The store comes back: the next refresh writes a record (our key + a next one) that a
    // second process then loads.
    down = false;
    await lonely.refresh();
    expect(inner.size).toBe(1);
    const peer = track(await TicketKeys.fromStore(flaky, { checkInterval: 0 }));
    expect(peer.keys()).toEqual(lonely.keys());
    expect(lonely.stats()).toMatchObject({ refreshErrors: 1, refreshes: 1 });
  });

  it('an unreadable shared record is an error, not silently new keys', async () => {
    const store = new MemoryStore();
    await store.set('openssl-session:ticket-keys', Buffer.from('garbage'), Date.now() + HOUR);
    await expect(TicketKeys.fromStore(store, { checkInterval: 0 })).rejects.toMatchObject({ code: 'ERR_TICKET_KEYS_FORMAT' });
  });
});
