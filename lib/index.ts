/**
 * openssl-session: OpenSSL's TLS session APIs (SSL_CTX, SSL, SSL_SESSION) from TypeScript,
 * over the OpenSSL inside the running node.
 */
export {
  MAX_SID_CTX_LENGTH,
  OP,
  SESS_CACHE,
  SHUTDOWN,
  SSL_ERROR,
  VERIFY,
  VERSION,
  openSSLVersion,
  versionName,
  versionNumber,
  type ProtocolVersion,
} from './constants.js';
export { OpenSSLError } from './errors.js';
export { SslSession, type SessionInfo } from './core/ssl-session.js';
export {
  SslContext,
  type GetSessionCallback,
  type KeylogCallback,
  type NewSessionCallback,
  type RemoveSessionCallback,
  type Role,
  type SslContextOptions,
} from './core/ssl-context.js';
export { SslConnection } from './core/ssl-connection.js';
export type { TlsMessage } from './core/tls-message.js';
export type { SessionCacheStats } from './native.js';
export { createSelfSigned, type KeyPair, type SelfSignedOptions } from './certs.js';
export { drain, handshakeInMemory, pipe, shutdownInMemory, transfer } from './engine/memory-pair.js';
export { TlsSocket, type TlsSocketOptions } from './tls/tls-socket.js';
export { TlsClient, connect, defaultClientContext, type ConnectOptions } from './tls/tls-client.js';
export { TlsServer, createServer, type ServerOptions } from './tls/tls-server.js';
export { fromNodeSession, toNodeSession } from './interop/node-tls.js';
export {
  SessionCache,
  SslSessionCache,
  derSessionAdapter,
  keyInfo,
  sessionKey,
  sslSessionAdapter,
  trustOptionsOf,
  type CacheStats,
  type CachedSessionInfo,
  type EvictReason,
  type ExpiryBound,
  type HitInfo,
  type SessionAdapter,
  type SessionCacheEvents,
  type SessionCacheOptions,
  type SessionKeyOptions,
  type SessionMeta,
  type SessionTrust,
  type SslCacheKeyOptions,
  type SslSessionCacheOptions,
  type Taken,
  type TrustOptions,
} from './cache/index.js';
export {
  EncryptedStore,
  FileStore,
  MemoryStore,
  RedisStore,
  encryptStore,
  type RedisStoreOptions,
  type RedisStoreStats,
  type FileStoreOptions,
  type MemoryStoreOptions,
  type SessionStore,
} from './stores/index.js';
export { NodeSessionCache, withSessionCache, type NodeKeyOptions, type NodeSessionCacheOptions } from './interop/tls-session-cache.js';
export { SessionCacheAgent, type SessionCacheAgentOptions } from './interop/https-agent.js';
export * as lab from './lab/index.js';
export { WARNING_CODES, configureWarnings, warningEnabled, type WarningCode } from './guard-rails.js';
export { clientHelloPending, type ClientHelloCallback, type ClientHelloInfo } from './core/client-hello.js';
export {
  ServerSessionCache,
  TicketKeys,
  defaultSessionIdContext,
  type ServerSessionCacheOptions,
  type ServerSessionCacheStats,
  type SharedTicketKeysOptions,
  type TicketKeyInfo,
  type TicketKeysOptions,
  type TicketKeysStats,
} from './server/index.js';
