/** Server side: a fleet-wide session cache over a SessionStore, and shared ticket keys. */
export {
  ServerSessionCache,
  defaultSessionIdContext,
  type ServerSessionCacheOptions,
  type ServerSessionCacheStats,
} from './server-session-cache.js';
export {
  TicketKeys,
  type SharedTicketKeysOptions,
  type TicketKeyInfo,
  type TicketKeysOptions,
  type TicketKeysStats,
} from './ticket-keys.js';
