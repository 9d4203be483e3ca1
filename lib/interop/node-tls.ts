/**
 * node:tls interop. Both sides run the same OpenSSL (the one inside node), so a session is
 * its DER form in both worlds: `socket.getSession()` output loads with fromNodeSession(),
 * and toNodeSession() output resumes with `tls.connect({ session })`.
 */
import { SslSession } from '../core/ssl-session.js';
import { invalidArgType } from '../errors.js';

/** A node:tls session (DER Buffer from `socket.getSession()` or the 'session' event) as an SslSession. */
export function fromNodeSession(der: Uint8Array): SslSession {
  return SslSession.fromDER(der);
}

/** An SslSession as the Buffer node:tls takes in `tls.connect({ session })`. */
export function toNodeSession(session: SslSession): Buffer {
  if (!(session instanceof SslSession)) throw invalidArgType('session', 'an SslSession', session);
  return session.toDER();
}
