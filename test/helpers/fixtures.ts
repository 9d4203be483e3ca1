/** Shared test fixtures: one self-signed certificate per test file, and context factories. */
import { createSelfSigned, SslContext, type SslContextOptions } from '../../lib/index.js';

export const pair = createSelfSigned({ commonName: 'localhost' });

/** A server context with the test certificate and a session id context (seed 001's setup). */
export function serverContext(options: SslContextOptions = {}): SslContext {
  return new SslContext('server', { cert: pair.cert, key: pair.key, sessionIdContext: 'openssl-session-tests', ...options });
}

/** A client context that trusts the test certificate. */
export function clientContext(options: SslContextOptions = {}): SslContext {
  return new SslContext('client', { ca: pair.cert, verify: true, ...options });
}
