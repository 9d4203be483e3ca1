/**
 * PeerTable, the session cache's LRU of peers: recency order through touches, slot reuse and
 * growth past the initial typed-array size, deletion while iterating, and the fast-hit lane
 * (cleared by any pool change, refused once an entry of the pool has expired).
 */
import { describe, expect, it } from 'vitest';

import { PeerTable } from '../lib/cache/peer-table.js';

type E = { expiresAt: number; id: string };
const pool = (id: string, expiresAt = 1000): E[] => [{ id, expiresAt }];

describe('PeerTable', () => {
  it('iterates least recently used first; set and touch make a key the newest', () => {
    const table = new PeerTable<E, string>();
    for (const key of ['a', 'b', 'c', 'd']) table.set(key, pool(key));
    table.touch(table.slotOf('b'));
    table.set('a', pool('a2'));
    expect([...table.keys()]).toEqual(['c', 'd', 'b', 'a']);
    expect(table.pool('a')![0]!.id).toBe('a2');
    expect(table.slotOf('zz')).toBe(-1);
  });

  it('grows past its first 16 slots and reuses the slots of deleted keys', () => {
    const table = new PeerTable<E, string>();
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    for (const key of keys) table.set(key, pool(key));
    expect(table.size).toBe(100);
    const freed = table.slotOf('k10');
    expect(table.delete('k10')).toBe(true);
    expect(table.delete('k10')).toBe(false);
    table.set('new', pool('new'));
    expect(table.slotOf('new')).toBe(freed);
    expect([...table.keys()]).toEqual([...keys.filter((k) => k !== 'k10'), 'new']);
    for (const key of keys.slice(0, 50)) if (key !== 'k10') table.touch(table.slotOf(key));
    expect([...table.keys()].slice(0, 2)).toEqual(['k50', 'k51']);
    expect([...table.keys()].slice(-3)).toEqual(['k47', 'k48', 'k49']);
  });

  it('deleting the current key while iterating is safe (the cache evicts this way)', () => {
    const table = new PeerTable<E, string>();
    for (const key of ['a', 'b', 'c', 'd', 'e']) table.set(key, pool(key));
    for (const [key] of table) {
      if (table.size <= 2) break;
      table.delete(key);
    }
    expect([...table.keys()]).toEqual(['d', 'e']);
    table.clear();
    expect(table.size).toBe(0);
    expect([...table.keys()]).toEqual([]);
    table.set('x', pool('x'));
    expect([...table.keys()]).toEqual(['x']);
  });

  it('a fast value is served until the pool changes or an entry expires', () => {
    const table = new PeerTable<E, string>();
    table.set('p', [
      { id: 'new', expiresAt: 2000 },
      { id: 'old', expiresAt: 500 },
    ]);
    const slot = table.slotOf('p');
    expect(table.fastHit(slot, 100)).toBeUndefined(); // not marked yet
    table.markFast(slot, 'value');
    expect(table.fastHit(slot, 100)).toBe('value');
    expect(table.fastHit(slot, 500)).toBeUndefined(); // the older entry expired: take the slow path
    table.poolAt(slot).pop();
    table.refresh(slot);
    expect(table.fastHit(slot, 600)).toBeUndefined(); // a pool change clears it
    table.markFast(slot, 'value');
    expect(table.fastHit(slot, 600)).toBe('value');
  });
});
