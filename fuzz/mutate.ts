/**
 * The mutation engine of the fuzzer: a seeded PRNG (sfc32, so a run is reproducible from its
 * seed) and byte-level mutators in the style of libFuzzer's MutationDispatcher, plus two
 * format-aware ones that keep mutated inputs past the first length check:
 *
 * - TLS records (5-byte header: type, version, length) and the handshake messages inside
 *   them (type, 24-bit length): `fixTlsLengths` rewrites every length after a mutation.
 * - DER (ASN.1 TLV): `tweakDerLength` grows/shrinks one length field, the classic
 *   "length says more/less than there is" case of d2i parsers.
 */

/** Small, fast, seedable PRNG (sfc32). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniformly random unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.below(n) === 0;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.below(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Values that tend to sit on boundaries (libFuzzer's "interesting" bytes and words). */
const INTERESTING_8 = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x10, 0x16, 0x17, 0x14, 0x15, 0x20, 0x30, 0x40, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x83, 0xfe, 0xff,
];
const INTERESTING_16 = [
  0x0000, 0x0001, 0x0080, 0x00ff, 0x0100, 0x0301, 0x0303, 0x0304, 0x3fff, 0x4000, 0x4001, 0x7fff, 0x8000, 0xfffe, 0xffff,
];

type Mutator = (data: Buffer, rng: Rng, other: Buffer) => Buffer;

const MAX_LEN = 1 << 15;

function flipBit(data: Buffer, rng: Rng): Buffer {
  if (data.length === 0) return Buffer.from([rng.u32() & 0xff]);
  const out = Buffer.from(data);
  out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
}

function setByte(data: Buffer, rng: Rng): Buffer {
  if (data.length === 0) return Buffer.from([rng.pick(INTERESTING_8)]);
  const out = Buffer.from(data);
  out[rng.below(out.length)] = rng.oneIn(2) ? rng.pick(INTERESTING_8) : rng.u32() & 0xff;
  return out;
}

function setWord(data: Buffer, rng: Rng): Buffer {
  if (data.length < 2) return setByte(data, rng);
  const out = Buffer.from(data);
  const at = rng.below(out.length - 1);
  const value = rng.pick(INTERESTING_16);
  if (rng.oneIn(2)) out.writeUInt16BE(value, at);
  else out.writeUInt16LE(value, at);
  return out;
}

function addToByte(data: Buffer, rng: Rng): Buffer {
  if (data.length === 0) return setByte(data, rng);
  const out = Buffer.from(data);
  const at = rng.below(out.length);
  out[at] = (out[at]! + (rng.below(35) - 17)) & 0xff;
  return out;
}

function insertBytes(data: Buffer, rng: Rng): Buffer {
  const at = rng.below(data.length + 1);
  const n = 1 + rng.below(rng.oneIn(8) ? 256 : 8);
  const fill = rng.oneIn(2) ? rng.bytes(n) : Buffer.alloc(n, rng.pick(INTERESTING_8));
  return Buffer.concat([data.subarray(0, at), fill, data.subarray(at)]);
}

function eraseBytes(data: Buffer, rng: Rng): Buffer {
  if (data.length <= 1) return Buffer.alloc(0);
  const at = rng.below(data.length);
  const n = 1 + rng.below(Math.min(data.length - at, rng.oneIn(4) ? 512 : 16));
  return Buffer.concat([data.subarray(0, at), data.subarray(at + n)]);
}

function truncate(data: Buffer, rng: Rng): Buffer {
  return data.subarray(0, rng.below(data.length + 1));
}

function duplicateRange(data: Buffer, rng: Rng): Buffer {
  if (data.length === 0) return data;
  const from = rng.below(data.length);
  const n = 1 + rng.below(Math.min(64, data.length - from));
  const at = rng.below(data.length + 1);
  return Buffer.concat([data.subarray(0, at), data.subarray(from, from + n), data.subarray(at)]);
}

function copyRange(data: Buffer, rng: Rng): Buffer {
  if (data.length < 2) return data;
  const out = Buffer.from(data);
  const from = rng.below(out.length);
  const to = rng.below(out.length);
  const n = 1 + rng.below(Math.min(32, out.length - Math.max(from, to)));
  data.copy(out, to, from, from + n);
  return out;
}

/** libFuzzer's CrossOver: a prefix of one input with a suffix of another. */
function spliceWith(data: Buffer, rng: Rng, other: Buffer): Buffer {
  if (other.length === 0) return data;
  const a = rng.below(data.length + 1);
  const b = rng.below(other.length + 1);
  return Buffer.concat([data.subarray(0, a), other.subarray(b)]);
}

/**
 * Walks TLS records (and the handshake messages of handshake records) and rewrites every
 * length to match the bytes that are there, so the mutation reaches the parser behind them.
 */
