/** Certificates generated at run time, so demos and tests need no files. */
import { binding } from './native.js';
import { invalidArgType, validateInteger, validateString } from './errors.js';

export interface SelfSignedOptions {
  /** Subject CN (default 'localhost'). */
  commonName?: string;
  /** subjectAltName entries (default DNS:localhost, IP:127.0.0.1, IP:::1). */
  altNames?: readonly string[];
  /** Validity in days (default 1). */
  days?: number;
  /** 'ec' (P-256, default: fast) or 'rsa'. */
  keyType?: 'ec' | 'rsa';
  /** RSA modulus size (default 2048). */
  bits?: number;
}

/** A PEM certificate and its private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/**
 * Generates a self-signed certificate (CA:TRUE, so it can also be its own trust anchor)
 * with OpenSSL's X509 API.
 */
export function createSelfSigned(options: SelfSignedOptions = {}): KeyPair {
  const keyType = options.keyType ?? 'ec';
  if (keyType !== 'ec' && keyType !== 'rsa') throw invalidArgType('keyType', "'ec' or 'rsa'", keyType);
  const altNames = options.altNames ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  return binding.createSelfSigned({
    commonName: validateString(options.commonName ?? 'localhost', 'commonName'),
    altNames: altNames.map((n, i) => validateString(n, `altNames[${i}]`)).join(','),
    days: validateInteger(options.days ?? 1, 'days', 1, 36500),
    keyType,
    bits: validateInteger(options.bits ?? 2048, 'bits', 1024, 16384),
  });
}
