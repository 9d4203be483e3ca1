// Reading a ClientHello from inside SSL_CTX_set_client_hello_cb: what a server needs to know
// before OpenSSL resumes or rejects a session (the legacy session id, the TLS 1.3 PSK
// identities, whether a ticket was offered, the versions and SNI the client offers).
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

namespace ossl {

// A JS object describing the ClientHello `ssl` is processing. Only valid inside the client
// hello callback (SSL_client_hello_* read the message OpenSSL is holding). Malformed
// extensions yield empty fields: OpenSSL rejects such a ClientHello itself right after.
//   { sessionId: Buffer, pskIdentities: Buffer[], hasTicket: boolean,
//     supportedVersions: number[], servername: string | null, extensions: number[] }
Napi::Object ReadClientHello(Napi::Env env, SSL* ssl);

}  // namespace ossl
