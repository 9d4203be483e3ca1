/** What demo and probe print with --messages: a connection's handshake messages, in order. */
import type { TlsMessage } from '../core/tls-message.js';

/** A message listener that appends each handshake message to `into` as '> ClientHello' (sent) or '< ServerHello' (received). */
export function recordHandshake(into: string[]): (message: TlsMessage) => void {
  return (m) => {
    if (m.contentType === 22) into.push(`${m.direction === 'sent' ? '>' : '<'} ${m.name}`);
  };
}
