/**
 * OpenSSL constants, as typed frozen objects taken from the headers the addon was built
 * with (so the numbers are OpenSSL's own, never re-typed by hand).
 */
import { binding } from './native.js';

/** SSL_SESS_CACHE_*: flags for SslContext.setSessionCacheMode(). */
export const SESS_CACHE = binding.SESS_CACHE;
/** SSL_OP_*: flags for SslContext.setOptions() (NO_TICKET, NO_TLSv1_3, ...). */
export const OP = binding.OP;
/** SSL_SENT_SHUTDOWN / SSL_RECEIVED_SHUTDOWN for SslConnection.setShutdown(). */
export const SHUTDOWN = binding.SHUTDOWN;
/** Protocol versions (TLS1_2_VERSION = 0x0303, TLS1_3_VERSION = 0x0304, ...). */
export const VERSION = binding.VERSION;
/** SSL_VERIFY_* modes for SslContext.setVerify(). */
export const VERIFY = binding.VERIFY;
/** SSL_ERROR_*: what a step function (doHandshake, ...) reports when it cannot finish yet. */
export const SSL_ERROR = binding.SSL_ERROR;
/** SSL_MAX_SID_CTX_LENGTH: the longest session id context (32 bytes). */
export const MAX_SID_CTX_LENGTH = binding.MAX_SID_CTX_LENGTH;

/** A protocol version by name or number. */
export type ProtocolVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | number;

const VERSION_NAMES: Record<string, number> = {
  TLSv1: VERSION.TLS1,
  'TLSv1.1': VERSION.TLS1_1,
  'TLSv1.2': VERSION.TLS1_2,
  'TLSv1.3': VERSION.TLS1_3,
};

/** 'TLSv1.3' -> 0x0304 (numbers pass through). */
export function versionNumber(version: ProtocolVersion): number | undefined {
  if (typeof version === 'number') return version;
  return typeof version === 'string' && Object.hasOwn(VERSION_NAMES, version) ? VERSION_NAMES[version] : undefined;
}

/** 0x0304 -> 'TLSv1.3'; unknown numbers as hex. */
export function versionName(version: number): string {
  for (const [name, value] of Object.entries(VERSION_NAMES)) if (value === version) return name;
  return `0x${version.toString(16).padStart(4, '0')}`;
}

/** OpenSSL's version as the running node reports it (e.g. "3.0.19"). */
export function openSSLVersion(): string {
  return binding.openSSLVersion();
}
