/**
 * Cache keys: `host:port`, the SNI, and a digest of every option that changes trust or
 * resumability, so two connections that differ in any of them never share a session (the
 * bug class of nginx CVE-2025-23419 and curl CVE-2021-22890). The key is readable up to the
 * digest:
 *
 *     example.com:993|sni=example.com|cfg=5d41402abc4b2a76b9719d911017c592[|ephemeral][|client-cert]
 *
 * `ephemeral` marks keys that include the identity of an in-process object (an SslContext, a
 * node SecureContext, a checkServerIdentity function): they mean nothing in another process,
 * so such sessions are never written to a store. `client-cert` marks configurations with a
 * client certificate (not persisted unless the cache is told to).
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

import { versionNumber, type ProtocolVersion } from '../constants.js';
import { invalidArgType, validateInteger } from '../errors.js';

/** A certificate (PEM text, PEM bytes, or DER bytes), or several. */
export type CertificateInput = string | Uint8Array | ReadonlyArray<string | Uint8Array>;

/**
 * The options that change trust or resumability. Anything given here goes into the key
 * digest; equal options give equal keys (also across processes).
 */
export interface TrustOptions {
  /** Peer verification on (`true`), off (`false`), or a VERIFY.* mask. */
  verify?: boolean | number | null;
  /** The name the peer certificate must match (null/false: not checked). */
  checkHost?: string | false | null;
  /** Trust anchors. Order and PEM formatting do not matter: the set does. */
  ca?: CertificateInput | null;
  /** Client certificate chain (marks the key `client-cert`). */
  cert?: CertificateInput | null;
  /** ALPN protocols offered, in order. */
  alpnProtocols?: readonly string[] | null;
  minVersion?: ProtocolVersion | null;
  maxVersion?: ProtocolVersion | null;
  /** Cipher list (TLS ≤ 1.2; node:tls: both). */
  ciphers?: string | null;
  /** TLS 1.3 cipher suites. */
  ciphersuites?: string | null;
  /** SSL_OP_* bits (OP.NO_TICKET, ...). */
  options?: number | null;
  /** Anything else to separate on (JSON-serializable). */
  extra?: unknown;
}

/** Where to and how: what a key is made of. */
export interface SessionKeyOptions extends TrustOptions {
  /** Host name or address (default 'localhost'). */
  host?: string;
  port: number;
  /** SNI sent; default: `host` unless it is an IP address; false: none. */
  servername?: string | false | null;
}

/** Flags parsed back from a key. */
export interface KeyInfo {
  /** Contains in-process identities: never written to a store. */
  ephemeral: boolean;
  /** Made with a client certificate: persisted only when the cache allows it. */
  clientCertificate: boolean;
}

const processNonce = randomBytes(6).toString('hex');
let nextIdentity = 0;
const identities = new WeakMap<object, string>();

/**
 * A stable id for an in-process object (an SslContext...), unique across processes (random
 * prefix), so a key that embeds it can never match anything another process stored.
 */
export function identityOf(object: object): string {
  let id = identities.get(object);
  if (id === undefined) {
    id = `${processNonce}.${++nextIdentity}`;
    identities.set(object, id);
  }
  return id;
}

const PEM_CERT = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:TRUSTED )?CERTIFICATE-----/g;
const digestMemo = new WeakMap<object, string>();
const stringDigestMemo = new Map<string, string>();
const STRING_MEMO_SIZE = 64;

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function setDigest(digests: string[]): string {
  return sha256([...new Set(digests)].sort().join(','));
}

/** Digests of each certificate in `input` (PEM bodies with whitespace removed, or DER). */
function certificateDigests(input: string | Uint8Array): string[] {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const bodies = [...text.matchAll(PEM_CERT)].map((m) => (m[1] ?? '').replace(/\s+/g, ''));
  if (bodies.length > 0) return bodies.map((b) => sha256(Buffer.from(b, 'base64')));
  if (typeof input !== 'string' && input.length > 0) return [sha256(input)]; // DER
  return text.trim() === '' ? [] : [sha256(text.trim())]; // something else: still separates
}

