// SslContext: owns one SSL_CTX*. Configuration, session cache controls, and the
// new/remove/get session callbacks into JS.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "addon.h"
#include "openssl_ptr.h"

namespace ossl {

class TicketKeyRing;

class SslContext : public Napi::ObjectWrap<SslContext> {
 public:
  static Napi::Function Init(Napi::Env env, Addon* addon);
  // Type-tag checked unwrap; throws ERR_CONTEXT_CLOSED for a closed context.
  static SslContext* FromValue(Napi::Value value, const char* param);

  explicit SslContext(const Napi::CallbackInfo& info);
  ~SslContext() override;

  SSL_CTX* Get(Napi::Env env) const;
  bool IsServer() const { return server_; }
  // True while OpenSSL runs our remove_cb, possibly holding this SSL_CTX's cache lock: calls
  // that take that lock (flush/add/remove/close, handshakes on this context) must not run.
  bool InRemoveCallback() const { return removeDepth_ > 0; }
  // Whether `session` is linked into the internal cache of another live context of this
  // environment (SSL_CTX_add_session must then get a copy; see ssl_context.cc).
  bool CachedElsewhere(SSL_SESSION* session) const;
  // A connection of this context listens for its key log lines (ssl_context_keylog.cc).
  void EnableKeylogForConnections();

 private:
  // Config
  Napi::Value SetMinProtoVersion(const Napi::CallbackInfo& info);
  Napi::Value SetMaxProtoVersion(const Napi::CallbackInfo& info);
  Napi::Value GetMinProtoVersion(const Napi::CallbackInfo& info);
  Napi::Value GetMaxProtoVersion(const Napi::CallbackInfo& info);
  Napi::Value SetOptions(const Napi::CallbackInfo& info);
  Napi::Value ClearOptions(const Napi::CallbackInfo& info);
  Napi::Value GetOptions(const Napi::CallbackInfo& info);
  Napi::Value UseCertificateChain(const Napi::CallbackInfo& info);
  Napi::Value UsePrivateKey(const Napi::CallbackInfo& info);
  Napi::Value AddCaCertificates(const Napi::CallbackInfo& info);
  Napi::Value SetVerify(const Napi::CallbackInfo& info);
  Napi::Value GetVerifyMode(const Napi::CallbackInfo& info);
  Napi::Value SetVerifyDepth(const Napi::CallbackInfo& info);
  Napi::Value SetCipherList(const Napi::CallbackInfo& info);
  Napi::Value SetCiphersuites(const Napi::CallbackInfo& info);
  Napi::Value SetAlpnProtos(const Napi::CallbackInfo& info);
  // Session cache
  Napi::Value SetSessionIdContext(const Napi::CallbackInfo& info);
  Napi::Value SetTimeout(const Napi::CallbackInfo& info);
  Napi::Value GetTimeout(const Napi::CallbackInfo& info);
  Napi::Value SetSessionCacheMode(const Napi::CallbackInfo& info);
  Napi::Value GetSessionCacheMode(const Napi::CallbackInfo& info);
  Napi::Value SetSessionCacheSize(const Napi::CallbackInfo& info);
  Napi::Value GetSessionCacheSize(const Napi::CallbackInfo& info);
  Napi::Value SetNumTickets(const Napi::CallbackInfo& info);
  Napi::Value GetNumTickets(const Napi::CallbackInfo& info);
  Napi::Value FlushSessions(const Napi::CallbackInfo& info);
  Napi::Value AddSession(const Napi::CallbackInfo& info);
  Napi::Value RemoveSession(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SessNewCb(const Napi::CallbackInfo& info);
  Napi::Value SessRemoveCb(const Napi::CallbackInfo& info);
  Napi::Value SessGetCb(const Napi::CallbackInfo& info);
  // Server side: async lookups (client hello callback), ticket keys, trust digest
  Napi::Value SetClientHelloCb(const Napi::CallbackInfo& info);
  Napi::Value SetTicketKeys(const Napi::CallbackInfo& info);
  Napi::Value TrustDigest(const Napi::CallbackInfo& info);
  // Key log (ssl_context_keylog.cc)
  Napi::Value SetKeylogCb(const Napi::CallbackInfo& info);
  void InstallKeylog();
  // Lifetime
  Napi::Value Close(const Napi::CallbackInfo& info);
  static Napi::Value Closed(const Napi::CallbackInfo& info);
  static Napi::Value IsServerGetter(const Napi::CallbackInfo& info);
  static SslContext* FromThis(const Napi::CallbackInfo& info);  // type-checked `this` for accessors
  bool SetCallbackSlot(const Napi::CallbackInfo& info, const char* name);
  // ERR_CONTEXT_BUSY inside an onRemoveSession callback (see InRemoveCallback).
  void ThrowIfBusy(Napi::Env env, const char* what) const;
  static long LongArg(const Napi::CallbackInfo& info, size_t i) {
    return static_cast<long>(info[i].As<Napi::Number>().Int64Value());
  }

  // OpenSSL -> JS trampolines (ownership contract in ssl_context_callbacks.cc).
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
  static void OnRemoveSession(SSL_CTX* ctx, SSL_SESSION* session);
  static SSL_SESSION* OnGetSession(SSL* ssl, const unsigned char* id, int len, int* copy);
  static int OnClientHello(SSL* ssl, int* alert, void* arg);
  static int OnTicketKey(SSL* ssl, unsigned char* keyName, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int encrypt);
  static void OnKeylog(const SSL* ssl, const char* line);
  static int OnAlpnSelect(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                          const unsigned char* in, unsigned int inlen, void* arg);

  void Release();  // detach callbacks from the SSL_CTX and drop our reference

  SSLCtxPointer ctx_;
  Addon* addon_;
  bool server_;
  int removeDepth_ = 0;
  std::string alpnWire_;  // server ALPN preference list, in wire format
  // Which JS callbacks are set; the functions themselves live on our JS object (slots).
  bool hasNewCb_ = false;
  bool hasRemoveCb_ = false;
  bool hasGetCb_ = false;
  bool hasClientHelloCb_ = false;
  bool hasKeylogCb_ = false;
  bool keylogForConnections_ = false;  // once a connection listened (see InstallKeylog)
  // Session ticket keys (SSL_CTX_set_tlsext_ticket_key_evp_cb); shared with the TicketKeys
  // object that made them, whose JS object sits in our slots ("ticketKeys") for its clock.
  std::shared_ptr<TicketKeyRing> ticketKeys_;
};

}  // namespace ossl
