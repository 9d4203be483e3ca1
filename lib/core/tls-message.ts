/**
 * Protocol messages as SslConnection.setMessageListener reports them (SSL_set_msg_callback):
 * what `openssl s_client -msg` prints, with names. A resumed handshake shows at a glance what
 * it skipped: no Certificate, no key exchange.
 */

/** One message a connection sent or received. */
export interface TlsMessage {
  direction: 'sent' | 'received';
  /** The protocol version OpenSSL reports with it (0x0303 TLS 1.2, 0x0304 TLS 1.3). */
  version: number;
  /**
   * Record content type: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data;
   * OpenSSL also reports each record header (256) and, in TLS 1.3, each record's inner content
   * type (257).
   */
  contentType: number;
  /** A handshake message's type (1 ClientHello, 2 ServerHello, 4 NewSessionTicket, 11 Certificate...); null otherwise. */
  handshakeType: number | null;
  /** 'ClientHello', 'Finished', 'ChangeCipherSpec', 'Alert(warning): close_notify', 'RecordHeader'... */
  name: string;
  /** The bytes: a handshake message with its 4-byte header, an alert's 2 bytes, a record header's 5. */
  bytes: Buffer;
}

const CONTENT_TYPES: Record<number, string> = {
  20: 'ChangeCipherSpec',
  21: 'Alert',
  22: 'Handshake',
  23: 'ApplicationData',
  256: 'RecordHeader',
  257: 'InnerContentType',
};

const HANDSHAKE_TYPES: Record<number, string> = {
  0: 'HelloRequest',
  1: 'ClientHello',
  2: 'ServerHello',
  4: 'NewSessionTicket',
  5: 'EndOfEarlyData',
  8: 'EncryptedExtensions',
  11: 'Certificate',
  12: 'ServerKeyExchange',
  13: 'CertificateRequest',
  14: 'ServerHelloDone',
  15: 'CertificateVerify',
  16: 'ClientKeyExchange',
  20: 'Finished',
  22: 'CertificateStatus',
  24: 'KeyUpdate',
  254: 'MessageHash',
};

const ALERTS: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

function nameOf(contentType: number, handshakeType: number | null, bytes: Buffer): string {
  if (handshakeType !== null) return HANDSHAKE_TYPES[handshakeType] ?? `Handshake(${handshakeType})`;
  if (contentType === 21 && bytes.length >= 2) {
    const level = bytes[0] === 1 ? 'warning' : bytes[0] === 2 ? 'fatal' : `level ${bytes[0]}`;
    return `Alert(${level}): ${ALERTS[bytes[1]!] ?? `alert ${bytes[1]}`}`;
  }
  return CONTENT_TYPES[contentType] ?? `ContentType(${contentType})`;
}

/** Names what the native listener reported. */
export function describeMessage(sent: boolean, version: number, contentType: number, bytes: Buffer): TlsMessage {
  const handshakeType = contentType === 22 && bytes.length > 0 ? bytes[0]! : null;
  return {
    direction: sent ? 'sent' : 'received',
    version,
    contentType,
    handshakeType,
    name: nameOf(contentType, handshakeType, bytes),
    bytes,
  };
}
