// SslConnection: owns one SSL* and, through it, the two memory BIOs of the engine. JS feeds
// ciphertext in and takes ciphertext out; every step returns at once (never blocks).
#pragma once

#include <napi.h>

#include "addon.h"
#include "openssl_ptr.h"

namespace ossl {

class SslContext;

class SslConnection : public Napi::ObjectWrap<SslConnection> {
 public:
  static Napi::Function Init(Napi::Env env, Addon* addon);
  static SslConnection* FromSSL(const SSL* ssl) { return static_cast<SslConnection*>(SSL_get_app_data(ssl)); }
  // Type-tag checked unwrap of an argument; throws ERR_CONNECTION_FREED for a freed one.
  static SslConnection* FromValue(Napi::Value value, const char* param);

  explicit SslConnection(const Napi::CallbackInfo& info);
  ~SslConnection() override;

  bool HasSessionListener() const { return hasSessionListener_; }
  // Per-connection delivery of a new session (TLS 1.3 tickets arrive after the handshake).
  void DeliverSession(Napi::Object session);
  bool HasKeylogListener() const { return hasKeylogListener_; }
  // Per-connection delivery of a key log line (see ssl_context_keylog.cc).
  void DeliverKeylog(Napi::Value line);

 private:
  SSL* Get(Napi::Env env) const;
  static SslConnection* FromThis(const Napi::CallbackInfo& info);  // type-checked `this` for accessors
  Napi::Value Step(const Napi::CallbackInfo& info, int (*step)(SSL*));
  void ThrowIfContextBusy(Napi::Env env) const;

  Napi::Value Feed(const Napi::CallbackInfo& info);
  Napi::Value FeedEOF(const Napi::CallbackInfo& info);
  Napi::Value TakeOutput(const Napi::CallbackInfo& info);
  Napi::Value PendingOutput(const Napi::CallbackInfo& info);
  Napi::Value PipeTo(const Napi::CallbackInfo& info);
  Napi::Value DoHandshake(const Napi::CallbackInfo& info) { return Step(info, SSL_do_handshake); }
  Napi::Value Connect(const Napi::CallbackInfo& info) { return Step(info, SSL_connect); }
  Napi::Value Accept(const Napi::CallbackInfo& info) { return Step(info, SSL_accept); }
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value SetSession(const Napi::CallbackInfo& info);
  Napi::Value Get1Session(const Napi::CallbackInfo& info);
  Napi::Value SessionReused(const Napi::CallbackInfo& info);
  Napi::Value SetShutdown(const Napi::CallbackInfo& info);
  Napi::Value GetShutdown(const Napi::CallbackInfo& info);
  Napi::Value SetQuietShutdown(const Napi::CallbackInfo& info);
  Napi::Value GetQuietShutdown(const Napi::CallbackInfo& info);
  Napi::Value SetTlsextHostName(const Napi::CallbackInfo& info);
  Napi::Value GetServername(const Napi::CallbackInfo& info);
  Napi::Value Set1Host(const Napi::CallbackInfo& info);
  Napi::Value GetVersion(const Napi::CallbackInfo& info);
  Napi::Value Version(const Napi::CallbackInfo& info);
  Napi::Value GetCipherName(const Napi::CallbackInfo& info);
  Napi::Value Get1PeerCertificate(const Napi::CallbackInfo& info);
  Napi::Value GetVerifyResult(const Napi::CallbackInfo& info);
  Napi::Value Get0AlpnSelected(const Napi::CallbackInfo& info);
  Napi::Value IsInitFinished(const Napi::CallbackInfo& info);
  Napi::Value SetSessionListener(const Napi::CallbackInfo& info);
  // Observers (ssl_connection_observe.cc): key log lines, protocol messages.
  Napi::Value SetKeylogListener(const Napi::CallbackInfo& info);
  Napi::Value SetMsgCallback(const Napi::CallbackInfo& info);
  static void OnMessage(int writeP, int version, int contentType, const void* buf, size_t len, SSL* ssl, void* arg);
  Napi::Value Free(const Napi::CallbackInfo& info);
  static Napi::Value Freed(const Napi::CallbackInfo& info);
  static Napi::Value IsServer(const Napi::CallbackInfo& info);

  SSLPointer ssl_;
  BIO* rbio_ = nullptr;  // network -> SSL; owned by ssl_ (SSL_set_bio)
  BIO* wbio_ = nullptr;  // SSL -> network; owned by ssl_
  Addon* addon_;
  // Our JS object keeps the SslContext's JS object in its slots (an edge GC can see), so
  // the context wrapper lives while we are reachable; used only from calls on us.
  SslContext* context_;
  bool hasSessionListener_ = false;  // the listener itself lives in our slots
  bool hasKeylogListener_ = false;  // likewise
  bool hasMessageListener_ = false;  // likewise
  bool server_ = false;
  // Steps (handshake, read, write, shutdown, set_session) in progress on this SSL: free()
  // from a callback they triggered would free the SSL under OpenSSL's feet.
  int inStep_ = 0;
  friend class StepScope;
};

}  // namespace ossl
