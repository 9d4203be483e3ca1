/**
 * Errors: OpenSSLError (thrown by the addon, built from OpenSSL's error queue) and the
 * argument validators that give TypeError/RangeError naming the parameter.
 */
import { binding } from './native.js';

/**
 * An error from OpenSSL's error queue. `code` follows node's convention:
 * `ERR_SSL_<REASON>` for libssl, `ERR_OSSL_<LIB>_<REASON>` otherwise.
 */
export class OpenSSLError extends Error {
  /** e.g. `ERR_SSL_WRONG_VERSION_NUMBER`, `ERR_OSSL_ASN1_WRONG_TAG`. */
  declare code: string;
  /** OpenSSL's library string, e.g. `SSL routines`. */
  declare library: string;
  /** OpenSSL's reason string, e.g. `wrong version number`. */
  declare reason: string;
  /** The other entries of the error queue, oldest first, as OpenSSL prints them. */
  declare opensslErrorStack: string[];
  /** Set on handshake failures caused by certificate verification (X509_verify_cert_error_string). */
  declare verifyError?: string;

  constructor(message: string) {
    super(message);
    this.name = 'OpenSSLError';
  }
}

binding.setClasses({ OpenSSLError });

/** A TypeError/RangeError carrying a node-style `code`. */
export type CodedError = (TypeError | RangeError) & { code: string };

export function codedTypeError(code: string, message: string): CodedError {
  return Object.assign(new TypeError(message), { code });
}

/** A short description of any value; never throws (objects without a prototype, symbols...). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return `an instance of ${ctor ?? 'Object'}`;
  }
  if (typeof value === 'symbol') return `type symbol (${value.description ?? ''})`;
  return `type ${typeof value} (${String(value).slice(0, 40)})`;
}

export function invalidArgType(name: string, expected: string, value: unknown): CodedError {
  return codedTypeError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describe(value)}`);
}

export function outOfRange(name: string, range: string, value: unknown): CodedError {
  return Object.assign(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describe(value)}`), {
    code: 'ERR_OUT_OF_RANGE',
  });
}

export function validateInteger(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  return value;
}

export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

export function validateBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgType(name, 'a Buffer or Uint8Array', value);
  return value;
}

/** A string (UTF-8) or bytes, returned as bytes. */
export function toBytes(value: unknown, name: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return validateBytes(value, name);
}

/** PEM given as a string or Buffer, returned as a string. */
export function toPem(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  throw invalidArgType(name, 'a PEM string or Buffer', value);
}

export function validateFunctionOrNull(value: unknown, name: string): void {
  if (value !== null && typeof value !== 'function') throw invalidArgType(name, 'a function or null', value);
}
