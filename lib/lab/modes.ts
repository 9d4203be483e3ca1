/**
 * The session-cache modes the lab runs, by name. Values are OpenSSL's own SSL_SESS_CACHE_*
 * numbers (from the addon), never re-typed here.
 */
import { SESS_CACHE } from '../constants.js';

/** A cache mode as the lab shows it: a name like 'SERVER|NO_INTERNAL_LOOKUP' and its bits. */
export interface LabMode {
  readonly name: string;
  /**
   * SSL_SESS_CACHE_* bits passed to setSessionCacheMode(), or undefined to leave the context
   * at OpenSSL's default (SSL_CTX_new sets SSL_SESS_CACHE_SERVER on every context, clients too).
   */
  readonly value: number | undefined;
}

type FlagName = keyof typeof SESS_CACHE;

/**
 * Parses 'SERVER|NO_INTERNAL_LOOKUP' (names of SESS_CACHE, '|' or ',' separated, case
 * insensitive) into its bits. 'default' parses to undefined (OpenSSL's default mode).
 */
export function parseMode(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^default(\(server\))?$/i.test(trimmed)) return undefined;
  let bits = 0;
  for (const part of trimmed.split(/[|,]/)) {
    const name = part.trim().toUpperCase() as FlagName;
    const value = SESS_CACHE[name];
    if (value === undefined) {
      throw new RangeError(`unknown session cache flag "${part.trim()}" (known: ${Object.keys(SESS_CACHE).join(', ')})`);
    }
    bits |= value;
  }
  return bits;
}

function mode(name: string): LabMode {
  return Object.freeze({ name, value: parseMode(name) });
}

/** Server modes of the matrix (issue 3): OFF, SERVER and SERVER with each modifier. */
export const SERVER_MODES: readonly LabMode[] = Object.freeze([
  mode('OFF'),
  mode('SERVER'),
  mode('SERVER|NO_INTERNAL_LOOKUP'),
  mode('SERVER|NO_INTERNAL_STORE'),
  mode('SERVER|NO_INTERNAL'),
  mode('SERVER|NO_AUTO_CLEAR'),
  mode('SERVER|UPDATE_TIME'),
]);

/**
 * Client modes of the matrix. 'default(SERVER)' is what a client context has unless the
 * application changes it: SSL_SESS_CACHE_SERVER, i.e. no client-side caching at all.
 */
export const CLIENT_MODES: readonly LabMode[] = Object.freeze([
  Object.freeze({ name: 'default(SERVER)', value: undefined }),
  mode('CLIENT'),
  mode('CLIENT|NO_INTERNAL_STORE'),
]);

/** The name of `bits` as '|'-joined SESS_CACHE flags ('OFF' for 0; NO_INTERNAL and BOTH folded). */
export function modeName(bits: number): string {
  if (bits === SESS_CACHE.OFF) return 'OFF';
  const names: string[] = [];
  let rest = bits;
  const order: FlagName[] = [
    'BOTH',
    'CLIENT',
    'SERVER',
    'NO_INTERNAL',
    'NO_INTERNAL_LOOKUP',
    'NO_INTERNAL_STORE',
    'NO_AUTO_CLEAR',
    'UPDATE_TIME',
  ];
  for (const name of order) {
    const value = SESS_CACHE[name];
    if (value !== 0 && (rest & value) === value) {
      names.push(name);
      rest &= ~value;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}
