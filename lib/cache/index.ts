/** The client session cache: generic core, engine cache, adapters, keys. */
export {
  SessionCache,
  type CacheStats,
  type CachedSessionInfo,
  type EvictReason,
  type ExpiryBound,
  type HitInfo,
  type SessionCacheEvents,
  type SessionCacheOptions,
  type SessionTrust,
  type Taken,
} from './session-cache.js';
export { SslSessionCache, trustOptionsOf, type SslCacheKeyOptions, type SslSessionCacheOptions } from './ssl-session-cache.js';
export { derSessionAdapter, describeSslSession, sslSessionAdapter, type SessionAdapter, type SessionMeta } from './adapters.js';
export { keyInfo, sessionKey, type CertificateInput, type KeyInfo, type SessionKeyOptions, type TrustOptions } from './key.js';
