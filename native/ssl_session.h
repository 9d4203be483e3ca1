// SslSession: a JS handle owning exactly ONE reference to an SSL_SESSION.
#pragma once

#include <napi.h>

#include "addon.h"
#include "openssl_ptr.h"

namespace ossl {

class SslSession : public Napi::ObjectWrap<SslSession> {
 public:
  static Napi::Function Init(Napi::Env env, Addon* addon);

  // Creates a JS SslSession that takes over the one reference `session` owns. If the JS
  // constructor throws, the reference is still freed exactly once (by `session`).
  static Napi::Object Adopt(Napi::Env env, SSLSessionPointer session);

  // Unwraps a JS argument after checking its type tag; throws a TypeError naming `param`
  // when it is not an SslSession, and ERR_SESSION_DISPOSED when it was disposed.
  static SslSession* FromValue(Napi::Value value, const char* param);

  explicit SslSession(const Napi::CallbackInfo& info);

  // The live pointer (borrowed); throws ERR_SESSION_DISPOSED after dispose().
  SSL_SESSION* Get(Napi::Env env) const;

 private:
  static Napi::Value FromDER(const Napi::CallbackInfo& info);
  static Napi::Value FromPEM(const Napi::CallbackInfo& info);

  Napi::Value ToDER(const Napi::CallbackInfo& info);
  Napi::Value ToPEM(const Napi::CallbackInfo& info);
  Napi::Value GetId(const Napi::CallbackInfo& info);
  Napi::Value Get0IdContext(const Napi::CallbackInfo& info);
  Napi::Value GetProtocolVersion(const Napi::CallbackInfo& info);
  Napi::Value Get0Cipher(const Napi::CallbackInfo& info);
  Napi::Value GetTime(const Napi::CallbackInfo& info);
  Napi::Value SetTime(const Napi::CallbackInfo& info);
  Napi::Value GetTimeout(const Napi::CallbackInfo& info);
  Napi::Value SetTimeout(const Napi::CallbackInfo& info);
  Napi::Value HasTicket(const Napi::CallbackInfo& info);
  Napi::Value Get0Ticket(const Napi::CallbackInfo& info);
  Napi::Value GetTicketLifetimeHint(const Napi::CallbackInfo& info);
  Napi::Value IsResumable(const Napi::CallbackInfo& info);
  Napi::Value GetMaxEarlyData(const Napi::CallbackInfo& info);
  Napi::Value Get0Hostname(const Napi::CallbackInfo& info);
  Napi::Value Get0AlpnSelected(const Napi::CallbackInfo& info);
  Napi::Value Get0Peer(const Napi::CallbackInfo& info);
  Napi::Value ReadCacheMeta(const Napi::CallbackInfo& info);
  Napi::Value UpRef(const Napi::CallbackInfo& info);
  Napi::Value Dup(const Napi::CallbackInfo& info);
  Napi::Value IsSame(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  // Static: checks that `this` is an SslSession before unwrapping it (see Init).
  static Napi::Value Disposed(const Napi::CallbackInfo& info);

  SSLSessionPointer session_;
};

}  // namespace ossl
