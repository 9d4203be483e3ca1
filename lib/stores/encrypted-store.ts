/**
 * EncryptedStore: AES-256-GCM encryption at rest around any SessionStore, with a key the user
 * supplies (32 bytes). Two subkeys are derived with HKDF-SHA256: one encrypts records, the
 * other turns cache keys into HMAC-SHA256 names, so the inner store sees neither sessions
 * nor host names. Each record is bound to its name (GCM additional data): a record copied
 * under another name does not decrypt.
 *
 * A wrong key, a tampered record or an unknown format all read as a miss (undefined): the
 * cost is a full handshake, never an error.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

import { invalidArgType, outOfRange } from '../errors.js';
import type { SessionStore } from './store.js';

const RECORD_VERSION = 1;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** A SessionStore that encrypts values and hides keys before handing them to `inner`. */
export class EncryptedStore implements SessionStore {
  /** The store that holds the ciphertext. */
  readonly inner: SessionStore;
  readonly #encryptionKey: Buffer;
  readonly #nameKey: Buffer;

  /**
   * @param inner the store to wrap
   * @param key 32 secret bytes (e.g. `crypto.randomBytes(32)` kept in a secret manager)
   */
  constructor(inner: SessionStore, key: Uint8Array) {
    if (inner === null || typeof inner !== 'object' || typeof inner.get !== 'function')
      throw invalidArgType('inner', 'a SessionStore', inner);
    if (!(key instanceof Uint8Array)) throw invalidArgType('key', 'a Buffer or Uint8Array of 32 bytes', key);
    if (key.length !== 32) throw outOfRange('key', '32 bytes long (AES-256)', `${key.length} bytes`);
    this.inner = inner;
    this.#encryptionKey = Buffer.from(hkdfSync('sha256', key, 'openssl-session', 'store record encryption', 32));
    this.#nameKey = Buffer.from(hkdfSync('sha256', key, 'openssl-session', 'store key names', 32));
  }

  /** The name a cache key is stored under in the inner store. */
  nameFor(key: string): string {
    return `enc1:${createHmac('sha256', this.#nameKey).update(key, 'utf8').digest('hex')}`;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const name = this.nameFor(key);
    const record = await this.inner.get(name);
    if (record === undefined) return undefined;
    return this.#open(name, record);
  }

  async set(key: string, value: Buffer, expiresAt: number): Promise<void> {
    const name = this.nameFor(key);
    return this.inner.set(name, this.#seal(name, value), expiresAt);
  }

  async delete(key: string): Promise<void> {
    return this.inner.delete(this.nameFor(key));
  }

  async flush(): Promise<void> {
    await this.inner.flush?.();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  /** [version 1][iv 12][tag 16][ciphertext]; the name is the additional authenticated data. */
  #seal(name: string, plaintext: Buffer): Buffer {
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([RECORD_VERSION]), iv, cipher.getAuthTag(), body]);
  }

  #open(name: string, record: Buffer): Buffer | undefined {
    if (record.length < 1 + IV_LENGTH + TAG_LENGTH || record[0] !== RECORD_VERSION) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, record.subarray(1, 1 + IV_LENGTH));
      decipher.setAAD(Buffer.from(name, 'utf8'));
      decipher.setAuthTag(record.subarray(1 + IV_LENGTH, 1 + IV_LENGTH + TAG_LENGTH));
      return Buffer.concat([decipher.update(record.subarray(1 + IV_LENGTH + TAG_LENGTH)), decipher.final()]);
    } catch {
      return undefined; // wrong key or tampered: a miss
    }
  }
}

/** `new EncryptedStore(store, key)`: encryption at rest for any store. */
export function encryptStore(store: SessionStore, key: Uint8Array): EncryptedStore {
  return new EncryptedStore(store, key);
}
