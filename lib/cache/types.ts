/** The public types of SessionCache: options, stats, inspection, events. */
import type { SessionStore } from '../stores/store.js';
import type { SessionAdapter } from './adapters.js';
import type { SessionRecordMeta } from './record.js';

export type { ExpiryBound } from './record.js';

/** How the connection that produced a session stands on peer verification. */
export type SessionTrust = 'verified' | 'unverified' | 'failed';
/** Why a cached session was dropped ('evict' event). */
export type EvictReason = 'lru' | 'expired' | 'overflow' | 'replaced' | 'error' | 'unusable' | 'explicit';

export interface SessionCacheOptions<V extends object> {
  /** How values are read, shared, released and serialized. */
  adapter: SessionAdapter<V>;
  /** Peers (keys) kept in memory, least recently used evicted first (default 256; 0 disables the cache). */
  maxPeers?: number;
  /** TLS 1.3 tickets kept per peer (default 4). */
  ticketsPerPeer?: number;
  /** Second tier: a SessionStore consulted on memory misses and written through (default none). */
  store?: SessionStore | null;
  /** Milliseconds a store operation may take before it counts as failed (default 1000). */
  storeTimeout?: number;
  /** Persist sessions of keys marked `client-cert` (default false: memory only). */
  persistClientCertSessions?: boolean;
  /** Upper bounds on a session's life, seconds (default 7 days for TLS 1.3, 1 day for TLS 1.2). */
  maxLifetime?: { tls13?: number; tls12?: number };
  /** Clock, ms since the epoch (default Date.now). Tests move it instead of sleeping. */
  now?: () => number;
}

/** Counters since the cache was created, and what it holds now. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Sessions accepted by set(). */
  stores: number;
  /** Sessions dropped for any reason but expiry (lru, overflow, replaced, error, unusable, explicit). */
  evictions: number;
  /** Sessions dropped because they expired. */
  expirations: number;
  /** TLS 1.3 tickets handed out (each once). */
  ticketsTaken: number;
  /** Store operations that failed or timed out, and store records that could not be used. */
  storeErrors: number;
  /** Peers in memory now. */
  peers: number;
  /** Sessions in memory now. */
  sessions: number;
}

/** What the cache holds for a peer (no secrets): see peek(). The protocol by name ('TLSv1.3'). */
export interface CachedSessionInfo extends Omit<SessionRecordMeta, 'protocol'> {
  protocol: string;
}

/** Details of a 'hit' event. */
export interface HitInfo {
  source: 'memory' | 'store';
  protocol: string;
  singleUse: boolean;
  /** Sessions left for this peer. */
  remaining: number;
}

/** Events and their arguments. */
export interface SessionCacheEvents {
  hit: [key: string, info: HitInfo];
  miss: [key: string];
  evict: [key: string, reason: EvictReason];
  storeError: [error: Error, operation: 'get' | 'set' | 'delete'];
}
