/** When a cached session expires, and the clock the cache reads by default. */
import { VERSION } from '../constants.js';
import type { SessionMeta } from './adapters.js';
import type { ExpiryBound } from './record.js';

/**
 * The default clock, read at most once per millisecond of event-loop time and per 64 reads:
 * Date.now() costs about as much as the rest of a cache hit, and expiry is a matter of
 * minutes (the server enforces it anyway). A busy synchronous loop still sees time move.
 */
let cachedNow = 0;
let cachedReads = 0;
// One unref'd timer, re-armed with refresh(): a new setTimeout() + unref() per reading cost
// ~1.3 µs, which a client making one connection per millisecond paid on every connect.
let expireReading: NodeJS.Timeout | undefined;
export function coarseNow(): number {
  if (cachedNow !== 0 && ++cachedReads < 64) return cachedNow;
  cachedReads = 0;
  if (cachedNow === 0) {
    if (expireReading === undefined) {
      expireReading = setTimeout(() => {
        cachedNow = 0;
      }, 1);
      expireReading.unref();
    } else {
      expireReading.refresh();
    }
  }
  cachedNow = Date.now();
  return cachedNow;
}

/**
 * Expiry = min(time + timeout, time + ticket lifetime hint, time + cap (per protocol),
 * the peer certificate's notAfter), and which bound decided it.
 */
export function expiryOf(meta: SessionMeta, caps: { tls13: number; tls12: number }): { expiresAt: number; expiresBy: ExpiryBound } {
  const t = meta.time * 1000;
  let best: { expiresAt: number; expiresBy: ExpiryBound } = { expiresAt: t + meta.timeout * 1000, expiresBy: 'timeout' };
  const consider = (expiresAt: number, expiresBy: ExpiryBound) => {
    if (expiresAt < best.expiresAt) best = { expiresAt, expiresBy };
  };
  if (meta.ticketLifetimeHint > 0) consider(t + meta.ticketLifetimeHint * 1000, 'hint');
  consider(t + (meta.protocol === VERSION.TLS1_3 ? caps.tls13 : caps.tls12) * 1000, 'cap');
  if (meta.peerNotAfter !== null) consider(meta.peerNotAfter, 'notAfter');
  return best;
}
