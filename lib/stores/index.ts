/** Session stores: where a SessionCache keeps serialized sessions beyond its in-memory tier. */
export type { SessionStore } from './store.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { FileStore, FILE_STORE_FORMAT, type FileStoreOptions } from './file-store.js';
export { EncryptedStore, encryptStore } from './encrypted-store.js';
export { RedisStore, type RedisStoreOptions, type RedisStoreStats } from './redis-store.js';