export function fixTlsLengths(data: Buffer): Buffer {
  const out = Buffer.from(data);
  let at = 0;
  while (at + 5 <= out.length) {
    const type = out[at]!;
    const len = Math.min(out.length - at - 5, 0x4800);
    out.writeUInt16BE(len, at + 3);
    if (type === 22) {
      // Handshake messages: type(1) length(3) body. Fix the last one to end at the record end.
      let m = at + 5;
      const end = at + 5 + len;
      while (m + 4 <= end) {
        const declared = out.readUIntBE(m + 1, 3);
        if (m + 4 + declared >= end) {
          out.writeUIntBE(end - m - 4, m + 1, 3);
          break;
        }
        m += 4 + declared;
      }
    }
    at += 5 + len;
  }
  return out;
}

/** Mutates one DER length byte (short form) by a small amount, or flips a long-form count. */
function tweakDerLength(data: Buffer, rng: Rng): Buffer {
  if (data.length < 4) return flipBit(data, rng);
  const out = Buffer.from(data);
  // Pick a position that looks like a tag followed by a length.
  for (let tries = 0; tries < 8; tries++) {
    const at = 1 + rng.below(out.length - 2);
    const tag = out[at - 1]!;
    if ((tag & 0x1f) === 0x1f || tag === 0) continue;
    const len = out[at]!;
    if (len < 0x80) {
      out[at] = Math.max(0, Math.min(0x7f, len + rng.pick([-2, -1, 1, 2, 0x40, -0x40])));
    } else {
      out[at] = 0x80 | ((len + rng.pick([1, -1, 3])) & 0x7f);
    }
    return out;
  }
  return flipBit(data, rng);
}

const GENERIC: Mutator[] = [flipBit, setByte, setWord, addToByte, insertBytes, eraseBytes, truncate, duplicateRange, copyRange, spliceWith];

export type Format = 'tls' | 'der' | 'text' | 'raw';

/**
 * 1 to 6 stacked mutations of `data` (libFuzzer stacks up to 5). `other` is another corpus
 * entry for crossovers. TLS inputs get their lengths fixed afterwards 3 times in 4.
 */
export function mutate(data: Buffer, rng: Rng, other: Buffer, format: Format, prefix = 0): Buffer {
  // The first `prefix` bytes are control bytes (choices of the target): mutated only sometimes.
  const head = data.subarray(0, prefix);
  let body = data.subarray(prefix);
  const rounds = 1 + rng.below(rng.oneIn(4) ? 6 : 2);
  for (let i = 0; i < rounds; i++) {
    if (format === 'der' && rng.oneIn(4)) body = tweakDerLength(body, rng);
    else body = rng.pick(GENERIC)(body, rng, other.subarray(prefix));
  }
  if (format === 'tls' && !rng.oneIn(4)) body = fixTlsLengths(body);
  if (format === 'text' && rng.oneIn(3)) body = mutateText(body, rng);
  let control = head;
  if (prefix > 0 && rng.oneIn(4)) {
    control = Buffer.from(head);
    control[rng.below(prefix)] = rng.u32() & 0xff;
  }
  const out = prefix > 0 ? Buffer.concat([control, body]) : body;
  return out.length > MAX_LEN ? out.subarray(0, MAX_LEN) : out;
}

const PEM_TOKENS = [
  '-----BEGIN SSL SESSION PARAMETERS-----',
  '-----END SSL SESSION PARAMETERS-----',
  '-----BEGIN CERTIFICATE-----',
  '-----END CERTIFICATE-----',
  '-----BEGIN PRIVATE KEY-----',
  '\n',
  '\r\n',
  '=',
  '==',
  'Proc-Type: 4,ENCRYPTED\n',
  'DEK-Info: AES-128-CBC,00\n',
  '\0',
  'A'.repeat(64),
];

/** Text-level mutations for PEM: tokens in, lines out, base64 alphabet swaps. */
function mutateText(data: Buffer, rng: Rng): Buffer {
  const text = data.toString('latin1');
  const at = rng.below(text.length + 1);
  switch (rng.below(4)) {
    case 0:
      return Buffer.from(text.slice(0, at) + rng.pick(PEM_TOKENS) + text.slice(at), 'latin1');
    case 1: {
      const lines = text.split('\n');
      lines.splice(rng.below(lines.length), 1);
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 2:
      return Buffer.from(
        text.replace(/[A-Za-z0-9+/]/, () => rng.pick(['!', '-', '*', '.', ' ', '\u00ff'])),
        'latin1',
      );
    default: {
      // Re-encode a mutated payload between the original armor.
      const m = /-----BEGIN [^-]+-----\r?\n([\s\S]*?)-----END/.exec(text);
      if (!m) return data;
      const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
      const bad = mutate(der, rng, der, 'der');
      return Buffer.from(text.replace(m[1]!, `${bad.toString('base64').replace(/.{64}/g, '$&\n')}\n`), 'latin1');
    }
  }
}