/** One digest of a set of certificates: SHA-256 over their sorted, de-duplicated digests (memoized). */
export function certificateSetDigest(input: CertificateInput): string {
  if (typeof input === 'string') {
    let digests = stringDigestMemo.get(input);
    if (digests === undefined) {
      digests = setDigest(certificateDigests(input));
      if (stringDigestMemo.size >= STRING_MEMO_SIZE) stringDigestMemo.delete(stringDigestMemo.keys().next().value as string);
      stringDigestMemo.set(input, digests);
    }
    return digests;
  }
  const memoKey: object = input;
  const memo = digestMemo.get(memoKey);
  if (memo) return memo;
  const list = Array.isArray(input) ? (input as ReadonlyArray<string | Uint8Array>) : [input as string | Uint8Array];
  const digests = setDigest(
    list.flatMap((item, i) => {
      if (typeof item !== 'string' && !(item instanceof Uint8Array))
        throw invalidArgType(`ca[${i}]`, 'a PEM string, a Buffer or a Uint8Array', item);
      return certificateDigests(item);
    }),
  );
  digestMemo.set(memoKey, digests);
  return digests;
}

function version(value: ProtocolVersion | null | undefined, name: string): number | null {
  if (value === undefined || value === null) return null;
  const n = versionNumber(value);
  if (n === undefined) throw invalidArgType(name, "a protocol version such as 'TLSv1.2'", value);
  return n;
}

/** The canonical (JSON) form of trust options; what the digest is taken over. */
export function canonicalTrust(options: TrustOptions): Record<string, unknown> {
  const verify =
    options.verify === undefined || options.verify === null
      ? null
      : typeof options.verify === 'boolean'
        ? options.verify
          ? 1
          : 0
        : options.verify;
  return {
    verify,
    checkHost: verify === 0 || options.checkHost === false ? null : (options.checkHost ?? null),
    ca: options.ca === undefined || options.ca === null ? null : certificateSetDigest(options.ca),
    cert: options.cert === undefined || options.cert === null ? null : certificateSetDigest(options.cert),
    alpn: options.alpnProtocols ? [...options.alpnProtocols].map(String) : null,
    minVersion: version(options.minVersion, 'minVersion'),
    maxVersion: version(options.maxVersion, 'maxVersion'),
    ciphers: options.ciphers ?? null,
    ciphersuites: options.ciphersuites ?? null,
    options: options.options ?? null,
    extra: options.extra ?? null,
  };
}

function escapePart(value: string): string {
  return value.replace(/[|%\s]/g, (c) => encodeURIComponent(c));
}

/** The key's `cfg` part: `digestInput` JSON-serialized and SHA-256'd (128 bits, hex). */
export function keyDigest(digestInput: unknown): string {
  return sha256(JSON.stringify(digestInput)).slice(0, 32);
}

/** Builds the key string from its parts (`digest`: keyDigest() of the configuration). */
export function formatKey(parts: {
  host: string;
  port: number;
  servername: string | null;
  digest: string;
  ephemeral?: boolean;
  clientCertificate?: boolean;
}): string {
  validateInteger(parts.port, 'port', 0, 65535);
  const host = isIP(parts.host) === 6 ? `[${parts.host}]` : escapePart(parts.host);
  let key = `${host}:${parts.port}|sni=${parts.servername === null ? '-' : escapePart(parts.servername)}|cfg=${parts.digest}`;
  if (parts.ephemeral) key += '|ephemeral';
  if (parts.clientCertificate) key += '|client-cert';
  return key;
}

/** The default SNI for `host` (as node:tls and connect() do): the host unless it is an IP address. */
export function defaultServername(host: string, servername: string | false | null | undefined): string | null {
  if (servername === false || servername === null) return null;
  if (servername !== undefined && servername !== '') return servername;
  return isIP(host) === 0 ? host : null;
}

/** The key for explicit options (no in-process identities): equal options, equal keys. */
export function sessionKey(options: SessionKeyOptions): string {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
  const host = options.host ?? 'localhost';
  const trust = canonicalTrust(options);
  return formatKey({
    host,
    port: options.port,
    servername: defaultServername(host, options.servername),
    digest: keyDigest({ v: 1, engine: 'generic', trust }),
    clientCertificate: trust.cert !== null,
  });
}

/** Reads the flags back from a key (keys without flags, e.g. hand-made ones, are persistable). */
export function keyInfo(key: string): KeyInfo {
  const flags = key.split('|').slice(3);
  return { ephemeral: flags.includes('ephemeral'), clientCertificate: flags.includes('client-cert') };
}
