// PEM certificate/key parsing for SslContext, DER export of certificates, and the
// self-signed certificate the demo and tests generate at start (no files needed).
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "openssl_ptr.h"

namespace ossl {

// Every certificate in a PEM text, in order. Throws an OpenSSLError when there is none.
std::vector<X509Pointer> ParseCertificates(Napi::Env env, const std::string& pem);
// The first private key in a PEM text (optionally encrypted with `passphrase`).
EVPKeyPointer ParsePrivateKey(Napi::Env env, const std::string& pem, const std::string* passphrase);
// DER bytes of a certificate as a Buffer.
Napi::Value CertificateToDER(Napi::Env env, X509* cert);

// createSelfSigned({ commonName, altNames, days, keyType: 'ec' | 'rsa', bits }) -> { cert, key }
Napi::Value CreateSelfSigned(const Napi::CallbackInfo& info);

}  // namespace ossl
