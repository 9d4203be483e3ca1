/**
 * The record a SessionCache writes to a store for one peer: its sessions as DER plus the
 * metadata the cache computed (so loading needs no parsing until a session is used).
 */

/** Which bound decided a session's expiry. */
export type ExpiryBound = 'timeout' | 'hint' | 'cap' | 'notAfter';

/** What the cache knows about a session besides its bytes (also what peek() shows). */
export interface SessionRecordMeta {
  /** SSL_SESSION_get_protocol_version (0x0304 = TLS 1.3). */
  protocol: number;
  /** A TLS 1.3 ticket: handed out once. */
  singleUse: boolean;
  hasTicket: boolean;
  ticketLifetimeHint: number;
  /** When it entered the cache (ms since the epoch). */
  storedAt: number;
  expiresAt: number;
  /** Which bound decided expiresAt. */
  expiresBy: ExpiryBound;
}

/** One serialized session. */
export interface SessionRecord extends SessionRecordMeta {
  der: Buffer;
}

const RECORD_VERSION = 1;
const BOUNDS = new Set<string>(['timeout', 'hint', 'cap', 'notAfter']);

/** Serializes a peer's sessions (newest first). */
export function encodeRecords(records: readonly SessionRecord[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: RECORD_VERSION,
      sessions: records.map((r) => ({ ...r, der: r.der.toString('base64') })),
    }),
    'utf8',
  );
}

/** Parses a record; throws on anything malformed (the caller treats it as a miss). */
export function decodeRecords(bytes: Buffer): SessionRecord[] {
  const parsed = JSON.parse(bytes.toString('utf8')) as { v?: unknown; sessions?: unknown };
  if (parsed === null || typeof parsed !== 'object' || parsed.v !== RECORD_VERSION || !Array.isArray(parsed.sessions)) {
    throw new Error('not a session record');
  }
  return parsed.sessions.map((s: Record<string, unknown>) => {
    const ok =
      s !== null &&
      typeof s === 'object' &&
      typeof s.der === 'string' &&
      typeof s.protocol === 'number' &&
      typeof s.singleUse === 'boolean' &&
      typeof s.hasTicket === 'boolean' &&
      typeof s.ticketLifetimeHint === 'number' &&
      typeof s.storedAt === 'number' &&
      typeof s.expiresAt === 'number' &&
      typeof s.expiresBy === 'string' &&
      BOUNDS.has(s.expiresBy);
    if (!ok) throw new Error('malformed session in record');
    return {
      der: Buffer.from(s.der as string, 'base64'),
      protocol: s.protocol as number,
      singleUse: s.singleUse as boolean,
      hasTicket: s.hasTicket as boolean,
      ticketLifetimeHint: s.ticketLifetimeHint as number,
      storedAt: s.storedAt as number,
      expiresAt: s.expiresAt as number,
      expiresBy: s.expiresBy as ExpiryBound,
    };
  });
}
