// SslContext, server side: the client hello callback (async session lookups pause the
// handshake there), session ticket keys (TicketKeys, ticket_keys.h) and the trust digest the
// default session id context of lib/server is derived from. The callbacks themselves (and
// their contracts) are in ssl_context_callbacks.cc.
#include <openssl/sha.h>

#include <algorithm>
#include <string>
#include <vector>

#include "errors.h"
#include "ssl_context.h"
#include "ticket_keys.h"

namespace ossl {

Napi::Value SslContext::SetClientHelloCb(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  hasClientHelloCb_ = SetCallbackSlot(info, "clientHello");
  // Installed only while JS listens (ownership and retry rules: ssl_context_callbacks.cc).
  SSL_CTX_set_client_hello_cb(ctx, hasClientHelloCb_ ? &SslContext::OnClientHello : nullptr, nullptr);
  return info.Env().Undefined();
}

Napi::Value SslContext::SetTicketKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  if (info[0].IsNull() || info[0].IsUndefined()) {
    ticketKeys_.reset();
    slots::Set(env, Value(), "ticketKeys", env.Undefined());
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, nullptr);  // back to OpenSSL's own keys
    return env.Undefined();
  }
  ticketKeys_ = TicketKeys::RingFromValue(info[0], "ticketKeys");
  slots::Set(env, Value(), "ticketKeys", info[0]);  // its clock (tests) is read from there
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &SslContext::OnTicketKey);
  return env.Undefined();
}

// SHA-256 over what decides whether a session made under this context may be resumed under
// another: the certificate (leaf and chain) the server presents, and the trust settings it
// checks client certificates with (verify mode and depth, every CA in the store). The default
// session id context of lib/server is derived from it, so two virtual hosts with different
// certificates or client-certificate policies never accept each other's sessions.
Napi::Value SslContext::TrustDigest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_CTX* ctx = Get(env);
  std::string input = "openssl-session trust digest v1";
  auto appendCert = [&](const char* label, X509* cert) {
    int len = i2d_X509(cert, nullptr);
    if (len <= 0) ThrowOpenSSLError(env, "i2d_X509 failed");
    std::string der(static_cast<size_t>(len), '\0');
    unsigned char* p = reinterpret_cast<unsigned char*>(&der[0]);
    i2d_X509(cert, &p);
    input += label;
    input += std::to_string(der.size()) + ":";
    input += der;
  };
  X509* leaf = SSL_CTX_get0_certificate(ctx);  // owned by the SSL_CTX
  if (leaf != nullptr) {
    appendCert("|leaf:", leaf);
    STACK_OF(X509)* chain = nullptr;  // owned by the SSL_CTX
    if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 && chain != nullptr) {
      for (int i = 0; i < sk_X509_num(chain); ++i) appendCert("|chain:", sk_X509_value(chain, i));
    }
  }
  input += "|verify:" + std::to_string(SSL_CTX_get_verify_mode(ctx)) + "/" + std::to_string(SSL_CTX_get_verify_depth(ctx));
  // Trust anchors in a stable order (the store's own order depends on insertion).
  std::vector<std::string> anchors;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);  // owned by the SSL_CTX
  STACK_OF(X509_OBJECT)* objects = store != nullptr ? X509_STORE_get0_objects(store) : nullptr;
  for (int i = 0; objects != nullptr && i < sk_X509_OBJECT_num(objects); ++i) {
    X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    if (cert == nullptr) continue;
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned int mdLen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdLen) != 1) ThrowOpenSSLError(env, "X509_digest failed");
    anchors.emplace_back(reinterpret_cast<const char*>(md), mdLen);
  }
  std::sort(anchors.begin(), anchors.end());
  for (const auto& anchor : anchors) input += "|ca:" + anchor;
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, SHA256_DIGEST_LENGTH);
  unsigned int outLen = 0;
  if (EVP_Digest(input.data(), input.size(), out.Data(), &outLen, EVP_sha256(), nullptr) != 1)
    ThrowOpenSSLError(env, "EVP_Digest failed");
  return out;
}

}  // namespace ossl
